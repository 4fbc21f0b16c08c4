"""Helpers for testing code built on ``supervisor``, and the pytest plugin that hands them to tests.

Tests of asynchronous code go wrong in two ways: they sleep to "let things happen" (slow, and flaky on
a loaded machine) or they look before the server has handled what it was sent. These helpers replace
both with waits on something definite:

>>> import asyncio
>>> from supervisor import ChildSpec, Server, Supervisor
>>> from supervisor.testing import capture, settle
>>> class Idle(Server):
...     pass
>>> async def demo() -> int:
...     with capture(("supervisor", "child", "start")) as seen:
...         async with Supervisor([ChildSpec("idle", Idle)]) as sup:
...             await settle(sup)                # every request sent before this is handled
...     return len(seen)
>>> asyncio.run(demo())
1

- ``ManualClock`` is accepted wherever a ``clock=`` is (restart intensity, caches, timers): advance it
  instead of sleeping.
- ``capture`` records telemetry events; ``wait_for_events(seen, events, timeout)`` waits for some,
  ``wait_for(predicate, timeout)`` for any condition, ``settle`` for a supervisor's mailbox; a wait
  that times out raises ``WaitTimeout`` saying what it awaited and what it saw instead.
- ``UniqueNames`` makes names no other test uses (``registered()``: those still held);
  ``LeakCheck`` names what a test left behind.
- ``running_children`` lists a supervisor's running servers; ``crash_and_settle`` crashes a child
  and returns once its supervisor has restarted it (or escalated).
- ``FaultPlan`` makes a server's callback or a table's write raise, hang or be cancelled, seeded and
  recorded so that a failing seed replays.

Installed with arbord's ``testing`` extra, this module is also a pytest plugin (entry point
``pytest11``, name ``supervisor.testing``) with the fixtures ``arbord_tree``, ``arbord_names``,
``arbord_leak_check``, ``arbord_capture``, ``manual_clock`` and ``fault_plan``; ``docs/testing.md``
teaches them. Importing it needs no pytest: the fixtures live in ``supervisor.testing._plugin``, which
pytest loads through ``pytest_plugins`` below.
"""

from __future__ import annotations

import importlib.util
from typing import Final

from supervisor._clock import ManualClock
from supervisor.telemetry import Capture, Captured, capture
from supervisor.testing._children import crash_and_settle, running_children
from supervisor.testing._faults import Fault, FaultInjected, FaultPlan, Injection
from supervisor.testing._leaks import LeakCheck, Leaked, Snapshot
from supervisor.testing._names import UniqueNames
from supervisor.testing._waits import WaitTimeout, settle, wait_for, wait_for_events, wait_until

__all__ = [
    "Capture",
    "Captured",
    "Fault",
    "FaultInjected",
    "FaultPlan",
    "Injection",
    "LeakCheck",
    "Leaked",
    "ManualClock",
    "Snapshot",
    "UniqueNames",
    "WaitTimeout",
    "capture",
    "crash_and_settle",
    "running_children",
    "settle",
    "wait_for",
    "wait_for_events",
    "wait_until",
]

# Read by pytest when it registers this module as a plugin (the pytest11 entry point): the fixtures
# and hooks, in a module of their own so that importing supervisor.testing never imports pytest. The
# entry point comes with arbord itself, the ``testing`` extra may not: without pytest-asyncio (which
# the fixtures need) the plugin registers nothing, and a project's own tests run as they did.
pytest_plugins: Final[list[str]] = (
    ["supervisor.testing._plugin"] if importlib.util.find_spec("pytest_asyncio") is not None else []
)

ManualClock.__module__ = __name__
for _public in (
    Fault,
    FaultInjected,
    FaultPlan,
    Injection,
    LeakCheck,
    Leaked,
    Snapshot,
    UniqueNames,
    WaitTimeout,
    crash_and_settle,
    running_children,
    settle,
    wait_for,
    wait_for_events,
    wait_until,
):
    _public.__module__ = __name__
del _public
