"""The repository's shape: `supervisor` never imports `daemon`, both import from this checkout,
and each package's public surface is exactly its ``__all__``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import daemon
import supervisor

ROOT = Path(__file__).resolve().parent.parent


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_supervisor_sources_never_import_daemon() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "supervisor").rglob("*.py"))
        if any(m == "daemon" or m.startswith("daemon.") for m in _imported_modules(path))
    ]
    assert offenders == []


def test_importing_supervisor_loads_no_daemon_module() -> None:
    code = "import sys, supervisor; print(sorted(m for m in sys.modules if m.split('.')[0] == 'daemon'))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("package", [supervisor, daemon])
def test_packages_import_from_this_repository(package: object) -> None:
    # `supervisor` is also supervisord's import name and `daemon` python-daemon's: make sure the
    # interpreter found ours.
    origin = Path(getattr(package, "__file__", "")).resolve()
    assert origin.is_relative_to(ROOT), origin


@pytest.mark.parametrize("package", [supervisor, daemon])
def test_public_surface_is_all(package: object) -> None:
    exported = getattr(package, "__all__", None)
    assert exported is not None
    assert len(exported) == len(set(exported)), "duplicate names in __all__"
    missing = [name for name in exported if not hasattr(package, name)]
    assert missing == []


def test_binding_core_names_are_exported() -> None:
    binding = {
        "Server",
        "Supervisor",
        "DynamicSupervisor",
        "ChildSpec",
        "Restart",
        "Shutdown",
        "Strategy",
        "monitor",
        "demonitor",
        "whereis",
        "telemetry",
    }
    assert binding <= set(supervisor.__all__)
