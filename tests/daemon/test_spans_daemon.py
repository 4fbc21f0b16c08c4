"""``arborctl spans`` against the real daemon: a span held open by a user server is listed, and
found by its trace and by its age (docs/spans.md)."""

from __future__ import annotations

import json

from tests.daemon.conftest import StartArbord
from tests.daemon.test_process import arborctl

HOLDER = '[servers.holder]\nstart = "tests.daemon.span_servers:HoldsASpan"\n'


def test_arborctl_spans_shows_a_span_held_open_by_a_user_server(start_arbord: StartArbord) -> None:
    running = start_arbord(HOLDER)
    shown = arborctl(running, "spans")
    assert shown.returncode == 0, shown.stderr
    assert "held by a user server" in shown.stdout
    as_json = arborctl(running, "--json", "spans")
    assert as_json.returncode == 0, as_json.stderr
    (held,) = [s for s in json.loads(as_json.stdout)["spans"] if s["name"] == "held by a user server"]
    assert held["parent_id"] is None
    assert held["age"] >= 0
    by_trace = arborctl(running, "--json", "spans", "--trace", held["trace_id"])
    assert [s["span_id"] for s in json.loads(by_trace.stdout)["spans"]] == [held["span_id"]]
    # Open for less than an hour: not a stuck operation.
    old = arborctl(running, "--json", "spans", "--older-than=3600")
    assert json.loads(old.stdout)["spans"] == []
    assert running.stop() == 0


def test_a_bad_trace_id_is_a_usage_error_of_the_verb(start_arbord: StartArbord) -> None:
    running = start_arbord("")
    shown = arborctl(running, "spans", "--trace", "not-a-trace-id")
    assert shown.returncode == 2  # invalid params: a usage error
    assert "trace" in shown.stderr
    assert running.stop() == 0
