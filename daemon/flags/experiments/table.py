"""Where experiments keep their counts: three public tables owned by ``arbord.experiments``.

An experiment (``daemon.flags.experiment``, ``run.py``) writes its outcome from the caller's task,
straight into tables the experiments server owns (``server.py``): no message, no hop. The tables are
found by name on each write, so a restarted server's new tables are used at once, and a
program with no server running finds none and keeps no counts (the telemetry events still carry every
outcome: docs/migrations.md, "Experiments").

- ``arbord.experiments``: the counters, ``((name, counter), n)`` for each of ``COUNT_FIELDS``
  (a two-element row: the tables' C core adds to it in one step);
- ``arbord.experiments.samples``: ``((name, slot), control_ns, candidate_ns)``, a ring of the last
  ``SAMPLES`` timings of each experiment (slot = run number modulo ``SAMPLES``), so memory is bounded
  whatever the traffic;
- ``arbord.experiments.mismatches``: ``((name, n), control, candidate)`` for the first
  ``MISMATCHES_KEPT`` mismatches of each experiment, each side a bounded ``repr`` (the count of all of
  them is in the first table).

>>> timings([5, 1, 3, 2, 4])
{'median_us': 0.003, 'p95_us': 0.005, 'samples': 5}
>>> timings([])
{'median_us': None, 'p95_us': None, 'samples': 0}
"""

from __future__ import annotations

import math
import reprlib
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from supervisor.errors import TableError
from supervisor.tables import ANY, Clause, MatchSpec, Var, whereis_table

__all__ = [
    "COUNTS_TABLE",
    "COUNT_FIELDS",
    "MISMATCHES_KEPT",
    "MISMATCHES_TABLE",
    "REPR_LIMIT",
    "SAMPLES",
    "SAMPLES_TABLE",
    "ExperimentReport",
    "Outcome",
    "bounded_repr",
    "read_report",
    "record_outcome",
    "report_names",
    "timings",
]

COUNTS_TABLE: Final = "arbord.experiments"
SAMPLES_TABLE: Final = "arbord.experiments.samples"
MISMATCHES_TABLE: Final = "arbord.experiments.mismatches"

SAMPLES: Final = 256
"""Timings kept per experiment (the last ones): medians and p95 are computed over these."""
MISMATCHES_KEPT: Final = 10
"""Mismatches recorded with both values per experiment (the first ones); all are counted."""
REPR_LIMIT: Final = 200
"""Characters of each side's ``repr`` kept for a recorded mismatch."""

COUNT_FIELDS: Final = ("runs", "matches", "mismatches", "errors", "timeouts")
"""The counters of an experiment, in the order ``migration.experiments`` shows them."""

Outcome = str
"""``"match"``, ``"mismatch"``, ``"error"`` (the candidate or ``compare`` raised) or ``"timeout"``."""

_COUNTER: Final = {"match": "matches", "mismatch": "mismatches", "error": "errors", "timeout": "timeouts"}
"""Each outcome's counter."""
_NAMES: Final = MatchSpec(Clause(((Var("name"), "runs"), ANY), None, Var("name")))


def bounded_repr(value: object) -> str:
    """``repr(value)``, at most ``REPR_LIMIT`` characters (long containers and strings abridged by
    ``reprlib``); a ``repr`` that raises is shown as such rather than failing the recording."""
    shortener = reprlib.Repr()
    shortener.maxstring = shortener.maxother = shortener.maxlong = REPR_LIMIT
    shortener.maxlist = shortener.maxtuple = shortener.maxdict = shortener.maxset = 20
    try:
        text = shortener.repr(value)
    except Exception as error:
        text = f"<repr failed: {type(error).__name__}>"
    return text if len(text) <= REPR_LIMIT else text[: REPR_LIMIT - 3] + "..."


def record_outcome(
    name: str,
    outcome: Outcome,
    control_ns: int,
    candidate_ns: int,
    shown: Callable[[], tuple[str, str]] | None = None,
) -> bool:
    """Count one run of ``name`` in the caller's task; ``shown()`` gives a mismatch's two sides, and
    is called only for one of the first ``MISMATCHES_KEPT``. Returns False when no experiments server
    is running (nothing counted). A table deleted under the write (the server restarting) loses this
    one run, never raises."""
    counts = whereis_table(COUNTS_TABLE)
    if counts is None:
        return False
    try:
        runs_key = (name, "runs")
        runs = counts.update_counter(runs_key, 1, (runs_key, 0))
        counter_key = (name, _COUNTER[outcome])
        count = counts.update_counter(counter_key, 1, (counter_key, 0))
        samples = whereis_table(SAMPLES_TABLE)
        if samples is not None:
            samples.insert(((name, runs % SAMPLES), control_ns, candidate_ns))
        if outcome == "mismatch" and count <= MISMATCHES_KEPT and shown is not None:
            mismatches = whereis_table(MISMATCHES_TABLE)
            if mismatches is not None:
                mismatches.insert(((name, count), *shown()))
    except TableError:
        return False
    return True


def timings(samples_ns: Sequence[int]) -> dict[str, Any]:
    """The median and the 95th percentile (nearest rank) of ``samples_ns``, in microseconds."""
    if not samples_ns:
        return {"median_us": None, "p95_us": None, "samples": 0}
    ordered = sorted(samples_ns)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    return {
        "median_us": statistics.median(ordered) / 1000,
        "p95_us": p95 / 1000,
        "samples": len(ordered),
    }


@dataclass(frozen=True, slots=True)
class ExperimentReport:
    """What ``migration.experiments`` shows of one experiment."""

    name: str
    counts: dict[str, int]
    control: dict[str, Any]
    candidate: dict[str, Any]
    mismatches: list[dict[str, str]]

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            **self.counts,
            "control": self.control,
            "candidate": self.candidate,
            "recorded_mismatches": self.mismatches,
        }


def report_names() -> list[str]:
    """The names of the experiments counted so far, sorted (empty with no server running)."""
    counts = whereis_table(COUNTS_TABLE)
    return [] if counts is None else sorted(counts.select(_NAMES))


def read_report(name: str) -> ExperimentReport | None:
    """The counts, timings and recorded mismatches of ``name`` (None if it has no counts row). Reads
    at most ``SAMPLES + MISMATCHES_KEPT`` rows: bounded whatever the traffic."""
    counts = whereis_table(COUNTS_TABLE)
    runs = None if counts is None else counts.get((name, "runs"))
    if counts is None or runs is None:
        return None
    counted = {field: counts.lookup_element((name, field), 1, 0) for field in COUNT_FIELDS}
    samples = whereis_table(SAMPLES_TABLE)
    taken = min(runs[1], SAMPLES)
    slots = range(SAMPLES) if taken == SAMPLES else [(n + 1) % SAMPLES for n in range(taken)]
    control: list[int] = []
    candidate: list[int] = []
    if samples is not None:
        for slot in slots:
            sample = samples.get((name, slot))
            if sample is not None:
                control.append(sample[1])
                candidate.append(sample[2])
    mismatches = whereis_table(MISMATCHES_TABLE)
    kept = [] if mismatches is None else [mismatches.get((name, n)) for n in range(1, MISMATCHES_KEPT + 1)]
    return ExperimentReport(
        name,
        counted,
        timings(control),
        timings(candidate),
        [{"control": m[1], "candidate": m[2]} for m in kept if m is not None],
    )
