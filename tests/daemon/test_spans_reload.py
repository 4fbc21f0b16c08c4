"""A reload that changes ``[spans]`` keeps the spans in flight: the span server takes the new limits
in place, so a span opened before the reload is still listed, ends once (one stop event, ``end_span``
True), and a task that dies with one open still has it ended (issue 14; daemon/spans/component.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from daemon.app import Daemon, ExitCode
from daemon.settings import load_settings
from daemon.spans import SPANS_NAME, STOP, SpanServer, end_span, start_span
from supervisor import whereis
from supervisor.testing import capture, wait_until
from tests.daemon.conftest import StartArbord
from tests.daemon.test_process import arborctl
from tests.daemon.test_tree import RecordingNotifier


@dataclass
class Running:
    daemon: Daemon
    config: Path
    run: asyncio.Task[int]

    def write(self, text: str) -> None:
        self.config.write_text(f'[daemon]\nruntime_dir = "{self.daemon.runtime_dir}"\n{text}')


@pytest.fixture
async def running(short_tmp: Path) -> AsyncIterator[Running]:
    config = short_tmp / "arbord.toml"
    config.write_text(f'[daemon]\nruntime_dir = "{short_tmp / "run"}"\n')
    notifier = RecordingNotifier()
    daemon = Daemon(load_settings(config, {}), config_path=config, environ={}, notifier=notifier)
    task = asyncio.create_task(daemon.run())
    await notifier.wait_for("READY")
    yield Running(daemon, config, task)
    daemon.request_shutdown()
    async with asyncio.timeout(10):
        assert await task == ExitCode.OK


async def _next_turn() -> None:
    """Return once the callbacks scheduled so far (a finished task's done callbacks) have run."""
    loop = asyncio.get_running_loop()
    turn = loop.create_future()
    loop.call_soon(turn.set_result, None)
    await turn


def _server() -> SpanServer:
    server = whereis(SPANS_NAME)
    assert isinstance(server, SpanServer)
    return server


async def test_a_spans_reload_keeps_the_spans_in_flight_and_they_end_once(running: Running) -> None:
    before = _server()
    opened, release = asyncio.Event(), asyncio.Event()

    async def holder() -> bool:
        ref = start_span("held across the reload", {"a": 1, "b": 2})
        opened.set()
        await release.wait()
        return end_span(ref)

    with capture(STOP) as stops:
        task = asyncio.create_task(holder())
        await opened.wait()
        assert [s.name for s in before.open_spans()] == ["held across the reload"]
        running.write("[spans]\nmax_attributes = 1\n")
        reply = await running.daemon.reload()
        assert (reply["changed"], reply["errors"]) == (["spans"], [])
        assert "spans" not in reply["restarted"]
        after = _server()
        assert after is before  # updated in place: the table of live spans is still there
        assert [s.name for s in after.open_spans()] == ["held across the reload"]
        assert after.limits.max_attributes == 1  # the new limits apply to the next spans
        release.set()
        assert await task  # end_span found it: not an orphan end
    assert [(c.metadata["span_name"], c.metadata["status"]) for c in stops] == [
        ("held across the reload", "ok")
    ]
    assert after.open_spans() == []


async def test_a_task_dying_after_a_spans_reload_has_its_span_ended_once(running: Running) -> None:
    opened, release = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        start_span("left open across the reload")
        opened.set()
        await release.wait()

    with capture(STOP) as stops:
        task = asyncio.create_task(holder())
        await opened.wait()
        running.write("[spans]\ntraceback = true\n")
        assert (await running.daemon.reload())["changed"] == ["spans"]
        release.set()
        await task
        await _next_turn()  # the task's done callbacks run on the loop's next turn
    assert [(c.metadata["span_name"], c.metadata["status"]) for c in stops] == [
        ("left open across the reload", "abandoned")
    ]
    assert _server().open_spans() == []


HOLDER = '[servers.holder]\nstart = "tests.daemon.span_servers:HoldsASpan"\n'


def test_the_control_reload_of_spans_keeps_a_user_servers_span_listed(start_arbord: StartArbord) -> None:
    running = start_arbord(HOLDER)

    def held() -> list[dict[str, object]]:
        shown = arborctl(running, "--json", "spans")
        return [s for s in json.loads(shown.stdout)["spans"] if s["name"] == "held by a user server"]

    (span,) = wait_until(held, 20, what="the user server's span is listed")
    running.write_config(HOLDER + "[spans]\nmax_attributes = 4\n")
    reloaded = arborctl(running, "--json", "reload")
    assert reloaded.returncode == 0, reloaded.stderr
    reply = json.loads(reloaded.stdout)
    assert reply["changed"] == ["spans"], reply
    (again,) = held()
    assert {**again, "age": 0} == {**span, "age": 0}  # the same span, still in flight
    assert running.stop() == 0
