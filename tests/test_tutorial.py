"""docs/tutorial.md is run, command by command: the tour cannot rot.

The page is read as a script. A fenced block preceded by ``<!-- tour: file PATH -->`` is a file the
reader writes (written to PATH); a ``sh`` block is typed into one shell session (bash, ``set -e``: a
command that fails ends the session and the test), in a temporary directory; the block preceded by
``<!-- tour: background -->`` starts the daemon in the background, and the session goes on once the
daemon has said ``READY=1`` (the test's ``NOTIFY_SOCKET``: what a reader does by waiting a second);
``<!-- tour: not run (WHY) -->`` marks the installation and the systemd host's commands, which are
only checked to parse. ``text`` blocks are sample output; the facts the page states about them (the
counts of the rollout) are checked here.

The session runs in arbord's own venv (``PATH``), with its own runtime and state directories, and the
Prometheus port of the page replaced by a free one. One run takes a few seconds.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.daemon.conftest import NotifyReceiver, daemon_environ

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "tutorial.md"
PORT = "9464"
BLOCK_TIMEOUT = 30.0
_FENCE = re.compile(r"(?:<!-- tour: (?P<mark>[^>]*?) -->\n)?```(?P<lang>\w+)\n(?P<body>.*?)```", re.DOTALL)
_DONE = "__tour_block_done__"


@dataclass(frozen=True)
class Block:
    """One fenced block of the page and its mark (``""`` for none)."""

    lang: str
    body: str
    mark: str


def blocks(text: str) -> list[Block]:
    """The page's fenced blocks in order."""
    return [Block(m["lang"], m["body"], m["mark"] or "") for m in _FENCE.finditer(text)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Session:
    """One bash session: blocks typed in, their output read up to a marker echoed after each."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            ["bash", "--norc", "--noprofile"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.selector = selectors.DefaultSelector()
        assert self.process.stdout is not None
        os.set_blocking(self.process.stdout.fileno(), False)
        self.selector.register(self.process.stdout, selectors.EVENT_READ)
        self.transcript = ""
        self.type("set -euo pipefail")

    def type(self, commands: str) -> str:
        """Type ``commands`` and return their output; fail if the session ends (a command failed)."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(f"{commands}\necho {_DONE}\n".encode())
        self.process.stdin.flush()
        output = b""
        deadline = time.monotonic() + BLOCK_TIMEOUT
        while f"{_DONE}\n".encode() not in output:
            left = deadline - time.monotonic()
            assert left > 0, f"no end of block within {BLOCK_TIMEOUT} s:\n{commands}\n{output.decode()}"
            # The shell's exit is seen by polling it: the daemon it started may hold the pipe open.
            if self.selector.select(min(left, 0.1)) and (chunk := self.process.stdout.read()):
                output += chunk
            elif self.process.poll() is not None:
                ended = f"the session ended (exit {self.process.returncode}) in:\n{commands}"
                raise AssertionError(f"{ended}\n---\n{self.transcript}{output.decode()}")
        text = output.decode().replace(f"{_DONE}\n", "")
        self.transcript += f"$ {commands}\n{text}"
        return text

    def close(self) -> None:
        # The whole group, the daemon too if a block failed before its stop (even once the shell ended).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.selector.close()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory short enough for a socket path (``sun_path`` is 108 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="tour-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_page_has_the_shape_the_test_reads() -> None:
    page = blocks(PAGE.read_text())
    marks = [b.mark for b in page if b.mark]
    assert marks.count("background") == 1
    assert all(m == "background" or m.startswith(("file ", "not run (")) for m in marks), marks
    assert {b.lang for b in page} <= {"sh", "python", "toml", "text", "yaml", "ini"}
    for block in page:  # a block the test does not run still parses
        if block.lang == "sh" and block.mark.startswith("not run"):
            subprocess.run(["bash", "-n"], input=block.body, text=True, check=True)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_every_command_of_the_tour_runs(short_dir: Path) -> None:
    port = str(free_port())
    text = PAGE.read_text().replace(f"127.0.0.1:{PORT}", f"127.0.0.1:{port}")
    for directory in ("runtime", "state"):
        (short_dir / directory).mkdir(mode=0o700)
    notify = NotifyReceiver.bind(short_dir / "notify")
    env = daemon_environ(
        notify.path,
        {
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "XDG_RUNTIME_DIR": str(short_dir / "runtime"),
            "XDG_STATE_HOME": str(short_dir / "state"),
            "ARBORD": str(ROOT),
        },
    )
    session = Session(short_dir, env)
    outputs: list[str] = []
    try:
        for block in blocks(text):
            if block.mark.startswith("file "):
                path = Path(session.type("pwd").strip()) / block.mark.removeprefix("file ")
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(block.body)
            elif block.lang == "sh" and not block.mark.startswith("not run"):
                outputs.append(session.type(block.body))
                if block.mark == "background":
                    wait_ready(notify)
    finally:
        session.close()
        notify.close()
    transcript = "\n".join(outputs)
    # What the page says the commands print.
    assert "arbord.servers.greeter" in transcript
    assert "arbord.servers.crowd" in transcript
    assert re.search(r"tour\.greeted\.count\s+counter\s+loud=yes\s+21\b", transcript), transcript
    assert 'tour_greeted_count_total{loud="no"} 279.0' in transcript
    assert 'tour_greeted_count_total{loud="yes"} 21.0' in transcript
    assert "bucket:     73" in transcript
    assert "no automatic rollback" in transcript
    # systemd-analyze verify printed nothing: the rendered unit and the drop-in are clean.
    assert outputs[-1].strip() == "", outputs[-1]


def wait_ready(notify: NotifyReceiver) -> None:
    notify.wait_for("READY", "1", timeout=BLOCK_TIMEOUT)
