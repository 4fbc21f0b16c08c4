"""Signals from telemetry: outcome events and server crashes, counted per arm in windows of time.

``Signals`` is owned by the MigrationControl server (created in its ``init``, dropped with it) and
reached by its telemetry handlers through their ``config``: an emit updates it in the caller's task,
with no mailbox hop. Two kinds of event feed it:

- **declared outcome events** (``[flags.migration] events``): each emission is one request; it is an
  error when its metadata has a true ``error``, and timed when its measurements have ``duration``
  (seconds). Its metadata's ``actor`` says which arm served it, by the guarded flag's own evaluation
  (``enabled(flag, actor)``: treatment if on, control if off);
- **crashes**: ``("server", "exit")`` with an abnormal reason. A crash is charged to the arm of the
  last outcome event the crashing server emitted (the event's handler runs in that server's task and
  notes it), so a server that crashes serving a treatment actor counts against the treatment.

Every event also counts in the ``ALL`` series, which a plan's stage is judged on (window against the
baseline recorded before the stage began). Counts live in one-second buckets; latencies in a
logarithmic histogram (bins 5 % apart), so a p95 is exact to 5 %.

>>> from supervisor.testing import ManualClock
>>> clock = ManualClock(100.0)
>>> signals = Signals(clock)
>>> for n in range(10):
...     signals.record(ALL, ALL, error=n < 2, duration=0.010 * (n + 1))
>>> sample = signals.sample(ALL, ALL, window=60.0, since=40.0)
>>> sample.requests, sample.errors, round(sample.p95, 2)
(10, 2, 0.1)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from daemon.flags.migration.verdict import Sample
from supervisor import ArbordError, Exit, current_server
from supervisor.lowlevel import Clock

__all__ = ["ALL", "CONTROL", "TREATMENT", "Signals", "on_exit", "on_outcome"]

ALL = "all"
"""The series of every event (a stage's subject), and its only arm."""
_ALL_KEY: Final = (ALL, ALL)
TREATMENT = "treatment"
CONTROL = "control"

_BIN_BASE = math.log(1.05)
_log = math.log
_NUMBERS: Final = frozenset({int, float})
_MIN_DURATION = 1e-7


class _Bucket:
    """One second of one arm: counts and a latency histogram (bin → count)."""

    __slots__ = ("crashes", "errors", "latency", "requests")

    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.crashes = 0
        self.latency: dict[int, int] = {}


def _latency_bin(duration: object) -> int | None:
    """The histogram bin of a duration in seconds (None: no usable duration)."""
    if not isinstance(duration, (int, float)) or not duration >= 0 or duration == math.inf:
        return None
    return math.floor(math.log(max(duration, _MIN_DURATION)) / _BIN_BASE)


def _count(bucket: _Bucket, error: bool, index: int | None) -> None:
    """One request in ``bucket``: an error if ``error``, timed in bin ``index`` unless None."""
    bucket.requests += 1
    if error:
        bucket.errors += 1
    if index is not None:
        bucket.latency[index] = bucket.latency.get(index, 0) + 1


def _upper(index: int) -> float:
    return math.exp((index + 1) * _BIN_BASE)


def p95(histogram: Mapping[int, int]) -> float | None:
    """The 95th percentile of a histogram: the upper edge of the bin holding it."""
    total = sum(histogram.values())
    if not total:
        return None
    rank, seen = math.ceil(0.95 * total), 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            return _upper(index)
    return None  # pragma: no cover - the loop always reaches the rank


class Signals:
    """The windowed counts of one MigrationControl server, per ``(subject, arm)``.

    ``subject`` is ``ALL`` or a guarded flag's name. ``horizon`` bounds what is kept (seconds): the
    long window twice over, so a baseline before a stage can still be read when the stage begins.
    """

    __slots__ = ("_arms_of", "_clock", "_current", "_enabled", "_horizon", "_judged", "_series")

    def __init__(self, clock: Clock, horizon: float = 600.0) -> None:
        self._clock = clock
        self._judged: tuple[str, ...] = ()
        self._enabled: Callable[[str, Any], bool] | None = None
        self._horizon = horizon
        self._series: dict[tuple[str, str], dict[int, _Bucket]] = {}
        self._arms_of: dict[object, list[tuple[str, str]]] = {}
        self._current: dict[tuple[str, str], tuple[int, _Bucket]] = {}

    def record(
        self,
        subject: str,
        arm: str,
        *,
        error: bool = False,
        duration: float | None = None,
        crash: bool = False,
    ) -> None:
        """Count one request (or, with ``crash``, one crash) for ``(subject, arm)`` now."""
        bucket = self._bucket((subject, arm), math.floor(self._clock.monotonic()))
        if crash:
            bucket.crashes += 1
        else:
            _count(bucket, error, _latency_bin(duration))

    def _bucket(self, key: tuple[str, str], second: int) -> _Bucket:
        current = self._current.get(key)
        if current is not None and current[0] == second:
            return current[1]  # the emit path's usual case: this second's bucket, one lookup
        buckets = self._series.get(key)
        if buckets is None:
            buckets = self._series[key] = {}
        bucket = buckets.get(second)
        if bucket is None:
            bucket = buckets[second] = _Bucket()
        self._current[key] = (second, bucket)
        return bucket

    def watch(self, flags: Iterable[str], enabled: Callable[[str, Any], bool] | None) -> None:
        """Attribute outcomes to arms for ``flags`` (the guarded flags on a judged rollout now), by
        ``enabled`` (the flags server's evaluation); the server calls it at start and each tick."""
        judged = tuple(flags)
        self._judged, self._enabled = (judged, enabled) if judged and enabled is not None else ((), None)

    def outcome(self, metadata: Mapping[str, object], measurements: Mapping[str, float]) -> None:
        """One declared outcome event: counted in ``ALL`` and, per flag on a judged rollout, in the
        arm that served its actor. The emit path, written out flat: the time and the latency bin are
        worked out once, this second's bucket is one dict lookup (``_current``), and the arm is the
        flag's own evaluation."""
        error = bool(metadata.get("error"))
        duration = measurements.get("duration")
        index = None
        if duration is not None and duration.__class__ in _NUMBERS and 0 <= duration < math.inf:
            index = math.floor(_log(duration if duration > _MIN_DURATION else _MIN_DURATION) / _BIN_BASE)
        second = math.floor(self._clock.monotonic())
        current = self._current.get(_ALL_KEY)
        bucket = (
            current[1] if current is not None and current[0] == second else self._bucket(_ALL_KEY, second)
        )
        bucket.requests += 1
        if error:
            bucket.errors += 1
        if index is not None:
            latency = bucket.latency
            latency[index] = latency.get(index, 0) + 1
        enabled = self._enabled
        if enabled is None:
            return
        actor = metadata.get("actor")
        if actor is None:
            return
        server = current_server()
        arms: list[tuple[str, str]] | None = None if server is None else []
        for flag in self._judged:
            try:
                key = (flag, TREATMENT) if enabled(flag, actor) else (flag, CONTROL)
            except ArbordError:  # the flags server restarts: no arm to charge (a raise would detach us)
                return
            if arms is not None:
                arms.append(key)
            current = self._current.get(key)
            bucket = current[1] if current is not None and current[0] == second else self._bucket(key, second)
            bucket.requests += 1
            if error:
                bucket.errors += 1
            if index is not None:
                latency = bucket.latency
                latency[index] = latency.get(index, 0) + 1
        if arms is not None:
            self._arms_of[server] = arms

    def exit(self, server: object, reason: Exit) -> None:
        """A server exited: a crash (abnormal reason) counts in ``ALL`` and in the arms it last served."""
        arms = self._arms_of.pop(server, None)
        if not reason.is_abnormal:
            return
        self.record(ALL, ALL, crash=True)
        for flag, arm in arms or ():
            self.record(flag, arm, crash=True)

    def sample(
        self, subject: str, arm: str, *, window: float, since: float, until: float | None = None
    ) -> Sample:
        """What ``(subject, arm)`` saw in the ``window`` seconds up to ``until`` (default now), counting
        nothing before ``since`` (when watching it began)."""
        now = self._clock.monotonic() if until is None else until
        start = max(now - window, since)
        span = max(0.0, now - start)
        first, last = math.floor(start), math.floor(now)
        requests = errors = crashes = 0
        histogram: dict[int, int] = {}
        for second, bucket in self._series.get((subject, arm), {}).items():
            if first <= second <= last:
                requests += bucket.requests
                errors += bucket.errors
                crashes += bucket.crashes
                for index, count in bucket.latency.items():
                    histogram[index] = histogram.get(index, 0) + count
        return Sample(requests, errors, crashes, p95(histogram), sum(histogram.values()), span)

    def prune(self) -> None:
        """Drop buckets older than the horizon (the server calls it at each tick)."""
        oldest = math.floor(self._clock.monotonic() - self._horizon)
        for key in [k for k, (second, _) in self._current.items() if second < oldest]:
            del self._current[key]
        for buckets in self._series.values():
            for second in [s for s in buckets if s < oldest]:
                del buckets[second]

    def forget(self, subject: str) -> None:
        """Drop a subject's series (its rollout ended or was rolled back)."""
        for key in [k for k in self._series if k[0] == subject]:
            del self._series[key]
            self._current.pop(key, None)


def on_outcome(
    event: tuple[str, ...], measurements: Mapping[str, float], metadata: Mapping[str, object], config: Any
) -> None:
    """The telemetry handler of the declared outcome events (``config`` is the ``Signals``)."""
    config.outcome(metadata, measurements)


def on_exit(
    event: tuple[str, ...], measurements: Mapping[str, float], metadata: Mapping[str, object], config: Any
) -> None:
    """The telemetry handler of ``("server", "exit")`` (``config`` is the ``Signals``)."""
    reason = metadata.get("reason")
    if isinstance(reason, Exit):
        config.exit(metadata.get("server"), reason)
