"""``supervisor.testing`` as a pytest plugin, seen from a user's test suite (run by pytester)."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest

import supervisor.testing
from supervisor import telemetry

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]

# A user's configuration as strict as arbord's own: warnings are errors, markers and options declared.
INI = """
[pytest]
addopts = -p no:cacheprovider --strict-markers --strict-config
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
asyncio_default_test_loop_scope = function
filterwarnings = error
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(INI)
    return pytester


def test_the_testing_extra_and_the_entry_point_are_declared() -> None:
    dist = metadata.distribution("arbord")
    [entry] = [e for e in dist.entry_points if e.group == "pytest11"]
    assert (entry.name, entry.value) == ("supervisor.testing", "supervisor.testing")
    assert "testing" in (dist.metadata.get_all("Provides-Extra") or [])
    testing = sorted(r.split(";")[0].split(">")[0] for r in dist.requires or [] if 'extra == "testing"' in r)
    assert testing == ["pytest", "pytest-asyncio"]


def test_importing_supervisor_testing_imports_no_pytest() -> None:
    code = "import sys, supervisor.testing; print('pytest' in sys.modules, 'pytest_asyncio' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


# What an environment with arbord and pytest, but not the ``testing`` extra, has on its path.
BARE_PYTEST = (
    "_pytest",
    "pytest",
    "py.py",
    "pluggy",
    "iniconfig",
    "packaging",
    "pygments",
    "sortedcontainers",
)


def test_without_pytest_asyncio_the_plugin_registers_nothing_and_a_projects_tests_run(tmp_path: Path) -> None:
    """The pytest11 entry point is installed with arbord, the ``testing`` extra may not be: a project
    with pytest but no pytest-asyncio must still run its tests (arbord's fixtures are simply absent).
    The environment is built by hand: arbord (its metadata, hence the entry point, and its source) and
    pytest with what it needs, nothing else."""
    site = Path(sysconfig.get_paths()["purelib"])
    bare = tmp_path / "site"
    bare.mkdir()
    for entry in site.iterdir():
        dist = entry.name.split("-")[0].lower() if entry.name.endswith(".dist-info") else None
        if entry.name in BARE_PYTEST or dist in {"arbord", "pytest", "pluggy", "iniconfig", "packaging"}:
            (bare / entry.name).symlink_to(entry)
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_plain.py").write_text("def test_plain():\n    assert True\n")
    code = (
        "import sys\n"
        "sys.path[:0] = sys.argv[1:3]\n"
        "import pytest\n"
        "sys.exit(pytest.main(['-p', 'no:cacheprovider', '-q', sys.argv[3]]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(bare), str(ROOT), str(project)],
        capture_output=True, text=True, cwd=project, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_the_entry_point_registers_the_module_under_its_own_name(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.get_plugin("supervisor.testing") is supervisor.testing
    assert pytestconfig.pluginmanager.has_plugin("supervisor.testing._plugin")


def test_naming_the_plugin_again_in_a_conftest_registers_nothing_twice(suite: pytest.Pytester) -> None:
    suite.makeconftest('pytest_plugins = ["supervisor.testing"]\n')
    suite.makepyfile(
        """
        async def test_tree(arbord_tree, arbord_names):
            assert arbord_tree.name == arbord_names("root")
        """
    )
    suite.runpytest().assert_outcomes(passed=1)


def test_a_server_left_running_fails_the_test_naming_it(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest
        from supervisor import Server

        async def test_leaks(arbord_tree, arbord_names):
            await Server.start(name=arbord_names("forgotten"))

        @pytest.mark.arbord_leaks_allowed
        async def test_allowed(arbord_tree, arbord_names):
            await Server.start(name=arbord_names("kept"))

        async def test_clean(arbord_tree):
            server = await Server.start()
            await server.stop()
        """
    )
    result = suite.runpytest()
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_leaks*",
            "*Leaked: the test left behind:",
            "*server: <Server 'test_leaks.*.forgotten' at *",
            "*name: 'test_leaks.*.forgotten'",
        ]
    )


LEAKY_SUITE = """
import asyncio
import pytest
from supervisor import telemetry

async def test_handler_left_attached():
    telemetry.attach("forgotten-handler", ("user", "event"), lambda *_: None)

async def test_task_left_running():
    asyncio.get_running_loop().create_task(asyncio.Event().wait(), name="forgotten-task")

@pytest.mark.arbord_leaks_allowed(reason="the task outlives the test on purpose")
async def test_allowed_to_leave_a_task():
    asyncio.get_running_loop().create_task(asyncio.Event().wait(), name="allowed-task")

def test_synchronous_tests_are_not_checked():
    pass
"""


def test_the_leak_check_runs_around_every_async_test_by_default(suite: pytest.Pytester) -> None:
    suite.makepyfile(LEAKY_SUITE)
    try:
        result = suite.runpytest()
    finally:  # pytester runs in this process: the inner test's handler is attached here too
        telemetry.detach("forgotten-handler")
    result.assert_outcomes(passed=4, errors=2)
    result.stdout.fnmatch_lines(["*telemetry handler: 'forgotten-handler'*"])
    result.stdout.fnmatch_lines(["*task: forgotten-task running <coroutine object Event.wait*"])
    result.stdout.no_fnmatch_line("*allowed-task*")


def test_the_ini_option_false_turns_the_leak_check_off_for_the_suite(suite: pytest.Pytester) -> None:
    suite.makeini(INI + "arbord_leak_check = false\n")
    suite.makepyfile(LEAKY_SUITE)
    try:
        result = suite.runpytest()
    finally:
        telemetry.detach("forgotten-handler")
    result.assert_outcomes(passed=4)


def test_with_the_ini_option_false_the_fixtures_still_check(suite: pytest.Pytester) -> None:
    suite.makeini(INI + "arbord_leak_check = false\n")
    suite.makepyfile(
        """
        from supervisor import Server

        async def test_leaks(arbord_tree, arbord_names):
            await Server.start(name=arbord_names("forgotten"))
        """
    )
    result = suite.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*name: 'test_leaks.*.forgotten'"])


def test_the_marker_is_declared_with_its_reason(suite: pytest.Pytester) -> None:
    result = suite.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.arbord_leaks_allowed(reason=...): *leak check does not run*"])


def test_a_failing_test_prints_its_fault_plans_seed_and_the_seed_replays(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        from supervisor import Server
        from supervisor.testing import Fault

        class Flaky(Server):
            async def handle_call(self, request, caller):
                return request

        async def test_flaky(fault_plan):
            fault_plan.server(Flaky, "handle_call", Fault.RAISE, probability=0.5)
            server = await Flaky.start()
            for n in range(20):
                if not server.alive:
                    server = await Flaky.start()
                try:
                    await server.call(n)
                except Exception:
                    pass
            server.kill()  # stopped, so that the leak check has nothing to add to the failure
            await server.wait()
            assert False, "fails on purpose"
        """
    )
    first = suite.runpytest()
    first.assert_outcomes(failed=1)
    first.stdout.fnmatch_lines(
        ["*- arbord fault plan -*", "FaultPlan seed=*; injected: Flaky.handle_call #*"]
    )
    [replay] = [line for line in first.outlines if line.startswith("replay: pytest --arbord-seed=")]
    [injected] = [line for line in first.outlines if line.startswith("FaultPlan seed=")]
    again = suite.runpytest(replay.split()[2])
    again.assert_outcomes(failed=1)
    assert [line for line in again.outlines if line.startswith("FaultPlan seed=")] == [injected]


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_the_fixtures_work_on_both_loops(suite: pytest.Pytester, loop: str) -> None:
    suite.makeconftest(
        f"""
        import asyncio
        import uvloop

        def pytest_asyncio_loop_factories(config, item):
            return {{"{loop}": {"asyncio.new_event_loop" if loop == "asyncio" else "uvloop.new_event_loop"}}}
        """
    )
    suite.makepyfile(
        """
        from supervisor import ChildSpec, Server
        from supervisor.testing import wait_for_events

        async def test_restart(arbord_tree, arbord_capture, arbord_leak_check, manual_clock):
            seen = arbord_capture(("supervisor", "child", "restart"))
            child = await arbord_tree.start_child(ChildSpec("idle", Server))
            child.kill()
            await wait_for_events(seen, [("supervisor", "child", "restart")], timeout=5.0)
            assert type(asyncio_loop()).__module__.split(".")[0] == LOOP

        def asyncio_loop():
            import asyncio
            return asyncio.get_running_loop()
        """.replace("LOOP", repr(loop))
    )
    suite.runpytest("-v").assert_outcomes(passed=1)


def test_the_fixtures_work_in_pytest_asyncios_strict_mode(suite: pytest.Pytester) -> None:
    suite.makeini(INI.replace("asyncio_mode = auto", "asyncio_mode = strict"))
    suite.makepyfile(
        """
        import pytest

        @pytest.mark.asyncio
        async def test_tree(arbord_tree, arbord_names, fault_plan):
            assert arbord_tree.name == arbord_names("root")
        """
    )
    suite.runpytest().assert_outcomes(passed=1)
