"""Two real daemon processes sharing one real redis-server (``[flags] store = "redis"``): a change
reaches both, ``arborctl flags wait --revision N`` is the barrier, and killing the redis-server and
bringing it back loses no acknowledged change and converges both.

Waiting is what a deploy script does: ``flags wait`` with a timeout (a failure bound, not a
measurement), or, for a state no verb waits for, the status read again until it holds or a deadline
passes.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest

from daemon.ctl.arborctl import main
from daemon.flags.gates import GateOp
from supervisor.testing import wait_until
from tests.daemon.conftest import RunningDaemon, StartArbord
from tests.daemon.redis_server import RedisServer, start_redis_server
from tests.daemon.test_flags_redis import _change, _commit_as

pytestmark = pytest.mark.timeout(120)

WAIT = 20.0


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    yield from start_redis_server()


def arborctl(daemon: RunningDaemon, *argv: str) -> tuple[int, Any, str]:
    """``arborctl --json ARGV`` against ``daemon``: (exit code, the parsed output or None, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = main(["--socket", str(daemon.control_socket), "--json", *argv], out=out, err=err)
    text = out.getvalue()
    return code, json.loads(text) if text.strip() else None, err.getvalue()


until = partial(wait_until, timeout=WAIT)


def _status_is(daemon: RunningDaemon, key: str, value: object) -> Callable[[], bool]:
    return lambda: bool(arborctl(daemon, "flags", "status")[1][key] == value)


def _config(server: RedisServer) -> str:
    return f"""
[flags]
store = "redis"

[flags.redis]
url = "{server.url}"
heartbeat = 0.1
stale_after = 1.0
"""


def _value(daemon: RunningDaemon, flag: str) -> bool:
    code, reply, err = arborctl(daemon, "flags", "get", flag)
    assert code == 0, err
    return bool(reply["value"])


def _wait(daemon: RunningDaemon, revision: int, timeout: float = WAIT) -> tuple[int, Any, str]:
    return arborctl(daemon, "flags", "wait", "--revision", str(revision), "--timeout", str(timeout))


def test_two_daemons_converge_through_redis_and_survive_its_kill(
    redis_server: RedisServer, start_arbord: StartArbord
) -> None:
    a = start_arbord(_config(redis_server))
    b = start_arbord(_config(redis_server))

    # A change on A is in force on B once `flags wait` says every live daemon has its revision.
    code, record, err = arborctl(a, "flags", "enable", "checkout", "create=true")
    assert code == 0, err
    first = record["revision"]
    code, report, err = _wait(b, first)
    assert code == 0, err
    assert len(report["nodes"]) == 2
    assert all(n["revision"] >= first for n in report["nodes"])
    assert _value(b, "checkout") is True
    # So is a change another writer made (a third daemon, here the test itself).
    third = _commit_as(redis_server, "deployer", _change("search", GateOp.enable()))
    code, _, err = _wait(a, third)
    assert code == 0, err
    for daemon in (a, b):
        assert _value(daemon, "search") is True
        status = arborctl(daemon, "flags", "status")[1]
        assert status["revision"] >= third
        assert status["in_sync"] is True

    # Redis gone: the last known flags are served, marked out of sync, then stale; no write is
    # acknowledged, and the barrier cannot be passed.
    redis_server.kill()
    for daemon in (a, b):
        until(_status_is(daemon, "in_sync", False), what="out of sync")
        until(_status_is(daemon, "stale", True), what="stale")
        assert _value(daemon, "checkout") is True
    code, _, err = arborctl(a, "flags", "enable", "lost", "create=true")
    assert code == 1, err
    code, _, err = _wait(a, third, timeout=1)
    assert code == 1, err

    # Back: every acknowledged change is there, both daemons converge on the next one.
    redis_server.start()
    # Both back on the store before the next change: `flags wait` counts the daemons whose heartbeat
    # is live, and a daemon still reconnecting would not be one of them.
    for daemon in (a, b):
        until(_status_is(daemon, "stale", False), what="reconnected")
    code, record, err = arborctl(b, "flags", "disable", "checkout")
    assert code == 0, err
    assert record["revision"] == third + 1  # the acknowledged changes survived the kill; "lost" is not one
    code, report, err = _wait(a, record["revision"])
    assert code == 0, err
    assert len(report["nodes"]) == 2
    for daemon in (a, b):
        assert _value(daemon, "checkout") is False
        assert _value(daemon, "search") is True
        assert arborctl(daemon, "flags", "get", "lost")[0] == 1
        assert arborctl(daemon, "flags", "status")[1]["stale"] is False
    code, history, _ = arborctl(a, "flags", "history", "checkout")
    assert code == 0
    assert [c["op"]["verb"] for c in history["changes"]] == ["enable", "disable"]

    assert a.stop() == 0
    assert b.stop() == 0
