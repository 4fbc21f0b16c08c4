"""The examples in the verbs, control, ctl and console modules' docstrings run and give what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "daemon.verbs.words",
    "daemon.verbs.render",
    "daemon.verbs.jsonable",
    "daemon.verbs.error_codes",
    "daemon.ctl.client",
    "daemon.ctl.discovery",
    "daemon.ctl.frames",
    "daemon.ctl.wire",
    "daemon.control.config",
    "daemon.control.protocol",
    "daemon.console.config",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} failing example(s) in {name}"
