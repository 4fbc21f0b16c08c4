"""The control protocol against an in-process control server: framing, errors, limits, isolation.

Every request gets exactly one final reply; a malformed, oversized, slow or hostile frame never
disturbs another connection or the daemon.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from daemon.control.dispatch import REJECTED
from daemon.ctl.client import ControlClient, ControlReplyError, open_control_client
from supervisor import telemetry
from supervisor.testing import wait_for
from tests.daemon.test_control_helpers import running_control


async def _raw_reply(client: ControlClient, frame: bytes) -> dict[str, Any]:
    await client.send_raw(frame)
    return await client.read_reply()


# --- well-formed requests ------------------------------------------------------------------------


async def test_ping_and_hello_answer_with_the_request_id() -> None:
    async with running_control() as h, open_control_client(h.path) as client:
        assert await client.call("ping") == {"pong": True}
        hello = await client.call("hello", {"client": "test"})
        assert hello["protocol"] == 1
        assert {"ping", "tree", "tables.dump", "shutdown"} <= set(hello["methods"])
        assert hello["peer"]["uid"] == __import__("os").geteuid()
        reply = await _raw_reply(client, b'{"id": "abc", "method": "ping"}\n')
        assert reply == {"id": "abc", "result": {"pong": True}}


async def test_pipelined_requests_each_get_one_reply_in_order() -> None:
    good = b'{"id": %d, "method": "ping"}\n'
    frames = []
    for i in range(40):
        frames.append(good % i if i % 3 else b'{"id": %d, "method": "nope"}\n' % i)
    async with running_control() as h, open_control_client(h.path) as client:
        await client.send_raw(b"".join(frames))
        replies = [await client.read_reply() for _ in frames]
        assert [r["id"] for r in replies] == list(range(40))
        assert all(("result" in r) == bool(i % 3) for i, r in enumerate(replies))
        assert await client.call("ping") == {"pong": True}  # nothing extra was queued


# --- malformed requests --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "code", "reply_id"),
    [
        (b"this is not json\n", "parse_error", None),
        (b"\xff\xfe\n", "parse_error", None),
        (b"[1, 2]\n", "invalid_request", None),
        (b'{"method": "ping"}\n', "invalid_request", None),
        (b'{"id": true, "method": "ping"}\n', "invalid_request", None),
        (b'{"id": 5}\n', "invalid_request", 5),
        (b'{"id": 6, "method": "ping", "params": [1]}\n', "invalid_request", 6),
        (b'{"id": 7, "method": "ping", "extra": 1}\n', "invalid_request", 7),
        (b'{"id": 8, "method": "no.such.method"}\n', "method_not_found", 8),
        (b'{"id": 9, "method": "ping", "params": {"x": 1}}\n', "invalid_params", 9),
        (b"[" * 100_000 + b"]" * 100_000 + b"\n", "parse_error", None),
    ],
    ids=[
        "not-json",
        "not-utf8",
        "not-object",
        "no-id",
        "bool-id",
        "no-method",
        "params-not-object",
        "unknown-field",
        "unknown-method",
        "bad-params",
        "deep-nesting",
    ],
)
async def test_malformed_frames_get_an_error_and_the_connection_stays_usable(
    frame: bytes, code: str, reply_id: int | None
) -> None:
    async with running_control() as h, open_control_client(h.path) as client:
        reply = await _raw_reply(client, frame)
        assert reply["id"] == reply_id
        assert reply["error"]["code"] == code
        assert reply["error"]["message"]
        assert await client.call("ping") == {"pong": True}


async def test_invalid_params_lists_each_problem() -> None:
    async with running_control() as h, open_control_client(h.path) as client:
        with pytest.raises(ControlReplyError) as caught:
            await client.call("tables.dump", {"name": 3, "chunk": 0})
        assert caught.value.code == "invalid_params"
        locations = sorted(tuple(e["loc"]) for e in caught.value.data["errors"])
        assert locations == [("chunk",), ("name",)]


_HUGE = "x" * 500_000


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        ({"id": 1, "method": _HUGE}, "method_not_found"),
        ({"id": 1, "method": "ping", _HUGE: 1}, "invalid_request"),
        ({"id": 1, "method": "ping", "params": {_HUGE: 1}}, "invalid_params"),
        (
            {"id": 1, "method": "ping", "params": {f"{i}{_HUGE[:5000]}": 1 for i in range(90)}},
            "invalid_params",
        ),
        ({"id": _HUGE, "method": "ping"}, "invalid_request"),
    ],
    ids=["method", "request-field", "param-name", "many-param-names", "id"],
)
async def test_an_error_reply_never_echoes_unbounded_input(request_: dict[str, Any], code: str) -> None:
    # Issue 12: a 500 KB method name came back whole in its method_not_found reply.
    async with running_control() as h, open_control_client(h.path) as client:
        await client.send_raw(json.dumps(request_).encode() + b"\n")
        reply = await client.read_reply()
        assert reply["error"]["code"] == code
        assert len(json.dumps(reply)) < 64 * 1024


async def test_blank_lines_are_ignored() -> None:
    async with running_control() as h, open_control_client(h.path) as client:
        reply = await _raw_reply(client, b"\n\r\n" + b'{"id": 1, "method": "ping"}\n')
        assert reply == {"id": 1, "result": {"pong": True}}


# --- handlers that fail --------------------------------------------------------------------------


async def test_a_crashing_handler_is_answered_internal_and_the_server_lives_on() -> None:
    async with running_control() as h, open_control_client(h.path) as client:
        for method in ("test.boom", "test.unserialisable"):
            with pytest.raises(ControlReplyError) as caught:
                await client.call(method)
            assert caught.value.code == "internal"
            assert "boom" not in caught.value.message  # no internals leak
        assert await client.call("ping") == {"pong": True}


async def test_a_request_over_its_time_is_answered_timeout() -> None:
    async with running_control(request_timeout=0.2) as h, open_control_client(h.path) as client:
        with pytest.raises(ControlReplyError) as caught:
            await client.call("test.wait")
        assert caught.value.code == "timeout"
        assert await client.call("ping") == {"pong": True}


# --- limits --------------------------------------------------------------------------------------


async def test_an_oversized_frame_is_refused_before_its_end_and_the_connection_closed() -> None:
    async with (
        running_control(max_frame_bytes=4096) as h,
        open_control_client(h.path) as bystander,
        open_control_client(h.path) as client,
    ):
        # Exactly at the limit is fine; one byte more is not.
        padded = json.dumps({"id": 1, "method": "ping", "params": {}}).encode()
        at_limit = padded[:-1] + b" " * (4096 - len(padded)) + b"}"
        assert len(at_limit) == 4096
        assert (await _raw_reply(client, at_limit + b"\n"))["result"] == {"pong": True}
        await client.send_raw(b'{"id": 2, "method": "ping", "params": {"x": "' + b"a" * 10_000)
        reply = await client.read_reply()
        assert reply["id"] is None
        assert reply["error"]["code"] == "frame_too_large"
        with pytest.raises(ConnectionError):
            await client.read_reply()
        assert await bystander.call("ping") == {"pong": True}


async def test_a_slow_frame_times_out_without_blocking_others() -> None:
    async with (
        running_control(idle_timeout=0.3) as h,
        open_control_client(h.path) as slow,
        open_control_client(h.path) as bystander,
    ):
        await slow.send_raw(b'{"id": 1, "meth')
        assert await bystander.call("ping") == {"pong": True}
        async with asyncio.timeout(5):
            with pytest.raises(ConnectionError):
                await slow.read_reply()  # closed by the daemon after idle_timeout, no reply


async def test_connections_past_the_limit_are_answered_busy() -> None:
    async with (
        running_control(max_connections=2) as h,
        open_control_client(h.path) as first,
        open_control_client(h.path) as second,
    ):
        assert await first.call("ping") == {"pong": True}
        assert await second.call("ping") == {"pong": True}
        with telemetry.capture(REJECTED) as rejected:
            async with open_control_client(h.path) as third:
                reply = await third.read_reply()
                assert reply["error"]["code"] == "busy"
                with pytest.raises(ConnectionError):
                    await third.read_reply()
        assert [(c.measurements, c.metadata) for c in rejected] == [({"count": 1}, {"reason": "busy"})]
        await second.close()
        await wait_for(lambda: _ping_succeeds(h.path))  # the slot frees once the daemon saw the close


async def _ping_succeeds(path: Path) -> bool:
    async with open_control_client(path) as client:
        try:
            reply = await client.call("ping")
        except (ControlReplyError, ConnectionError):
            return False  # still busy (answered busy, or refused before our request was written)
        return bool(reply == {"pong": True})


async def test_a_peer_that_stops_reading_is_cut_off_and_others_are_served() -> None:
    async with running_control(idle_timeout=0.5) as h:
        _, writer = await asyncio.open_unix_connection(str(h.path), limit=1024)
        # Ask for far more than the socket buffers hold, and read none of it: the daemon blocks on
        # its replies, gives up after idle_timeout and aborts, which our own writing then sees.
        async with asyncio.timeout(20):
            with pytest.raises(ConnectionError):
                await _flood(writer)
        writer.close()
        async with open_control_client(h.path) as client:
            assert await client.call("ping") == {"pong": True}


async def _flood(writer: asyncio.StreamWriter) -> None:
    for _ in range(1000):
        writer.write(b'{"id": 1, "method": "tree"}\n' * 100)
        await writer.drain()


async def test_hostile_clients_do_not_disturb_well_behaved_ones() -> None:
    """Bounded stress: 10 clients pinging while 10 others send garbage, oversized and cut frames."""
    garbage = [
        b"\x00\xff garbage\n",
        b'{"id": 1, "method": "ping", "params": {"x": "' + b"y" * 5000 + b'"}}\n',
        b"[" * 3000 + b"\n",
        b'{"id": 2, "method": "tree", "params": {"depth": -1}}\n',
        b'{"id": 3, "meth',
    ]

    async def hostile(index: int) -> None:
        async with open_control_client(h.path) as client:
            for frame in garbage[index % len(garbage) :]:
                try:
                    await client.send_raw(frame)
                    await client.read_reply()
                except ConnectionError:
                    return  # cut off for its trouble: fine

    async def polite() -> int:
        answered = 0
        async with open_control_client(h.path) as client:
            for _ in range(50):
                answered += await client.call("ping") == {"pong": True}
        return answered

    async with running_control(max_frame_bytes=4096, idle_timeout=0.5) as h:
        async with asyncio.timeout(30):
            results = await asyncio.gather(*(polite() for _ in range(10)), *(hostile(i) for i in range(10)))
        assert results[:10] == [50] * 10
        async with open_control_client(h.path) as client:
            assert await client.call("ping") == {"pong": True}


async def test_a_pipelining_client_does_not_starve_another_ones_ping() -> None:
    # 10k requests written at once are buffered in the daemon; answering them needs no await that
    # blocks, so without a yield between frames the bystander's request waited for the whole backlog
    # (issue 12). Counted, not timed: ``test.tick`` says how many requests were handled before it.
    pipelined = 10_000
    async with running_control() as h, open_control_client(h.path) as bystander:
        reader, writer = await asyncio.open_unix_connection(str(h.path), limit=1 << 20)
        try:
            writer.write(b'{"id": 1, "method": "test.tick"}\n' * pipelined)
            await reader.readline()  # the daemon is working through the backlog
            flood = asyncio.ensure_future(_read_lines(reader, pipelined - 1))
            async with asyncio.timeout(60):
                handled_before = (await bystander.call("test.tick"))["ticks"] - 1
                await flood
            assert handled_before < 1000, handled_before
        finally:
            writer.close()


async def _read_lines(reader: asyncio.StreamReader, count: int) -> None:
    for _ in range(count):
        await reader.readline()
