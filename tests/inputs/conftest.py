"""Fixtures of the bad-input suite: the real daemon, started by ``tests/daemon/conftest.py``'s helpers.

``start_arbord`` and ``short_tmp`` are that module's fixtures, imported so pytest finds them here too;
``shared_daemon`` is one daemon for a whole module (the fuzzer sends hundreds of requests to one
process: starting a daemon per example would take minutes).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.daemon.conftest import (
    RunningDaemon,
    ready_daemon,
    short_tmp,
    start_arbord,
)

__all__ = ["shared_daemon", "short_tmp", "start_arbord"]

SHARED_CONFIG = "[control]\nidle_timeout = 5.0\nframe_timeout = 2.0\nrequest_timeout = 5.0\n"
"""Short timeouts, so a fuzzed frame that leaves the daemon waiting costs seconds, not minutes."""


@pytest.fixture(scope="module")
def shared_daemon() -> Iterator[RunningDaemon]:
    """A daemon for the whole module; killed afterwards (its stderr is checked by the tests)."""
    with ready_daemon(SHARED_CONFIG) as running:
        yield running
