"""Hostile peers of the real daemon: rows X3 (slowloris, idle connections) and X7 (another uid).

The per-uid cap and the slots reserved for root are proven with another uid holding every slot it
may in ``tests/daemon/test_control_daemon.py``
(``test_another_user_holding_every_slot_it_may_cannot_keep_the_operator_out``); here, what a crowd
of slow and silent connections of one uid does to a legitimate client, and that a refused peer is
refused before its frame is read, and logged.
"""

from __future__ import annotations

import json
import os

from tests.daemon.as_nobody import needs_nobody, run_as_nobody
from tests.daemon.conftest import StartArbord
from tests.daemon.test_control_socket import _RAW_CLIENT
from tests.inputs.wire import LogCursor, Wire, ping_answers

SLOW = "[control]\nframe_timeout = 1.0\nidle_timeout = 2.0\nmax_connections = 40\nreserved_connections = 4\n"


def test_slow_and_silent_connections_are_cut_and_others_served(start_arbord: StartArbord) -> None:
    daemon = start_arbord(SLOW)
    log = LogCursor(daemon)
    slow = [Wire(daemon.control_socket) for _ in range(12)]
    silent = [Wire(daemon.control_socket) for _ in range(12)]
    try:
        for number, wire in enumerate(slow):
            wire.send(b'{"id": %d, "method": "pi' % number)  # a frame begun, never finished
        with Wire(daemon.control_socket) as legitimate:  # while all of them hang on
            assert legitimate.call("ping") == {"id": 1, "result": {"pong": True}}
            status = legitimate.call("status")["result"]
            assert status["control"]["connections"] == 25
        for wire in slow + silent:
            assert wire.answer() is None  # closed by the daemon, no reply: there was no request
    finally:
        for wire in slow + silent:
            wire.close()
    assert ping_answers(daemon)
    assert log.new_errors() == []


def test_past_max_connections_a_peer_is_told_busy_and_served_once_a_slot_frees(
    start_arbord: StartArbord,
) -> None:
    daemon = start_arbord("[control]\nmax_connections = 8\nreserved_connections = 0\n")
    held = [Wire(daemon.control_socket) for _ in range(8)]
    try:
        assert held[0].call("ping")["result"] == {"pong": True}  # all 8 accepted (served in order)
        with Wire(daemon.control_socket) as extra:
            refusal = extra.answer()
            assert refusal is not None
            assert refusal[0]["error"]["code"] == "busy"
            assert extra.answer() is None
        held.pop().close()
        # The slot is free once the daemon has seen the EOF; until then a new peer is told busy again.
        code = "busy"
        while code == "busy":
            with Wire(daemon.control_socket) as wire:
                reply = wire.call("ping")
            code = reply.get("error", {}).get("code", "ok")
        assert reply["result"] == {"pong": True}
    finally:
        for wire in held:
            wire.close()


@needs_nobody
def test_another_uid_is_refused_before_its_frame_is_read_and_logged(start_arbord: StartArbord) -> None:
    daemon = start_arbord("")
    log = LogCursor(daemon)
    os.chmod(daemon.workdir.parent, 0o711)  # an administrator's mistake: the modes let anyone in
    os.chmod(daemon.workdir, 0o711)
    os.chmod(daemon.runtime_dir, 0o711)
    os.chmod(daemon.control_socket, 0o666)
    reply = json.loads(run_as_nobody(_RAW_CLIENT, str(daemon.control_socket)))
    assert reply["id"] is None  # the request (id 1) was never read
    assert reply["error"]["code"] == "permission_denied"
    with Wire(daemon.control_socket) as wire:
        assert wire.call("status")["result"]["control"]["refused"] == 1
    logged = log.new_text()
    assert "control socket: refused pid" in logged
    assert "uid 65534" in logged
    assert log.new_errors() == []
