"""Every example of docs/testing.md is a test file: run each with pytest, as a user's suite would."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.supervisor.test_testing_plugin import INI

pytest_plugins = ["pytester"]

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
# A ```python block that starts with "# file: NAME" and "# outcome: passed=N ..." lines.
BLOCK = re.compile(
    r"```python\n# file: (?P<file>\S+)\n# outcome: (?P<outcome>[^\n]+)\n(?P<body>.*?)```", re.S
)
EXAMPLES = {m["file"]: (m["outcome"], m["body"]) for m in BLOCK.finditer(DOC.read_text())}


def test_the_page_has_its_examples() -> None:
    assert set(EXAMPLES) == {
        "test_tree.py",
        "test_waits.py",
        "test_children.py",
        "test_leaks.py",
        "test_clock.py",
        "test_faults.py",
    }


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_example_runs_as_it_says(pytester: pytest.Pytester, name: str, loop: str) -> None:
    outcome, body = EXAMPLES[name]
    factory = "asyncio.new_event_loop" if loop == "asyncio" else "uvloop.new_event_loop"
    pytester.makeini(INI)
    pytester.makeconftest(
        "import asyncio\nimport uvloop\n\n\n"
        f"def pytest_asyncio_loop_factories(config, item):\n    return {{{loop!r}: {factory}}}\n"
    )
    pytester.makepyfile(**{name.removesuffix(".py"): body})
    expected = {key: int(value) for key, value in (part.split("=") for part in outcome.split())}
    pytester.runpytest().assert_outcomes(**expected)
