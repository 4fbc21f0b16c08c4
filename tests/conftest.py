"""Test configuration: every async test runs on the default asyncio loop, in its debug mode, and on
uvloop (the reliability matrix: "asyncio (debug on) and asyncio+uvloop"). Debug mode makes asyncio
check what it otherwise lets pass: a call from the wrong thread raises, a coroutine never awaited or a
transport never closed is reported with where it was made, and a slow callback is logged."""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import Callable, Iterator

import pytest
import uvloop


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    return {"asyncio": _debug_loop, "uvloop": uvloop.new_event_loop}


def _debug_loop() -> asyncio.AbstractEventLoop:
    """asyncio's default loop in debug mode."""
    loop = asyncio.new_event_loop()
    loop.set_debug(True)
    return loop


@pytest.fixture(autouse=True)
def _no_leaked_resources() -> Iterator[None]:
    """Fail the test that leaked a socket, file or subprocess, not whichever test the garbage collector
    happens to run in next (a leaked socket's ResourceWarning used to fail an unrelated test)."""
    yield
    with warnings.catch_warnings(record=True) as leaked:
        warnings.simplefilter("always", ResourceWarning)
        gc.collect()
    messages = [str(w.message) for w in leaked if issubclass(w.category, ResourceWarning)]
    if messages:
        pytest.fail("leaked resources: " + "; ".join(messages), pytrace=False)


def pytest_collection_finish(session: pytest.Session) -> None:
    # Everything imported and collected so far lives for the whole run: move it out of the collector's
    # sight, so the per-test collection above scans only what tests made.
    gc.freeze()


def pytest_report_header(config: pytest.Config) -> str:
    from supervisor.tables._core import IMPLEMENTATION

    return f"arbord tables core: {IMPLEMENTATION} (ARBORD_NO_EXTENSIONS=1 selects the Python twin)"
