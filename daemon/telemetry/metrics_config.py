"""``[telemetry]``'s settings for metrics, their export and the poller (``[telemetry.metrics]``,
``[telemetry.prometheus]``, ``[telemetry.poller]``).

A metric is one ``[[telemetry.metrics.definitions]]`` table (docs/telemetry.md, "Metrics and export")::

    [[telemetry.metrics.definitions]]
    type = "distribution"                 # counter, sum, last_value, summary, distribution
    name = "myapp.job.stop.duration"      # event myapp.job.stop, measurement duration
    tags = ["queue"]                      # metadata keys that split it into series
    unit = { from = "nanosecond", to = "second" }
    buckets = [0.01, 0.1, 1.0]

>>> section = MetricsSettings.model_validate({"definitions": [
...     {"type": "counter", "name": "myapp.job.stop.count", "tags": ["queue"]}]})
>>> [metric.name for metric in section.metrics()][-1]
'myapp.job.stop.count'

A metric over one of arbord's own events is checked against the measurements that event carries,
so a typo is a configuration error (exit 78) naming the key, not a silent zero.
"""

from __future__ import annotations

import importlib
import ipaddress
import math
from collections.abc import Callable
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from daemon.telemetry.metrics import (
    DEFAULT_BUCKETS,
    DEFAULT_MAX_SERIES,
    DEFAULT_METRICS,
    DEFAULT_QUANTILES,
    DEFAULT_WINDOW,
    KNOWN_EVENTS,
    METRIC_NAME,
    Kind,
    Metric,
    counter,
    distribution,
    last_value,
    sum_of,
    summary,
)

__all__ = [
    "MetricDefinition",
    "MetricsSettings",
    "PollerSettings",
    "PrometheusSettings",
    "UnitConversion",
    "is_loopback",
    "resolve_callable",
    "split_address",
]

_FROZEN = ConfigDict(extra="forbid", frozen=True)
_BUILDERS = {
    Kind.COUNTER: counter,
    Kind.SUM: sum_of,
    Kind.LAST_VALUE: last_value,
    Kind.SUMMARY: summary,
    Kind.DISTRIBUTION: distribution,
}


class UnitConversion(BaseModel):
    """``unit = { from = "nanosecond", to = "second" }``: report in ``to`` what is measured in ``from``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    source: str = Field(alias="from")
    to: str


def _event_of(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    parts = tuple(value.split(".")) if isinstance(value, str) else tuple(value)
    if not parts or not all(isinstance(p, str) and p for p in parts):
        raise ValueError(f"an event is dotted words or a list of words, not {value!r}")
    return parts


class MetricDefinition(BaseModel):
    """``[[telemetry.metrics.definitions]]``: one metric (``daemon.telemetry.metrics``)."""

    model_config = _FROZEN

    type: Kind
    name: str
    """Dotted; without ``event``/``measurement``, the event is the name less its last part and the
    measurement that last part (as in ``telemetry_metrics``)."""
    event: tuple[str, ...] | None = None
    """``"myapp.job.stop"`` or ``["myapp", "job", "stop"]``."""
    measurement: str | None = Field(default=None, validate_default=True)
    tags: tuple[Annotated[str, Field(min_length=1)], ...] = ()
    unit: str | UnitConversion = ""
    description: str = ""
    buckets: tuple[float, ...] = DEFAULT_BUCKETS
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES
    window: int = Field(default=DEFAULT_WINDOW, ge=1, le=1_000_000)
    max_series: int = Field(default=DEFAULT_MAX_SERIES, ge=1, le=1_000_000)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not METRIC_NAME.match(value):
            raise ValueError(f"expected dotted words (letters, digits, _), at least two, got {value!r}")
        return value

    @field_validator("event", mode="before")
    @classmethod
    def _event(cls, value: Any) -> tuple[str, ...] | None:
        return _event_of(value)

    @field_validator("measurement")
    @classmethod
    def _measurement(cls, value: str | None, info: ValidationInfo) -> str | None:
        name, kind = info.data.get("name"), info.data.get("type")
        if not isinstance(name, str) or kind is None or kind is Kind.COUNTER:
            return value  # a counter reads no measurement
        event = info.data.get("event") or tuple(name.split("."))[:-1]
        measurement = value if value is not None else name.rsplit(".", 1)[-1]
        known = KNOWN_EVENTS.get(event)
        if known is not None and measurement not in known:
            carried = ", ".join(sorted(known)) or "none"
            raise ValueError(
                f"the event {'.'.join(event)} has no measurement {measurement!r} (it carries: {carried})"
            )
        return value

    @field_validator("buckets", "quantiles")
    @classmethod
    def _finite(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not all(math.isfinite(v) for v in value):
            raise ValueError(f"expected finite numbers, got {list(value)!r}")
        return value

    def metric(self) -> Metric:
        """The definition as a ``Metric`` (``ValueError`` for what only the whole can check)."""
        unit: str | tuple[str, str] = (
            (self.unit.source, self.unit.to) if isinstance(self.unit, UnitConversion) else self.unit
        )
        options: dict[str, Any] = {
            "tags": self.tags,
            "unit": unit,
            "description": self.description,
            "max_series": self.max_series,
        }
        if self.event is not None:
            options["event"] = self.event
        if self.measurement is not None:
            options["measurement"] = self.measurement
        if self.type is Kind.DISTRIBUTION:
            options["buckets"] = self.buckets
        if self.type is Kind.SUMMARY:
            options["quantiles"], options["window"] = self.quantiles, self.window
        return _BUILDERS[self.type](self.name, **options)

    @model_validator(mode="after")
    def _whole(self) -> MetricDefinition:
        self.metric()
        return self


class MetricsSettings(BaseModel):
    """The metrics' part of ``[telemetry]`` (``[telemetry.metrics]``)."""

    model_config = _FROZEN

    defaults: bool = True
    """Define arbord's own metrics (``daemon.telemetry.metrics.DEFAULT_METRICS``)."""
    definitions: tuple[MetricDefinition, ...] = ()
    """The operator's metrics, one ``[[telemetry.metrics.definitions]]`` table each."""

    def metrics(self) -> tuple[Metric, ...]:
        """Every metric to aggregate: arbord's own (unless ``defaults = false``), then the operator's."""
        return (DEFAULT_METRICS if self.defaults else ()) + tuple(d.metric() for d in self.definitions)

    @model_validator(mode="after")
    def _unique_names(self) -> MetricsSettings:
        seen: set[str] = set()
        for metric in self.metrics():
            if metric.prometheus_name in seen:
                raise ValueError(f"two metrics are named {metric.name!r} (names are unique, dots or not)")
            seen.add(metric.prometheus_name)
        return self


class PrometheusSettings(BaseModel):
    """``[telemetry.prometheus]``: the optional HTTP endpoint serving ``/metrics``."""

    model_config = _FROZEN

    listen: str | None = None
    """``"HOST:PORT"`` (``"[::1]:9464"`` for IPv6); None (the default): no HTTP listener. A
    non-loopback host is allowed and logged as a warning."""

    @field_validator("listen")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None:
            split_address(value)
        return value

    def address(self) -> tuple[str, int] | None:
        """``(host, port)`` to listen on, or None."""
        return None if self.listen is None else split_address(self.listen)


def split_address(value: str) -> tuple[str, int]:
    """``"host:port"`` → ``(host, port)`` (``ValueError`` naming the value).

    >>> split_address("127.0.0.1:9464"), split_address("[::1]:0")
    (('127.0.0.1', 9464), ('::1', 0))
    """
    host, _, port = value.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected 'HOST:PORT' with a port in 0..65535, got {value!r}")
    return host, int(port)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_callable(path: str) -> Callable[[], Any]:
    """``"package.module:function"`` → the function (``ValueError`` naming what is wrong).

    >>> resolve_callable("os:getpid").__name__
    'getpid'
    """
    module_name, _, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise ValueError(f"cannot import module {module_name!r}: {error}") from None
    target = getattr(module, attribute, None)
    if not callable(target):
        raise ValueError(f"{path!r} is not a callable")
    return cast(Callable[[], Any], target)


class PollerSettings(BaseModel):
    """``[telemetry.poller]``: periodic measurements (daemon/telemetry/poller.py)."""

    model_config = _FROZEN

    enabled: bool = True
    interval: float = Field(default=5.0, gt=0, allow_inf_nan=False)
    """Seconds between two rounds."""
    measurements: tuple[Annotated[str, Field(pattern=r"^[\w.]+:\w+$")], ...] = ()
    """User callables ``"package.module:function"``, called each round; one that raises is removed."""

    @field_validator("measurements")
    @classmethod
    def _importable(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for path in value:
            resolve_callable(path)
        return value

    builtin: tuple[Literal["tree", "mailbox", "table", "loop", "process"], ...] = (
        "tree",
        "mailbox",
        "table",
        "loop",
        "process",
    )
    """Which of arbord's own measurements to take."""
