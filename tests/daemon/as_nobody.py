"""Run a small client as the ``nobody`` user: how the tests prove another uid is refused.

Only root can switch users, and ``nobody`` cannot read the venv's interpreter under ``/root``, so the
client runs on the system ``python3``; tests that need either are skipped with ``needs_nobody``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

import pytest

__all__ = ["CONNECT_ONLY", "NOBODY", "SYSTEM_PYTHON", "needs_nobody", "run_as_nobody", "start_as_nobody"]

NOBODY = 65534
SYSTEM_PYTHON = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")

needs_nobody = pytest.mark.skipif(
    os.geteuid() != 0 or SYSTEM_PYTHON is None, reason="needs root and a system python3"
)

CONNECT_ONLY = (
    "import socket, sys\n"
    "s = socket.socket(socket.AF_UNIX)\n"
    "try:\n    s.connect(sys.argv[1])\nexcept PermissionError:\n    print('EACCES')\n"
)
"""A client that only connects, and prints ``EACCES`` when the socket's mode keeps it out."""


def run_as_nobody(script: str, *args: str) -> str:
    """Run ``python3 -c script args...`` as ``nobody`` (blocking: call it in a thread from async code,
    since uvloop's subprocess_exec has no ``user=``) and return its stripped standard output."""
    assert SYSTEM_PYTHON is not None
    result = subprocess.run(
        [SYSTEM_PYTHON, "-c", script, *args],
        user=NOBODY,
        group=NOBODY,
        extra_groups=[],
        capture_output=True,
        cwd="/",
        timeout=20,
        check=True,
    )
    return result.stdout.decode(errors="replace").strip()


def start_as_nobody(script: str, *args: str, pass_fds: Sequence[int] = ()) -> subprocess.Popen[str]:
    """Start ``python3 -c script args...`` as ``nobody`` with text pipes on its standard input and
    output, and return it without waiting (blocking: call it in a thread from async code)."""
    assert SYSTEM_PYTHON is not None
    return subprocess.Popen(
        [SYSTEM_PYTHON, "-c", script, *args],
        user=NOBODY,
        group=NOBODY,
        extra_groups=[],
        pass_fds=pass_fds,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd="/",
    )
