"""How ``arborctl`` shows results to a person: a drawn tree, aligned tables, ``key: value`` lines.

Lists of records are tables, records aligned ``key: value`` lines; the sections of ``status`` and
``config show`` are flattened into dotted keys, one line each; a few results have a table of their
own (the registry's entries, the caches' counters and keys). Every time carries its unit (``uptime
4m12s``, ``ttl 5m00s``), a stored JSON ``null`` is shown as ``null`` (``-`` means "not set"), and
an empty listing says so.

>>> print(render_table([{"id": "echo", "state": "running"}, {"id": "other", "state": "undefined"}]))
ID     STATE
echo   running
other  undefined
>>> print(format_duration(3725.5))
1h02m

``status`` reads as a summary, with units on its times and its restarts spelled out:

>>> print(render_status({"state": "running", "uptime": 252.4, "restarts": {"total": 0, "children": {}},
...                      "last_crash": None}))
state:      running
uptime:     4m12s
restarts:   0
last crash: none
>>> print(render_result("cache.list", {"keys": [], "total": 0}))
no keys
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence

from daemon.verbs.render_migration import render_migration_history, render_migration_status, render_why

# Names for annotations only: importing ``typing`` would cost ``arborctl`` a share of its start-up
# (bench/bench_arborctl.py); mypy reads this block, the interpreter skips it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = ["format_duration", "render_result", "render_status", "render_table", "render_tree"]

# Keys whose numbers are seconds (in results and in the configuration).
_TIME_KEYS: Final = frozenset({"uptime", "ttl", "period", "lag_warning"})
_TIME_SUFFIXES: Final = ("_timeout", "_interval")


def format_duration(seconds: float | None) -> str:
    """``250ms``, ``2.5s``, ``30s``, ``4m05s``, ``1h02m``, ``3d04h``; ``-`` for None, ``never`` for
    infinity. Rounded to what a person reads: a TTL of 299.87 s is ``5m00s``."""
    if seconds is None:
        return "-"
    if math.isinf(seconds):
        return "never"
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds < 10:
        return f"{seconds:.1f}".rstrip("0").rstrip(".") + "s"
    if seconds < 59.5:
        return f"{round(seconds)}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def _is_time(key: str) -> bool:
    return key in _TIME_KEYS or key.endswith(_TIME_SUFFIXES)


def _cell(value: Any, key: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float) and _is_time(key):
        return format_duration(value)
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def _json_cell(value: Any) -> str:
    """A stored value: ``null`` for JSON's null (not the unset ``-``), strings as they are."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _align(lines: Sequence[Sequence[str]], gap: str = "  ") -> str:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))] if lines else []
    return "\n".join(
        gap.join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def render_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows of dicts as aligned columns (the union of their keys, in first-seen order)."""
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    cells = [[_cell(row.get(c), c) for c in columns] for row in rows]
    return _align([[c.upper() for c in columns], *cells])


def _flatten(record: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = []
    for key, value in record.items():
        if isinstance(value, Mapping) and value:
            pairs.extend(_flatten(value, f"{prefix}{key}."))
        else:
            pairs.append((f"{prefix}{key}", value))
    return pairs


def _render_record(record: Mapping[str, Any]) -> str:
    """A record as aligned ``key: value`` lines (a nested value as compact JSON)."""
    return _align([[f"{key}:", _cell(value, str(key))] for key, value in record.items()], " ")


def _render_sections(record: Mapping[str, Any]) -> str:
    """A record of sections (``status``, ``config show``) as aligned lines with dotted keys."""
    return _align([[f"{key}:", _cell(value, key.rpartition(".")[2])] for key, value in _flatten(record)], " ")


def _counted(shown: int, total: Any, what: str) -> str:
    return f"({shown} of {total} {what})" if isinstance(total, int) and total > shown else ""


def _entries(result: Mapping[str, Any]) -> str:
    entries = result.get("entries") or []
    if not entries:
        return "no entries"
    rows = [{"key": e.get("key"), "owner": e.get("owner"), "metadata": e.get("metadata")} for e in entries]
    return "\n".join(filter(None, [render_table(rows), _counted(len(rows), result.get("total"), "entries")]))


def _cache_keys(result: Mapping[str, Any]) -> str:
    keys = result.get("keys") or []
    if not keys:
        return "no keys"
    rows = [{"key": k.get("key"), "ttl": math.inf if k.get("ttl") is None else k["ttl"]} for k in keys]
    return "\n".join(filter(None, [render_table(rows), _counted(len(rows), result.get("total"), "keys")]))


def _spans(result: Mapping[str, Any]) -> str:
    spans = result.get("spans") or []
    if not spans:
        return "no spans in flight"
    rows = [
        {"age": s.get("age"), "trace_id": s.get("trace_id"), "task": s.get("task"), "name": s.get("name")}
        for s in spans
    ]
    return "\n".join(filter(None, [render_table(rows), _counted(len(rows), result.get("total"), "spans")]))


def _change(op: Any) -> str:
    """A change's write in a few words, as the log says it: ``enable actor alice``, ``percentage 25%
    of actors`` (``GateOp.describe``, from its JSON)."""
    if not isinstance(op, Mapping):
        return _cell(op)
    value = op.get("value")
    if op.get("verb") == "percentage" and isinstance(value, Mapping):
        return f"percentage {value.get('value'):g}% of {value.get('of')}"
    return " ".join(str(op[word]) for word in ("verb", "gate", "target") if op.get(word) is not None)


def _flag_changes(result: Mapping[str, Any]) -> str:
    """``flags.history``: one line per change, oldest first; under a page that is not the whole
    trail, how many of how many, and the ``offset`` of the older page.

    >>> print(_flag_changes({"changes": [{"revision": 7, "when": "2026-11-24T10:00:00.000+00:00",
    ...     "flag": "beta", "op": {"verb": "enable", "gate": "actor", "target": "alice"},
    ...     "actor": "uid:0 (root)", "reason": None}], "total": 9, "next": 1}))
    REVISION  WHEN                           FLAG  CHANGE              ACTOR         REASON
    7         2026-11-24T10:00:00.000+00:00  beta  enable actor alice  uid:0 (root)  -
    (1 of 9 changes; older: offset=1)
    """
    changes = result.get("changes") or []
    if not changes:
        return "no changes"
    rows = [
        [str(c.get("revision")), str(c.get("when")), str(c.get("flag")), _change(c.get("op")),
         str(c.get("actor")), str(c.get("reason") or "-")]
        for c in changes
    ]  # fmt: skip
    counted = _counted(len(rows), result.get("total"), "changes")
    older = result.get("next")
    if counted and older is not None:
        counted = f"{counted[:-1]}; older: offset={older})"
    table = _align([["REVISION", "WHEN", "FLAG", "CHANGE", "ACTOR", "REASON"], *rows])
    return "\n".join(filter(None, [table, counted]))


def _cache_stats(result: Mapping[str, Any]) -> str:
    if not result:
        return "no caches"
    rows = []
    for name, counters in result.items():
        row = {"cache": name, **counters}
        if isinstance(row.get("hit_rate"), int | float):
            row["hit_rate"] = f"{row['hit_rate']:.0%}"
        rows.append(row)
    return render_table(rows)


def _telemetry_stats(result: Mapping[str, Any]) -> str:
    """``telemetry.stats``: the generation line, then one row of counters per event name."""
    head = (
        f"generation {result.get('generation')}  incarnation {result.get('incarnation')}"
        f"  taps {result.get('taps')}"
    )
    rows = []
    for row in result.get("events") or []:
        drops = row.get("dropped_by_reason") or {}
        reasons = ", ".join(f"{reason}={n}" for reason, n in drops.items())
        rows.append({k: v for k, v in row.items() if k != "dropped_by_reason"} | {"reasons": reasons})
    return head + "\n" + (render_table(rows) if rows else "no sampled events yet")


def _cache_value(result: Mapping[str, Any]) -> str:
    return _align([["key:", _cell(result.get("key"))], ["value:", _json_cell(result.get("value"))]], " ")


def _tables(result: Mapping[str, Any]) -> str:
    tables = result.get("tables") or []
    if not tables:
        return "no tables"
    return "\n".join(
        filter(None, [render_table(tables), _counted(len(tables), result.get("total"), "tables")])
    )


def _children(result: Mapping[str, Any]) -> str:
    children = result.get("children") or []
    if not children:
        return "(none)"
    return "\n".join(
        filter(None, [render_table(children), _counted(len(children), result.get("total"), "children")])
    )


def _stamp(at: Any) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(float(at))) if isinstance(at, int | float) else "-"


def _crashes(result: Mapping[str, Any]) -> str:
    """``arborctl crashes``: newest first, one line each; how many the log dropped, if any."""
    crashes = result.get("crashes") or []
    dropped = result.get("dropped") or 0
    note = f"({dropped} older crashes dropped)" if dropped else ""
    if not crashes:
        return "\n".join(filter(None, ["no crashes", note]))
    rows = [
        {
            "id": c.get("id"),
            "time_utc": _stamp(c.get("time")),
            "child": f"{c.get('supervisor')}/{c.get('child')}",
            "error": c.get("error") or c.get("reason"),
            "decision": c.get("decision"),
            "left": c.get("intensity_left"),
        }
        for c in crashes
    ]
    return "\n".join(
        filter(None, [render_table(rows), _counted(len(rows), result.get("total"), "crashes"), note])
    )


def _crash(result: Mapping[str, Any]) -> str:
    """``arborctl crashes show ID``: the record's lines, then its exception chain with notes and
    its traceback as the interpreter printed it."""
    lines = [
        ["id:", _cell(result.get("id"))],
        ["time:", _stamp(result.get("time")) + " UTC"],
        ["child:", f"{result.get('supervisor')}/{result.get('child')}"],
        ["reason:", _cell(result.get("reason"))],
        ["decision:", _cell(result.get("decision"))],
        ["restarts:", _cell(result.get("restarts"))],
        ["intensity left:", _cell(result.get("intensity_left"))],
        ["context:", _json_cell(result.get("context"))],
        ["open spans:", _json_cell(result.get("open_spans"))],
        ["flags:", _json_cell(result.get("flags"))],
    ]
    parts = [_align(lines, " ")]
    for link in result.get("chain") or []:
        parts.append(f"{link.get('type')}: {link.get('message')}")
        parts.extend(f"  note: {note}" for note in link.get("notes") or [])
    if result.get("traceback"):
        parts.append(str(result["traceback"]).rstrip())
    return "\n".join(parts)


def _experiments(result: Mapping[str, Any]) -> str:
    experiments = result.get("experiments") or []
    if not experiments:
        return "no experiments"
    rows: list[dict[str, Any]] = []
    mismatches: list[str] = []
    for e in experiments:
        row = {k: e.get(k) for k in ("name", "runs", "matches", "mismatches", "errors", "timeouts")}
        for side in ("control", "candidate"):
            timing = e.get(side) or {}
            row[f"{side}_median_us"] = timing.get("median_us")
            row[f"{side}_p95_us"] = timing.get("p95_us")
        rows.append(row)
        mismatches += [
            f"{e.get('name')}: control={m.get('control')} candidate={m.get('candidate')}"
            for m in e.get("recorded_mismatches") or []
        ]
    lines = [render_table(rows), _counted(len(rows), result.get("total"), "experiments")]
    if mismatches:
        lines += ["first mismatches:", *mismatches]
    return "\n".join(filter(None, lines))


def _tree_label(node: Mapping[str, Any]) -> str:
    parts = [str(node.get("id")), str(node.get("type", ""))]
    if node.get("strategy"):
        parts.append(str(node["strategy"]))
    parts.append(str(node.get("state", "")))
    if node.get("restarts"):
        parts.append(f"restarts={node['restarts']}")
    if node.get("uptime") is not None:
        parts.append(f"up {format_duration(node['uptime'])}")
    if node.get("name"):
        parts.append(f"({node['name']})")
    return "  ".join(p for p in parts if p)


def render_tree(node: Mapping[str, Any]) -> str:
    """A ``tree`` result drawn with box characters, one child per line."""
    lines = [_tree_label(node)]

    def walk(children: Sequence[Mapping[str, Any]], prefix: str) -> None:
        for index, child in enumerate(children):
            last = index == len(children) - 1
            lines.append(f"{prefix}{'└── ' if last else '├── '}{_tree_label(child)}")
            grandchildren = child.get("children")
            if grandchildren:
                walk(grandchildren, prefix + ("    " if last else "│   "))
            _more(child, prefix + ("    " if last else "│   "))

    def _more(parent: Mapping[str, Any], prefix: str) -> None:
        total, shown = parent.get("children_total"), len(parent.get("children") or [])
        if isinstance(total, int) and total > shown:
            lines.append(
                f"{prefix}… {shown} of {total} children shown (offset={parent.get('children_next')})"
            )

    walk(node.get("children") or [], "")
    _more(node, "")
    return "\n".join(lines)


def _restarts_line(restarts: Mapping[str, Any]) -> str:
    """``3 (root/servers/echo 2, root/servers 1)``: the total, then each restarted child, most first."""
    children = sorted(restarts.get("children", {}).items(), key=lambda item: (-item[1], item[0]))
    detail = ", ".join(f"{path} {count}" for path, count in children)
    return f"{restarts.get('total', 0)} ({detail})" if detail else str(restarts.get("total", 0))


def _crash_line(crash: Mapping[str, Any] | None, now: float) -> str:
    """``root/servers/echo 4m12s ago (2026-12-03 10:15:02 UTC): crash: RuntimeError('boom')``."""
    if crash is None:
        return "none"
    at = float(crash["time"])
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))
    return f"{crash['child']} {format_duration(max(now - at, 0.0))} ago ({stamp}): {crash['reason']}"


def _health_line(health: Mapping[str, Any]) -> str:
    """``ok``, or ``DEGRADED`` and each problem: ``flags read-only for 12s (REASON), 3 probes``.

    >>> _health_line({"ok": False, "flags_read_only": {"seconds": 12.2, "reason": "disk full",
    ...               "probes": 3, "refused": 1, "since": "..."}})
    'DEGRADED: flags read-only for 12s (disk full), 3 probes, 1 writes refused'
    """
    if health.get("ok", True):
        return "ok"
    problems = []
    for name, details in health.items():
        if name == "ok":
            continue
        if name == "flags_read_only" and isinstance(details, Mapping):
            problems.append(
                f"flags read-only for {format_duration(details.get('seconds', 0))} ({details.get('reason')}),"
                f" {details.get('probes')} probes, {details.get('refused')} writes refused"
            )
        else:
            problems.append(f"{name} {_cell(details)}")
    return "DEGRADED: " + "; ".join(problems)


def render_status(result: Mapping[str, Any], *, now: float | None = None) -> str:
    """``status`` for a person: ``key: value`` lines, uptime with its unit, restarts per child, the
    last crash (child, how long ago, when, reason), the control socket's counters on one line."""
    now = time.time() if now is None else now
    lines: dict[str, str] = {}
    for key, value in result.items():
        if key == "uptime":
            lines[key] = format_duration(value)
        elif key == "restarts" and isinstance(value, Mapping):
            lines[key] = _restarts_line(value)
        elif key == "last_crash":
            lines["last crash"] = _crash_line(value, now)
        elif key == "health" and isinstance(value, Mapping):
            lines[key] = _health_line(value)
        elif isinstance(value, Mapping):
            lines[key] = " ".join(f"{k}={_cell(v)}" for k, v in value.items())
        else:
            lines[key] = _cell(value)
    width = max((len(key) for key in lines), default=0)
    return "\n".join(f"{key + ':':<{width + 1}} {value}" for key, value in lines.items())


def _param_names(schema: Mapping[str, Any]) -> str:
    required = set(schema.get("required", []))
    names = [f"{name}*" if name in required else name for name in schema.get("properties", {})]
    return " ".join(names) or "-"


def _methods(result: Sequence[Mapping[str, Any]]) -> str:
    return render_table(
        [
            {"name": m["name"], "params (* required)": _param_names(m["params"]), "summary": m["summary"]}
            for m in result
        ]
    )


def _metric_value(value: Any) -> str:
    """A series' value: a number, or a distribution's or a summary's count, sum and shape."""
    if not isinstance(value, Mapping):
        return _cell(value)
    shown = [f"count={value.get('count')}", f"sum={_cell(value.get('sum'))}"]
    for q, v in value.get("quantiles", ()):
        shown.append(f"p{q * 100:g}={_cell(v)}")
    buckets = [f"<={_cell(bound)}:{count}" for bound, count in value.get("buckets", ()) if bound != "+Inf"]
    return " ".join(shown + buckets)


def _metrics(result: Sequence[Mapping[str, Any]]) -> str:
    """``metrics``: one line per series."""
    if not result:
        return "no metrics"
    rows = [
        [
            str(r.get("metric")),
            str(r.get("type")),
            ",".join(f"{k}={v}" for k, v in (r.get("tags") or {}).items()) or "-",
            _metric_value(r.get("value")),
            str(r.get("unit") or "-"),
        ]
        for r in result
    ]
    return _align([["METRIC", "TYPE", "TAGS", "VALUE", "UNIT"], *rows])


# The results with a shape of their own, by method (the others: by the shape of the result).
_RENDERERS: Final[Mapping[str, tuple[type, Callable[[Any], str]]]] = {
    "tree": (Mapping, render_tree),
    "methods": (list, _methods),
    "status": (Mapping, render_status),
    "config.show": (Mapping, _render_sections),
    "tables.list": (Mapping, _tables),
    "which_children": (Mapping, _children),
    "registry.list": (Mapping, _entries),
    "registry.find": (Mapping, _entries),
    "registry.query": (Mapping, _entries),
    "cache.list": (Mapping, _cache_keys),
    "cache.stats": (Mapping, _cache_stats),
    "cache.get": (Mapping, _cache_value),
    "metrics": (list, _metrics),
    "metrics.prometheus": (Mapping, lambda result: str(result.get("text", "")).rstrip("\n")),
    "crashes": (Mapping, _crashes),
    "crashes.show": (Mapping, _crash),
    "migration.experiments": (Mapping, _experiments),
    "spans.list": (Mapping, _spans),
    "telemetry.stats": (Mapping, _telemetry_stats),
    "migration.status": (Mapping, lambda r: render_migration_status(r, render_table)),
    "migration.history": (Mapping, lambda r: render_migration_history(r, render_table)),
    "migration.why": (Mapping, lambda r: render_why(r, render_table)),
    "flags.why": (Mapping, lambda r: render_why(r, render_table)),
    "flags.history": (Mapping, _flag_changes),
}


def render_result(method: str, result: Any) -> str:
    """A method's result for a person: its own table when it has one, else lists of records as
    tables, records as aligned lines."""
    shaped = _RENDERERS.get(method)
    if shaped is not None and isinstance(result, shaped[0]):
        return shaped[1](result)
    if isinstance(result, list) and result and all(isinstance(r, Mapping) for r in result):
        return render_table(result)
    if isinstance(result, list):
        return "\n".join(_cell(item) for item in result) if result else "(none)"
    if isinstance(result, Mapping):
        return _render_record(result)
    return _cell(result)
