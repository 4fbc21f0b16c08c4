"""X6: concurrent conflicting flag writes, against the real daemon's control socket.

Several clients, each on its own connection (a thread each), write to the **same** flag at once.
What the matrix asks, checked from the outside only (the replies, ``flags.get``, ``flags.history``):

- **linearizable**: the store-wide revisions the acknowledgements carry order the writes; a write
  acknowledged before another was sent has the lower revision (real time is respected), and each
  client's own writes carry increasing revisions;
- **ordering matches the acknowledgements**: the history of the flag is exactly the acknowledged
  writes, in the order of their revisions, each change built on the state the previous one left
  (``old`` is the previous ``new``: no lost update), and the state in force is the last one's;
- **compare-and-set** (``if_revision``): of writers that read the same revision, exactly one wins;
  the others get ``conflict`` naming the revision in force, and change nothing. A CAS counter
  incremented by several clients ends at exactly the number of increments acknowledged. After a
  restart the revision a CAS names is read back from the store.

A barrier lines the CAS writers up (each has read the revision before any writes); it orders the
clients, it does not wait for the daemon.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from daemon.flags.config import FlagsSettings
from daemon.flags.errors import InvalidGate
from daemon.flags.server import Flags
from daemon.flags.store import MemoryStore
from tests.daemon.conftest import RunningDaemon, StartArbord
from tests.inputs.wire import Wire, ping_answers

WRITERS = 8
WRITES_EACH = 25
CAS_WRITERS = 6
INCREMENTS_EACH = 4


@dataclass(frozen=True)
class Ack:
    """One acknowledged write: who sent it, when it was sent and answered, what the daemon said."""

    client: int
    sent: float
    acked: float
    record: dict[str, Any]

    @property
    def revision(self) -> int:
        return int(self.record["revision"])


@pytest.fixture
def daemon(shared_daemon: RunningDaemon) -> RunningDaemon:
    """One daemon for the module's tests (each writes its own flags)."""
    return shared_daemon


def _in_threads(count: int, body: Callable[[int], list[Any]]) -> list[list[Any]]:
    """``body(i)`` for each ``i < count`` in a thread of its own; their results, in ``i`` order."""
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(body, range(count)))


def _result(reply: dict[str, Any]) -> dict[str, Any]:
    assert "result" in reply, reply
    result = reply["result"]
    assert isinstance(result, dict)
    return result


def _history(daemon: RunningDaemon, flag: str) -> list[dict[str, Any]]:
    """The flag's whole history, oldest first, page by page (a page is the newest changes not yet
    read, oldest first; ``next`` is the offset of the older page)."""
    changes: list[dict[str, Any]] = []
    offset: int | None = 0
    with Wire(daemon.control_socket) as wire:
        while offset is not None:
            page = _result(wire.call("flags.history", {"flag": flag, "limit": 10_000, "offset": offset}))
            assert isinstance(page["changes"], list)
            changes[:0] = page["changes"]
            offset = page["next"]
    return changes


def _get(wire: Wire, flag: str) -> dict[str, Any]:
    return _result(wire.call("flags.get", {"flag": flag}))


def test_concurrent_writes_to_one_flag_are_linearizable_and_ordered_as_acknowledged(
    daemon: RunningDaemon,
) -> None:
    flag = "x6_storm"
    with Wire(daemon.control_socket) as wire:
        created = _result(wire.call("flags.enable", {"flag": flag, "create": True}))
    start = threading.Barrier(WRITERS)

    def writer(client: int) -> list[Ack]:
        acks = []
        with Wire(daemon.control_socket) as wire:
            start.wait()
            for i in range(WRITES_EACH):
                params = {"flag": flag, "id": f"c{client}-{i}", "state": "on", "reason": f"c{client}-{i}"}
                sent = time.monotonic()
                reply = wire.call("flags.actor", params, request_id=i)
                acks.append(Ack(client, sent, time.monotonic(), _result(reply)))
        return acks

    acks = [ack for acks in _in_threads(WRITERS, writer) for ack in acks]
    by_revision = sorted(acks, key=lambda ack: ack.revision)
    revisions = [ack.revision for ack in by_revision]
    # One revision each, right after the flag's creation: nothing else was numbered in between.
    assert revisions == list(range(created["revision"] + 1, created["revision"] + 1 + len(acks)))
    for client in range(WRITERS):
        own = [ack.revision for ack in acks if ack.client == client]
        assert own == sorted(own), f"client {client}'s writes were numbered out of its order"
    # Real time: a write acknowledged before another was sent comes first in the order.
    for earlier in acks:
        for later in acks:
            if earlier.acked < later.sent:
                assert earlier.revision < later.revision, (earlier, later)

    changes = _history(daemon, flag)
    assert [c["revision"] for c in changes] == [created["revision"], *revisions]
    for change, ack in zip(changes[1:], by_revision, strict=True):
        assert change["reason"] == ack.record["reason"]
        assert change["new"] == ack.record["new"]
    for before, after in itertools.pairwise(changes):
        assert after["old"] == before["new"], f"revision {after['revision']} lost an update"
    with Wire(daemon.control_socket) as wire:
        final = _get(wire, flag)
    assert final["gates"] == by_revision[-1].record["new"]
    assert set(final["gates"]["actors"]) == {f"c{c}-{i}" for c in range(WRITERS) for i in range(WRITES_EACH)}
    assert final["flag_revision"] == revisions[-1]
    assert ping_answers(daemon)


def test_of_writers_that_read_the_same_revision_exactly_one_wins(daemon: RunningDaemon) -> None:
    flag = "x6_race"
    with Wire(daemon.control_socket) as wire:
        base = _result(wire.call("flags.enable", {"flag": flag, "create": True}))["revision"]
    lined_up = threading.Barrier(CAS_WRITERS)

    def racer(client: int) -> list[dict[str, Any]]:
        with Wire(daemon.control_socket) as wire:
            seen = _get(wire, flag)["flag_revision"]
            lined_up.wait()  # every racer has read the revision before any of them writes
            params = {"flag": flag, "of": "actors", "value": float(client), "if_revision": seen}
            return [wire.call("flags.percentage", params)]

    replies = [reply for replies in _in_threads(CAS_WRITERS, racer) for reply in replies]
    won = [reply["result"] for reply in replies if "result" in reply]
    lost = [reply["error"] for reply in replies if "error" in reply]
    assert len(won) == 1, replies
    assert len(lost) == CAS_WRITERS - 1
    for error in lost:
        assert error["code"] == "conflict"
        assert (error["flag"], error["expected"], error["revision"]) == (flag, base, won[0]["revision"])
    changes = _history(daemon, flag)
    assert [c["revision"] for c in changes] == [base, won[0]["revision"]]
    with Wire(daemon.control_socket) as wire:
        assert _get(wire, flag)["gates"] == won[0]["new"]


def test_a_compare_and_set_counter_counts_every_acknowledged_increment(daemon: RunningDaemon) -> None:
    flag = "x6_counter"
    with Wire(daemon.control_socket) as wire:
        _result(wire.call("flags.percentage", {"flag": flag, "of": "time", "value": 0.0, "create": True}))
    lined_up = threading.Barrier(CAS_WRITERS)

    def incrementer(client: int) -> list[int]:
        conflicts = []
        with Wire(daemon.control_socket) as wire:
            lined_up.wait()
            for _ in range(INCREMENTS_EACH):
                lost = 0
                while True:
                    state = _get(wire, flag)
                    value = state["gates"]["percentage"]["value"] + 1
                    params = {
                        "flag": flag,
                        "of": "time",
                        "value": value,
                        "if_revision": state["flag_revision"],
                    }
                    reply = wire.call("flags.percentage", params)
                    if "result" in reply:
                        break
                    assert reply["error"]["code"] == "conflict", reply
                    lost += 1
                conflicts.append(lost)
        return conflicts

    conflicts = [n for each in _in_threads(CAS_WRITERS, incrementer) for n in each]
    with Wire(daemon.control_socket) as wire:
        final = _get(wire, flag)
    assert final["gates"]["percentage"]["value"] == CAS_WRITERS * INCREMENTS_EACH
    # Only the acknowledged increments were written: one change each after the creation.
    assert len(_history(daemon, flag)) == 1 + CAS_WRITERS * INCREMENTS_EACH
    assert len(conflicts) == CAS_WRITERS * INCREMENTS_EACH


def test_after_a_restart_a_compare_and_set_names_the_revision_the_store_kept(
    start_arbord: StartArbord, tmp_path: Path
) -> None:
    state = {"STATE_DIRECTORY": str(tmp_path / "state")}
    first = start_arbord("", env=state)
    with Wire(first.control_socket) as wire:
        wire.call("flags.enable", {"flag": "x6_kept", "create": True})
        written = _result(wire.call("flags.disable", {"flag": "x6_kept"}))["revision"]
        _result(
            wire.call("flags.enable", {"flag": "x6_other", "create": True})
        )  # store-wide revision moves on
    assert first.stop() == 0
    second = start_arbord("", env=state)
    try:
        with Wire(second.control_socket) as wire:
            assert _get(wire, "x6_kept")["flag_revision"] == written
            stale = wire.call("flags.enable", {"flag": "x6_kept", "if_revision": written - 1})
            assert stale["error"]["code"] == "conflict"
            assert stale["error"]["revision"] == written
            assert _get(wire, "x6_kept")["gates"] == {"name": "x6_kept", "boolean": False}
            fresh = _result(wire.call("flags.enable", {"flag": "x6_kept", "if_revision": written}))
            assert fresh["new"] == {"name": "x6_kept", "boolean": True}
            assert _get(wire, "x6_kept")["flag_revision"] == fresh["revision"]
    finally:
        second.stop()


async def test_compare_and_set_is_refused_on_a_shared_store() -> None:
    """Two daemons on one shared store could both pass their own check: refused, not promised."""
    store = MemoryStore()
    store.shared = True
    flags = await Flags.start(FlagsSettings(store="memory"), store=store)
    try:
        with pytest.raises(InvalidGate, match="shared"):
            await flags.enable("x6_shared", create=True, if_revision=0)
        assert flags.state("x6_shared") is None
        with pytest.raises(InvalidGate, match="if_revision"):
            await flags.enable("x6_shared", create=True, if_revision=-1)
    finally:
        await flags.stop()
