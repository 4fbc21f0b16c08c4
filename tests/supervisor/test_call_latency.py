"""Sampled call latency: ``("supervisor", "call", "stop")`` (``supervisor.telemetry.CALL_STOP``).

While someone listens, one call in ``CALL_SAMPLE_EVERY`` per server (the first included) is timed
from the send to its outcome; while nobody listens nothing is counted, so the first call after a
handler appears is the one timed. docs/telemetry.md, "Events arbord emits".
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from supervisor import telemetry
from supervisor._server import NOREPLY, Caller, Server
from supervisor.errors import CallTimeout, ServerExited
from supervisor.telemetry import CALL_SAMPLE_EVERY, CALL_STOP


class Echo(Server):
    """Replies with the request; ``"hold"`` is never answered; ``"crash"`` crashes the server."""

    log_crashes = False

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        if request == "hold":
            return NOREPLY
        if request == "crash":
            raise RuntimeError("crash on request")
        return request


async def test_one_call_in_n_per_server_is_timed_the_first_included() -> None:
    named = await Echo.start(name="latency-echo")
    unnamed = await Echo.start()
    try:
        for i in range(CALL_SAMPLE_EVERY):  # nobody listens: nothing counted
            await named.call(i)
        with telemetry.capture(CALL_STOP) as seen:
            for i in range(2 * CALL_SAMPLE_EVERY + 1):
                assert await named.call(i) == i
            await unnamed.call("x")
    finally:
        await named.stop()
        await unnamed.stop()
    assert [(c.metadata["server"], c.metadata["status"]) for c in seen] == [
        ("latency-echo", "ok"),
        ("latency-echo", "ok"),
        ("latency-echo", "ok"),
        ("", "ok"),
    ]
    for captured in seen:
        assert type(captured.measurements["duration"]) is int  # ns, as every duration on the bus
        assert captured.measurements["duration"] > 0
        assert captured.metadata["sampled_every"] == CALL_SAMPLE_EVERY


@pytest.mark.parametrize("outcome", ["timeout", "exited", "cancelled"])
async def test_a_sampled_call_that_fails_says_how(outcome: str) -> None:
    server = await Echo.start(name="latency-fail")
    try:
        with telemetry.capture(CALL_STOP) as seen:
            if outcome == "timeout":
                with pytest.raises(CallTimeout):
                    await server.call("hold", timeout=0.001)
            elif outcome == "exited":
                with pytest.raises(ServerExited):
                    await server.call("crash")
            else:
                task = asyncio.get_running_loop().create_task(server.call("hold", timeout=None))
                await asyncio.sleep(0)  # let the call reach the mailbox (a step, not a wait)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
    finally:
        if server.alive:
            await server.stop()
    assert [c.metadata["status"] for c in seen] == [outcome]
