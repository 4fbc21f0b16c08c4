"""The sampled events' exact accounting (``daemon/telemetry/accounting.py``) as metrics: the same
counters ``arborctl telemetry stats`` prints, in ``arborctl metrics`` and in Prometheus' exposition,
read from the telemetry server's tables with no hop (``stats_snapshot``).

======================================= ======== =========================================
family                                  type     labels
======================================= ======== =========================================
``arbord_telemetry_events_total``       counter  ``event``, ``outcome`` (received, emitted,
                                                 deduplicated, sampled_out, batched,
                                                 flushed, dropped)
``arbord_telemetry_pending``            gauge    ``event``: items waiting in its batch
``arbord_telemetry_dropped_total``      counter  ``event``, ``reason``
======================================= ======== =========================================

>>> snapshot = [{"event": "jobs.done", "received": 3, "emitted": 2, "deduplicated": 1,
...              "sampled_out": 0, "batched": 0, "flushed": 0, "dropped": 0, "pending": 0,
...              "dropped_by_reason": {}}]
>>> for record in accounting_records(snapshot)[:2]:
...     print(record["metric"], record["tags"], record["value"])
arbord.telemetry.events {'event': 'jobs.done', 'outcome': 'received'} 3
arbord.telemetry.events {'event': 'jobs.done', 'outcome': 'emitted'} 2
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.core import Metric as Family
from prometheus_client.registry import Collector

from daemon.telemetry.accounting import COUNTERS
from daemon.telemetry.hub import stats_snapshot

__all__ = ["AccountingCollector", "accounting_records"]


def accounting_records(snapshot: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``snapshot`` (``stats_snapshot()``) as ``arborctl metrics`` records."""
    records: list[dict[str, Any]] = []
    for stats in snapshot:
        event = str(stats["event"])
        for outcome in COUNTERS:
            records.append(
                _record(
                    "arbord.telemetry.events", "counter", {"event": event, "outcome": outcome}, stats[outcome]
                )
            )
        records.append(_record("arbord.telemetry.pending", "last_value", {"event": event}, stats["pending"]))
        for reason, count in sorted(stats["dropped_by_reason"].items()):
            records.append(
                _record("arbord.telemetry.dropped", "counter", {"event": event, "reason": reason}, count)
            )
    return records


def _record(metric: str, kind: str, tags: dict[str, str], value: Any) -> dict[str, Any]:
    return {"metric": metric, "type": kind, "tags": tags, "value": value, "unit": None}


class AccountingCollector(Collector):
    """The accounting's three families, from the running telemetry server (none without one)."""

    def collect(self) -> Iterator[Family]:
        snapshot = stats_snapshot()
        events = CounterMetricFamily(
            "arbord_telemetry_events",
            "Sampled events by outcome (exact accounting).",
            labels=["event", "outcome"],
        )
        pending = GaugeMetricFamily("arbord_telemetry_pending", "Items waiting in a batch.", labels=["event"])
        dropped = CounterMetricFamily(
            "arbord_telemetry_dropped", "Sampled events dropped, by reason.", labels=["event", "reason"]
        )
        for stats in snapshot:
            event = str(stats["event"])
            for outcome in COUNTERS:
                events.add_metric([event, outcome], stats[outcome])
            pending.add_metric([event], stats["pending"])
            for reason, count in sorted(stats["dropped_by_reason"].items()):
                dropped.add_metric([event, reason], count)
        yield events
        yield pending
        yield dropped
