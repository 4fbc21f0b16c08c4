"""The suite's own guard rails: a test that leaks a resource fails itself, not a later test."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]


def test_a_leaked_socket_fails_the_test_that_leaked_it(pytester: pytest.Pytester) -> None:
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        """
        import socket

        def test_leaks():
            sock = socket.socket()
            cycle = [sock]
            cycle.append(cycle)   # only the collector can free it

        def test_innocent():
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_leaks*", "*leaked resources: unclosed*"])
