"""OFREP in process: the mount follows a restart of the HTTP listener, the reason says STALE while the
flags are stale, and a flags server that is not running is a 500 with ``errorDetails``
(docs/flags.md, "OFREP"). The real daemon's side is tests/daemon/test_flags_ofrep_daemon.py."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from daemon.errors import ConfigError
from daemon.flags.binding import FLAGS_NAME
from daemon.flags.config import FlagsSettings
from daemon.flags.ofrep import OFREP_NAME, OfrepMount, evaluate_one
from daemon.flags.server import Flags
from daemon.telemetry.http_listener import HttpListener, HttpRequest
from daemon.telemetry.metrics_tree import HTTP_NAME
from supervisor import ChildSpec, Supervisor, crash, whereis
from supervisor.errors import NoProc, StartFailed
from supervisor.testing import settle


def children() -> list[ChildSpec]:
    return [
        ChildSpec("http", HttpListener, args=("127.0.0.1", 0, []), name=HTTP_NAME),
        ChildSpec("flags", Flags, args=(FlagsSettings(store="memory"),), name=FLAGS_NAME),
        ChildSpec("ofrep", OfrepMount, name=OFREP_NAME),
    ]


async def post(port: int, key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    def send() -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/ofrep/v1/evaluate/flags/{key}",
            data=json.dumps(body).encode(),
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            with error:
                return error.code, json.loads(error.read())

    return await asyncio.to_thread(send)


def listener() -> HttpListener:
    found = whereis(HTTP_NAME)
    assert isinstance(found, HttpListener)
    return found


async def test_the_routes_follow_the_listener_through_a_restart_and_a_replacement() -> None:
    async with Supervisor(children()) as supervisor:
        flags = whereis(FLAGS_NAME)
        assert isinstance(flags, Flags)
        await flags.enable("beta", create=True)
        first, mount = listener(), whereis(OFREP_NAME)
        assert isinstance(mount, OfrepMount)
        assert (await post(first.port, "beta", {"context": {"targetingKey": "a"}}))[1]["value"] is True
        # The listener crashes and its supervisor restarts it: the mount stays, and mounts again.
        await first.stop(crash(RuntimeError("the listener fails")))
        await settle(supervisor)  # the listener is restarted; the mount has heard of it
        second = listener()
        assert second is not first
        assert await mount.call("listener") is second
        status, answer = await post(second.port, "beta", {"context": {"targetingKey": "a"}})
        assert (status, answer["value"], answer["reason"]) == (200, True, "STATIC")
        # A reload's replacement: stopped, then started again; in between nothing is mounted.
        await supervisor.terminate_child("http")
        assert await mount.call("listener") is None
        await supervisor.restart_child("http")
        third = listener()
        assert await mount.call("listener") is third
        assert (await post(third.port, "beta", {"context": {"targetingKey": "a"}}))[0] == 200
        assert whereis(OFREP_NAME) is mount  # never restarted: a listener's restarts are not its crashes
        await supervisor.terminate_child("ofrep")
        assert third.route_for("/ofrep/v1/evaluate/flags/beta") is None  # unmounted on stop


async def test_without_a_listener_the_mount_refuses_to_start_naming_the_keys() -> None:
    with pytest.raises(StartFailed) as refused:
        await OfrepMount.start()
    cause = refused.value.reason.exception
    assert isinstance(cause, ConfigError)
    assert "[telemetry.prometheus] listen" in str(cause)


async def test_the_reason_is_stale_while_the_flags_are_stale() -> None:
    async with Supervisor(children()):
        flags = whereis(FLAGS_NAME)
        assert isinstance(flags, Flags)
        await flags.set_percentage("rollout", 50, of="actors", create=True)
        flags.set_stale(True, "the shared store is gone")
        status, answer = await post(listener().port, "rollout", {"context": {"targetingKey": "bob"}})
        assert (status, answer["reason"]) == (200, "STALE")
        assert answer["value"] is (answer["metadata"]["bucket"] <= 50)
        flags.set_stale(False)
        assert (await post(listener().port, "rollout", {"context": {"targetingKey": "bob"}}))[1][
            "reason"
        ] == "SPLIT"


async def test_a_flags_server_that_is_not_running_is_a_500_with_error_details() -> None:
    def missing() -> Flags:
        raise NoProc("no flags server is running as 'arbord.flags'")

    request = HttpRequest("POST", "/ofrep/v1/evaluate/flags/beta", {}, {}, b"{}")
    response = await evaluate_one(request, missing)
    assert response.status == 500
    assert json.loads(response.body) == {"errorDetails": "no flags server is running as 'arbord.flags'"}
