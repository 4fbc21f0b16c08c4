"""The documentation's tables of signals, rendered from the code: the events of
``daemon.telemetry.catalog``, the default metrics of ``daemon.telemetry.metrics``, the spans arbord
opens and the fields of a JSON log line.

A page holds a generated table between two markers, ``<!-- signals: KIND [PREFIX] -->`` and
``<!-- /signals -->`` (KIND is ``events``, ``metrics``, ``spans`` or ``log-fields``; PREFIX, a dotted
event prefix, keeps the events under it). ``tests/daemon/test_observability.py`` checks every block
equals its rendering, so the pages cannot drift; after a change to the catalog,
``python -m daemon.telemetry.catalog_docs docs/*.md`` rewrites the blocks.

>>> print(render("log-fields").splitlines()[2])
| `time` | always: UTC, ISO 8601, microseconds | `daemon/log_json.py` |
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

from daemon.telemetry.aggregation import DROPPED
from daemon.telemetry.catalog import EVENTS, LOG_FIELDS, SPANS, EventSignal
from daemon.telemetry.metrics import DEFAULT_METRICS, Kind, Metric

__all__ = ["BLOCK", "KINDS", "documented_metrics", "render", "rewrite"]

BLOCK: Final = re.compile(r"(<!-- signals: ([\w-]+)(?: ([\w.]+))? -->\n)(.*?)(<!-- /signals -->)", re.DOTALL)
"""A generated block: its opening marker (kind, optional prefix), its table, its closing marker."""

KINDS: Final = ("events", "metrics", "spans", "log-fields")
"""The tables a block may hold."""


def _code(words: Iterable[str]) -> str:
    return ", ".join(f"`{word}`" for word in words) or "—"


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _event_name(event: tuple[str, ...]) -> str:
    return "`(" + ", ".join(f'"{word}"' for word in event) + ")`"


def _measurements(signal: EventSignal) -> str:
    units = dict(signal.units)
    words = [f"`{m}` ({units[m]})" if m in units else f"`{m}`" for m in signal.measurements]
    return ", ".join(words) or "—"


def _metadata(signal: EventSignal) -> str:
    words = [f"`{key}`" for key in signal.metadata] + [f"[`{key}`]" for key in signal.optional]
    if signal.open_metadata:
        words.append(f"+ {signal.open_metadata}")
    return ", ".join(words) or "—"


def documented_metrics() -> tuple[Metric, ...]:
    """arbord's own metrics: the defaults and the metrics server's count of what it dropped."""
    return (*DEFAULT_METRICS, DROPPED)


def _prometheus(metric: Metric) -> str:
    total = "_total" if metric.kind in (Kind.COUNTER, Kind.SUM) else ""
    return f"`{metric.prometheus_name}{total}`"


def render(kind: str, prefix: str | None = None) -> str:
    """The Markdown table of ``kind`` (one of ``KINDS``); ``prefix`` keeps the events under it."""
    rows: list[tuple[str, ...]]
    if kind == "events":
        under = () if prefix is None else tuple(prefix.split("."))
        signals = [s for s in EVENTS.values() if s.event[: len(under)] == under]
        rows = [
            (_event_name(s.event), s.operation, _measurements(s), _metadata(s), f"`{s.source}`")
            for s in signals
        ]
        return _table(("event", "emitted when", "measurements", "metadata", "emitted by"), rows)
    if kind == "metrics":
        rows = [
            (f"`{m.name}`", m.kind.value, m.unit or "—", _code(m.tags),
             _event_name(m.event) if m.event in EVENTS else "— (the metrics server's own count)",
             _prometheus(m), m.description)
            for m in documented_metrics()
        ]  # fmt: skip
        return _table(
            ("metric", "type", "unit", "tags", "from the event", "Prometheus", "what it counts"), rows
        )
    if kind == "spans":
        rows = [(f"`{s.name}`", s.operation, _code(s.attributes), f"`{s.source}`") for s in SPANS.values()]
        return _table(("span", "opened when", "attributes", "opened by"), rows)
    if kind == "log-fields":
        rows = [(f"`{f.key}`", f.when, f"`{f.source}`") for f in LOG_FIELDS]
        return _table(("key", "present", "set by"), rows)
    raise ValueError(f"unknown table {kind!r}; expected one of {', '.join(KINDS)}")


def rewrite(text: str) -> str:
    """``text`` with every generated block replaced by its current rendering."""
    return BLOCK.sub(lambda m: f"{m[1]}{render(m[2], m[3])}\n{m[5]}", text)


def main(paths: Sequence[str]) -> int:
    """Rewrite the blocks of the given pages in place; print the pages that changed."""
    for name in paths:
        path = Path(name)
        text = path.read_text(encoding="utf-8")
        new = rewrite(text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"rewrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
