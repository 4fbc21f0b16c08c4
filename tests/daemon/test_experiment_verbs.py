"""``migration.experiments`` over a real control socket: counts, timings and recorded mismatches of
each experiment, paged like the other list verbs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from daemon.component import verb_table
from daemon.control import ControlSettings, control_child_spec
from daemon.ctl.client import open_control_client
from daemon.flags import experiment
from daemon.flags.experiments.component import EXPERIMENTS
from daemon.flags.experiments.server import experiments_child_spec
from daemon.verbs.component import CORE
from daemon.verbs.render import render_result
from daemon.verbs.words import resolve_method
from supervisor import Supervisor
from tests.daemon.test_control_helpers import FakeDaemon, short_tmpdir


@asynccontextmanager
async def running_daemon() -> AsyncIterator[Path]:
    """A root with the experiments server and a control server serving its verb; the socket."""
    with short_tmpdir() as tmp:
        runtime_dir = tmp / "run"
        async with Supervisor([experiments_child_spec()]) as root:
            control = ControlSettings()
            path = control.socket_path(runtime_dir)
            verbs = verb_table([CORE, EXPERIMENTS])
            await root.start_child(control_child_spec(control, path, FakeDaemon(root, runtime_dir), verbs))
            yield path


async def test_the_verb_shows_counts_timings_and_mismatches() -> None:
    async with running_daemon() as path, open_control_client(path) as client:
        experiment("b.lookup", lambda: 1, lambda: 1)
        experiment("b.lookup", lambda: 1, lambda: 2)
        experiment("a.scan", lambda: [1], lambda: [1])
        shown = await client.call("migration.experiments")
        assert shown["total"] == 2
        assert shown["next"] is None
        first, second = shown["experiments"]
        assert first["name"] == "a.scan"
        assert first["runs"] == 1
        assert first["matches"] == 1
        assert second["name"] == "b.lookup"
        assert (second["runs"], second["matches"], second["mismatches"]) == (2, 1, 1)
        assert second["recorded_mismatches"] == [{"control": "1", "candidate": "2"}]
        assert second["control"]["samples"] == 2
        assert second["candidate"]["samples"] == 2
        assert second["control"]["median_us"] > 0


async def test_the_verb_pages_and_shows_one_by_name() -> None:
    async with running_daemon() as path, open_control_client(path) as client:
        for n in range(5):
            experiment(f"e{n}", lambda: 1, lambda: 1)
        page = await client.call("migration.experiments", {"limit": 2})
        assert [e["name"] for e in page["experiments"]] == ["e0", "e1"]
        assert page["total"] == 5
        assert page["next"] == 2
        rest = await client.call("migration.experiments", {"offset": 4})
        assert [e["name"] for e in rest["experiments"]] == ["e4"]
        assert rest["next"] is None
        one = await client.call("migration.experiments", {"name": "e3"})
        assert [e["name"] for e in one["experiments"]] == ["e3"]
        assert one["total"] == 1
        none = await client.call("migration.experiments", {"name": "missing"})
        assert none == {"experiments": [], "total": 0, "next": None}


def test_arborctl_migration_experiments_names_the_verb() -> None:
    assert resolve_method(["migration", "experiments", "e3"], {"migration.experiments"}) == (
        "migration.experiments",
        ["e3"],
    )


def test_the_rendering_is_a_table_of_experiments() -> None:
    result = {
        "experiments": [
            {
                "name": "e",
                "runs": 3,
                "matches": 2,
                "mismatches": 1,
                "errors": 0,
                "timeouts": 0,
                "control": {"median_us": 1.5, "p95_us": 2.0, "samples": 3},
                "candidate": {"median_us": 3.0, "p95_us": 4.0, "samples": 3},
                "recorded_mismatches": [{"control": "1", "candidate": "2"}],
            }
        ],
        "total": 1,
        "next": None,
    }
    text = render_result("migration.experiments", result)
    assert text.splitlines()[0].split() == [
        "NAME", "RUNS", "MATCHES", "MISMATCHES", "ERRORS", "TIMEOUTS", "CONTROL_MEDIAN_US",
        "CONTROL_P95_US", "CANDIDATE_MEDIAN_US", "CANDIDATE_P95_US",
    ]  # fmt: skip
    assert "control=1 candidate=2" in text
    assert (
        render_result("migration.experiments", {"experiments": [], "total": 0, "next": None})
        == "no experiments"
    )
