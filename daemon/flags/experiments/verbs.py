"""``migration.experiments``: the counts, timings and recorded mismatches of every experiment.

A page, like the other list verbs (daemon/verbs/paging.py): ``{"experiments", "total", "next"}``,
sorted by name, from ``offset`` for at most ``limit`` experiments; ``name`` shows that one only. Each
experiment is ``{"name", "runs", "matches", "mismatches", "errors", "timeouts", "control",
"candidate", "recorded_mismatches"}``, ``control`` and ``candidate`` being ``{"median_us",
"p95_us", "samples"}`` over the last timings kept. The reports are built a few at a time, with the
event loop given back in between (each reads up to a few hundred rows: ``daemon.chunked``).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from daemon.chunked import map_chunked
from daemon.flags.experiments.table import ExperimentReport, read_report, report_names
from daemon.verbs.method import Method, MethodContext, methods_of, verb
from daemon.verbs.paging import DEFAULT_LIMIT, Limit, Offset, page

__all__ = ["ExperimentsParams", "experiment_methods"]

_REPORTS_PER_SLICE = 4
"""Reports built between two pauses: each reads up to ``SAMPLES + MISMATCHES_KEPT`` rows."""


class ExperimentsParams(BaseModel):
    """``migration.experiments``: one experiment by ``name``, or a page of all of them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=1024)] | None = None
    limit: Limit = DEFAULT_LIMIT
    offset: Offset = 0


def _as_json(report: ExperimentReport | None) -> dict[str, Any] | None:
    return None if report is None else report.as_json()


@verb("migration.experiments", "experiments: matches, mismatches, errors, timeouts, timings")
async def migration_experiments(params: ExperimentsParams, context: MethodContext) -> dict[str, Any]:
    names = report_names() if params.name is None else [params.name]
    shown = page(names, params.offset, params.limit, str)
    reports = await map_chunked(
        [str(name) for name in shown.items],
        lambda name: _as_json(read_report(name)),
        chunk=_REPORTS_PER_SLICE,
    )
    experiments = [report for report in reports if report is not None]
    total = len(names) if params.name is None else len(experiments)
    return {"experiments": experiments, "total": total, "next": shown.next}


def experiment_methods() -> tuple[Method, ...]:
    """The experiments' control method (the rest of ``migration.*`` is the migrations')."""
    return methods_of(globals())
