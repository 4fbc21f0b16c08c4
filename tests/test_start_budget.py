"""``bench/start_budget.py`` (``make start-budget``) still takes the daemon's start apart: it patches
pydantic's and the standard library's class builders, so a release of either that renames them must
fail here, not in a planning meeting."""

from __future__ import annotations

import sys

import pytest

from bench.start_budget import PHASES, measure


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the CPU time at READY=1 is read from /proc")
def test_the_budget_finds_the_settings_models_the_dataclasses_and_the_trees_start() -> None:
    phases, minimal, counts = measure("asyncio", runs=1)
    assert set(phases) == set(PHASES)
    assert all(
        seconds >= 0 for phase, seconds in phases.items() if phase != "the rest of the daemon's imports"
    )
    # The settings sections are pydantic models: every start builds them and their validators.
    assert counts["models"] >= 10
    assert 0 < phases["  of which their validators"] <= phases["pydantic model classes (settings sections)"]
    assert counts["dataclasses arbord"] >= 10
    assert phases["dataclasses: arbord's"] > 0
    # The tree starts after the imports, so READY=1 comes after them.
    assert phases["settings read, tree started, READY=1"] > 0
    assert phases["total at READY=1"] > phases["interpreter start"] + phases["import asyncio"]
    assert minimal > 0
