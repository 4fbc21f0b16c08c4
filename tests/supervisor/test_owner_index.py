"""``OwnerIndex`` and ``task_of`` (supervisor.lowlevel): one monitor per owner, its keys counted, and
handed back on its ``Down``; the registry's and the cache's suites run them under load."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from supervisor import Access, Down, Server, Table
from supervisor.lowlevel import OwnerIndex, task_of
from tests.supervisor.test_table_support import Agent, inbox_of, run_as


class Holder(Agent):
    """Keeps an ``OwnerIndex`` over a public table; its ``Down`` messages land in ``inbox``."""

    index: OwnerIndex

    async def init(self) -> None:
        await super().init()
        self.index = OwnerIndex(Table("owners", access=Access.PUBLIC), self)


async def _holder() -> Holder:
    holder = await Holder.start()
    assert isinstance(holder, Holder)
    return holder


def _sleeper() -> asyncio.Task[bool]:
    return asyncio.create_task(asyncio.Event().wait())


async def _downs(holder: Holder) -> list[Down]:
    return [m for m in await inbox_of(holder) if isinstance(m, Down)]


async def test_one_monitor_per_owner_however_many_keys() -> None:
    holder, owner = await _holder(), _sleeper()
    for key in "abc":
        holder.index.add(owner, key)
    assert (holder.index.count(owner), len(holder.index)) == (3, 1)
    owner.cancel()
    await asyncio.wait([owner])
    downs = await _downs(holder)
    assert len(downs) == 1
    assert holder.index.down(downs[0].target, downs[0].ref) == ["a", "b", "c"]
    assert (holder.index.count(owner), len(holder.index)) == (0, 0)
    await holder.stop()


async def test_the_last_key_discarded_forgets_the_owner_and_its_monitor() -> None:
    holder, owner = await _holder(), _sleeper()
    holder.index.add(owner, "a")
    holder.index.add(owner, "b")
    holder.index.discard(owner, "a")
    holder.index.discard(owner, "missing")
    assert (holder.index.count(owner), len(holder.index)) == (1, 1)
    holder.index.discard(owner, "b")
    assert len(holder.index) == 0
    owner.cancel()
    await asyncio.wait([owner])
    assert await _downs(holder) == []  # demonitored: no Down at all
    await holder.stop()


async def test_a_stale_down_hands_back_nothing() -> None:
    holder, owner = await _holder(), _sleeper()
    holder.index.add(owner, "a")
    first_ref = holder.index.table.lookup(owner)[0][1]
    holder.index.discard(owner, "a")
    holder.index.add(owner, "b")  # a new monitor
    assert holder.index.down(owner, first_ref) is None
    assert holder.index.count(owner) == 1
    owner.cancel()
    await holder.stop()


async def test_identify_names_an_owner_by_its_task() -> None:
    holder = await _holder()
    by_task = OwnerIndex(Table("by-task", access=Access.PUBLIC), holder, identify=task_of)
    agent = await Agent.start()
    by_task.add(agent, "k")
    assert by_task.count(agent) == by_task.count(task_of(agent)) == 1
    by_task.discard(task_of(agent), "k")  # the task stands for the server
    assert len(by_task) == 0
    await agent.stop()
    await holder.stop()


async def test_remonitor_moves_every_monitor_to_the_watcher() -> None:
    first, owner = await _holder(), _sleeper()
    first.index.add(owner, "a")
    table = first.index.table
    second = await _holder()
    await run_as(first, lambda: table.give_away(second))
    heir = OwnerIndex(table, second)
    heir.remonitor()
    owner.cancel()
    await asyncio.wait([owner])
    downs = await _downs(second)
    assert [heir.down(d.target, d.ref) for d in downs] == [["a"]]
    assert await _downs(first) == []
    await first.stop()
    await second.stop()


async def test_task_of_a_task_a_server_and_anything_else() -> None:
    task = asyncio.current_task()
    assert task is not None
    assert task_of(task) is task
    agent = await Agent.start()
    assert task_of(agent) is agent.task
    await agent.stop()
    with pytest.raises(ValueError, match="never started"):
        task_of(Server())
    thing: Any = "a string"
    with pytest.raises(TypeError, match="an owner is a Server"):
        task_of(thing, "an owner")
