"""End to end through a real daemon: a rollout that crashes the treatment arm is rolled back with
nobody touching it; a fault that hits both arms alike is not blamed on the flag.

The shop and its traffic are user servers (tests/daemon/migration/shop_servers.py); the windows are
seconds long so a verdict comes quickly. Each test waits on a condition read through the control
socket, with a deadline (no sleep decides anything).
"""

from __future__ import annotations

import io
import json
import os
import socket
from functools import partial
from pathlib import Path
from typing import Any

from daemon.ctl.arborctl import main
from supervisor.testing import wait_until
from tests.daemon.as_nobody import NOBODY, needs_nobody, run_as_nobody
from tests.daemon.conftest import StartArbord

DEADLINE = 60.0


def config(fault: str) -> str:
    return f"""
[tree.servers]
intensity = 1000000
period = 1.0

[flags]
store = "memory"

[flags.new_checkout]
description = "The one-page checkout"

[flags.migration]
events = ["shop.checkout"]
guarded = ["new_checkout"]
min_sample = 20
long_window = 3.0
short_window = 1.5
interval = 0.25

[servers.shop]
start = "tests.daemon.migration.shop_servers:Shop"
args = ["{fault}"]

[servers.traffic]
start = "tests.daemon.migration.shop_servers:Traffic"
"""


def request(path: Path, method: str, params: dict[str, Any] | None = None) -> Any:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(path))
        sock.sendall(json.dumps({"id": 1, "method": method, "params": params or {}}).encode() + b"\n")
        with sock.makefile("rb") as stream:
            reply = json.loads(stream.readline())
    if "error" in reply:
        raise AssertionError(f"{method}: {reply['error']}")
    return reply["result"]


until = partial(wait_until, timeout=DEADLINE)


def test_a_rollout_crashing_its_treatment_arm_is_rolled_back_by_nobody(start_arbord: StartArbord) -> None:
    running = start_arbord(config("treatment"))
    sock = running.control_socket
    why = until(
        lambda: (w := request(sock, "flags.why", {"flag": "new_checkout"}))["last_rollback"] and w,
        what="a rollback",
    )
    rollback = why["last_rollback"]
    assert rollback["actor"] == "auto-rollback"
    assert rollback["subject"] == "new_checkout"
    failed = [c for c in rollback["numbers"]["checks"] if c["outcome"] == "fail"]
    assert [c["check"] for c in failed] == ["crashes"]
    treatment_crashes, control_crashes = failed[0]["numbers"]["crashes"]
    assert treatment_crashes > 0
    assert control_crashes == 0
    history = request(sock, "migration.history", {"plan": "new_checkout"})["history"]
    assert [h["kind"] for h in history] == ["auto_rollback"]
    running.stop()


def test_a_fault_in_both_arms_is_not_blamed_on_the_flag(start_arbord: StartArbord) -> None:
    running = start_arbord(config("both"))
    sock = running.control_socket

    def judged_healthy() -> bool:
        judged = request(sock, "flags.why", {"flag": "new_checkout"})["judged"].get("new_checkout")
        if judged is None or judged["last"] is None:
            return False
        crashes = next(c for c in judged["last"]["checks"] if c["check"] == "crashes")
        return bool(
            crashes["outcome"] == "pass"
            and crashes["numbers"]["crashes"][1] > 0
            and judged["measurements"] >= 12
        )

    until(judged_healthy, what="a dozen measurements, conclusive, with crashes in the control arm")
    why = request(sock, "flags.why", {"flag": "new_checkout"})
    assert why["last_rollback"] is None
    assert why["judged"]["new_checkout"]["decision"] == "continue"
    running.stop()


def ctl(sock: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--socket", str(sock), *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_the_migration_verbs_through_arborctl(start_arbord: StartArbord) -> None:
    running = start_arbord('[flags]\nstore = "memory"\n')
    sock = running.control_socket
    code, out, _ = ctl(sock, "--json", "migration", "status")
    assert code == 0
    # A fresh daemon is at stage 3: arbord declares otp_cleanup's component flags on (its defaults).
    assert json.loads(out)["plans"]["otp_cleanup"]["stage"] == 3
    assert ctl(sock, "migration", "advance")[0] == 0
    assert ctl(sock, "migration", "rollback", "0")[0] == 0
    code, _, err = ctl(sock, "migration", "advance", "to=3")
    assert code == 1
    assert "next stage is 1, not 3" in err
    code, _, err = ctl(sock, "migration", "advance")
    assert code == 1
    assert "cool-down" in err
    assert ctl(sock, "migration", "emergency-rollback", "paged at night")[0] == 0
    code, out, _ = ctl(sock, "--json", "migration", "history")
    history = json.loads(out)["history"]
    assert [(h["kind"], h["to"]) for h in history] == [
        ("emergency_rollback", 0),
        ("rollback", 0),
        ("advance", 4),
    ]
    assert history[0]["reason"] == "paged at night"
    assert history[0]["actor"].startswith("uid:")
    code, out, _ = ctl(sock, "--json", "flags", "why", "use_ets_agent_registry")
    assert code == 0
    assert json.loads(out)["last_rollback"] is None  # people rolled it back, not the rule
    code, out, _ = ctl(sock, "migration", "why")
    assert code == 0
    assert out.splitlines()[-1] == "no automatic rollback"
    code, out, _ = ctl(sock, "migration", "status", "otp_cleanup")
    assert out.splitlines()[:2] == ["PLAN         STAGE  NAME    COOLDOWN  VERDICT", out.splitlines()[1]]
    assert out.splitlines()[1].split()[:3] == ["otp_cleanup", "0/4", "(none)"]
    running.stop()


@needs_nobody
def test_moving_a_plan_is_for_the_daemon_uid_root_and_the_writers_group(
    start_arbord: StartArbord, short_tmp: Path
) -> None:
    """Anyone who may connect reads a plan's status; moving it is a write, refused to others."""
    script = (
        "import json, socket, sys\n"
        "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile('rb')\n"
        "for i, m in enumerate(['migration.status', 'migration.advance', 'migration.emergency-rollback']):\n"
        "    params = {'reason': 'x'} if m.endswith('rollback') else {}\n"
        "    s.sendall(json.dumps({'id': i, 'method': m, 'params': params}).encode() + b'\\n')\n"
        "    reply = json.loads(f.readline())\n"
        "    print(reply.get('error', {}).get('code', 'ok'), end=' ')\n"
    )
    os.chmod(short_tmp, 0o711)  # let nobody reach the runtime directories (0710) ...
    reader = start_arbord(f'[control]\ngroup = "{NOBODY}"\n[flags]\nstore = "memory"\n')
    os.chown(reader.runtime_dir, -1, NOBODY)  # ... and traverse them, as systemd's Group= would
    assert run_as_nobody(script, str(reader.control_socket)).split() == [
        "ok",
        "permission_denied",
        "permission_denied",
    ]
    assert request(reader.control_socket, "migration.status")["plans"]["otp_cleanup"]["stage"] == 3  # unmoved
    reader.stop()
