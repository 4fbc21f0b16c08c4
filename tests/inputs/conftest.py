"""Fixtures of the bad-input suite: the real daemon, started by ``tests/daemon/conftest.py``'s helpers.

``start_arbord`` and ``short_tmp`` are that module's fixtures, imported so pytest finds them here too;
``shared_daemon`` is one daemon for a whole module (the fuzzer sends hundreds of requests to one
process: starting a daemon per example would take minutes).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon.conftest import RunningDaemon, short_tmp, spawn_arbord, start_arbord, wait_ready

__all__ = ["shared_daemon", "short_tmp", "start_arbord"]

SHARED_CONFIG = "[control]\nidle_timeout = 5.0\nframe_timeout = 2.0\nrequest_timeout = 5.0\n"
"""Short timeouts, so a fuzzed frame that leaves the daemon waiting costs seconds, not minutes."""


@pytest.fixture(scope="module")
def shared_daemon() -> Iterator[RunningDaemon]:
    """A daemon for the whole module; killed afterwards (its stderr is checked by the tests)."""
    workdir = Path(tempfile.mkdtemp(prefix="arb-", dir="/tmp"))
    running = spawn_arbord(workdir, SHARED_CONFIG)
    try:
        wait_ready(running)
        yield running
    finally:
        if running.process.poll() is None:
            running.stop()
        running.notify.close()
        shutil.rmtree(workdir, ignore_errors=True)
