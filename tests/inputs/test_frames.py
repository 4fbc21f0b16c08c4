"""Bad frames and bad requests against the real daemon: rows X1, X2, X4 and X5 of the bad-input
matrix (tests/inputs/README.md maps each row to its tests).

Each test checks what the row promises and that nothing was logged at error level (a bad frame is
the client's problem, not a bug of the daemon). ``shared_daemon`` serves the whole module.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

import pytest

from tests.daemon.conftest import RunningDaemon
from tests.inputs.wire import LogCursor, Wire, ping_answers

# --- X1: malformed frames ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (bytes(range(256)).replace(b"\n", b"") + b"\n", "parse_error"),
        (b'{"id": 1, "method": "p\xc3\x28ing"}\n', "parse_error"),  # invalid UTF-8 inside a string
        (
            b'{"id": 1, "method": "ping", "params": {"a": ' + b"[" * 500_000 + b"]" * 500_000 + b"}}\n",
            "parse_error",
        ),
        (
            b'{"id": 1, "method": "ping", "params": {"a": '
            + b'{"a":' * 100_000
            + b"1"
            + b"}" * 100_000
            + b"}}\n",
            "parse_error",
        ),
        (b'{"id": NaN, "method": "ping"}\n', "invalid_request"),
        (b'{"id": -Infinity, "method": "ping"}\n', "invalid_request"),
        (b'{"id": 1e999, "method": "ping"}\n', "invalid_request"),
        (b'{"id": ' + b"9" * 5000 + b', "method": "ping"}\n', "parse_error"),  # past int_max_str_digits
        (b'{"id": 1, "method": "ping", "params": {"x": NaN}}\n', "invalid_params"),
        (
            b'{"id": 1, "method": "cache.put", "params": {"key": "k", "value": 1, "ttl": NaN}}\n',
            "invalid_params",
        ),
        (
            b'{"id": 1, "method": "registry.list", "params": {"limit": ' + b"9" * 4000 + b"}}\n",
            "invalid_params",
        ),
    ],
    ids=[
        "random-bytes",
        "invalid-utf8",
        "deep-arrays",
        "deep-objects",
        "nan-id",
        "infinite-id",
        "overflowing-id",
        "5000-digit-id",
        "nan-param",
        "nan-ttl",
        "4000-digit-limit",
    ],
)
def test_a_malformed_frame_is_answered_and_the_connection_serves_on(
    shared_daemon: RunningDaemon, frame: bytes, code: str
) -> None:
    log = LogCursor(shared_daemon)
    with Wire(shared_daemon.control_socket) as wire:
        wire.send(frame)
        reply = wire.answer()
        assert reply is not None
        assert len(reply) == 1
        assert reply[0]["error"]["code"] == code
        assert len(json.dumps(reply[0])) < 4096  # the error does not echo the frame
        assert wire.call("ping") == {"id": 1, "result": {"pong": True}}
    assert log.new_errors() == []


def test_a_huge_but_legal_id_is_echoed_exactly(shared_daemon: RunningDaemon) -> None:
    huge = 10**4000 + 7  # under Python's 4300-digit limit: an integer id, echoed as sent
    with Wire(shared_daemon.control_socket) as wire:
        assert wire.call("ping", request_id=huge) == {"id": huge, "result": {"pong": True}}


def test_nan_and_infinity_in_stored_values_come_back_as_valid_json(shared_daemon: RunningDaemon) -> None:
    # JSON has no NaN: Python's parser accepts it, so a value may carry one into a cache or the
    # registry. What comes back must still be JSON a strict parser reads (the reply is never broken).
    log = LogCursor(shared_daemon)
    with Wire(shared_daemon.control_socket) as wire:
        wire.send(
            b'{"id": 1, "method": "cache.put", "params": {"key": "x1-nan", "value": [NaN, Infinity]}}\n'
        )
        assert "result" in (wire.answer() or [{}])[-1]
        wire.send(b'{"id": 2, "method": "cache.get", "params": {"key": "x1-nan"}}\n')
        line = wire.file.readline()
    strict = json.loads(line, parse_constant=_refuse_constant)
    assert strict["id"] == 2
    assert "result" in strict
    assert log.new_errors() == []


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# --- X2: oversized frames ------------------------------------------------------------------------


def test_an_oversized_frame_is_refused_before_its_newline(shared_daemon: RunningDaemon) -> None:
    # The default max_frame_bytes is 1 MiB: send a bit more and no newline at all. The refusal comes
    # while the frame is unfinished, so the daemon did not wait to buffer it whole.
    log = LogCursor(shared_daemon)
    with Wire(shared_daemon.control_socket) as wire:
        wire.send(b'{"id": 1, "method": "ping", "params": {"pad": "' + b"x" * (1 << 20))
        reply = wire.answer()
        assert reply is not None
        assert reply[0]["error"]["code"] == "frame_too_large"
        assert reply[0]["id"] is None
        assert wire.answer() is None  # and closed
    assert ping_answers(shared_daemon)
    assert log.new_errors() == []


# --- X4: unknown methods, wrong types, extra params: an error and no state change ---------------


def _state(wire: Wire) -> dict[str, Any]:
    """What the state-changing methods could change, read back (uptimes and ttls left out: they tick)."""

    def timeless(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: timeless(v) for k, v in node.items() if k not in ("uptime", "ttl")}
        if isinstance(node, list):
            return [timeless(v) for v in node]
        return node

    reads = ("tree", "registry.list", "cache.list", "tables.list", "config.show")
    state = {method: timeless(wire.call(method)["result"]) for method in reads}
    # The observability tables (metrics, sampled events, spans, crashes) count the requests themselves:
    # their sizes move with every request, refused or not; the other tables' must not.
    for table in state["tables.list"]["tables"]:
        if str(table.get("owner")).startswith(_OBSERVERS):
            table.pop("size", None)
    return state


_OBSERVERS = ("arbord.metrics", "arbord.telemetry", "arbord.spans", "arbord.crashes", "arbord.experiments")


BAD_REQUESTS: list[tuple[str, Any]] = [
    ("cache.put", {"key": 5, "value": 1}),
    ("cache.put", {"key": "x4-held", "value": 2, "extra": True}),
    ("cache.put", {"key": "x4-held", "value": 2, "ttl": "soon"}),
    ("cache.delete", {"key": ["x4-held"]}),
    ("cache.delete", {"key": "x4-held", "force": True}),
    ("cache.clear", {"cache": 0}),
    ("cache.clear", {"cache": "default", "all": True}),
    ("registry.register", {"key": "x4-new", "metadata": [1]}),
    ("registry.register", {"key": "x4-new", "owner": "me"}),
    ("registry.unregister", {"key": "x4-held", "force": "yes please"}),
    ("registry.unregister", {"key": "x4-held", "force": True, "now": 1}),
    ("start_child", {"spec": {"id": "x4", "start": "os:system", "args": ["true"]}, "path": 3}),
    ("start_child", {"spec": {"id": "x4", "start": "not a target"}}),
    ("terminate_child", {"path": None}),
    ("terminate_child", {"path": "root/cache", "reason": "because"}),
    ("restart_child", {"path": 1}),
    ("delete_child", {"path": "root/cache", "really": True}),
    ("reload", {"path": "/etc/passwd"}),
    ("shutdown", {"now": True}),
    ("shutdown", {"reason": None}),
    ("no.such.method", {}),
    ("SHUTDOWN", {}),
    ("shutdown ", {}),
]


def test_a_bad_request_is_refused_and_changes_nothing(shared_daemon: RunningDaemon) -> None:
    log = LogCursor(shared_daemon)
    with Wire(shared_daemon.control_socket) as holder, Wire(shared_daemon.control_socket) as wire:
        assert "result" in holder.call("registry.register", {"key": "x4-held", "metadata": {"a": 1}})
        assert "result" in holder.call("cache.put", {"key": "x4-held", "value": 1})
        before = _state(wire)
        for number, (method, params) in enumerate(BAD_REQUESTS):
            reply = wire.call(method, params, request_id=number)
            assert reply["id"] == number
            code = reply.get("error", {}).get("code")
            assert code == (
                "method_not_found" if method.startswith(("no.", "SHUT", "shutdown ")) else "invalid_params"
            ), (
                method,
                params,
                reply,
            )
        assert _state(wire) == before
    assert shared_daemon.process.poll() is None
    assert log.new_errors() == []


# --- X5: the client goes away mid-request or mid-response ---------------------------------------


def _reset(wire: Wire) -> None:
    """Close so the daemon sees ECONNRESET rather than an orderly EOF."""
    wire.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    wire.close()


def test_a_client_gone_mid_request_leaves_the_effect_once_or_not_at_all(shared_daemon: RunningDaemon) -> None:
    log = LogCursor(shared_daemon)
    for number in range(20):
        wire = Wire(shared_daemon.control_socket)
        frame = json.dumps(
            {"id": number, "method": "cache.put", "params": {"key": f"x5-{number}", "value": number}}
        )
        if number % 2:
            wire.send(frame.encode() + b"\n")  # whole, then gone before the reply
        else:
            wire.send(frame.encode()[: len(frame) // 2])  # half a frame, then gone
        _reset(wire) if number % 4 < 2 else wire.close()
    with Wire(shared_daemon.control_socket) as reader:
        for number in range(20):
            reply = reader.call("cache.get", {"key": f"x5-{number}"})
            if number % 2:
                # Sent whole: applied (once: the value is the one sent) or dropped, never an error.
                assert reply.get("result", {}).get("value") == number or reply["error"]["code"] == "not_found"
            else:
                assert reply["error"]["code"] == "not_found"  # half a frame is no request
    assert ping_answers(shared_daemon)
    assert log.new_errors() == []


def test_a_client_gone_mid_response_costs_nothing(shared_daemon: RunningDaemon) -> None:
    # Replies of ~230 KB each (a registry page), of which the client reads a few bytes and resets.
    log = LogCursor(shared_daemon)
    pad = "p" * 200
    with Wire(shared_daemon.control_socket) as holder:
        frames = b"".join(
            json.dumps(
                {
                    "id": i,
                    "method": "registry.register",
                    "params": {"key": f"x5-{i}", "metadata": {"pad": pad}},
                }
            ).encode()
            + b"\n"
            for i in range(1000)
        )
        holder.send(frames)
        for _ in range(1000):
            assert "result" in (holder.answer() or [{}])[-1]
        for _ in range(5):
            wire = Wire(shared_daemon.control_socket)
            # Eight pages pipelined (~1.8 MB): more than the socket buffers hold, so the daemon is
            # still writing (waiting for the peer to read) when the reset comes.
            wire.send(b'{"id": 1, "method": "registry.list", "params": {"limit": 10000}}\n' * 8)
            assert wire.sock.recv(16)  # the reply has begun
            _reset(wire)
        assert holder.call("registry.count")["result"] == {"count": 1000}  # each registered once
    assert ping_answers(shared_daemon)
    assert log.new_errors() == []
