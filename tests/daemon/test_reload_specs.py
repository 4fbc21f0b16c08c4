"""A reload applied in place leaves the root with the new child specs: a child that crashes after
the reload comes back with the settings in force, not with those from before it
(daemon/app_reload.py ``follow_specs``, ``Supervisor.update_childspec``).

Three components take a reload in place without restarting their root child: ``[spans]`` (the span
server's limits), ``[control]`` limits and timeouts (the control server), and ``[servers.*]`` (the
user servers, diffed under the running ``servers`` supervisor). Each test reloads, crashes the
child, and checks the child that came back. Before the fix each restart took the spec from before
the reload: the old limits, the old drain budget, the user servers of the previous file.
"""

from __future__ import annotations

import json
from pathlib import Path

from daemon.control import CONTROL_SERVER_NAME
from daemon.servers import SERVERS_ID, SERVERS_NAME
from daemon.spans import SPANS_NAME, SpanServer
from daemon.spans.component import SPANS_ID
from supervisor import ChildSpec, Server, Supervisor, whereis
from supervisor.testing import settle, wait_until
from tests.daemon.conftest import StartArbord
from tests.daemon.test_process import Crasher, arborctl
from tests.faults.in_process import running_in_process

IDLE = 'start = "supervisor:Server"\n'
# With intensity 0 the servers supervisor gives up at its first crashing child; the root restarts it
# from its spec (the root's own intensity allows it).
ONE_CRASH_KILLS_SERVERS = "[tree.servers]\nintensity = 0\n"


def _reload_to(short_tmp: Path, text: str) -> None:
    (short_tmp / "arbord.toml").write_text(f'[daemon]\nruntime_dir = "{short_tmp / "run"}"\n{text}')


async def _crash(root: Supervisor, name: str) -> Server:
    """Kill the server registered as ``name`` (a child of ``root``) and return the one ``root``
    restarted in its place, its init done."""
    before = whereis(name)
    assert before is not None
    before.kill()
    await before.wait()  # the exit is in the root's mailbox now
    await settle(root)  # ... and handled: the restart's init has returned
    again = whereis(name)
    assert again is not None
    assert again is not before
    return again


async def _crash_the_servers_supervisor(root: Supervisor) -> Supervisor:
    """Start a child that crashes under ``arbord.servers`` (intensity 0): the supervisor gives up and
    the root restarts it from the spec it holds. Returns the new one."""
    servers = whereis(SERVERS_NAME)
    assert isinstance(servers, Supervisor)
    await servers.start_child(ChildSpec("crasher", Crasher))
    await servers.wait()
    await settle(root)
    again = whereis(SERVERS_NAME)
    assert isinstance(again, Supervisor)
    assert again is not servers
    return again


async def test_a_span_server_crashing_after_a_spans_reload_comes_back_with_the_new_limits(
    short_tmp: Path,
) -> None:
    async with running_in_process(short_tmp) as running:
        _reload_to(short_tmp, "[spans]\nmax_attributes = 3\n")
        reply = await running.daemon.reload()
        assert (reply["ok"], reply["changed"], reply["restarted"]) == (True, ["spans"], [])
        assert (await running.daemon.root.get_childspec(SPANS_ID)).args[0].max_attributes == 3
        again = await _crash(running.daemon.root, SPANS_NAME)
        assert isinstance(again, SpanServer)
        assert again.limits.max_attributes == 3


async def test_a_control_server_crashing_after_a_limits_reload_comes_back_with_them(short_tmp: Path) -> None:
    async with running_in_process(short_tmp) as running:
        _reload_to(short_tmp, "[control]\nmax_connections = 9\ndrain_timeout = 1.0\n")
        reply = await running.daemon.reload()
        assert (reply["ok"], reply["changed"], reply["restarted"]) == (True, ["control"], [])
        spec = await running.daemon.root.get_childspec("control")
        assert spec.shutdown == 3.0  # drain_timeout + 2: the stop budget of the next incarnation
        await _crash(running.daemon.root, CONTROL_SERVER_NAME)
        spec = await running.daemon.root.get_childspec("control")
        assert (spec.shutdown, spec.args[0].current.max_connections) == (3.0, 9)
        await running.ping()


async def test_the_servers_supervisor_crashing_after_a_reload_restarts_the_new_user_servers(
    short_tmp: Path,
) -> None:
    async with running_in_process(short_tmp, ONE_CRASH_KILLS_SERVERS + "[servers.a]\n" + IDLE) as running:
        _reload_to(short_tmp, ONE_CRASH_KILLS_SERVERS + "[servers.b]\n" + IDLE)
        reply = await running.daemon.reload()
        assert (reply["ok"], reply["restarted"]) == (True, ["servers.b", "servers.a"])
        again = await _crash_the_servers_supervisor(running.daemon.root)
        assert [info.id for info in await again.which_children()] == ["b"]
        assert whereis(f"{SERVERS_NAME}.a") is None


async def test_a_rolled_back_reload_puts_the_previous_spec_back(short_tmp: Path) -> None:
    async with running_in_process(short_tmp) as running:
        root = running.daemon.root
        _reload_to(
            short_tmp,
            "[spans]\nmax_attributes = 3\n"
            + '[servers.never]\nstart = "tests.daemon.lifecycle_servers:NeverStarts"\nstart_timeout = 0.2\n',
        )
        reply = await running.daemon.reload()  # spans in place, then servers.never fails: all undone
        assert reply["ok"] is False
        assert reply["rolled_back"] == ["spans"]  # the spec's undo is part of the spans step
        assert (await root.get_childspec(SPANS_ID)).args[0].max_attributes == 128
        again = await _crash(running.daemon.root, SPANS_NAME)
        assert isinstance(again, SpanServer)
        assert again.limits.max_attributes == 128


def test_arborctl_reload_then_a_crash_of_the_servers_supervisor_keeps_the_reloaded_servers(
    start_arbord: StartArbord,
) -> None:
    running = start_arbord(ONE_CRASH_KILLS_SERVERS + "[servers.a]\n" + IDLE)
    running.write_config(ONE_CRASH_KILLS_SERVERS + "[servers.a]\n" + IDLE + "[servers.b]\n" + IDLE)
    reloaded = arborctl(running, "--json", "reload")
    assert reloaded.returncode == 0, reloaded.stderr
    assert json.loads(reloaded.stdout)["restarted"] == ["servers.b"]
    crasher = json.dumps({"id": "crasher", "start": "tests.daemon.test_process:Crasher"})
    started = arborctl(running, "--json", "start", f"root/{SERVERS_ID}", crasher)
    assert started.returncode == 0, started.stderr

    def restarted_servers() -> list[str] | None:
        tree = json.loads(arborctl(running, "--json", "tree").stdout)
        (servers,) = [child for child in tree["children"] if child["id"] == SERVERS_ID]
        if servers["restarts"] < 1 or servers["state"] != "running":
            return None
        return sorted(child["id"] for child in servers.get("children", []))

    assert wait_until(restarted_servers, 20, what="the servers supervisor restarted") == ["a", "b"]
    assert running.stop() == 0
