"""``arborctl``'s registry and cache verbs against the real daemon (``python -m daemon run``, one for
the module): what they print with ``--json`` (and for people), and their exit codes (0 ok, 1 the
command failed, 2 usage).

Most commands run ``daemon.ctl.arborctl.main`` in this process (the function the console script runs;
a fresh interpreter per command would cost a third of a second each); what depends on arborctl
being a process of its own runs it as one: ``--hold`` until SIGTERM, and entries owned by a
one-shot command's connection, which vanish once it exits.
"""

from __future__ import annotations

import io
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from daemon.ctl.arborctl import main
from supervisor.testing import wait_until
from tests.daemon.conftest import ROOT, RunningDaemon, ready_daemon

CONFIG = """
[cache.caches.scratch]
ttl = 60.0
"""
TIMEOUT = 10.0


@pytest.fixture(scope="module")
def daemon() -> Iterator[RunningDaemon]:
    """One daemon for the module: each test uses keys and caches of its own."""
    with ready_daemon(CONFIG) as running:
        yield running


def ctl(daemon: RunningDaemon, *argv: str) -> tuple[int, str, str]:
    """``arborctl --socket S ARGV`` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = main(["--socket", str(daemon.control_socket), *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def ctl_json(daemon: RunningDaemon, *argv: str) -> Any:
    """``arborctl --json ARGV``, which must succeed: its one JSON document."""
    code, out, err = ctl(daemon, "--json", *argv)
    assert (code, err) == (0, ""), f"arborctl {argv}: exit {code}: {err}"
    return json.loads(out)


def failure(daemon: RunningDaemon, *argv: str) -> tuple[int, str]:
    """``arborctl ARGV``, which must fail printing nothing on stdout: (exit code, stderr)."""
    code, out, err = ctl(daemon, *argv)
    assert out == ""
    assert err.startswith("arborctl: ")
    return code, err


def spawn_ctl(daemon: RunningDaemon, *argv: str) -> subprocess.Popen[bytes]:
    """``python -m daemon.ctl --socket S ARGV`` as a process of its own (unbuffered output)."""
    return subprocess.Popen(
        [sys.executable, "-m", "daemon.ctl", "--socket", str(daemon.control_socket), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"},
    )


def finish(process: subprocess.Popen[bytes]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=TIMEOUT)
    return process.returncode, out.decode(), err.decode()


def first_document(process: subprocess.Popen[bytes]) -> Any:
    """The first JSON document ``process`` prints (it goes on running)."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    text = ""
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            return json.JSONDecoder().raw_decode(text.lstrip())[0]
        except json.JSONDecodeError:
            pass  # not all of it yet
        left = deadline - time.monotonic()
        assert left > 0, f"no JSON document within {TIMEOUT} s: {text!r}"
        if select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 65536)
            assert chunk, f"arborctl exited (code {process.wait(TIMEOUT)}) before printing: {text!r}"
            text += chunk.decode()


def catches(process: subprocess.Popen[bytes], signum: signal.Signals) -> bool:
    """Whether ``process`` has a handler for ``signum`` installed (Linux: SigCgt in its status)."""
    status = Path(f"/proc/{process.pid}/status").read_text()
    caught = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught, 16) >> (signum - 1) & 1)


until = partial(wait_until, timeout=TIMEOUT)


def terminate_held(process: subprocess.Popen[bytes]) -> tuple[int, str, str]:
    """SIGTERM a ``--hold`` arborctl once it is holding (its handlers are in place)."""
    until(lambda: catches(process, signal.SIGTERM), what="arborctl --hold handles SIGTERM")
    process.send_signal(signal.SIGTERM)
    return finish(process)


def keys(listed: dict[str, Any]) -> list[str]:
    return sorted(entry["key"] for entry in listed["entries"])


# --- registry ---------------------------------------------------------------------------------------


def test_registry_verbs_print_entries_and_exit_codes(daemon: RunningDaemon) -> None:
    web1 = {"capability": ["search", "plan"], "node": "a", "load": {"cpu": 0.5}}
    web2 = {"capability": "search", "node": "b", "load": {"cpu": 0.1}}
    register = ("--hold", "registry", "register")
    holders = [  # metadata given as key=JSON, then as --params
        spawn_ctl(daemon, "--json", *register, "verbs.web-1", f"metadata={json.dumps(web1)}"),
        spawn_ctl(daemon, *register, "verbs.web-2", "--params", json.dumps({"metadata": web2})),
    ]
    one_shot = spawn_ctl(daemon, "--json", "registry", "register", "verbs.web-3")
    try:
        first = first_document(holders[0])
        assert first["owner"].startswith("task arbord.control.connection-")
        assert first == {"key": "verbs.web-1", "owner": first["owner"], "metadata": web1}
        code, out, err = finish(one_shot)  # exit 0 and the entry it registered, owned by its connection
        assert (code, err) == (0, "")
        third = json.loads(out)
        assert third == {"key": "verbs.web-3", "owner": third["owner"], "metadata": {}}
        assert third["owner"] not in (first["owner"], "")
        # ...which vanishes with it: its connection is gone, the held ones stay.
        until(lambda: ctl(daemon, "registry", "lookup", "verbs.web-3")[0] == 1, what="verbs.web-3 is gone")
        until(
            lambda: ctl(daemon, "registry", "lookup", "verbs.web-2")[0] == 0, what="verbs.web-2 is registered"
        )

        second = ctl_json(daemon, "registry", "lookup", "verbs.web-2")
        assert second == {"key": "verbs.web-2", "owner": second["owner"], "metadata": web2}
        assert ctl_json(daemon, "registry", "lookup", "key=verbs.web-1") == first
        assert ctl_json(daemon, "registry", "count") == {"count": 2}
        listed = ctl_json(daemon, "registry", "list")
        assert (keys(listed), listed["total"]) == (["verbs.web-1", "verbs.web-2"], 2)
        assert sorted(listed["entries"], key=lambda e: e["key"]) == [first, second]
        limited = ctl_json(daemon, "registry", "list", "limit=1")
        assert (len(limited["entries"]), limited["total"]) == (1, 2)
        assert keys(ctl_json(daemon, "registry", "find", "capability", "search")) == [
            "verbs.web-1",
            "verbs.web-2",
        ]
        assert ctl_json(daemon, "registry", "find", "capability", "plan") == {
            "entries": [first],
            "total": 1,
            "next": None,
        }
        assert ctl_json(daemon, "registry", "find", "attribute=node", "value=b") == {
            "entries": [second],
            "total": 1,
            "next": None,
        }
        assert ctl_json(daemon, "registry", "find", "node", "z") == {"entries": [], "total": 0, "next": None}
        busy = [{"path": "load.cpu", "op": "gt", "value": 0.25}]
        assert ctl_json(daemon, "registry", "query", json.dumps(busy)) == {
            "entries": [first],
            "total": 1,
            "next": None,
        }
        either = {"criteria": [{"path": ["node"], "op": "in", "value": ["a", "b"]}], "limit": 1}
        assert ctl_json(daemon, "registry", "query", "--params", json.dumps(either))["total"] == 2
        # For people: key: value lines.
        code, out, _ = ctl(daemon, "registry", "lookup", "verbs.web-2")
        compact = json.dumps(web2, separators=(",", ":"))
        assert (code, out) == (
            0,
            f"key:      verbs.web-2\nowner:    {second['owner']}\nmetadata: {compact}\n",
        )

        # Failures: exit 1 when the daemon refuses, 2 for a command line it cannot take.
        assert failure(daemon, "registry", "register", "verbs.web-1") == (
            1,
            f"arborctl: 'verbs.web-1' is already registered by {first['owner']}\n",
        )
        assert failure(daemon, "registry", "unregister", "verbs.web-1") == (
            1,
            f"arborctl: 'verbs.web-1' is registered by {first['owner']}, not by this connection"
            " (use force)\n",
        )
        assert failure(daemon, "registry", "lookup", "verbs.nobody") == (
            1,
            "arborctl: 'verbs.nobody' is not registered\n",
        )
        code, err = failure(daemon, "registry", "lookup")
        assert (code, err.splitlines()[1:]) == (2, ["arborctl:   key: Field required"])
        code, err = failure(daemon, "registry", "find", "colour", "red")
        assert (code, err.split(";")[0]) == (
            2,
            "arborctl: attribute 'colour' is not indexed (indexed: capability, health_status, node)",
        )
        code, err = failure(daemon, "registry", "query", json.dumps([{"path": "load", "op": "between"}]))
        assert code == 2
        assert "criteria.0.op" in err
        assert failure(daemon, "registry", "list", "limit=0")[0] == 2
        assert failure(daemon, "registry", "register", "verbs.web-4", "metadata=[1]")[0] == 2
        assert failure(daemon, "registry", "frobnicate")[0] == 2
        assert ctl_json(daemon, "registry", "count") == {"count": 2}  # none of that changed anything

        # Another connection's key: removed with force only (its holder goes on holding nothing).
        assert ctl_json(daemon, "registry", "unregister", "verbs.web-2", "force=true") == {"removed": True}
        assert ctl_json(daemon, "registry", "unregister", "verbs.web-2", "force=true") == {"removed": False}
        assert failure(daemon, "registry", "lookup", "verbs.web-2")[0] == 1
        assert holders[1].poll() is None
        # --hold ends with exit 0 on SIGTERM, after printing the reply (for people, without --json).
        code, out, err = terminate_held(holders[1])
        assert (code, err) == (0, "")
        assert out.splitlines()[0] == "key:      verbs.web-2"
        assert ctl_json(daemon, "registry", "lookup", "verbs.web-1") == first  # still held
        code, out, err = terminate_held(holders[0])
        assert (code, out.strip(), err) == (0, "", "")  # its reply was read above (but its last newline)
        until(lambda: ctl_json(daemon, "registry", "count") == {"count": 0}, what="verbs.web-1 is gone")
        assert failure(daemon, "registry", "lookup", "verbs.web-1")[0] == 1
        assert ctl_json(daemon, "registry", "list") == {"entries": [], "total": 0, "next": None}
    finally:
        for process in (*holders, one_shot):
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=TIMEOUT)


# --- caches -----------------------------------------------------------------------------------------


def test_cache_verbs_print_values_stats_and_exit_codes(daemon: RunningDaemon) -> None:
    # The default cache is this test's alone: its counters are exact.
    put = ctl_json(daemon, "cache", "put", "greeting", '{"text": "hi", "n": [1, 2]}')
    assert put["key"] == "greeting"
    assert 290 < put["ttl"] <= 300  # the default cache's TTL
    assert ctl_json(daemon, "cache", "put", "short", '"x"', "ttl=30") == {
        "key": "short",
        "ttl": pytest.approx(30, abs=5),
    }
    assert ctl_json(daemon, "cache", "get", "greeting") == {
        "key": "greeting",
        "value": {"text": "hi", "n": [1, 2]},
    }
    assert ctl_json(daemon, "cache", "get", "short", "cache=default") == {"key": "short", "value": "x"}
    code, out, _ = ctl(daemon, "cache", "get", "greeting")
    assert (code, out) == (0, 'key:   greeting\nvalue: {"text":"hi","n":[1,2]}\n')
    listed = ctl_json(daemon, "cache", "list")
    assert [k["key"] for k in listed["keys"]] == ["greeting", "short"]  # least recently written first
    assert listed["total"] == 2
    assert 0 < listed["keys"][1]["ttl"] <= 30
    assert ctl_json(daemon, "cache", "list", "limit=1")["keys"][0]["key"] == "greeting"

    assert ctl_json(daemon, "cache", "delete", "short") == {"deleted": True}
    assert ctl_json(daemon, "cache", "delete", "short") == {"deleted": False}  # nothing to delete: still ok
    assert failure(daemon, "cache", "get", "short") == (1, "arborctl: 'short' is not in cache 'default'\n")
    assert ctl_json(daemon, "cache", "stats", "default") == {
        "default": {
            "hits": 3,
            "misses": 1,
            "sets": 2,
            "evictions": 0,
            "expirations": 0,
            "deletions": 1,
            "overwrites": 0,
            "size": 1,
            "hit_rate": 0.75,
        }
    }
    every = ctl_json(daemon, "cache", "stats")
    assert sorted(every) == ["default", "scratch"]
    assert every["default"]["size"] == 1

    assert failure(daemon, "cache", "get", "greeting", "cache=nope") == (
        1,
        "arborctl: no cache named 'nope' is running\n",
    )
    assert failure(daemon, "cache", "stats", "nope")[0] == 1
    assert failure(daemon, "cache", "clear", "cache=nope")[0] == 1
    code, err = failure(daemon, "cache", "put", "k", "1", "ttl=-1")
    assert (code, err.splitlines()[1:]) == (2, ["arborctl:   ttl: Input should be greater than 0"])
    assert failure(daemon, "cache", "put", "k")[0] == 2  # no value
    assert failure(daemon, "cache", "list", "limit=0")[0] == 2
    assert failure(daemon, "cache", "get", "k", "v", "extra")[0] == 2

    assert ctl_json(daemon, "cache", "clear") == {"cleared": 1}
    assert ctl_json(daemon, "cache", "list") == {"keys": [], "total": 0, "next": None}
    assert ctl_json(daemon, "cache", "clear") == {"cleared": 0}
    assert failure(daemon, "cache", "get", "greeting")[0] == 1


def test_an_owned_cache_entry_vanishes_when_the_one_shot_arborctl_exits(daemon: RunningDaemon) -> None:
    kept = ctl_json(daemon, "cache", "put", "kept", "1", "cache=scratch")
    assert kept == {"key": "kept", "ttl": pytest.approx(60, abs=10)}
    code, out, err = finish(
        spawn_ctl(daemon, "--json", "cache", "put", "session", "2", "owned=true", "cache=scratch")
    )
    assert (code, err) == (0, "")
    assert json.loads(out)["key"] == "session"
    until(
        lambda: ctl(daemon, "cache", "get", "session", "cache=scratch")[0] == 1,
        what="the owned entry is gone",
    )
    assert ctl_json(daemon, "cache", "get", "kept", "cache=scratch") == {"key": "kept", "value": 1}
    assert [k["key"] for k in ctl_json(daemon, "cache", "list", "cache=scratch")["keys"]] == ["kept"]
