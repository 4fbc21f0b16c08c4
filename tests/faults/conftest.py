"""The fault suite's fixtures: those of tests/daemon/conftest.py it shares (a short directory for
sockets; a state directory of each test's own for a daemon run in-process)."""

from __future__ import annotations

from tests.daemon.conftest import _own_state_directory, short_tmp

__all__ = ["_own_state_directory", "short_tmp"]
