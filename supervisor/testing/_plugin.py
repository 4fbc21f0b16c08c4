"""The pytest plugin of ``supervisor.testing``: fixtures for a tree per test, waits, leaks and faults.

pytest loads it through ``supervisor.testing``'s ``pytest_plugins`` once the ``pytest11`` entry point
(installed by arbord's ``testing`` extra) has registered that module. The fixtures are opt-in; the
leak check is opt-out: it runs around every async test, and fails one that leaves something behind,
unless the test is marked ``@pytest.mark.arbord_leaks_allowed(reason=...)`` or the suite sets
``arbord_leak_check = false`` in its pytest configuration. Synchronous tests are never checked.

- ``manual_clock``: a ``ManualClock`` at 0.0, for every ``clock=`` (and ``arbord_tree``'s).
- ``arbord_names``: the test's ``UniqueNames``.
- ``arbord_leak_check``: a ``LeakCheck`` whose baseline is taken as the fixture starts; at teardown it
  fails the test naming what was left behind. ``@pytest.mark.arbord_leaks_allowed(reason=...)`` turns
  it off for one test; every async test has it unless so marked or the ini turns it off.
- ``arbord_tree``: a started root ``Supervisor`` named ``arbord_names("root")``, clocked by
  ``manual_clock``, stopped at teardown, leak-checked.
- ``arbord_capture``: ``arbord_capture(*events)`` opens a telemetry ``capture`` closed at teardown.
- ``fault_plan``: a ``FaultPlan`` seeded by ``--arbord-seed`` (else at random), closed at teardown;
  when the test fails its report has a section with the seed and the injections, to replay it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Generator, Iterator
from contextlib import ExitStack
from typing import Final

import pytest
import pytest_asyncio

from supervisor._clock import ManualClock
from supervisor._supervisor import Supervisor
from supervisor.telemetry import Capture, EventName, capture
from supervisor.testing._faults import FaultPlan
from supervisor.testing._leaks import LeakCheck
from supervisor.testing._names import UniqueNames

__all__ = [
    "arbord_capture",
    "arbord_leak_check",
    "arbord_names",
    "arbord_tree",
    "fault_plan",
    "manual_clock",
]

LEAKS_ALLOWED: Final = "arbord_leaks_allowed"
_PLAN: Final = pytest.StashKey[FaultPlan]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("arbord", "supervisor.testing (arbord)")
    group.addoption(
        "--arbord-seed",
        type=int,
        default=None,
        help="the seed of every fault_plan (a failing test's report prints the one it ran with)",
    )
    parser.addini(
        "arbord_leak_check",
        type="bool",
        default=True,
        help="run supervisor.testing's leak check around every async test (default true; false: only "
        "around tests that name the arbord_leak_check or arbord_tree fixture)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{LEAKS_ALLOWED}(reason=...): supervisor.testing's leak check does not run on this test; "
        "the reason says what the test leaves behind and why",
    )


@pytest.fixture
def manual_clock() -> ManualClock:
    """A clock at 0.0 that moves only by ``advance``: pass it as ``clock=``."""
    return ManualClock()


@pytest.fixture
def arbord_names(request: pytest.FixtureRequest) -> UniqueNames:
    """Names under a prefix unique to this test (and to its loop parameter)."""
    return UniqueNames.for_test(request.node.nodeid)


@pytest_asyncio.fixture
async def arbord_leak_check(request: pytest.FixtureRequest) -> AsyncIterator[LeakCheck]:
    """A baseline now; at teardown, fail naming every task, server, monitor, name, table, telemetry
    handler and file descriptor the test added and did not release."""
    leaks = LeakCheck()
    yield leaks
    if request.node.get_closest_marker(LEAKS_ALLOWED) is None:
        await leaks.check()


@pytest_asyncio.fixture
async def arbord_tree(
    arbord_leak_check: LeakCheck, arbord_names: UniqueNames, manual_clock: ManualClock
) -> AsyncIterator[Supervisor]:
    """A started, empty root supervisor of this test alone; add children with ``start_child``."""
    root = await Supervisor.start([], name=arbord_names("root"), clock=manual_clock)
    try:
        yield root
    finally:
        if root.alive:
            await root.stop()


@pytest.fixture
def arbord_capture() -> Iterator[Callable[..., Capture]]:
    """``arbord_capture(*events)``: a telemetry ``capture`` of ``events``, detached at teardown."""
    with ExitStack() as stack:

        def open_capture(*events: EventName) -> Capture:
            return stack.enter_context(capture(*events))

        yield open_capture


@pytest.fixture
def fault_plan(request: pytest.FixtureRequest) -> Iterator[FaultPlan]:
    """A seeded ``FaultPlan``, closed at teardown; its seed is printed when the test fails."""
    with FaultPlan(request.config.getoption("arbord_seed")) as plan:
        request.node.stash[_PLAN] = plan
        yield plan


@pytest.fixture(autouse=True)
def _arbord_leak_check_everywhere(request: pytest.FixtureRequest) -> None:
    """The leak check around every async test, unless the test is marked ``arbord_leaks_allowed``
    or the configuration says ``arbord_leak_check = false``. An autouse fixture of the plugin is set
    up before the suite's own and the test's function fixtures, so its baseline comes first and its
    check runs after they are torn down: what a fixture starts and stops is never a leak."""
    if (
        request.config.getini("arbord_leak_check")
        and pytest_asyncio.is_async_test(request.node)
        and request.node.get_closest_marker(LEAKS_ALLOWED) is None
    ):
        request.getfixturevalue("arbord_leak_check")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    plan = item.stash.get(_PLAN, None)
    if plan is not None and report.failed:
        report.sections.append(
            ("arbord fault plan", f"{plan.summary()}\nreplay: pytest --arbord-seed={plan.seed} {item.nodeid}")
        )
    return report
