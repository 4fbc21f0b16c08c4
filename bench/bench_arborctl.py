"""Benchmark of ``arborctl ping`` as a whole process, against the least a Python client can do.

The daemon runs in its own process (``python -m daemon run``). Each round runs, back to back, the
``arborctl`` console script with ``ping`` and a ``python -c`` that opens the control socket, sends
the same request frame and reads the reply with the standard library only; the ratio is process
against process, interpreter start-up included (target <= 1.5). Both run with their bytecode cached,
as installed code is (a pycache prefix in a temporary directory, filled by a first run: the test
environment sets ``PYTHONDONTWRITEBYTECODE``, which would make arborctl compile its modules at every
run while the baseline compiles one line). A third row shows what importing
``daemon.ctl.arborctl`` costs (``python -X importtime``, the sum of every module's own time), for
information: the figures before and after the split of ``daemon/control`` are in
docs/performance.md.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.harness import Row, paired

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 21
FRAME = '{"id": 1, "method": "ping", "params": {}}\n'
BASELINE = (
    "import socket, sys\n"
    "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
    "s.connect(sys.argv[1])\n"
    f"s.sendall({FRAME.encode()!r})\n"
    "sys.stdout.write(s.makefile('rb').readline().decode())\n"
)


def _arborctl() -> list[str]:
    """The console script next to this interpreter, else the module (a checkout without install)."""
    script = Path(sys.executable).parent / "arborctl"
    return [str(script)] if script.exists() else [sys.executable, "-m", "daemon.ctl"]


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
        probe.sendall(FRAME.encode())
        return probe.makefile("rb").readline().startswith(b'{"id":1,"result"')


@contextlib.contextmanager
def _daemon(tmp: Path) -> Iterator[Path]:
    """The real daemon in its own process, until it answers on its control socket."""
    runtime_dir = tmp / "run"
    config = tmp / "arbord.toml"
    config.write_text(f'[daemon]\nruntime_dir = "{runtime_dir}"\n')
    scrubbed = ("ARBORD_", "NOTIFY_SOCKET", "WATCHDOG_", "RUNTIME_DIRECTORY", "XDG_RUNTIME_DIR")
    env = {k: v for k, v in os.environ.items() if not k.startswith(scrubbed)}
    process = subprocess.Popen(
        [sys.executable, "-m", "daemon", "run", "--config", str(config)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    path = runtime_dir / "control.sock"
    try:
        deadline = time.monotonic() + 30
        while not _answers(path):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the daemon did not start")
            time.sleep(0.02)
        yield path
    finally:
        process.terminate()
        process.wait(30)


def _client_environ(pycache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, check=True)
    assert b"pong" in done.stdout, done


def import_time(module: str, env: dict[str, str]) -> float:
    """Milliseconds ``python -X importtime -c 'import module'`` reports, summed over every module."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    own = [line.split("|")[0].split(":")[1] for line in done.stderr.splitlines()[1:] if "|" in line]
    return sum(int(us) for us in own) / 1000


def run(loop: str) -> list[Row]:
    if loop != "asyncio":
        return []  # arborctl runs no event loop: measured once
    tmp = Path(tempfile.mkdtemp(prefix="arb-", dir="/tmp"))
    try:
        env = _client_environ(tmp / "pycache")
        with _daemon(tmp) as path:
            arborctl = [*_arborctl(), "--socket", str(path), "ping"]
            baseline = [sys.executable, "-c", BASELINE, str(path)]
            _run(arborctl, env)  # fills the bytecode cache
            _run(baseline, env)
            a, b = paired(lambda: _run(arborctl, env), lambda: _run(baseline, env), rounds=ROUNDS)
        imports = min(import_time("daemon.ctl.arborctl", env) for _ in range(5))
        bare = min(import_time("socket", env) for _ in range(5))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [
        Row("arborctl", "arborctl ping, whole process vs python -c socket", "-", a * 1e3, b * 1e3, "ms", 1.5),
        Row("arborctl", "import daemon.ctl.arborctl vs import socket", "-", imports, bare, "ms", None),
    ]
