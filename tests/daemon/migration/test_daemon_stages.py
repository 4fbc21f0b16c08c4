"""End to end through a real daemon: ``otp_cleanup``'s stages 0 → 4 → 0 with ``arborctl migration``,
each migrated component's path and behaviour at each stage; a percentage rollout of the registry's
flag by actor; an automatic rollback sending the registry back to its legacy path.

The registry is driven through the control socket (an entry belongs to the connection that made
it, so one connection stays open through the walk); sampled events by a user server that emits
through the switched interface each time it is restarted (tests/daemon/migration/stage_servers.py).
Each wait is on a condition read through the control socket, with a deadline.
"""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from daemon.ctl.arborctl import main
from daemon.flags.bucket import normalized
from daemon.flags.migration.components import MIGRATED
from supervisor.testing import wait_until
from tests.daemon.conftest import StartArbord
from tests.daemon.migration.stage_servers import BOOT, WORK

DEADLINE = 60.0
until = partial(wait_until, timeout=DEADLINE)
COMPONENT_OF = {flag: component for component, flag in MIGRATED}
# Which component's flag is on at each stage of otp_cleanup (the stages are cumulative).
ON_AT = {
    0: set(),
    1: {"registry"},
    2: {"registry", "error_context"},
    3: {"registry", "error_context", "span_management", "sampled_events"},
    4: {"registry", "error_context", "span_management", "sampled_events"},
}


class Connection:
    """One control connection kept open (the registry's entries made on it live while it does)."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(str(path))
        self.stream = self.sock.makefile("rb")
        self.next_id = 0

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        self.next_id += 1
        request = {"id": self.next_id, "method": method, "params": params or {}}
        self.sock.sendall(json.dumps(request).encode() + b"\n")
        reply = json.loads(self.stream.readline())
        if "error" in reply:
            raise AssertionError(f"{method}: {reply['error']}")
        return reply["result"]

    def close(self) -> None:
        self.stream.close()
        self.sock.close()


@contextmanager
def connected(path: Path) -> Iterator[Connection]:
    connection = Connection(path)
    try:
        yield connection
    finally:
        connection.close()


def ctl(sock: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--socket", str(sock), *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def backends(conn: Connection) -> dict[str, str]:
    status = conn.call("migration.status", {"plan": "otp_cleanup"})
    return {row["component"]: row["backend"] for row in status["components"]}


def config(record: Path, extra: str = "") -> str:
    return f"""
[flags]
store = "memory"

[flags.migration]
cooldown = 0.0
interval = 3600.0
{extra}
[servers.emitter]
start = "tests.daemon.migration.stage_servers:Emitter"
args = ["{record}"]
"""


def restart_emitter(conn: Connection) -> None:
    conn.call("terminate_child", {"path": "root/servers/emitter"})
    conn.call("restart_child", {"path": "root/servers/emitter"})


def test_stages_zero_to_four_and_back_move_each_component_and_lose_nothing(
    start_arbord: StartArbord, short_tmp: Path
) -> None:
    record = short_tmp / "emitted.jsonl"
    running = start_arbord(config(record))
    sock = running.control_socket
    keys: list[str] = []
    with connected(sock) as conn:
        # A fresh daemon: arbord's otp_cleanup flags are declared on (the components) and off (the
        # enforcement): stage 3, every component on its supervised path.
        assert conn.call("migration.status", {"plan": "otp_cleanup"})["plans"]["otp_cleanup"]["stage"] == 3
        assert set(backends(conn).values()) == {"supervised"}
        code, out, _ = ctl(sock, "migration", "status")
        assert code == 0
        assert "registry" in out
        assert "use_ets_agent_registry" in out

        walk = [("rollback", "0", 0)] + [("advance", "", n) for n in range(1, 5)] + [("rollback", "0", 0)]
        for move, arg, stage in walk:
            code, _, err = ctl(sock, "migration", move, *([arg] if arg else []))
            assert code == 0, err
            status = conn.call("migration.status", {"plan": "otp_cleanup"})
            assert status["plans"]["otp_cleanup"]["stage"] == stage
            on = ON_AT[stage]
            assert backends(conn) == {c: "supervised" if c in on else "legacy" for c, _ in MIGRATED}
            flags = status["plans"]["otp_cleanup"]["flags"]
            assert {COMPONENT_OF[f] for f, value in flags.items() if value and f in COMPONENT_OF} == on
            assert flags["enforce_no_process_dict"] is (stage == 4)
            # The registry: served by the path of the stage, every earlier entry still found.
            key = f"stage-{len(keys)}"
            conn.call("registry.register", {"key": key, "metadata": {"stage": stage}})
            keys.append(key)
            held = conn.call("registry.backends")
            assert held["backend"] == ("supervised" if "registry" in on else "legacy")
            assert sum(held["entries"].values()) == len(keys)
            assert all(conn.call("registry.lookup", {"key": k})["key"] == k for k in keys)
            assert sorted(e["key"] for e in conn.call("registry.list")["entries"]) == sorted(keys)
            assert conn.call("registry.count") == {"count": len(keys)}
            # Sampled events: the emitter's start emits through the path of the stage.
            before = conn.call("telemetry.stats", {"prefix": "stages"})
            restart_emitter(conn)
            after = conn.call("telemetry.stats", {"prefix": "stages"})
            counted = received(after) - received(before)
            assert counted == (5 if "sampled_events" in on else 0)  # the tables count, the dicts do not
        code, out, _ = ctl(sock, "registry", "backends")
        assert code == 0
        assert "legacy" in out
        legacy_held = conn.call("registry.backends")["entries"]
        assert legacy_held["legacy"] == 2  # stage 0's two registrations
        assert legacy_held["supervised"] == len(keys) - 2
    assert running.stop() == 0
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    boots = [line for line in lines if tuple(line["event"]) == BOOT]
    assert len(boots) == 1  # one window, carried over every flip: never sent twice
    items = [i for line in lines if tuple(line["event"]) == WORK for i in line["measurements"]["ids"]]
    starts = len((short_tmp / "emitted.jsonl.starts").read_text().splitlines())
    assert sorted(items) == sorted(f"{n}.{i}" for n in range(1, starts + 1) for i in range(3))  # each once


def received(stats: dict[str, Any]) -> int:
    return sum(row["received"] for row in stats["events"])


def test_a_rollout_of_the_registry_flag_by_actor_sends_each_key_to_one_path(
    start_arbord: StartArbord, short_tmp: Path
) -> None:
    running = start_arbord(config(short_tmp / "emitted.jsonl"))
    sock = running.control_socket
    assert ctl(sock, "flags", "percentage", "use_ets_agent_registry", "actors", "50")[0] == 0
    keys = [f"agent-{n}" for n in range(30)]
    supervised = sum(normalized("use_ets_agent_registry", key) <= 50.0 for key in keys)
    with connected(sock) as conn:
        [registry] = [c for c in conn.call("migration.status")["components"] if c["component"] == "registry"]
        assert (registry["backend"], registry["percentage"]) == ("split", 50.0)
        for key in keys:
            conn.call("registry.register", {"key": key})
        assert conn.call("registry.backends")["entries"] == {
            "supervised": supervised,
            "legacy": 30 - supervised,
        }
        assert all(conn.call("registry.lookup", {"key": key})["key"] == key for key in keys)
        out = ctl(sock, "migration", "status", "otp_cleanup")[1]
        assert "split: 50% of actors supervised" in out
    assert 0 < supervised < 30
    running.stop()


def test_an_automatic_rollback_sends_the_registry_back_to_its_legacy_path(
    start_arbord: StartArbord, short_tmp: Path
) -> None:
    extra = """events = ["shop.checkout"]
guarded = ["use_ets_agent_registry"]
min_sample = 20
long_window = 3.0
short_window = 1.5
"""
    text = config(short_tmp / "emitted.jsonl", extra).replace("interval = 3600.0", "interval = 0.25")
    text += """
[tree.servers]
intensity = 1000000
period = 1.0

[servers.shop]
start = "tests.daemon.migration.stage_servers:Shop"

[servers.traffic]
start = "tests.daemon.migration.stage_servers:Traffic"
"""
    running = start_arbord(text)
    sock = running.control_socket
    with connected(sock) as conn:
        why = until(
            lambda: (w := conn.call("flags.why", {"flag": "use_ets_agent_registry"}))["last_rollback"] and w,
            what="an automatic rollback",
        )
        assert why["last_rollback"]["actor"] == "auto-rollback"
        assert backends(conn)["registry"] == "legacy"
        conn.call("registry.register", {"key": "after"})
        assert conn.call("registry.backends") == {
            "flag": "use_ets_agent_registry",
            "backend": "legacy",
            "entries": {"supervised": 0, "legacy": 1},
        }
        assert backends(conn)["sampled_events"] == "supervised"  # the others stay where they were
    running.stop()


def test_shadow_mode_compares_registry_lookups_through_arborctl(
    start_arbord: StartArbord, short_tmp: Path
) -> None:
    running = start_arbord(config(short_tmp / "emitted.jsonl"))
    sock = running.control_socket
    # A fresh daemon has enable_migration_monitoring on: the registry's legacy path is shadowed.
    assert ctl(sock, "flags", "disable", "use_ets_agent_registry")[0] == 0
    keys = [f"shadowed-{n}" for n in range(5)]
    with connected(sock) as conn:
        for key in keys:
            conn.call("registry.register", {"key": key, "metadata": {"n": key}})
        assert all(conn.call("registry.lookup", {"key": key})["key"] == key for key in keys)
        assert conn.call("registry.backends")["entries"] == {"supervised": 0, "legacy": 5}
        code, out, err = ctl(sock, "--json", "migration", "experiments", "otp_cleanup.registry.lookup")
        assert code == 0, err
        [shown] = json.loads(out)["experiments"]
        assert (shown["runs"], shown["matches"], shown["mismatches"]) == (5, 5, 0)
        assert ctl(sock, "flags", "enable", "use_ets_agent_registry")[0] == 0
        assert sorted(e["key"] for e in conn.call("registry.list")["entries"]) == keys  # no key twice
        assert conn.call("registry.count") == {"count": 5}
    running.stop()
