"""The repository's shape: `supervisor` never imports `daemon`, both import from this checkout,
and each package's public surface is exactly its ``__all__``."""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import daemon
import supervisor
import supervisor.errors
import supervisor.lowlevel
import supervisor.tables
import supervisor.testing

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


@pytest.mark.parametrize(
    "package",
    [supervisor, daemon, supervisor.tables, supervisor.lowlevel, supervisor.testing, supervisor.errors],
)
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


# --- the daemon's layout: components, transport, client ---------------------------------------------


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(path: Path) -> set[str]:
    """The modules ``path`` imports when it is imported: module level, ``if TYPE_CHECKING`` excluded,
    ``from package import name`` counted as ``package.name`` when that is a module."""
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If):
                test = node.test
                if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
                    visit(node.orelse)
                    continue
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)

    visit(tree.body)
    return names


DAEMON_MODULES = {_module_name(path): path for path in sorted((ROOT / "daemon").rglob("*.py"))}


def _daemon_imports(module: str) -> set[str]:
    """The daemon modules ``module`` imports, with the packages whose ``__init__`` that runs."""
    found: set[str] = set()
    for name in _runtime_imports(DAEMON_MODULES[module]):
        parts = name.split(".")
        for end in range(1, len(parts) + 1):
            prefix = ".".join(parts[:end])
            if prefix in DAEMON_MODULES and prefix != module and not module.startswith(prefix + "."):
                found.add(prefix)
    return found


def test_daemon_modules_import_no_cycle() -> None:
    graph = {module: _daemon_imports(module) for module in DAEMON_MODULES}
    done: set[str] = set()
    cycles: list[list[str]] = []

    def walk(module: str, stack: list[str]) -> None:
        if module in stack:
            cycles.append([*stack[stack.index(module) :], module])
            return
        if module in done:
            return
        for imported in sorted(graph[module]):
            walk(imported, [*stack, module])
        done.add(module)

    for module in sorted(graph):
        walk(module, [])
    assert cycles == []


COMPONENT_PACKAGES = ("daemon.registry", "daemon.cache", "daemon.servers", "daemon.console", "daemon.control")


def test_the_component_list_is_complete() -> None:
    # Every Component defined in a `component.py` is in the list, once; the control server is last.
    from daemon.component import Component
    from daemon.tree import COMPONENTS

    defined = []
    for name in sorted(m for m in DAEMON_MODULES if m.endswith(".component")):
        module = importlib.import_module(name)
        defined += [value for value in vars(module).values() if isinstance(value, Component)]
    assert sorted(c.name for c in defined) == sorted(c.name for c in COMPONENTS)
    assert len({c.name for c in COMPONENTS}) == len(COMPONENTS)
    assert all(any(c is listed for listed in COMPONENTS) for c in defined)
    assert COMPONENTS[-1].name == "control"
    assert {p for p in COMPONENT_PACKAGES if f"{p}.component" not in DAEMON_MODULES} == set()


@pytest.mark.parametrize("package", ["daemon.control", "daemon.verbs", "daemon.ctl"])
def test_the_transport_the_verbs_and_the_client_know_no_component(package: str) -> None:
    # They serve, describe and call whatever verbs they are given: no component's package, nor the
    # assembly of the tree and the settings, is theirs to import.
    others = ("daemon.registry", "daemon.cache", "daemon.servers", "daemon.console")
    assembly = ("daemon.tree", "daemon.settings", "daemon.app")
    offenders = {
        module: found
        for module in DAEMON_MODULES
        if module.startswith(package)
        and (found := sorted(i for i in _daemon_imports(module) if i.startswith((*others, *assembly))))
    }
    assert offenders == {}


def test_the_control_client_imports_nothing_heavy() -> None:
    # arborctl's start-up is a process start: no pydantic, no supervisor, no settings, no transport
    # (bench/bench_arborctl.py). The console client (aiomonitor) is imported by `arborctl console`
    # only; __main__ runs arborctl.
    skipped = ("daemon.ctl.attach", "daemon.ctl.__main__")
    ctl = sorted(m for m in DAEMON_MODULES if m.startswith("daemon.ctl") and m not in skipped)
    heavy = (
        "pydantic",
        "pydantic_core",
        "supervisor",
        "daemon.settings",
        "daemon.control",
        "daemon.component",
    )
    code = (
        f"import sys\nfor name in {ctl!r}:\n    __import__(name)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r} or m.startswith({heavy!r})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert ctl
    assert result.stdout.strip() == "[]"


# --- supervisor.tables: an acyclic interior ------------------------------------------------------


def _package_imports(path: Path, package: str) -> set[str]:
    """The modules of ``package`` that ``path`` imports when it is imported (``_runtime_imports``)."""
    return {name for name in _runtime_imports(path) if name.startswith(package + ".")}


def test_no_import_cycles_inside_supervisor_tables() -> None:
    folder = ROOT / "supervisor" / "tables"
    modules = {
        f"supervisor.tables.{path.stem}": path for path in folder.glob("_*.py") if path.stem != "__init__"
    }
    graph = {
        name: _package_imports(path, "supervisor.tables") & modules.keys() for name, path in modules.items()
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
    base = _package_imports(ROOT / "supervisor" / "tables" / "_base.py", "supervisor.tables")
    assert not base & {"supervisor.tables._set", "supervisor.tables._bag", "supervisor.tables._gone"}


def test_public_table_objects_say_where_users_import_them_from() -> None:
    elsewhere = {
        name: getattr(obj, "__module__", None)
        for name in supervisor.tables.__all__
        if name != "Row"
        and not name.endswith(("Error", "Gone", "Denied", "Taken"))  # supervisor.errors' own
        and (isinstance(obj := getattr(supervisor.tables, name), type) or callable(obj))
    }
    # GuardedGetter is the core's (C or its twin), re-exported here and from supervisor.lowlevel;
    # named_getter is a registry dict's own bound ``get`` (one C call on the telemetry hot path), which
    # has no module of its own: its docstring is in supervisor/tables/_base.py.
    assert {n: m for n, m in elsewhere.items() if m != "supervisor.tables"} in (
        {"GuardedGetter": "supervisor._speedups", "named_getter": None},
        {"GuardedGetter": "supervisor.tables._pycore", "named_getter": None},
    )


# --- supervisor's public surface: a curated core, tiers, private implementation modules ------------

# What ``supervisor`` exported before the tiers (issue "house", part 5): each still imports from it.
_EXPORTED_BEFORE_THE_TIERS = (  # noqa: SIM905 - a paragraph of names reads better than 90 lines
    "ANY BINDINGS DEFAULT_INTENSITY DEFAULT_KILL_GRACE DEFAULT_PERIOD DEFAULT_WORKER_SHUTDOWN END_OF_TABLE "
    "KILLED NOPROC NOREPLY NORMAL SHUTDOWN TIMEOUT WHOLE Access AccessDenied AlreadyStarted ArbordError "
    "AutoShutdown CallTimeout Caller CallingSelf ChildAlreadyPresent ChildCounts ChildInfo ChildNotFound "
    "ChildRestarting ChildRunning ChildSpec ChildState ChildType Clause Clock Continuation Down "
    "DynamicSupervisor Exit ExitKind GuardedGetter HandlerExists HandlerNotFound Ignore InitIgnored "
    "InvalidChildSpec InvalidSupervisorFlags ManualClock MatchSpec MaxChildren MonitorRef MonotonicClock "
    "NoProc NotInServer Process Restart Row Server ServerExited ServerStatistics Shutdown StartFailed Stop "
    "Strategy Supervisor Table TableError TableGone TableInfo TableNameTaken TableTransfer TableType "
    "Transaction Var crash current_process current_server demonitor is_alive monitor registered_names "
    "shutdown telemetry whereis whereis_table"
).split()

TIERS = (
    "supervisor.tables",
    "supervisor.errors",
    "supervisor.telemetry",
    "supervisor.testing",
    "supervisor.lowlevel",
)


def test_the_core_surface_is_curated() -> None:
    assert 40 <= len(supervisor.__all__) <= 50, len(supervisor.__all__)


@pytest.mark.parametrize("name", _EXPORTED_BEFORE_THE_TIERS)
def test_every_name_exported_before_the_tiers_still_imports_from_supervisor(name: str) -> None:
    obj = getattr(supervisor, name)
    homes = [importlib.import_module(tier) for tier in TIERS]
    assert (
        name in supervisor.__all__
        or any(getattr(home, name, None) is obj for home in homes)
        or (name.startswith("DEFAULT_"))
    )


def test_supervisor_has_no_public_module_but_its_tiers() -> None:
    public = {
        path.stem if path.is_file() else path.name
        for path in (ROOT / "supervisor").iterdir()
        if not path.name.startswith(("_", ".")) and (path.suffix == ".py" or (path / "__init__.py").exists())
    }
    assert public == {tier.split(".")[1] for tier in TIERS} | {"lint"}


@pytest.mark.parametrize("tier", ["supervisor", *TIERS[:1], *TIERS[3:]])
def test_public_objects_say_where_users_import_them_from(tier: str) -> None:
    module = importlib.import_module(tier)
    wrong = {
        name: obj.__module__
        for name in module.__all__
        if (inspect.isclass(obj := getattr(module, name)) or inspect.isfunction(obj))
        and obj.__module__.split(".")[-1].startswith("_")
        and obj.__module__ != "supervisor._speedups"  # the C core's types (or their twin's)
        and not obj.__module__.endswith("._pycore")
    }
    assert wrong == {}
