"""The load generators over the control socket, each run in a process of its own.

Three kinds, each a set of pipelined connections (bench/stress/wire.py) sending on a schedule:

- ``control``: the matrix's "concurrent clients x rate": a mix of cheap reads (``ping``, ``version``,
  ``count_children``, a ``cache.get`` and a ``registry.lookup`` that miss, now and then ``status``);
- ``cache``: ``cache.put`` / ``cache.get`` / ``cache.delete`` on the cache ``stress``, each
  connection on keys of its own, so it knows what a ``get`` may answer: the value of the last
  ``put`` sent before it, or a miss (expired, evicted). Anything else is a **wrong answer**, and a
  value read after it must have expired is an **expired read** (its put's reply came back more than
  its TTL before the get was sent);
- ``flags``: ``flags.percentage`` writes, each connection on flags of its own; it returns the last
  acknowledged value of each flag, which the harness reads back when the load is over.

A process connects, reports ``ready``, waits for ``go``, sends until ``stop`` (or its duration), then
drains: every request must have had its one reply. Results go back on a queue as JSON-able dicts,
with a window of counts every ``window`` seconds for the soak's time series.
"""

from __future__ import annotations

import asyncio
import os
import queue
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol

from bench.stress.wire import Check, Connection, Counts, Sent

__all__ = ["STRESS_CACHE", "ClientPlan", "run_clients"]

STRESS_CACHE: Final = "stress"
TICK: Final = 0.005
LOAD_NICENESS: Final = 10
"""The load processes yield to the daemon when both want a core (``nice`` 10)."""
DRAIN: Final = 10.0
"""Seconds a connection waits, after the load, for the replies still due."""

Request = tuple[str, dict[str, Any], Check | None]


@dataclass(frozen=True, slots=True)
class ClientPlan:
    """One process's share of a tier: ``connections`` sending ``rate`` requests/s each."""

    kind: str
    socket: str
    connections: int
    rate: float
    duration: float
    index: int = 0
    window: float = 0.0
    max_outstanding: int = 64
    cache_keys: int = 2000
    flags_per_connection: int = 4
    cpu: int | None = None


class Workload(Protocol):
    @property
    def expected(self) -> dict[str, frozenset[str]]: ...

    def next(self, seq: int) -> Request: ...

    def result(self) -> dict[str, Any]: ...


class ControlMix:
    """Cheap reads, as monitoring and scripts send them."""

    expected: Final = {"cache.get": frozenset({"not_found"}), "registry.lookup": frozenset({"not_found"})}

    def next(self, seq: int) -> Request:
        step = seq % 20
        if step == 0:
            return ("status", {}, None)
        method, params = (
            ("ping", {}),
            ("version", {}),
            ("cache.get", {"key": f"absent-{seq % 97}"}),
            ("count_children", {"path": "root"}),
            ("registry.lookup", {"key": f"absent-{seq % 89}"}),
        )[step % 5]
        return (method, params, None)

    def result(self) -> dict[str, Any]:
        return {}


class CacheMix:
    """Puts, gets and deletes on keys of this connection's own, checking every answer."""

    expected: Final = {"cache.get": frozenset({"not_found"})}

    def __init__(self, prefix: str, keys: int, rng: random.Random) -> None:
        self.prefix, self.keys, self.rng = prefix, keys, rng
        self.last_sent: dict[str, int | None] = {}
        """Per key: the value (a sequence number) of the last put sent, None after a delete."""
        self.acked: dict[str, tuple[int, float, float]] = {}
        """Per key: (sequence, time its reply was read, ttl) of the last put answered."""
        self.expired_reads = 0
        self.stale_reads = 0

    def next(self, seq: int) -> Request:
        key = f"{self.prefix}{self.rng.randrange(self.keys)}"
        roll = self.rng.random()
        if roll < 0.4:
            ttl = self.rng.uniform(0.2, 2.0)
            self.last_sent[key] = seq
            return (
                "cache.put",
                {"cache": STRESS_CACHE, "key": key, "value": {"s": seq}, "ttl": ttl},
                self._put_done,
            )
        if roll < 0.9:
            expected = self.last_sent.get(key)
            return ("cache.get", {"cache": STRESS_CACHE, "key": key}, self._get_check(expected))
        self.last_sent[key] = None
        return ("cache.delete", {"cache": STRESS_CACHE, "key": key}, None)

    def _put_done(self, sent: Sent, reply: dict[str, Any], now: float) -> str | None:
        if "result" in reply:
            params = sent.params
            self.acked[params["key"]] = (params["value"]["s"], now, float(params["ttl"]))
        return None

    def _get_check(self, expected: int | None) -> Check:
        def check(sent: Sent, reply: dict[str, Any], now: float) -> str | None:
            result = reply.get("result")
            if result is None:
                return None  # a miss is always allowed: expired, evicted or deleted
            value = result.get("value")
            got = value.get("s") if isinstance(value, dict) else None
            if got != expected:
                self.stale_reads += 1
                return "cache.get: not the last value put"
            acked = self.acked.get(sent.params["key"])
            if acked is not None and acked[0] == got and sent.at > acked[1] + acked[2]:
                self.expired_reads += 1
                return "cache.get: expired read"
            return None

        return check

    def result(self) -> dict[str, Any]:
        return {"expired_reads": self.expired_reads, "stale_reads": self.stale_reads}


class FlagWriter:
    """``flags.percentage`` writes; remembers each flag's last acknowledged value."""

    expected: Final[dict[str, frozenset[str]]] = {}

    def __init__(self, prefix: str, flags: int) -> None:
        self.flags = [f"{prefix}{i}" for i in range(flags)]
        self.acked: dict[str, float] = {}

    def next(self, seq: int) -> Request:
        flag = self.flags[seq % len(self.flags)]
        value = float(seq % 1000) / 10
        return ("flags.percentage", {"flag": flag, "of": "time", "value": value, "create": True}, self._done)

    def _done(self, sent: Sent, reply: dict[str, Any], now: float) -> str | None:
        if "result" in reply:
            self.acked[sent.params["flag"]] = sent.params["value"]
        return None

    def result(self) -> dict[str, Any]:
        return {"acked": dict(self.acked)}


def _workload(plan: ClientPlan, connection: int) -> Workload:
    prefix = f"s{plan.index}c{connection}-"
    if plan.kind == "control":
        return ControlMix()
    if plan.kind == "cache":
        return CacheMix(prefix, plan.cache_keys, random.Random(hash((plan.index, connection))))
    if plan.kind == "flags":
        return FlagWriter(f"stress-{prefix}", plan.flags_per_connection)
    raise ValueError(f"unknown client kind {plan.kind!r}")


async def _drive(
    plan: ClientPlan,
    ready: Callable[[], None],
    wait_go: Callable[[], object],
    stopped: Callable[[], bool],
    report: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    totals = Counts()
    workloads = [_workload(plan, c) for c in range(plan.connections)]
    connections = [Connection(w.expected, Counts()) for w in workloads]
    for connection in connections:
        await connection.open(plan.socket)
    ready()
    await asyncio.to_thread(wait_go)
    start = time.monotonic()
    sent = [0] * plan.connections
    # Each connection starts at its own phase, so 128 clients at 50/s are not 128 bursts a tick.
    phase = [random.random() / max(plan.rate, 1e-9) for _ in connections]
    next_window = start + plan.window if plan.window else float("inf")
    while not stopped() and (not plan.duration or time.monotonic() - start < plan.duration):
        now = time.monotonic()
        for c, (connection, workload) in enumerate(zip(connections, workloads, strict=True)):
            owed = int(plan.rate * max(0.0, now - start - phase[c])) + 1 - sent[c]
            if owed <= 0 or connection.closed.is_set():
                continue
            room = plan.max_outstanding - len(connection.outstanding)
            if owed > room:
                connection.counts.skipped += owed - max(room, 0)
            batch = [workload.next(sent[c] + i) for i in range(max(0, min(owed, room)))]
            sent[c] += owed
            if batch:
                connection.send_many(batch)
        if now >= next_window:
            window = Counts()
            for connection in connections:
                window.merge(connection.take_window())
            report({"kind": plan.kind, "index": plan.index, "time": time.time(), "window": window.to_json()})
            next_window += plan.window
        await asyncio.sleep(TICK)
    elapsed = time.monotonic() - start
    await asyncio.gather(*(connection.drain(DRAIN) for connection in connections))
    extra: dict[str, Any] = {}
    for connection, workload in zip(connections, workloads, strict=True):
        totals.merge(connection.counts)
        for key, value in workload.result().items():
            if isinstance(value, dict):
                extra.setdefault(key, {}).update(value)
            else:
                extra[key] = extra.get(key, 0) + value
    return {"kind": plan.kind, "index": plan.index, "elapsed": elapsed, "counts": totals.to_json(), **extra}


def run_clients(plan: ClientPlan, ready: Any, go: Any, stop: Any, results: Any) -> None:
    """A process's body (``multiprocessing`` target): ``ready``, ``go``, ``stop`` are Events,
    ``results`` a Queue that gets ``{"final": ...}`` once and ``{"window": ...}`` items."""
    if plan.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {plan.cpu})
    os.nice(LOAD_NICENESS)

    def put(item: dict[str, Any]) -> None:
        try:
            results.put(item, timeout=5)
        except queue.Full:
            pass

    try:
        import uvloop

        runner: Callable[[Any], Any] = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        final = runner(_drive(plan, ready.set, go.wait, stop.is_set, put))
    except Exception as error:  # the harness reports a load process that failed, and fails the run
        final = {"kind": plan.kind, "index": plan.index, "failed": f"{type(error).__name__}: {error}"}
    put({"final": final})
