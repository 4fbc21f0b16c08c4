"""The metrics' control methods: ``metrics`` (every series, for ``arborctl metrics``) and
``metrics.prometheus`` (Prometheus' text exposition, the same text ``/metrics`` serves).

``metrics`` lists one record per series: ``metric``, ``type``, ``tags`` (an object), ``value`` (a
number; for a distribution ``{count, sum, buckets}``, for a summary ``{count, sum, quantiles}``)
and ``unit``; ``prefix`` keeps the metrics whose name starts with it. Both answer ``not_found``
while the metrics server is not running (between a crash and its restart).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from daemon.errors import ControlError
from daemon.telemetry.aggregation import MetricsServer, Series, metrics_server
from daemon.telemetry.hub import stats_snapshot
from daemon.verbs.codes import ErrorCode
from daemon.verbs.method import Method, MethodContext, NoParams, methods_of, verb

__all__ = ["metrics_methods", "series_record"]


class MetricsParams(BaseModel):
    """``metrics``: only the metrics whose name starts with ``prefix``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prefix: Annotated[str, Field(max_length=256)] = ""


def _server() -> MetricsServer:
    server = metrics_server()
    if server is None:
        name = "arbord.metrics"
        message = f"the metrics server ({name}) is not running"
        raise ControlError(ErrorCode.SERVER_DOWN, message, {"server": name})
    return server


def _json_number(value: float) -> float | str:
    """JSON has no infinities nor NaN: those travel as strings (``"+Inf"``, ``"NaN"``)."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return "NaN" if math.isnan(value) else value


def series_record(series: Series) -> dict[str, Any]:
    """One series as a JSON record."""
    value = series.value
    if isinstance(value, dict):
        value = dict(value)
        if "buckets" in value:
            value["buckets"] = [[_json_number(bound), count] for bound, count in value["buckets"]]
        if "quantiles" in value:
            value["quantiles"] = [[q, _json_number(v)] for q, v in value["quantiles"]]
    else:
        value = _json_number(value)
    return {
        "metric": series.metric.name,
        "type": series.metric.kind.value,
        "tags": series.tags,
        "value": value,
        "unit": series.metric.unit,
    }


@verb("metrics", "every metric's series and value")
async def metrics_list(params: MetricsParams, context: MethodContext) -> list[dict[str, Any]]:
    # prometheus_client (behind the accounting's families) is imported on the first use, not at start:
    # the daemon's start imports nothing READY does not need (docs/performance.md, "The daemon").
    from daemon.telemetry.accounting_export import accounting_records

    found = await _server().series_in_slices()
    records = [series_record(s) for s in found]
    records += accounting_records(stats_snapshot())  # the sampled events' accounting
    return [r for r in records if str(r["metric"]).startswith(params.prefix)]


@verb("metrics.prometheus", "the metrics in Prometheus' text exposition format")
async def metrics_prometheus(params: NoParams, context: MethodContext) -> dict[str, str]:
    from daemon.telemetry.prometheus import CONTENT_TYPE, exposition  # on first use, as above

    return {"content_type": CONTENT_TYPE, "text": exposition(_server(), accounting=True)}


def metrics_methods() -> tuple[Method, ...]:
    """The metrics' control methods."""
    return methods_of(globals())
