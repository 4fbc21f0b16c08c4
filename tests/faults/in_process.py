"""The whole daemon in the test's own event loop, for the fault suite's in-process rows (cheaper than a
subprocess: no interpreter start, and the test reaches every server of the tree directly).

``running_in_process(dir, config)`` starts ``Daemon`` on the configuration, waits for ``READY=1`` and
yields an ``InProcess``; on exit it stops the daemon, which must exit 0, and checks with
``supervisor.testing.LeakCheck`` that nothing is left behind. ``tree_of``/``settled`` walk the running
tree by path (``cache/default``). ``back_to_bounds(before)`` is I2 and I6 after one crash: as many tasks
and descriptors as before it, once the restart settled, the extra ones named.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from daemon.app import Daemon, ExitCode
from daemon.ctl.client import open_control_client
from daemon.settings import load_settings
from supervisor import ChildState, DynamicSupervisor, Server, Supervisor
from supervisor.testing import LeakCheck, Snapshot, WaitTimeout, wait_for
from tests.daemon.test_tree import RecordingNotifier

__all__ = ["InProcess", "WatchedNotifier", "back_to_bounds", "running_in_process", "settled", "tree_of"]


class WatchedNotifier(RecordingNotifier):
    """A recording notifier that says it has a socket, so the daemon pings the watchdog through it."""

    @property
    def enabled(self) -> bool:
        return True


@dataclass
class InProcess:
    daemon: Daemon
    notifier: WatchedNotifier
    run: asyncio.Task[int]
    socket: Path

    async def ping(self) -> None:
        """I5: the control socket answers (a fresh connection: the control server may be new)."""
        async with asyncio.timeout(5), open_control_client(self.socket) as client:
            assert await client.call("ping")


@asynccontextmanager
async def running_in_process(short_tmp: Path, config_text: str = "") -> AsyncIterator[InProcess]:
    """The whole daemon on ``config_text`` in this test's loop, ready; watchdog pings asked for
    every 0.1 s. On exit it must stop with 0 and leave nothing behind (I2: tasks, servers, names,
    tables, telemetry handlers, descriptors)."""
    leaks = LeakCheck()
    config = short_tmp / "arbord.toml"
    config.write_text(f'[daemon]\nruntime_dir = "{short_tmp / "run"}"\n{config_text}')
    notifier = WatchedNotifier()
    environ = {"WATCHDOG_USEC": "200000"}
    daemon = Daemon(load_settings(config, {}), config_path=config, environ=environ, notifier=notifier)
    task = asyncio.create_task(daemon.run())
    await notifier.wait_for("READY")
    yield InProcess(daemon, notifier, task, daemon.paths.control_socket)
    daemon.request_shutdown()
    async with asyncio.timeout(20):
        assert await task == ExitCode.OK
    await leaks.check()


async def tree_of(supervisor: Supervisor | DynamicSupervisor) -> dict[str, Server] | None:
    """Every server under ``supervisor`` by path (``cache/default``), or None while one is not running."""
    found: dict[str, Server] = {}
    for number, info in enumerate(await supervisor.which_children()):
        if info.server is None or info.state is not ChildState.RUNNING or not info.server.alive:
            return None
        path = info.id if info.id is not None else f"#{number}"
        found[path] = info.server
        if isinstance(info.server, Supervisor | DynamicSupervisor):
            below = await tree_of(info.server)
            if below is None:
                return None
            found.update({f"{path}/{sub}": server for sub, server in below.items()})
    return found


async def settled(
    supervisor: Supervisor | DynamicSupervisor, what: str = "the tree running"
) -> dict[str, Server]:
    """``tree_of(supervisor)`` once every server in it runs."""
    found = await wait_for(lambda: tree_of(supervisor), timeout=10.0, what=what)
    assert found is not None
    return found


def _extra(before: Snapshot, now: Snapshot) -> list[str]:
    """What ``now`` has more of than ``before``: its tasks and descriptors not in ``before``, named.
    A restarted server's task is new but replaces one that ended, so only a surplus is a finding."""
    found: list[str] = []
    if len(now.tasks) > len(before.tasks):
        found.extend(
            f"task: {t.get_name()} running {t.get_coro()!r}"
            for t in sorted(now.tasks - before.tasks, key=lambda t: t.get_name())
        )
    if before.fds is not None and now.fds is not None and len(now.fds) > len(before.fds):
        for fd in sorted(now.fds - before.fds):
            try:
                target = os.readlink(os.path.join(now.fd_directory, str(fd)))
            except OSError:
                continue  # closed since the listing
            found.append(f"file descriptor {fd}: {target}")
    return found


async def back_to_bounds(before: Snapshot, what: str) -> None:
    """I2 and I6 after one crash and its restart: no more tasks (no orphan left by the dead server)
    and no more open descriptors than ``before``, a snapshot taken before the crash. Fails naming
    the tasks and descriptors that are new, when the counts do not come back within 5 s."""

    def within() -> bool:
        now = Snapshot.take()
        fds = before.fds is None or now.fds is None or len(now.fds) <= len(before.fds)
        return len(now.tasks) <= len(before.tasks) and fds

    awaited = f"tasks and descriptors back to their count before {what}"
    try:
        await wait_for(within, timeout=1.0, what=awaited)
        return
    except WaitTimeout:
        # A killed server ran no terminate: what it held (the flags' SQLite connection) is freed
        # when its object is collected, and a reference cycle (its exception's traceback) can hold
        # it until the collector runs. Collected, it is not a leak: only an object kept alive is.
        gc.collect()
    try:
        await wait_for(within, timeout=4.0, what=awaited)
    except WaitTimeout:
        now = Snapshot.take()
        counts = f"tasks {len(before.tasks)} -> {len(now.tasks)}"
        if before.fds is not None and now.fds is not None:
            counts += f", descriptors {len(before.fds)} -> {len(now.fds)}"
        extra = "\n  ".join(_extra(before, now))
        raise AssertionError(f"after {what}: {counts}; extra:\n  {extra}") from None
