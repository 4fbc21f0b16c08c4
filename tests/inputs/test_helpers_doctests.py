"""The examples in this suite's helper modules run (tests/test_docs.py covers the library's only)."""

from __future__ import annotations

import doctest
from types import ModuleType

import pytest

from tests.inputs import schema_strategies, wire


@pytest.mark.parametrize("module", [schema_strategies, wire], ids=lambda m: m.__name__)
def test_the_examples_run(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
