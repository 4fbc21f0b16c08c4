"""End to end through a real daemon: moving ``otp_cleanup`` between stages moves the daemon's *own*
control requests' server spans between the span server's table (stage 3 and up) and the legacy span
stacks (below), and the requests' replies, log fields and ``traceparent`` handling do not change
(docs/migrations.md, "The daemon's own paths").

Which path held a request's span is seen two ways: ``arborctl spans`` lists the span of the very
``spans.list`` request that asks only when the span server's table holds it, and
``arbord.control.request.span_path.count`` counts the requests by path (``arborctl metrics``).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from tests.daemon.conftest import RunningDaemon, StartArbord
from tests.daemon.stage_daemon import DEADLINE, ctl, stage_config, until

CONFIG = stage_config(head='[daemon]\nlog_format = "json"\n\n')
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE}-{PARENT}-01"
PROBES = (
    {"id": 1, "method": "ping"},
    {"id": 2, "method": "ping", "traceparent": TRACEPARENT},
    {"id": 3, "method": "no.such.method", "traceparent": TRACEPARENT},
    {"id": 4, "method": "tree", "params": {"path": "root/nope"}, "traceparent": TRACEPARENT},
    {"id": 5, "method": "terminate_child", "params": {"path": "root/nope"}, "traceparent": TRACEPARENT},
    {"id": 6, "method": "ping", "traceparent": "00-not-a-traceparent"},
)
SPAN_PATH = "arbord.control.request.span_path.count"


def own_span_listed(sock: Path) -> bool:
    """Does ``spans.list`` list its own request's server span (held by the span server's table)?"""
    return any(s["name"] == "control spans.list" for s in ctl(sock, "spans")["spans"])


def by_path(sock: Path) -> dict[str, int]:
    """Control requests counted so far by the path that held their span."""
    rows = ctl(sock, "metrics", "prefix=arbord.control.request.span_path")
    return {row["tags"]["span_path"]: int(row["value"]) for row in rows if row["metric"] == SPAN_PATH}


def probe(sock: Path) -> list[dict[str, Any]]:
    """The probes' replies, over one connection, in order."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(DEADLINE)
        conn.connect(str(sock))
        reader = conn.makefile("rb")
        replies = []
        for request in PROBES:
            conn.sendall(json.dumps(request).encode() + b"\n")
            replies.append(json.loads(reader.readline()))
        return replies


def audit_lines(running: RunningDaemon) -> list[dict[str, Any]]:
    """The JSON log lines of the ``terminate_child`` probe (an audited method: logged with its peer)."""
    lines = [json.loads(line) for line in running.stderr().splitlines() if line.startswith("{")]
    return [line for line in lines if "control: terminate_child" in line.get("message", "")]


def served_by(running: RunningDaemon, path: str, what: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Wait until requests' spans are held by ``path``; probe; check every probe was counted on
    ``path`` and none on the other; return the replies and the audited request's log line."""
    sock = running.control_socket
    until(lambda: own_span_listed(sock) == (path == "supervised"), what=f"{what}: spans on the {path} path")
    other = "legacy" if path == "supervised" else "supervised"
    before = by_path(sock)
    logged = len(audit_lines(running))
    replies = probe(sock)
    # PROBES but the last (a bad traceparent opens no span), and the by_path request before them
    # (counted once answered).
    wanted = before.get(path, 0) + len(PROBES)

    def counted() -> dict[str, int] | None:
        seen = by_path(sock)
        return seen if seen.get(path, 0) >= wanted else None

    after = until(counted, what=f"{what}: counted")
    assert after is not None
    assert after.get(other, 0) == before.get(other, 0), f"{what}: a request span on the {other} path"
    (line,) = audit_lines(running)[logged:]
    return replies, line


def test_stage_moves_change_the_path_of_the_daemons_own_request_spans_not_their_replies(
    start_arbord: StartArbord,
) -> None:
    running = start_arbord(CONFIG)
    sock = running.control_socket
    seen = [("fresh", served_by(running, "supervised", "a fresh daemon"))]
    ctl(sock, "migration", "emergency-rollback", "the test starts at stage 0")
    seen.append(("stage 0", served_by(running, "legacy", "stage 0")))
    for stage in range(1, 5):
        ctl(sock, "migration", "advance", f"to={stage}")
        path = "supervised" if stage >= 3 else "legacy"
        seen.append((f"stage {stage}", served_by(running, path, f"stage {stage}")))
    ctl(sock, "migration", "rollback", "0")
    seen.append(("back to 0", served_by(running, "legacy", "back to stage 0")))
    running.stop()

    (_, (replies, line)) = seen[0]
    assert replies[0] == {"id": 1, "result": {"pong": True}}
    for n in (2, 3, 4):  # errors answered inside the span carry the caller's trace id
        assert replies[n]["error"]["correlation_id"] == TRACE, replies[n]
    assert replies[5]["error"]["code"] == "invalid_request"
    assert (line["trace_id"], line["correlation_id"]) == (TRACE, TRACE)
    assert line["span_id"] not in (None, PARENT)
    for what, (other_replies, other_line) in seen[1:]:
        assert other_replies == replies, what
        varying = {"span_id", "time", "timestamp", "asctime", "created", "msecs", "relativeCreated"}
        assert sorted(other_line) == sorted(line), what
        assert {k: v for k, v in other_line.items() if k not in varying} == {
            k: v for k, v in line.items() if k not in varying
        }, what
        assert other_line["span_id"] not in (None, PARENT, line["span_id"]), what
