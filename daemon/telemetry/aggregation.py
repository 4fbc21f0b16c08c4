"""The metrics server (``arbord.metrics``): telemetry handlers that aggregate metrics into its tables.

The server owns two public tables and attaches one handler per event its metrics name. The handler
runs in the emitter's task, as every ``supervisor.telemetry`` handler does, and writes the tables
directly: no message to the server, no await. The server's mailbox is only for its own life; readers
(``metrics``, ``metrics.prometheus``, the HTTP listener) read the tables through ``series()``.

- ``arbord.metrics.values``: one row per series, ``((metric name, tag values), state)``: an ``int``
  for a counter (``update_counter``), a ``float`` for a sum or a last value, a small list for a
  distribution (count, sum, a count per bucket) or a summary (count, sum, the latest values).
- ``arbord.metrics.dropped``: ``((metric name, reason), count)``: the events a metric could not use
  (``missing_measurement``, ``not_a_number``, ``handler_error``, ``series_limit`` past its
  ``max_series``), reported as the metric
  ``arbord.metrics.dropped.count`` and logged once per metric and reason. A bad event never
  detaches the handler nor reaches the server.

>>> import asyncio
>>> from supervisor import telemetry
>>> from daemon.telemetry.metrics import counter, sum_of
>>> async def demo() -> list[tuple[str, dict[str, str], object]]:
...     server = await MetricsServer.start(
...         [counter("job.done.count", tags=("queue",)), sum_of("job.done.rows")])
...     telemetry.execute(("job", "done"), {"rows": 3}, {"queue": "fast"})
...     telemetry.execute(("job", "done"), {"rows": 4}, {"queue": "fast"})
...     seen = [(s.metric.name, s.tags, s.value) for s in server.series()]
...     await server.stop()
...     return seen
>>> asyncio.run(demo())
[('job.done.count', {'queue': 'fast'}, 2), ('job.done.rows', {}, 7.0)]

A restarted server starts from zero (Prometheus reads a counter that goes back as a reset).
"""

from __future__ import annotations

import bisect
import collections
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from daemon.chunked import map_chunked
from daemon.telemetry.metrics import EventName, Kind, Metric, counter
from supervisor import Server, telemetry, whereis
from supervisor.errors import HandlerNotFound, TableError
from supervisor.tables import Access, Table

__all__ = [
    "DROPPED",
    "METRICS_NAME",
    "MetricsServer",
    "Series",
    "metrics_server",
]

log = logging.getLogger("arbord.metrics")

METRICS_NAME: Final = "arbord.metrics"
VALUES_TABLE: Final = "arbord.metrics.values"
DROPPED_TABLE: Final = "arbord.metrics.dropped"
_HANDLER_PREFIX: Final = "arbord.metrics:"
DROPPED: Final = counter(
    "arbord.metrics.dropped.count",
    event=("arbord", "metrics", "dropped"),
    tags=("metric", "reason"),
    description="Events a metric could not use, by reason.",
)
"""The events a metric dropped, by metric and reason (fed by the server itself, not by an event)."""

Handler = Callable[[EventName, Mapping[str, Any], Mapping[str, Any], Any], None]
_MISSING: Final = object()


@dataclass(frozen=True, slots=True)
class Series:
    """One series of a metric: its tags' values (strings) and its value: a number, or for a
    distribution ``{"count", "sum", "buckets": [(upper bound, cumulative count), ...]}`` (the last
    bound ``inf``), for a summary ``{"count", "sum", "quantiles": [(q, value), ...]}``."""

    metric: Metric
    tags: dict[str, str]
    value: Any


def metrics_server() -> MetricsServer | None:
    """The running metrics server, if any."""
    server = whereis(METRICS_NAME)
    return server if isinstance(server, MetricsServer) and server.ready else None


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


class _Compiler:
    """Builds each metric's update function over the server's tables."""

    def __init__(self, values: Table, dropped: Table) -> None:
        self.values = values
        self.dropped = dropped
        self.get = values.getter()
        self.series: dict[str, int] = {}

    def admit(self, metric: Metric) -> bool:
        """Whether ``metric`` may start one more series (``max_series``); counts it if so."""
        count = self.series.get(metric.name, 0)
        if count >= metric.max_series:
            self.drop(metric, "series_limit")
            return False
        self.series[metric.name] = count + 1
        return True

    def drop(self, metric: Metric, reason: str) -> None:
        """Count an event ``metric`` could not use; log the first of each reason. Never raises: a
        handler that raised would be detached by the bus."""
        key = (metric.name, reason)
        try:
            try:
                count = self.dropped.update_counter(key, 1)
            except TableError:
                self.dropped.insert((key, 1))
                count = 1
        except TableError:  # the server is gone (its tables with it): nothing to count into
            return
        if count == 1:
            log.warning("metric %s drops events of %s: %s", metric.name, ".".join(metric.event), reason)

    def tags_of(self, metric: Metric) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
        tags, transform = metric.tags, metric.tag_values
        if transform is not None:
            return lambda metadata: tuple(transform(metadata).get(t, "") for t in tags)
        if not tags:
            return lambda metadata: ()
        if len(tags) == 1:
            (tag,) = tags
            return lambda metadata: (metadata.get(tag, ""),)
        return lambda metadata: tuple([metadata.get(t, "") for t in tags])

    def update(self, metric: Metric) -> Handler:
        if metric.kind is Kind.COUNTER:
            return self._counter(metric)
        return self._measured(metric)

    def _counter(self, metric: Metric) -> Handler:
        name, keep, tags_of, increment, insert = (
            metric.name,
            metric.keep,
            self.tags_of(metric),
            self.values.update_counter,
            self.values.insert,
        )

        def update(event: EventName, measurements: Mapping[str, Any], metadata: Any, config: Any) -> None:
            try:
                if keep is not None and not keep(metadata):
                    return
                key = (name, tags_of(metadata))
                try:
                    increment(key, 1)
                except TableError:  # a new series (or a tag value that is not hashable)
                    key = (name, tuple(map(_hashable, key[1])))
                    if self.get(key) is not None:
                        increment(key, 1)
                    elif self.admit(metric):
                        insert((key, 1))
            except Exception:
                self.drop(metric, "handler_error")

        return update

    def _measured(self, metric: Metric) -> Handler:
        name, keep, tags_of, measurement, scale = (
            metric.name,
            metric.keep,
            self.tags_of(metric),
            metric.measurement,
            metric.scale,
        )
        fold = self._fold(metric)
        get, insert = self.get, self.values.insert

        def update(event: EventName, measurements: Mapping[str, Any], metadata: Any, config: Any) -> None:
            try:
                if keep is not None and not keep(metadata):
                    return
                value = measurements.get(measurement, _MISSING)
                kind = type(value)
                if kind is not int and kind is not float:
                    if value is _MISSING:
                        self.drop(metric, "missing_measurement")
                        return
                    if kind is bool or not isinstance(value, int | float):
                        self.drop(metric, "not_a_number")
                        return
                key = (name, tuple(map(_hashable, tags_of(metadata))))
                row = get(key)
                if row is None and not self.admit(metric):
                    return
                new = fold(None if row is None else row[1], value * scale)
                if new is not None:
                    insert((key, new))
            except Exception:
                self.drop(metric, "handler_error")

        return update

    @staticmethod
    def _fold(metric: Metric) -> Callable[[Any, float], Any]:
        """``fold(state or None, value)``: the new state to store, or None when changed in place."""
        if metric.kind is Kind.SUM:
            return lambda state, value: value if state is None else state + value
        if metric.kind is Kind.LAST_VALUE:
            return lambda state, value: value
        if metric.kind is Kind.DISTRIBUTION:
            buckets = metric.buckets

            def observe(state: list[Any] | None, value: float) -> list[Any] | None:
                fresh = state is None
                if state is None:
                    state = [0, 0.0] + [0] * (len(buckets) + 1)
                state[0] += 1
                state[1] += value
                state[2 + bisect.bisect_left(buckets, value)] += 1
                return state if fresh else None

            return observe
        window = metric.window

        def sample(state: list[Any] | None, value: float) -> list[Any] | None:
            fresh = state is None
            if state is None:
                state = [0, 0.0, collections.deque(maxlen=window)]
            state[0] += 1
            state[1] += value
            state[2].append(value)
            return state if fresh else None

        return sample


def _quantile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank quantile of sorted values (NaN for none)."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _value(metric: Metric, state: Any) -> Any:
    if metric.kind is Kind.DISTRIBUTION:
        cumulative, buckets = 0, []
        for bound, count in zip((*metric.buckets, math.inf), state[2:], strict=True):
            cumulative += count
            buckets.append((bound, cumulative))
        return {"count": state[0], "sum": state[1], "buckets": buckets}
    if metric.kind is Kind.SUMMARY:
        ordered = sorted(state[2])
        return {
            "count": state[0],
            "sum": state[1],
            "quantiles": [(q, _quantile(ordered, q)) for q in metric.quantiles],
        }
    return state


class MetricsServer(Server):
    """Aggregates ``metrics`` into its tables; ``init(metrics)``. Registered as ``arbord.metrics`` in
    the daemon (daemon/telemetry/component.py)."""

    metrics: tuple[Metric, ...]
    values: Table
    dropped: Table
    ready: bool = False
    """True once ``init`` has attached the handlers (the name is taken before)."""

    async def init(self, metrics: Sequence[Metric] = ()) -> None:
        self.metrics = (*metrics, DROPPED)
        self._by_name = {metric.name: metric for metric in self.metrics}
        named = self.name == METRICS_NAME
        self.values = Table(VALUES_TABLE if named else None, access=Access.PUBLIC, named=named)
        self.dropped = Table(DROPPED_TABLE if named else None, access=Access.PUBLIC, named=named)
        compiler = _Compiler(self.values, self.dropped)
        by_event: dict[EventName, list[Handler]] = {}
        for metric in metrics:
            by_event.setdefault(metric.event, []).append(compiler.update(metric))
        # The daemon's server takes fixed handler ids and first detaches those a crashed predecessor
        # left behind; another (a test's) takes ids of its own.
        prefix = _HANDLER_PREFIX if named else f"{_HANDLER_PREFIX}{id(self)}:"
        for handler in telemetry.list_handlers(()):
            if named and handler.id.startswith(prefix) and handler.id.count(":") == 1:
                _detach(handler.id)
        self._handler_ids = []
        for event, updates in by_event.items():
            handler_id = prefix + ".".join(event)
            _detach(handler_id)
            telemetry.attach(handler_id, event, updates[0] if len(updates) == 1 else _fan_out(updates))
            self._handler_ids.append(handler_id)
        self.ready = True

    async def terminate(self, reason: object) -> None:
        self.detach()

    def detach(self) -> None:
        """Detach this server's handlers (on stop; after a crash, its successor detaches them)."""
        for handler_id in self._handler_ids:
            _detach(handler_id)
        self._handler_ids = []

    def series(self) -> list[Series]:
        """Every series, by metric (in definition order) then tags; the dropped events last."""
        return [self._series_of(row) for row in self._rows()]

    async def series_in_slices(self) -> list[Series]:
        """``series()``, converted in slices that give the loop back between them (daemon/chunked.py):
        what the control method reads."""
        return await map_chunked(self._rows(), self._series_of)

    def _rows(self) -> list[tuple[tuple[str, tuple[Any, ...]], Any]]:
        order = {metric.name: index for index, metric in enumerate(self.metrics)}
        rows = sorted(self.values.tab2list(), key=lambda row: (order[row[0][0]], repr(row[0][1])))
        rows += sorted(((DROPPED.name, key), count) for key, count in self.dropped.tab2list())
        return rows

    def _series_of(self, row: tuple[tuple[str, tuple[Any, ...]], Any]) -> Series:
        (name, tag_values), state = row
        metric = self._by_name[name]
        tags = {tag: str(value) for tag, value in zip(metric.tags, tag_values, strict=True)}
        return Series(metric, tags, _value(metric, state))


def _detach(handler_id: str) -> None:
    try:
        telemetry.detach(handler_id)
    except HandlerNotFound:
        pass


def _fan_out(updates: Sequence[Handler]) -> Handler:
    def update(event: EventName, measurements: Mapping[str, Any], metadata: Any, config: Any) -> None:
        for one in updates:
            one(event, measurements, metadata, config)

    return update
