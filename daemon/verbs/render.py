"""How ``arborctl`` shows results to a person: a drawn tree, aligned tables, ``key: value`` lines.

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
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence

# Names for annotations only: importing ``typing`` would cost ``arborctl`` a share of its start-up
# (bench/bench_arborctl.py); mypy reads this block, the interpreter skips it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["format_duration", "render_result", "render_status", "render_table", "render_tree"]


def format_duration(seconds: float | None) -> str:
    """``12.3s``, ``4m05s``, ``1h02m``, ``3d04h``; ``-`` for None."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def render_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows of dicts as aligned columns (the union of their keys, in first-seen order)."""
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c), *(len(line[i]) for line in cells)]) for i, c in enumerate(columns)]
    lines = [[c.upper() for c in columns], *cells]
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


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

    walk(node.get("children") or [], "")
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


def render_result(method: str, result: Any) -> str:
    """A method's result for a person: the tree drawn, lists of records as tables, the rest as lines."""
    if method == "tree" and isinstance(result, Mapping):
        return render_tree(result)
    if method == "status" and isinstance(result, Mapping):
        return render_status(result)
    if method == "methods" and isinstance(result, list):
        return render_table(
            [
                {"name": m["name"], "params (* required)": _param_names(m["params"]), "summary": m["summary"]}
                for m in result
            ]
        )
    if isinstance(result, list) and result and all(isinstance(r, Mapping) for r in result):
        return render_table(result)
    if isinstance(result, list):
        return "\n".join(_cell(item) for item in result)
    if isinstance(result, Mapping):
        width = max((len(str(k)) for k in result), default=0)
        return "\n".join(f"{str(k) + ':':<{width + 1}} {_cell(v)}" for k, v in result.items())
    return _cell(result)
