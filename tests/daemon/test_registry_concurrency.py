"""Concurrency: 1,000 owners registering, re-registering, dying (normally, by crash, by cancellation)
in interleaved order leave exactly the live set, with one monitor per live owner and nothing else."""

from __future__ import annotations

import asyncio
import random

from daemon.registry import Registry
from daemon.registry.errors import AlreadyRegistered

OWNERS = 1000


async def test_concurrent_registrations_and_deaths_leave_exactly_the_live_set() -> None:
    registry = await Registry.start()
    rng = random.Random(5)
    release = asyncio.Event()
    plans = [rng.choice(["live", "return", "crash", "cancelled"]) for _ in range(OWNERS)]
    shared_keys = [f"shared-{n}" for n in range(50)]  # contended keys: many owners race for them

    async def owner(n: int) -> None:
        for _ in range(rng.randrange(3)):
            await asyncio.sleep(0)  # interleave with the others (scheduling, not synchronisation)
        me = asyncio.current_task()
        registry.register(("own", n), me, {"node": f"n{n % 7}", "plan": plans[n]})
        try:
            registry.register(shared_keys[n % len(shared_keys)], me)
        except AlreadyRegistered:
            pass
        await asyncio.sleep(0)
        if plans[n] == "live":
            await release.wait()
        elif plans[n] == "crash":
            raise RuntimeError("owner crashed")
        elif plans[n] == "cancelled":
            await asyncio.Event().wait()

    tasks = [asyncio.create_task(owner(n)) for n in range(OWNERS)]
    for _ in range(5):
        await asyncio.sleep(0)
    for n, task in enumerate(tasks):
        if plans[n] == "cancelled":
            task.cancel()
    dying = [t for n, t in enumerate(tasks) if plans[n] != "live"]
    await asyncio.gather(*dying, return_exceptions=True)
    await registry.settle()

    live = {n for n in range(OWNERS) if plans[n] == "live"}
    live_tasks = {tasks[n] for n in live}
    own_keys = {e.key for e in registry.list_all() if isinstance(e.key, tuple)}
    assert own_keys == {("own", n) for n in live}
    shared = [e for e in registry.list_all() if isinstance(e.key, str)]
    assert all(e.owner in live_tasks for e in shared)
    # Stored, not just visible: the Downs removed every dead owner's rows.
    assert len(registry._entries) == len(live) + len(shared)
    assert registry.monitor_count() == len(live)
    assert sorted(len(registry.find_by_attribute("node", f"n{k}")) for k in range(7)) == sorted(
        sum(1 for n in live if n % 7 == k) for k in range(7)
    )
    release.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    await registry.settle()
    assert registry.count() == 0
    assert registry.monitor_count() == 0
    assert len(registry._entries) == 0
    await registry.stop()
