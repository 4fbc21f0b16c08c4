"""Which core the tables run on (``supervisor.tables._core``), and the contract between the core and
the table classes: the methods the C code calls back by name.

The choice is made once per interpreter, when ``supervisor.tables`` is imported, so each choice is
checked in a fresh interpreter.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import supervisor
from supervisor.tables import _pycore
from supervisor.tables._core import CALLBACKS, IMPLEMENTATION, TableCore
from supervisor.tables._registry import classes

ROOT = Path(__file__).resolve().parents[2]
STUB = Path(supervisor.__file__).with_name("_speedups.pyi")


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "ARBORD_NO_EXTENSIONS"} | env
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=environment, timeout=60
    )


def _stub_protocol_methods() -> list[str]:
    tree = ast.parse(STUB.read_text())
    (protocol,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "_TableCallbacks"]
    return [n.name for n in protocol.body if isinstance(n, ast.FunctionDef)]


@pytest.mark.parametrize("value", ["1", "yes"])
def test_arbord_no_extensions_selects_the_python_twin(value: str) -> None:
    code = (
        "import supervisor, sys\n"
        "from supervisor.tables import _core, Table\n"
        "print(_core.IMPLEMENTATION, Table.__mro__[1].__module__, 'supervisor._speedups' in sys.modules)"
    )
    done = _python(code, ARBORD_NO_EXTENSIONS=value)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["python", "supervisor.tables._pycore", "False"]


@pytest.mark.parametrize("value", ["", "0"])
def test_without_the_variable_cpython_runs_the_c_core(value: str) -> None:
    code = (
        "from supervisor.tables import _core, Table\nprint(_core.IMPLEMENTATION, Table.__mro__[1].__module__)"
    )
    done = _python(code, ARBORD_NO_EXTENSIONS=value)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["c", "supervisor._speedups"]


def test_a_missing_extension_on_cpython_is_a_loud_import_error() -> None:
    # ``None`` in sys.modules makes ``import supervisor._speedups`` fail, as a missing build does.
    code = "import sys\nsys.modules['supervisor._speedups'] = None\nimport supervisor"
    done = _python(code)
    assert done.returncode != 0
    assert "ImportError: arbord's C extension supervisor._speedups is missing" in done.stderr
    assert "ARBORD_NO_EXTENSIONS=1" in done.stderr


def test_the_twin_is_used_on_other_implementations() -> None:
    code = (
        "import sys, types\n"
        "sys.implementation = types.SimpleNamespace(**{**vars(sys.implementation), 'name': 'pypy'})\n"
        "sys.modules['supervisor._speedups'] = None\n"
        "from supervisor.tables import _core\nprint(_core.IMPLEMENTATION)"
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "python"


def test_the_core_in_use_is_the_one_the_process_asked_for() -> None:
    wanted = "python" if os.environ.get("ARBORD_NO_EXTENSIONS", "") not in ("", "0") else "c"
    assert wanted == IMPLEMENTATION
    twin: object = _pycore.TableCore
    assert (TableCore is twin) == (IMPLEMENTATION == "python")


# --- the callbacks ------------------------------------------------------------------------------


def test_the_stub_protocol_lists_exactly_the_callbacks_of_both_cores() -> None:
    assert sorted(_stub_protocol_methods()) == sorted(CALLBACKS) == sorted(_pycore.CALLBACKS)


def test_every_class_using_the_core_defines_every_callback() -> None:
    # A class uses the core when one of its operations is a core method under a name of its own
    # (``insert = TableCore._set_insert``).
    core_methods = [value for name, value in vars(TableCore).items() if name.startswith("_set_")]
    users = [
        cls
        for cls in classes()
        if any(
            getattr(cls, name) is method
            for name in dir(cls)
            if not name.startswith("_set_")
            for method in core_methods
        )
    ]
    assert {cls.__name__ for cls in users} >= {"SetTable", "OrderedSetTable", "PublicSetTable"}
    missing = [
        f"{cls.__name__}.{name}"
        for cls in users
        for name in CALLBACKS
        if not callable(getattr(cls, name, None))
    ]
    assert missing == []
