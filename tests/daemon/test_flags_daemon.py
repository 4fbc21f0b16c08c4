"""The flags in a real daemon: the ``flags.*`` verbs through ``arborctl``, who may write, the SQLite
store across restarts. A corrupt database refused with exit 78 and every acknowledged write
surviving SIGKILL during a write storm are the fault suite's F13 and F9 (tests/faults/)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from daemon.flags.migration.components import OTP_CLEANUP_DECLARATIONS
from tests.daemon.as_nobody import NOBODY, needs_nobody, run_as_nobody
from tests.daemon.conftest import ROOT, RunningDaemon, StartArbord

DECLARED = '[flags.beta]\nowner = "payments"\ndescription = "the new path"\n'


def arborctl(daemon: RunningDaemon, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "daemon.ctl", "--socket", str(daemon.control_socket), "--json", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def ok(daemon: RunningDaemon, *argv: str) -> Any:
    done = arborctl(daemon, *argv)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


class Client:
    """A raw control-socket client that can pipeline requests (a write storm)."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(path))
        self.reader = self.sock.makefile("rb")

    def send(self, request_id: int, method: str, params: dict[str, Any]) -> None:
        line = json.dumps({"id": request_id, "method": method, "params": params}) + "\n"
        self.sock.sendall(line.encode())

    def reply(self) -> dict[str, Any] | None:
        try:
            line = self.reader.readline()
        except OSError:
            return None
        return json.loads(line) if line else None

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


@pytest.fixture
def state_dir(short_tmp: Path) -> Path:
    return short_tmp / "state"


def test_the_verbs_through_arborctl(start_arbord: StartArbord, state_dir: Path) -> None:
    daemon = start_arbord(DECLARED, env={"STATE_DIRECTORY": str(state_dir)})
    record = ok(daemon, "flags", "enable", "beta", "reason=launch")
    assert record["revision"] == 1
    assert record["actor"] == "uid:0 (root)" if os.geteuid() == 0 else record["actor"].startswith("uid:")
    assert record["reason"] == "launch"
    assert ok(daemon, "flags", "percentage", "beta", "actors", "25")["new"]["percentage"]["value"] == 25
    assert ok(daemon, "flags", "actor", "beta", "alice", "off")["new"]["actors"] == {"alice": False}
    assert ok(daemon, "flags", "group", "beta", "staff", "on")["new"]["groups"] == {"staff": True}
    assert ok(daemon, "flags", "get", "beta")["gates"]["boolean"] is True
    listed = ok(daemon, "flags", "list")
    own = [f["flag"] for f in listed["flags"] if f["flag"] not in OTP_CLEANUP_DECLARATIONS]
    assert own == ["beta"]  # besides otp_cleanup's flags, declared by arbord
    assert listed["store"] == f"sqlite:{state_dir / 'flags.db'}"
    history = ok(daemon, "flags", "history", "beta")["changes"]
    assert [c["revision"] for c in history] == [1, 2, 3, 4]
    explained = ok(daemon, "flags", "explain", "beta", "alice")
    assert (explained["gate"], explained["value"], explained["revision"]) == ("actor", False, 4)
    before = ok(daemon, "flags", "explain", "beta", "alice", "at=2000-01-01T00:00")
    assert (before["gate"], before["value"], before["revision"]) == ("default", False, None)
    ok(daemon, "flags", "clear", "beta")
    assert ok(daemon, "flags", "get", "beta")["gates"] == {"name": "beta"}
    assert ok(daemon, "flags", "lint") == {"undeclared": {}, "never_evaluated": ["beta"], "expired": {}}


def test_bad_writes_are_refused_with_nothing_changed(start_arbord: StartArbord, state_dir: Path) -> None:
    daemon = start_arbord(DECLARED, env={"STATE_DIRECTORY": str(state_dir)})
    unknown = arborctl(daemon, "flags", "enable", "btea")
    assert unknown.returncode == 1
    assert "'btea'" in json.loads(unknown.stderr)["error"]["message"]
    for value in ("101", "-1", "NaN"):
        refused = arborctl(daemon, "flags", "percentage", "beta", "time", value)
        assert refused.returncode != 0
        assert json.loads(refused.stderr)["error"]["code"] == "invalid_params"
    assert ok(daemon, "flags", "history")["changes"] == []
    created = ok(daemon, "flags", "enable", "btea", "create=true")
    assert created["old"] is None


def test_flags_survive_a_restart_in_the_state_directory(start_arbord: StartArbord, state_dir: Path) -> None:
    env = {"STATE_DIRECTORY": str(state_dir)}
    first = start_arbord(DECLARED, env=env)
    ok(first, "flags", "actor", "beta", "ann", "on")
    ok(first, "flags", "enable", "made_at_run_time", "create=true")
    assert first.stop() == 0
    second = start_arbord(DECLARED, env=env)
    assert ok(second, "flags", "get", "beta")["gates"]["actors"] == {"ann": True}
    assert ok(second, "flags", "get", "made_at_run_time")["value"] is True
    assert ok(second, "flags", "list")["revision"] == 2


@needs_nobody
def test_writes_are_for_the_daemon_uid_root_and_the_writers_group(
    start_arbord: StartArbord, short_tmp: Path
) -> None:
    request = (
        "import json, socket, sys\n"
        "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile('rb')\n"
        "for i, m in enumerate(['flags.get', 'flags.enable']):\n"
        "    s.sendall(json.dumps({'id': i, 'method': m, 'params': {'flag': 'beta'}}).encode() + b'\\n')\n"
        "    reply = json.loads(f.readline())\n"
        "    print(reply.get('error', {}).get('code', 'ok'), end=' ')\n"
    )
    os.chmod(short_tmp, 0o711)  # let nobody reach the runtime directories (0710) ...
    reader = start_arbord(f'[control]\ngroup = "{NOBODY}"\n{DECLARED}')
    os.chown(reader.runtime_dir, -1, NOBODY)  # ... and traverse them, as systemd's Group= would
    assert run_as_nobody(request, str(reader.control_socket)).split() == ["ok", "permission_denied"]
    assert ok(reader, "flags", "history")["changes"] == []
    writer = start_arbord(f'[control]\ngroup = "{NOBODY}"\n[flags]\nwriters_group = "{NOBODY}"\n{DECLARED}')
    os.chown(writer.runtime_dir, -1, NOBODY)
    assert run_as_nobody(request, str(writer.control_socket)).split() == ["ok", "ok"]
    assert ok(writer, "flags", "history")["changes"][0]["actor"] == f"uid:{NOBODY} (nobody)"
