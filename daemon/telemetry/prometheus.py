"""Prometheus' text exposition of the metrics, by ``prometheus_client``: a custom collector over the
metrics server's tables, a registry of its own, ``generate_latest``.

Each metric becomes one family named like the metric with dots as underscores:

=============== ============ ==============================================================
metric          family       samples
=============== ============ ==============================================================
counter, sum    counter      ``<name>_total``
last_value      gauge        ``<name>``
summary         summary      ``<name>{quantile="0.5"}``, ``<name>_sum``, ``<name>_count``
distribution    histogram    ``<name>_bucket{le="..."}``, ``<name>_sum``, ``<name>_count``
=============== ============ ==============================================================

The unit is said in the family's help text (``prometheus_client`` would append it to the name).

>>> import asyncio
>>> from supervisor import telemetry
>>> from daemon.telemetry.aggregation import MetricsServer
>>> from daemon.telemetry.metrics import counter
>>> async def demo() -> str:
...     server = await MetricsServer.start([counter("job.done.count", tags=("queue",))])
...     telemetry.execute(("job", "done"), {}, {"queue": "fast"})
...     text = exposition(server)
...     await server.stop()
...     return text
>>> print(asyncio.run(demo()))
# HELP job_done_count_total job.done.count
# TYPE job_done_count_total counter
job_done_count_total{queue="fast"} 1.0
# HELP arbord_metrics_dropped_count_total Events a metric could not use, by reason.
# TYPE arbord_metrics_dropped_count_total counter
<BLANKLINE>

The last family is the server's own: the events a metric dropped (none here).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.core import (
    Metric as Family,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from daemon.telemetry.accounting_export import AccountingCollector
from daemon.telemetry.aggregation import MetricsServer, Series
from daemon.telemetry.metrics import Kind, Metric

__all__ = ["CONTENT_TYPE", "MetricsCollector", "exposition"]

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
"""The ``Content-Type`` of ``exposition``'s text (version 0.0.4 of the format)."""


def _help(metric: Metric) -> str:
    text = metric.description or metric.name
    return f"{text} (unit: {metric.unit})" if metric.unit else text


def _number(value: float) -> str:
    return "+Inf" if value == float("inf") else repr(float(value))


class MetricsCollector(Collector):
    """Yields one family per metric of ``server`` with every series read from its tables."""

    def __init__(self, server: MetricsServer) -> None:
        self.server = server

    def collect(self) -> Iterator[Family]:
        by_metric: dict[str, list[Series]] = {metric.name: [] for metric in self.server.metrics}
        for series in self.server.series():
            by_metric[series.metric.name].append(series)
        for metric in self.server.metrics:
            yield self._family(metric, by_metric[metric.name])

    @staticmethod
    def _family(metric: Metric, found: list[Series]) -> Family:
        name, labels, doc = metric.prometheus_name, list(metric.tags), _help(metric)
        if metric.kind in (Kind.COUNTER, Kind.SUM):
            counter = CounterMetricFamily(name, doc, labels=labels)
            for series in found:
                counter.add_metric([series.tags[t] for t in labels], series.value)
            return counter
        if metric.kind is Kind.LAST_VALUE:
            gauge = GaugeMetricFamily(name, doc, labels=labels)
            for series in found:
                gauge.add_metric([series.tags[t] for t in labels], series.value)
            return gauge
        if metric.kind is Kind.DISTRIBUTION:
            histogram = HistogramMetricFamily(name, doc, labels=labels)
            for series in found:
                buckets = [(_number(bound), count) for bound, count in series.value["buckets"]]
                histogram.add_metric([series.tags[t] for t in labels], buckets, series.value["sum"])
            return histogram
        family = Family(name, doc, "summary")
        for series in found:
            for q, value in series.value["quantiles"]:
                family.add_sample(name, {**series.tags, "quantile": repr(q)}, value)
            family.add_sample(name + "_sum", dict(series.tags), series.value["sum"])
            family.add_sample(name + "_count", dict(series.tags), series.value["count"])
        return family


def exposition(server: MetricsServer, *, accounting: bool = False) -> str:
    """Every metric of ``server`` in Prometheus' text format (what ``/metrics`` serves), then, with
    ``accounting``, the sampled events' counters (``daemon/telemetry/accounting_export.py``)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MetricsCollector(server))
    if accounting:
        registry.register(AccountingCollector())
    return generate_latest(registry).decode("utf-8")
