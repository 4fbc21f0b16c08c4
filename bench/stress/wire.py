"""One pipelined control connection that checks the protocol's promise: one reply per request, in order.

The daemon answers the requests of one connection in the order sent (docs/control-protocol.md,
"Framing"), so the connection keeps what it sent in a queue and matches each reply with its head:
a reply with another ``id``, a second reply, a ``more`` frame where none is due, a frame that is not
JSON or a closed connection is a **protocol error**, counted, never retried. Latency is from the
write of a request to the read of its reply: the load is open-loop (sent on a schedule, not after
the previous reply), so queueing in the daemon shows in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.stress.histogram import Histogram

__all__ = ["Connection", "Counts", "Sent"]

Check = Callable[["Sent", dict[str, Any], float], str | None]
"""Called with each reply (and the time it was read): None if it is right, else the problem's name."""


@dataclass(slots=True)
class Sent:
    """A request in flight."""

    id: int
    method: str
    params: dict[str, Any]
    at: float
    check: Check | None = None


@dataclass(slots=True)
class Counts:
    """What one connection (or a sum of them) sent and got back."""

    sent: int = 0
    replies: int = 0
    ok: int = 0
    expected_errors: int = 0
    protocol_errors: int = 0
    wrong_answers: int = 0
    unanswered: int = 0
    skipped: int = 0
    """Requests the schedule owed but not sent, because ``max_outstanding`` were unanswered."""
    problems: dict[str, int] = field(default_factory=dict)
    latency: Histogram = field(default_factory=Histogram)

    def problem(self, name: str) -> None:
        self.problems[name] = self.problems.get(name, 0) + 1

    def merge(self, other: Counts) -> None:
        for name in ("sent", "replies", "ok", "expected_errors", "protocol_errors", "wrong_answers"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.unanswered += other.unanswered
        self.skipped += other.skipped
        for name, n in other.problems.items():
            self.problems[name] = self.problems.get(name, 0) + n
        self.latency.merge(other.latency)

    def to_json(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "replies": self.replies,
            "ok": self.ok,
            "expected_errors": self.expected_errors,
            "protocol_errors": self.protocol_errors,
            "wrong_answers": self.wrong_answers,
            "unanswered": self.unanswered,
            "skipped": self.skipped,
            "problems": dict(self.problems),
            "latency": self.latency.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Counts:
        counts = cls(**{k: v for k, v in data.items() if k not in ("latency", "problems")})
        counts.problems = dict(data.get("problems", {}))
        counts.latency = Histogram.from_json(data.get("latency"))
        return counts


class Connection:
    """A control connection: ``send`` requests without waiting, replies are matched by a reader task.

    ``expected`` maps a method to the error codes that are a correct answer to it (``not_found`` for
    a ``cache.get`` miss); any other error reply is a protocol error."""

    def __init__(self, expected: dict[str, frozenset[str]], counts: Counts) -> None:
        self.expected = expected
        self.counts = counts
        self.window = Counts()
        """Replies since the window was last taken (the soak's time series)."""
        self.outstanding: deque[Sent] = deque()
        self._next_id = 0
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()
        self._idle = asyncio.Event()

    async def open(self, path: str) -> None:
        reader, self._writer = await asyncio.open_unix_connection(path, limit=16 * 1024 * 1024)
        self._reader_task = asyncio.get_running_loop().create_task(self._read(reader))

    def send_many(self, requests: list[tuple[str, dict[str, Any], Check | None]]) -> None:
        """Write ``requests`` in one write (a pipelined batch)."""
        # The daemon may have closed the connection (a stop) before the reader saw the end of it.
        if self._writer is None or self.closed.is_set() or self._writer.is_closing():
            self.counts.problem("send on a closed connection")
            self.counts.protocol_errors += len(requests)
            return
        now = time.monotonic()
        lines = []
        for method, params, check in requests:
            self._next_id += 1
            self.outstanding.append(Sent(self._next_id, method, params, now, check))
            lines.append(json.dumps({"id": self._next_id, "method": method, "params": params}))
        self._idle.clear()
        self.counts.sent += len(requests)
        self._writer.write(("\n".join(lines) + "\n").encode())

    async def _read(self, reader: asyncio.StreamReader) -> None:
        counts = self.counts
        try:
            while line := await reader.readline():
                now = time.monotonic()
                try:
                    reply = json.loads(line)
                except ValueError:
                    counts.protocol_errors += 1
                    counts.problem("reply is not JSON")
                    continue
                if not self.outstanding:
                    counts.protocol_errors += 1
                    counts.problem("reply to nothing in flight (a second reply?)")
                    continue
                sent = self.outstanding.popleft()
                self._account(sent, reply, now)
                if not self.outstanding:
                    self._idle.set()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            counts.problem("connection reset")
        finally:
            self.closed.set()
            self._idle.set()

    def _account(self, sent: Sent, reply: Any, now: float) -> None:
        counts, window = self.counts, self.window
        counts.replies += 1
        if not isinstance(reply, dict) or reply.get("id") != sent.id or reply.get("more"):
            counts.protocol_errors += 1
            counts.problem("reply out of order, or a 'more' frame")
            return
        latency = now - sent.at
        counts.latency.add(latency)
        window.latency.add(latency)
        window.replies += 1
        error = reply.get("error")
        if error is not None:
            code = error.get("code") if isinstance(error, dict) else None
            if code in self.expected.get(sent.method, frozenset()):
                counts.expected_errors += 1
            else:
                counts.protocol_errors += 1
                counts.problem(f"{sent.method}: {code}")
                return
        else:
            counts.ok += 1
        if sent.check is not None:
            problem = sent.check(sent, reply, now)
            if problem is not None:
                counts.wrong_answers += 1
                counts.problem(problem)

    def take_window(self) -> Counts:
        window, self.window = self.window, Counts()
        return window

    async def drain(self, timeout: float) -> None:
        """Wait until every request is answered (or ``timeout``), then close; count the unanswered."""
        if self.outstanding and not self.closed.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._idle.wait()
        self.counts.unanswered += len(self.outstanding)
        self.outstanding.clear()
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader_task
