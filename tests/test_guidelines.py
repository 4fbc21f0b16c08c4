"""The test file of docs/guidelines.md runs with pytest as it says (its ``>>>`` examples run in
tests/test_docs.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.supervisor.test_testing_plugin import INI

pytest_plugins = ["pytester"]

DOC = Path(__file__).resolve().parent.parent / "docs" / "guidelines.md"
BLOCK = re.compile(
    r"```python\n# file: (?P<file>\S+)\n# outcome: (?P<outcome>[^\n]+)\n(?P<body>.*?)```", re.S
)
EXAMPLES = {m["file"]: (m["outcome"], m["body"]) for m in BLOCK.finditer(DOC.read_text())}


def test_the_page_has_its_example() -> None:
    assert set(EXAMPLES) == {"test_guidelines_example.py"}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_example_runs_as_it_says(pytester: pytest.Pytester, name: str) -> None:
    outcome, body = EXAMPLES[name]
    pytester.makeini(INI)
    pytester.makepyfile(**{name.removesuffix(".py"): body})
    expected = {key: int(value) for key, value in (part.split("=") for part in outcome.split())}
    pytester.runpytest().assert_outcomes(**expected)
