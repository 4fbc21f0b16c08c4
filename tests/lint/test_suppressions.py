"""``# arbord: allow-state(reason)``: a reason is required, the comment must cover something, and only
real comments count (never the same text inside a string)."""

from __future__ import annotations

from supervisor.lint import check_source
from tests.lint.test_lint_support import codes

MUTATED = "\n\ndef f(x):\n    _seen.add(x)\n"


def test_a_reasoned_suppression_on_the_line_silences_it() -> None:
    source = "_seen = set()  # arbord: allow-state(dedup for the process's lifetime)" + MUTATED
    assert codes(source) == []


def test_a_reasoned_suppression_alone_on_the_line_above_covers_the_next_line_of_code() -> None:
    source = (
        "# arbord: allow-state(dedup for the process's lifetime, cleared on reload;\n"
        "# the reload path is tested in test_reload.py)\n"
        "_seen = set()" + MUTATED
    )
    assert codes(source) == []


def test_a_suppression_without_a_reason_is_an_error_and_silences_nothing() -> None:
    assert codes("_seen = set()  # arbord: allow-state" + MUTATED) == [("ARB001", 1, 1), ("ARB010", 1, 16)]
    assert codes("_seen = set()  # arbord: allow-state()" + MUTATED) == [("ARB001", 1, 1), ("ARB010", 1, 16)]
    assert codes("_seen = set()  # arbord: allow-state(   )" + MUTATED) == [
        ("ARB001", 1, 1),
        ("ARB010", 1, 16),
    ]


def test_a_suppression_that_covers_nothing_is_an_error() -> None:
    assert codes("LIMIT = 3  # arbord: allow-state(just in case)\n") == [("ARB011", 1, 12)]


def test_a_suppression_covers_only_its_own_line() -> None:
    source = "_a = []  # arbord: allow-state(fine)\n_b = []\n\ndef f():\n    _a.append(1)\n    _b.append(1)\n"
    assert codes(source) == [("ARB001", 2, 1)]


def test_the_directive_inside_a_string_is_not_a_suppression() -> None:
    source = '_seen = set(); NOTE = "# arbord: allow-state(looks like one)"' + MUTATED
    assert codes(source) == [("ARB001", 1, 1)]


def test_the_directive_can_follow_another_comment() -> None:
    source = "def f(x=[]):  # noqa: B006  # arbord: allow-state(sentinel list, never mutated)\n    return x\n"
    assert codes(source) == []


def test_suppressions_apply_to_every_rule() -> None:
    source = (
        "import threading\n"
        "_local = threading.local()  # arbord: allow-state(per-thread buffers for the C extension)\n"
    )
    assert check_source(source, "m.py") == []
