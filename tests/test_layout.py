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
import supervisor.lowlevel
import supervisor.tables

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


@pytest.mark.parametrize("package", [supervisor, daemon, supervisor.tables, supervisor.lowlevel])
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


def _runtime_imports(path: Path, package: str) -> set[str]:
    """The modules of ``package`` that ``path`` imports when it is imported: module-level imports,
    outside ``if TYPE_CHECKING:`` blocks (annotations only; they never run)."""
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    body = [
        node
        for node in tree.body
        if not (
            isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        )
    ]
    for node in body:
        for child in ast.walk(node):
            if isinstance(child, ast.Import):
                names.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                names.add(child.module)
                names.update(f"{child.module}.{alias.name}" for alias in child.names)
    return {name for name in names if name.startswith(package + ".")}


def test_no_import_cycles_inside_supervisor_tables() -> None:
    folder = ROOT / "supervisor" / "tables"
    modules = {
        f"supervisor.tables.{path.stem}": path for path in folder.glob("_*.py") if path.stem != "__init__"
    }
    graph = {
        name: _runtime_imports(path, "supervisor.tables") & modules.keys() for name, path in modules.items()
    }
    assert graph["supervisor.tables._base"], "the graph must see the base's imports"
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = [*path[path.index(name) :], name]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if name in done:
            return
        for imported in sorted(graph[name]):
            visit(imported, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_the_table_base_imports_no_table_class_module() -> None:
    base = _runtime_imports(ROOT / "supervisor" / "tables" / "_base.py", "supervisor.tables")
    assert not base & {"supervisor.tables._set", "supervisor.tables._bag", "supervisor.tables._gone"}


def test_supervisor_still_exports_every_table_name_it_exported() -> None:
    table_names = set(supervisor.tables.__all__) - {"Expr", "named_tables"}  # never in supervisor's
    assert table_names <= set(supervisor.__all__)
    assert all(getattr(supervisor, name) is getattr(supervisor.tables, name) for name in table_names)


def test_public_table_objects_say_where_users_import_them_from() -> None:
    elsewhere = {
        name: getattr(obj, "__module__", None)
        for name in supervisor.tables.__all__
        if name != "Row" and (isinstance(obj := getattr(supervisor.tables, name), type) or callable(obj))
    }
    # GuardedGetter is the core's (C or its twin), re-exported here and from supervisor.lowlevel.
    assert {n: m for n, m in elsewhere.items() if m != "supervisor.tables"} in (
        {"GuardedGetter": "supervisor._speedups"},
        {"GuardedGetter": "supervisor.tables._pycore"},
    )
