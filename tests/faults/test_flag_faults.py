"""The flags' durability under fire, through the ``Unit`` harness (tests/faults/unit.py).

F9: the daemon is SIGKILLed during a write storm and restarted by ``Restart=on-failure``: after each
restart the flag holds every acknowledged write and nothing that was never sent, and the audit trail
has one revision per write that landed, with no gap (3 kills in ``make test``; 50 with ``-m slow``).
F10: the state directory on a small tmpfs that fills up, then turns read-only: the flags turn
read-only (each write is refused with ``read_only``, the flags in force are unchanged, the daemon
keeps answering, ``status`` shows the health flag), and once space returns a probe write makes them
writable again by itself — no restart, no write needed. Read-only before the start: exit 78 saying
the directory is not writable (not that the database is unreadable).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import random
import shutil
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from daemon.app import ExitCode
from daemon.flags.sqlite_store import SqliteStore
from supervisor.testing import wait_for
from tests.daemon.conftest import RunningDaemon
from tests.daemon.test_flags_daemon import Client
from tests.faults.unit import Unit, UnitRules, UnitState, running_unit

DECLARED = '[flags.beta]\nowner = "payments"\ndescription = "the new path"\n'
PROBED = "[flags]\nprobe_interval = 0.2\n" + DECLARED
"""F10's: a probe write every 0.2 s while the flags are read-only (5 s by default)."""


def rpc(daemon: RunningDaemon, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """One request on a fresh connection: the whole reply (``result`` or ``error``)."""
    client = Client(daemon.control_socket)
    try:
        client.send(1, method, params)
        reply = client.reply()
    finally:
        client.close()
    assert reply is not None, f"{method}: the connection closed"
    return reply


# --- F9: SIGKILL during a flag write storm ---------------------------------------------------------


def kill_during_storms(unit: Unit, kills: int, seed: int) -> None:
    """``kills`` times: a storm of 40 pipelined writes, SIGKILL after a random number of
    acknowledgements, the harness's restart; then check the acknowledged writes all landed."""
    draw = random.Random(seed)
    acknowledged: set[str] = set()
    sent: set[str] = set()
    next_id = 0
    unit.start()
    daemon = unit.wait_ready()
    for _ in range(kills):
        actors = set(rpc(daemon, "flags.get", {"flag": "beta"})["result"]["gates"].get("actors", {}))
        assert acknowledged <= actors <= sent
        client = Client(daemon.control_socket)
        kill_after = draw.randint(1, 30)
        for _ in range(40):
            next_id += 1
            sent.add(f"w{next_id}")
            client.send(next_id, "flags.actor", {"flag": "beta", "id": f"w{next_id}", "state": "on"})
        for _ in range(kill_after):
            reply = client.reply()
            assert reply is not None
            assert "result" in reply, reply
            acknowledged.add(f"w{reply['id']}")
        daemon.signal(signal.SIGKILL)
        while (reply := client.reply()) is not None:  # replies already on their way count too
            if "result" in reply:
                acknowledged.add(f"w{reply['id']}")
        client.close()
        daemon = unit.restart_after_exit()  # Restart=on-failure; the stale socket is replaced
    actors = set(rpc(daemon, "flags.get", {"flag": "beta"})["result"]["gates"]["actors"])
    assert acknowledged <= actors <= sent
    assert unit.exits == [-signal.SIGKILL] * kills
    assert unit.stop() == ExitCode.OK
    with contextlib.closing(sqlite3.connect(unit.state_dir / "flags.db")) as db:
        revisions = [row[0] for row in db.execute("SELECT revision FROM changes ORDER BY revision")]
    assert revisions == list(range(1, len(actors) + 1))  # one revision per write that landed, no gap
    assert not [
        p.name for p in unit.state_dir.iterdir() if p.name not in {"flags.db", "flags.db-wal", "flags.db-shm"}
    ]


def test_f9_every_acknowledged_write_survives_sigkill_during_a_storm() -> None:
    """Three kills: four starts, within the unit's start limit (five in five minutes)."""
    with running_unit(DECLARED) as unit:
        kill_during_storms(unit, kills=3, seed=17)


@pytest.mark.slow
@pytest.mark.timeout(300)  # 50 daemon starts: ~25 s on an idle machine, several times that under load
def test_f9_every_acknowledged_write_survives_50_sigkills() -> None:
    """50 kills: systemd would fail the unit after five starts in five minutes; the start limit is
    lifted here (``StartLimitIntervalSec=0``) to see the store through all 50."""
    with running_unit(DECLARED, rules=UnitRules.from_unit().with_times(start_limit_interval=0.0)) as unit:
        kill_during_storms(unit, kills=50, seed=15)


# --- F10: disk full, read-only state directory -----------------------------------------------------


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``path`` (root only; the test is skipped elsewhere)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def fill(path: Path) -> Path:
    """Write zeros into ``path/filler`` until the file system is full."""
    filler = path / "filler"
    block = bytes(64 * 1024)
    with filler.open("wb", buffering=0) as out:
        while True:
            try:
                out.write(block)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
                return filler


def refused_and_unchanged(daemon: RunningDaemon, percentage: float) -> None:
    """A write is refused with ``read_only`` naming the store's failure; the flag in force did not
    move; the daemon's health says the flags are read-only."""
    before = rpc(daemon, "flags.get", {"flag": "beta"})["result"]["gates"]  # ("value" rolls the dice)
    reply = rpc(daemon, "flags.percentage", {"flag": "beta", "of": "time", "value": percentage})
    assert "error" in reply, reply
    assert reply["error"]["code"] == "read_only"
    assert "did not commit" in reply["error"]["message"]
    assert rpc(daemon, "flags.get", {"flag": "beta"})["result"]["gates"] == before
    assert rpc(daemon, "ping", {})["result"]
    health = rpc(daemon, "status", {})["result"]["health"]
    assert health["ok"] is False
    assert "did not commit" in health["flags_read_only"]["reason"]
    assert read_only(daemon)["reason"] == health["flags_read_only"]["reason"]


def healthy_again(daemon: RunningDaemon) -> None:
    """Wait (no write) until a probe write has made the flags writable: ``health`` ok again."""

    def ok() -> bool:
        return bool(rpc(daemon, "status", {})["result"]["health"]["ok"])

    asyncio.run(wait_for(ok, 15.0, what="the daemon's health back to ok"))
    assert rpc(daemon, "flags.status", {})["result"]["read_only"] is None


def read_only(daemon: RunningDaemon) -> dict[str, Any]:
    """``flags.status``'s ``read_only``: since when, why, the probes tried, the writes refused."""
    status = rpc(daemon, "flags.status", {})["result"]["read_only"]
    assert status is not None
    return dict(status)


def committed(daemon: RunningDaemon, percentage: float) -> int:
    reply = rpc(daemon, "flags.percentage", {"flag": "beta", "of": "time", "value": percentage})
    assert "result" in reply, reply
    assert rpc(daemon, "flags.get", {"flag": "beta"})["result"]["gates"]["percentage"]["value"] == percentage
    return int(reply["result"]["revision"])


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_f10_a_full_state_directory_turns_the_flags_read_only_until_space_returns() -> None:
    with running_unit(PROBED) as unit, small_tmpfs(unit.state_dir, "1m") as state:
        unit.start()
        daemon = unit.wait_ready()
        assert committed(daemon, 10) == 1
        assert rpc(daemon, "status", {})["result"]["health"] == {"ok": True}
        filler = fill(state)
        refused_and_unchanged(daemon, 20)  # the write that finds the disk full
        refused_and_unchanged(daemon, 30)  # refused without touching it
        filler.unlink()  # space returns: a probe write succeeds by itself, no restart
        healthy_again(daemon)
        assert committed(daemon, 40) == 2
        history = rpc(daemon, "flags.history", {"flag": "beta"})["result"]["changes"]
        assert [c["revision"] for c in history] == [1, 2]  # the refused writes left no trace
        assert unit.stop() == ExitCode.OK


@contextlib.contextmanager
def ext4_remounting_read_only(path: Path, image: Path) -> Iterator[Path]:
    """A small ext4 image mounted on ``path`` with ``errors=remount-ro``; writing to the yielded
    ``trigger_fs_error`` file makes the kernel turn it read-only under open files, as it does after
    a disk error (a plain ``mount -o remount,ro`` is refused while a file is open for writing)."""
    tools = [shutil.which(tool) for tool in ("mkfs.ext4", "e2fsck", "mount", "umount")]
    if None in tools:
        pytest.skip("needs mkfs.ext4, e2fsck, mount and umount")
    path.mkdir(parents=True, exist_ok=True)
    with image.open("wb") as out:
        out.truncate(8 * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, capture_output=True)
    mounted = subprocess.run(
        ["mount", "-o", "loop,errors=remount-ro", str(image), str(path)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a loop device here: {mounted.stderr.decode().strip()}")
    try:
        source = subprocess.run(
            ["findmnt", "-no", "SOURCE", str(path)], capture_output=True, text=True, check=True
        ).stdout.strip()
        yield Path("/sys/fs/ext4") / Path(source).name / "trigger_fs_error"
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def repair(path: Path, image: Path) -> None:
    """What the operator does: unmount, check the file system, mount it again."""
    subprocess.run(["umount", str(path)], check=True)
    subprocess.run(["e2fsck", "-fy", str(image)], capture_output=True, check=False)  # 1: errors fixed
    subprocess.run(["mount", "-o", "loop,errors=remount-ro", str(image), str(path)], check=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a file system needs root")
def test_f10_a_state_directory_turned_read_only_refuses_writes_and_keeps_what_was_acknowledged() -> None:
    with running_unit(PROBED) as unit:
        image = unit.base / "state.img"
        with ext4_remounting_read_only(unit.state_dir, image) as trigger:
            unit.start()
            daemon = unit.wait_ready()
            assert committed(daemon, 10) == 1
            trigger.write_text("arbord fault suite\n")  # the kernel: errors=remount-ro
            refused_and_unchanged(daemon, 20)
            refused_and_unchanged(daemon, 30)
            probes = rpc(daemon, "flags.status", {})["result"]["read_only"]["probes"]
            asyncio.run(wait_for(lambda: read_only(daemon)["probes"] > probes, 15.0))  # they fail
            assert unit.stop() == ExitCode.OK
            repair(unit.state_dir, image)  # the kernel will not remount it rw: the operator's fsck
            unit.start()
            daemon = unit.wait_ready()
            assert rpc(daemon, "flags.get", {"flag": "beta"})["result"]["gates"]["percentage"]["value"] == 10
            assert committed(daemon, 40) == 2
            assert unit.stop() == ExitCode.OK


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
@pytest.mark.parametrize("database", [False, True], ids=["empty", "with-its-database"])
def test_f10_a_read_only_state_directory_at_start_exits_78_saying_so(database: bool) -> None:
    # Read-only before the start (SQLite said "unable to open database file", which the daemon
    # reported as "not a readable flags database": corruption, of a file that was fine).
    with running_unit(DECLARED) as unit, small_tmpfs(unit.state_dir, "1m") as state:
        flags_db = state / "flags.db"
        if database:
            asyncio.run(_a_store(flags_db))
        subprocess.run(["mount", "-o", "remount,ro", str(state)], check=True)
        assert unit.run_until_settled() is UnitState.INACTIVE
        assert unit.exits == [ExitCode.CONFIG]  # RestartPreventExitStatus=78: one start only
        assert len(unit.starts) == 1
        assert unit.current is not None
        stderr = unit.current.stderr()
        assert (
            f"the flags store {flags_db} cannot be opened for writing: its directory {state} is not"
            " writable (Read-only file system)"
        ) in stderr, stderr
        assert "state directory must be writable" in stderr
        assert "not a readable flags database" not in stderr
        assert "Traceback" not in stderr


async def _a_store(path: Path) -> None:
    store = await SqliteStore.open(path)
    await store.close()
