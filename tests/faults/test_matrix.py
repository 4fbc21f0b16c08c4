"""Every row of the fault matrix (F1-F15, docs/testing.md "The fault suite") has its tests here.

``COVERAGE`` maps each row to the tests of ``tests/faults`` that check its expected outcome;
``NOT_APPLICABLE`` names a row that does not apply, and why. This file fails when a row has neither,
when a listed test does not exist, when a test named for a row (``test_f<N>_...``) is not listed
under it, and when docs/testing.md's table does not list the same tests for each row.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Final

import pytest

HERE = Path(__file__).resolve().parent
DOC = HERE.parents[1] / "docs" / "testing.md"
ROWS: Final = tuple(f"F{n}" for n in range(1, 16))

COVERAGE: Final[dict[str, tuple[str, ...]]] = {
    "F1": (
        "test_tree_faults.py::test_f1_every_server_of_the_daemon_crashed_in_turn_keeps_the_invariants",
        "test_tree_faults.py::test_f1_random_chaos_of_80_crashes_keeps_the_invariants",
        "test_tree_faults.py::test_f1_a_crash_in_each_callback_of_each_server_keeps_the_invariants",
        "test_tree_faults.py::test_f1_a_crash_in_each_timer_callback_keeps_the_invariants",
        "test_tree_faults.py::test_f1_a_table_write_failing_in_a_callers_task_errs_that_caller_only",
        "test_tree_faults.py::test_f1_crash_points_in_callbacks_reply_an_error_never_hang",
        "test_tree_faults.py::test_f1_calls_while_a_server_restarts_answer_server_down_never_not_found",
    ),
    "F2": (
        "test_tree_faults.py::test_f2_a_sibling_failing_during_a_group_restart_is_retried_through_the_mailbox",
    ),
    "F3": (
        "test_tree_faults.py::test_f3_restarts_escalate_at_exactly_intensity_plus_one_within_the_period",
        "test_tree_faults.py::test_f3_restarts_spaced_outside_the_period_never_escalate",
        "test_unit_faults.py::test_f3_a_restart_storm_exits_70_and_the_start_limit_fails_the_unit",
    ),
    "F4": ("test_tree_faults.py::test_f4_a_stop_in_a_restart_loop_completes_and_shows_restarting",),
    "F5": (
        "test_tree_faults.py::test_f5_a_child_swallowing_cancellation_is_abandoned_and_named",
        "test_unit_faults.py::test_f5_a_child_that_will_not_stop_exits_70_within_timeout_stop_sec",
    ),
    "F6": ("test_tree_faults.py::test_f6_a_slow_handler_times_out_its_caller_only_and_the_watchdog_is_fed",),
    "F7": (
        "test_unit_faults.py::"
        "test_f7_a_stalled_loop_is_aborted_by_the_watchdog_with_a_traceback_and_restarts_with_its_flags",
    ),
    "F8": ("test_tree_faults.py::test_f8_the_registry_owner_dying_keeps_live_keys_and_only_its_owners_go",),
    "F9": (
        "test_flag_faults.py::test_f9_every_acknowledged_write_survives_sigkill_during_a_storm",
        "test_flag_faults.py::test_f9_every_acknowledged_write_survives_50_sigkills",
    ),
    "F10": (
        "test_flag_faults.py::test_f10_a_full_state_directory_turns_the_flags_read_only_until_space_returns",
        "test_flag_faults.py::"
        "test_f10_a_state_directory_turned_read_only_refuses_writes_and_keeps_what_was_acknowledged",
        "test_flag_faults.py::test_f10_a_read_only_state_directory_at_start_exits_78_saying_so",
    ),
    "F11": ("test_unit_faults.py::test_f11_a_bad_configuration_exits_78_and_is_not_restarted",),
    "F12": ("test_unit_faults.py::test_f12_a_bad_configuration_on_reload_keeps_the_old_one_in_force",),
    "F13": (
        "test_unit_faults.py::test_f13_a_corrupt_flags_database_exits_78_naming_it_and_is_not_restarted",
    ),
    "F14": (
        "test_unit_faults.py::test_f14_sigterm_under_load_drains_flushes_and_exits_0_within_the_stop_budget",
        "test_stop_under_load.py::test_f14_t1_sigterm_under_the_calibrated_stress_load_drains_flushes_and_exits_0",
    ),
    "F15": (
        "test_console_faults.py::test_f15_a_disabled_console_starts_no_thread_and_binds_no_port",
        "test_console_faults.py::test_f15_the_console_thread_failing_leaves_the_daemon_unaffected",
    ),
}

NOT_APPLICABLE: Final[dict[str, str]] = {}
"""Rows that do not apply to what exists, with the reason (none today)."""


def defined_tests() -> set[str]:
    """``file::function`` of every test function in tests/faults."""
    found: set[str] = set()
    for path in sorted(HERE.glob("test_*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_"):
                found.add(f"{path.name}::{node.name}")
    return found


@pytest.mark.parametrize("row", ROWS)
def test_each_row_has_a_test_or_a_reason(row: str) -> None:
    assert COVERAGE.get(row) or NOT_APPLICABLE.get(row), f"{row} has no test in tests/faults and no reason"
    assert not (row in COVERAGE and row in NOT_APPLICABLE), f"{row} is both covered and not applicable"


def test_every_listed_test_exists() -> None:
    listed = {test for tests in COVERAGE.values() for test in tests}
    assert listed - defined_tests() == set()


def test_every_test_named_for_a_row_is_listed_under_it() -> None:
    for test in defined_tests():
        if match := re.match(r"[^:]+::test_f(\d+)_", test):
            assert test in COVERAGE.get(f"F{match[1]}", ()), f"{test} is not listed under F{match[1]}"


def test_the_docs_table_lists_each_rows_tests() -> None:
    table = DOC.read_text().split("## The fault suite", 1)[1]
    rows = {m[1]: m[2] for m in re.finditer(r"^\| (F\d+) \|(.*)$", table, re.MULTILINE)}
    assert sorted(rows, key=lambda r: int(r[1:])) == list(ROWS)
    for row, tests in COVERAGE.items():
        named = set(re.findall(r"`(test_f\d+_\w+)`", rows[row]))
        assert named == {test.split("::")[1] for test in tests}, row
    for row in NOT_APPLICABLE:
        assert "does not apply" in rows[row], row
