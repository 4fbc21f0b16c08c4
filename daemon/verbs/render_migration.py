"""How ``arborctl`` shows the migrations' results: ``migration status``, ``history``, ``why`` and
``flags why`` (standard library only, like the rest of ``arborctl``'s rendering). Each renderer
takes the table drawer (``daemon.verbs.render.render_table``, which registers them).

A verdict reads subject first, reference second: ``20.0% vs 1.0%`` is the treatment's (or the
stage's) error rate against the control's (or the baseline's); ``long``/``short`` are the two
windows; ``z`` says how sure the difference is; ``limit`` is the threshold it was held to.

>>> check = {"check": "error_rate", "outcome": "fail", "reason": "...",
...          "numbers": {"threshold": 0.05, "long": [0.2, 0.01], "short": [0.25, 0.0], "z": [6.2, 4.4]}}
>>> print(check_numbers(check))
long 20.0% vs 1.0%, short 25.0% vs 0.0%, z 6.2/4.4, limit +5.0%
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

# Names for annotations only (see daemon/verbs/render.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeAlias

    Table: TypeAlias = Callable[[Sequence[Mapping[str, Any]]], str]

__all__ = ["check_numbers", "render_migration_history", "render_migration_status", "render_why"]


def _pair(values: Any, fmt: str) -> str:
    if not isinstance(values, Sequence) or len(values) != 2:
        return "-"
    return " vs ".join("-" if v is None else format(v, fmt) for v in values)


def _slash(values: Any) -> str:
    if not isinstance(values, Sequence):
        return "-"
    return "/".join("-" if v is None else f"{v:.1f}" for v in values)


def _ms(value: Any) -> Any:
    return None if value is None else value * 1000.0


def check_numbers(check: Mapping[str, Any]) -> str:
    """One check's numbers in a line (subject vs reference, long and short windows, z, limit)."""
    n = check.get("numbers") or {}
    name = check.get("check")
    if name == "error_rate":
        return (
            f"long {_pair(n.get('long'), '.1%')}, short {_pair(n.get('short'), '.1%')},"
            f" z {_slash(n.get('z'))}, limit +{n.get('threshold', 0):.1%}"
        )
    if name == "crashes":
        return (
            f"{_pair(n.get('crashes'), 'd')} crashes, excess {_slash(n.get('excess_per_minute'))} a minute,"
            f" z {_slash(n.get('z'))}, limit {n.get('threshold', 0):g} a minute"
        )
    if name == "latency_p95":
        long = [_ms(v) for v in n.get("long") or [None, None]]
        short = [_ms(v) for v in n.get("short") or [None, None]]
        return (
            f"p95 long {_pair(long, '.1f')} ms, short {_pair(short, '.1f')} ms, limit {n.get('factor', 0):g}x"
        )
    return ", ".join(f"{k} {v}" for k, v in n.items())


def _checks(measurement: Mapping[str, Any] | None, subject: str) -> list[dict[str, Any]]:
    if not measurement:
        return []
    return [
        {
            "subject": subject,
            "check": c.get("check"),
            "outcome": c.get("outcome"),
            "numbers": check_numbers(c),
            "why": c.get("reason"),
        }
        for c in measurement.get("checks") or []
    ]


def _clock(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def render_why(result: Mapping[str, Any], render_table: Table) -> str:
    """``migration why`` / ``flags why``: each judged subject's decision, then every check of its
    latest measurement with its numbers, then the latest automatic rollback."""
    lines: list[str] = []
    judged = result.get("judged") or {}
    rows: list[dict[str, Any]] = []
    for subject, j in judged.items():
        lines.append(
            f"{subject} ({'plan stage' if j.get('kind') == 'plan' else 'rollout'}): {j.get('decision')},"
            f" {j.get('measurements')} measurements, {j.get('consecutive_failures')} failed and"
            f" {j.get('consecutive_inconclusives')} inconclusive in a row"
        )
        rows.extend(_checks(j.get("last"), subject))
    if not judged:
        lines.append("nothing is being judged (no stage begun since start, no guarded rollout)")
    if rows:
        lines.append(render_table(rows))
    last = result.get("last_rollback")
    if last:
        lines.append(f"last automatic rollback: {last.get('subject')} at {_clock(last.get('time'))}")
        lines.append(render_table(_checks(last.get("numbers"), str(last.get("subject")))))
    else:
        lines.append("no automatic rollback")
    return "\n".join(lines)


def render_migration_history(result: Mapping[str, Any], render_table: Table) -> str:
    """``migration history``: one line per move, newest first."""
    history = result.get("history") or []
    if not history:
        return "no moves"
    rows = [
        {
            "time": _clock(h.get("time")),
            "subject": h.get("subject"),
            "kind": h.get("kind"),
            "from": h.get("from"),
            "to": h.get("to"),
            "actor": h.get("actor"),
            "revision": h.get("revision"),
            "reason": h.get("reason")
            if len(str(h.get("reason"))) <= 60
            else str(h.get("reason"))[:57] + "...",
        }
        for h in history
    ]
    return render_table(rows)


def render_migration_status(result: Mapping[str, Any], render_table: Table) -> str:
    """``migration status``: one line per plan; with one plan, its stages too."""
    plans = result.get("plans") or {}
    rows = []
    for name, p in plans.items():
        stages = p.get("stages") or []
        stage = p.get("stage", 0)
        rows.append(
            {
                "plan": name,
                "stage": f"{stage}/{p.get('last')}",
                "name": stages[stage - 1]["name"] if 0 < stage <= len(stages) else "(none)",
                "cooldown": f"{p.get('cooldown') or 0:.0f} s",
                "verdict": p.get("decision"),
            }
        )
    lines = [render_table(rows)] if rows else ["no plans"]
    if len(plans) == 1:
        (only,) = plans.values()
        lines.append(
            render_table(
                [
                    {
                        "stage": s.get("stage"),
                        "name": s.get("name"),
                        "risk": s.get("risk"),
                        "on": "yes" if s.get("stage", 0) <= only.get("stage", 0) else "no",
                        "flags": ", ".join(s.get("flags") or []),
                    }
                    for s in only.get("stages") or []
                ]
            )
        )
    components = result.get("components") or []
    if components:
        lines.append(
            render_table(
                [
                    {
                        "component": c.get("component"),
                        "flag": c.get("flag"),
                        "backend": c.get("backend")
                        if c.get("percentage") is None
                        else f"split: {c['percentage']:g}% of actors supervised",
                    }
                    for c in components
                ]
            )
        )
    if result.get("dry_run"):
        lines.append("dry run: verdicts are reported, never acted on")
    return "\n".join(lines)
