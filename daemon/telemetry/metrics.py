"""Metric definitions, after Elixir's ``telemetry_metrics`` (docs/otp-conformance.md#metrics): what
to turn which event into.

A metric names a telemetry event, one of its measurements, the metadata keys that split it into
series (``tags``) and how to aggregate it:

- ``counter``: how many times the event was emitted (the measurement is not read);
- ``sum``: the sum of the measurement;
- ``last_value``: the measurement's latest value;
- ``summary``: count, sum and quantiles (over the latest ``window`` values);
- ``distribution``: count, sum and a histogram over ``buckets`` (upper bounds).

As in ``telemetry_metrics``, the dotted name says the event and the measurement: the event is the
name without its last part, the measurement that last part; ``event`` and ``measurement`` override
them. ``unit`` names the unit of the reported value; given as ``(from, to)`` it also converts
(arbord's durations are nanoseconds, an operator reads seconds):

>>> m = distribution("arbord.loop.lag.lag", unit=("nanosecond", "second"), buckets=(0.01, 0.1))
>>> m.event, m.measurement, m.unit, m.scale
(('arbord', 'loop', 'lag'), 'lag', 'second', 1e-09)
>>> counter("arbord.cache.hit.count", tags=("cache",)).prometheus_name
'arbord_cache_hit_count'

Metrics defined in code may also carry ``keep`` (a predicate over the metadata: the event counts only
when it returns true) and ``tag_values`` (metadata → the tags' values), as ``telemetry_metrics``
does; arbord's defaults (``DEFAULT_METRICS``) use them to count crashes apart from clean exits.
The aggregation is ``daemon/telemetry/aggregation.py``; the TOML shape is
``daemon/telemetry/metrics_config.py``.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from daemon.telemetry.catalog import EVENTS

__all__ = [
    "DEFAULT_MAX_SERIES",
    "DEFAULT_METRICS",
    "KNOWN_EVENTS",
    "METRIC_NAME",
    "UNITS",
    "Kind",
    "Metric",
    "counter",
    "distribution",
    "last_value",
    "sum_of",
    "summary",
    "unit_scale",
]

EventName = tuple[str, ...]
Predicate = Callable[[Mapping[str, Any]], bool]
TagValues = Callable[[Mapping[str, Any]], Mapping[str, Any]]

METRIC_NAME: Final = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*(\.[a-zA-Z_][a-zA-Z0-9_]*)+$")
DEFAULT_BUCKETS: Final = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)
DEFAULT_QUANTILES: Final = (0.5, 0.9, 0.99)
DEFAULT_WINDOW: Final = 1024
DEFAULT_MAX_SERIES: Final = 1000

# Each unit's size in its base unit (seconds, bytes); a conversion is between units of one base.
UNITS: Final[Mapping[str, tuple[str, float]]] = MappingProxyType(
    {
        "nanosecond": ("second", 1e-9),
        "microsecond": ("second", 1e-6),
        "millisecond": ("second", 1e-3),
        "second": ("second", 1.0),
        "byte": ("byte", 1.0),
        "kilobyte": ("byte", 1e3),
        "megabyte": ("byte", 1e6),
    }
)


def unit_scale(source: str, target: str) -> float:
    """The factor turning a value in ``source`` into ``target`` (``ValueError`` if they do not convert).

    >>> unit_scale("millisecond", "second")
    0.001
    """
    for unit in (source, target):
        if unit not in UNITS:
            raise ValueError(f"unknown unit {unit!r}; expected one of: {', '.join(UNITS)}")
    (base, size), (other_base, other_size) = UNITS[source], UNITS[target]
    if base != other_base:
        raise ValueError(f"cannot convert {source} to {target}")
    return size / other_size


class Kind(enum.StrEnum):
    """How a metric aggregates its measurement."""

    COUNTER = "counter"
    SUM = "sum"
    LAST_VALUE = "last_value"
    SUMMARY = "summary"
    DISTRIBUTION = "distribution"


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric definition (build it with ``counter``, ``sum_of``, ... or from the TOML)."""

    kind: Kind
    name: str
    event: EventName
    measurement: str
    tags: tuple[str, ...] = ()
    unit: str = ""
    scale: float = 1.0
    description: str = ""
    buckets: tuple[float, ...] = DEFAULT_BUCKETS
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES
    window: int = DEFAULT_WINDOW
    max_series: int = DEFAULT_MAX_SERIES
    """At most this many tag combinations; an event that would add one more is dropped (counted)."""
    keep: Predicate | None = None
    tag_values: TagValues | None = None

    @property
    def prometheus_name(self) -> str:
        """The name in Prometheus' exposition: dots become underscores."""
        return self.name.replace(".", "_")


def _metric(
    kind: Kind,
    name: str,
    *,
    event: EventName | None = None,
    measurement: str | None = None,
    tags: tuple[str, ...] = (),
    unit: str | tuple[str, str] = "",
    description: str = "",
    buckets: tuple[float, ...] = DEFAULT_BUCKETS,
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES,
    window: int = DEFAULT_WINDOW,
    max_series: int = DEFAULT_MAX_SERIES,
    keep: Predicate | None = None,
    tag_values: TagValues | None = None,
) -> Metric:
    if not isinstance(name, str) or not METRIC_NAME.match(name):
        raise ValueError(f"a metric name is dotted words (letters, digits, _), at least two: {name!r}")
    parts = tuple(name.split("."))
    if event is None:
        event = parts[:-1]
    if not isinstance(event, tuple) or not event or not all(isinstance(p, str) and p for p in event):
        raise ValueError(f"an event name is a non-empty tuple of strings, not {event!r}")
    scale = 1.0
    if isinstance(unit, tuple):
        scale = unit_scale(*unit)
        unit = unit[1]
    ordered = bool(buckets) and list(buckets) == sorted(set(buckets)) and all(map(math.isfinite, buckets))
    if kind is Kind.DISTRIBUTION and not ordered:
        raise ValueError(f"buckets are finite upper bounds in increasing order, not {buckets!r}")
    if kind is Kind.SUMMARY:
        if not quantiles or not all(0 < q < 1 for q in quantiles):
            raise ValueError(f"quantiles are numbers between 0 and 1 (exclusive), not {quantiles!r}")
        if window < 1:
            raise ValueError(f"a summary's window is at least 1 value, not {window!r}")
    if max_series < 1:
        raise ValueError(f"max_series is at least 1, not {max_series!r}")
    return Metric(
        kind,
        name,
        event,
        measurement if measurement is not None else parts[-1],
        tuple(tags),
        unit,
        scale,
        description,
        tuple(float(b) for b in buckets),
        tuple(float(q) for q in quantiles),
        window,
        max_series,
        keep,
        tag_values,
    )


def counter(name: str, **options: Any) -> Metric:
    """How many times the event was emitted (``telemetry_metrics``' ``counter``)."""
    return _metric(Kind.COUNTER, name, **options)


def sum_of(name: str, **options: Any) -> Metric:
    """The sum of the measurement (``telemetry_metrics``' ``sum``; named so as not to shadow ``sum``)."""
    return _metric(Kind.SUM, name, **options)


def last_value(name: str, **options: Any) -> Metric:
    """The measurement's latest value."""
    return _metric(Kind.LAST_VALUE, name, **options)


def summary(name: str, **options: Any) -> Metric:
    """Count, sum and ``quantiles`` of the measurement over its latest ``window`` values."""
    return _metric(Kind.SUMMARY, name, **options)


def distribution(name: str, **options: Any) -> Metric:
    """Count, sum and a histogram of the measurement over ``buckets`` (upper bounds)."""
    return _metric(Kind.DISTRIBUTION, name, **options)


# The events arbord emits and their measurements, from the catalog (daemon/telemetry/catalog.py;
# docs/telemetry.md, "Events arbord emits"): a metric over one of them is checked at configuration load.
KNOWN_EVENTS: Final[Mapping[EventName, frozenset[str]]] = MappingProxyType(
    {name: frozenset(signal.measurements) for name, signal in EVENTS.items()}
)


def _abnormal(metadata: Mapping[str, Any]) -> bool:
    """A child's exit that was a crash (not normal, not a shutdown)."""
    return bool(getattr(metadata.get("reason"), "is_abnormal", False))


def _str_tags(*keys: str) -> TagValues:
    """Tag values as strings (a supervisor's label, a child id)."""

    def values(metadata: Mapping[str, Any]) -> Mapping[str, Any]:
        return {key: str(metadata.get(key, "")) for key in keys}

    return values


_CHILD = ("supervisor", "child_id")
_SECONDS = ("nanosecond", "second")

DEFAULT_METRICS: Final[tuple[Metric, ...]] = (
    counter("supervisor.child.restart.count", tags=_CHILD, tag_values=_str_tags(*_CHILD),
            description="Children restarted by their supervisor."),
    counter("supervisor.child.crash.count", event=("supervisor", "child", "exit"), tags=_CHILD,
            keep=_abnormal, tag_values=_str_tags(*_CHILD),
            description="Children that exited abnormally (crashed)."),
    counter("supervisor.escalate.count", tags=("supervisor",), tag_values=_str_tags("supervisor"),
            description="Supervisors that gave up: restart intensity exceeded."),
    counter("supervisor.child.abandoned.count", tags=_CHILD, tag_values=_str_tags(*_CHILD),
            description="Children that would not stop and were abandoned."),
    distribution("supervisor.call.stop.duration", tags=("server",), unit=_SECONDS,
                 buckets=(0.0001, 0.001, 0.01, 0.1, 1.0, 5.0),
                 description="Call latency per registered server, one call in 64 sampled."),
    counter("telemetry.handler.failure.count", description="Telemetry handlers detached for raising."),
    counter("arbord.registry.register.count", tags=("registry",), description="Registry registrations."),
    counter("arbord.registry.unregister.count", tags=("registry",), description="Registry removals."),
    counter("arbord.registry.lookup_miss.count", tags=("registry",), description="Registry lookup misses."),
    sum_of("arbord.registry.owner_down.count", tags=("registry",),
           description="Registry entries removed because their owner exited."),
    counter("arbord.cache.hit.count", tags=("cache",), description="Cache hits."),
    counter("arbord.cache.miss.count", tags=("cache",), description="Cache misses."),
    counter("arbord.cache.evict.count", tags=("cache",), description="Cache evictions (size bound)."),
    counter("arbord.cache.expire.count", tags=("cache",), description="Cache expirations (TTL)."),
    counter("arbord.control.request.count", tags=("method", "error"),
            description="Control requests by method and error code (empty: answered with a result)."),
    distribution("arbord.control.request.duration", tags=("method",), unit=_SECONDS,
                 buckets=(0.001, 0.01, 0.1, 1.0, 10.0), description="Control requests' run time."),
    counter("arbord.control.request.span_path.count", event=("arbord", "control", "request"),
            tags=("span_path",),
            description="Control requests by the path that held their server span: supervised or legacy "
            "(otp_cleanup's use_genserver_span_management; empty: no span)."),
    counter("arbord.control.rejected.count", tags=("reason",),
            description="Control frames and peers turned down before any method ran, by error code."),
    distribution("arbord.loop.lag.lag", unit=_SECONDS, buckets=(0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0),
                 description="Event loop lag measured by the watchdog."),
    last_value("arbord.poller.tree.processes", description="Live servers and tasks known to the runtime."),
    last_value("arbord.poller.tree.restarts", description="Restarts recorded by the daemon."),
    last_value("arbord.poller.mailbox.depth", tags=("server",), description="Messages waiting per server."),
    last_value("arbord.poller.table.size", tags=("table",), description="Rows per named table."),
    last_value("arbord.poller.table.memory", tags=("table",), unit="byte",
               description="Estimated bytes per named table."),
    last_value("arbord.poller.loop.lag", unit=_SECONDS, description="Lag of the poller's own timer."),
    last_value("arbord.poller.process.rss", unit="byte", description="Resident set size of the daemon."),
    last_value("arbord.poller.process.open_fds", description="Open file descriptors of the daemon."),
    counter("arbord.poller.failure.count", tags=("measurement",),
            description="Poller measurements removed because they raised."),
    counter("arbord.flags.read_only.count",
            description="Times the flags turned read-only: their store could not persist a write."),
)  # fmt: skip
"""arbord's own metrics, defined unless ``[telemetry.metrics] defaults = false``."""
