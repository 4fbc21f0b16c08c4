"""Crash → restart in the trace: a crash, the supervisor's restart decision and the new incarnation's
start, as three spans of the crashed server's trace.

When a server that had opened spans crashes, the span server's exit callback (``SpanServer._exited``)
ends its open spans (``abandoned``, with the exit reason) and records one more span, ``crash <server>``
(status ``error``), the child of the innermost span the crash left open (or the root of a new trace).
The supervisor's telemetry then tells the rest, all in the supervisor's task, with no change to
``supervisor``:

- ``("supervisor", "child", "exit")`` with the crash's exception: the crash is matched to its child;
- ``("supervisor", "child", "restart")``: a span ``restart <child id>`` (the decision: supervisor,
  strategy), child of the crash span, and a span ``init <child id>`` opened under it;
- ``("supervisor", "child", "start")``: the new incarnation is up, ``init <child id>`` ends ``ok``,
  linked to the crashed incarnation's last span (``tests/daemon/test_spans_restart.py``).

Pending entries are bounded (``_MAX_PENDING``): a crash no supervisor restarts is forgotten, oldest
first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from daemon.context import SpanRef
from daemon.spans.events import emit_start, emit_stop
from daemon.spans.ids import new_span_id, new_trace_id
from daemon.spans.record import LiveSpan, SpanLink
from supervisor import Exit, telemetry

__all__ = ["RestartTracer"]

_CHILD_EXIT: Final = ("supervisor", "child", "exit")
_CHILD_RESTART: Final = ("supervisor", "child", "restart")
_CHILD_START: Final = ("supervisor", "child", "start")
_MAX_PENDING: Final = 256


def _bounded(pending: dict[Any, Any]) -> None:
    while len(pending) > _MAX_PENDING:
        del pending[next(iter(pending))]


def instant_span(name: str, parent: SpanRef | None, attributes: dict[str, object], task: object) -> LiveSpan:
    """A span that is not a row of any task (the supervisor's own bookkeeping): started now, its
    start emitted; the caller ends it with ``emit_stop`` after marking it ended."""
    if parent is None:
        ref = SpanRef(new_trace_id(), new_span_id(), True)
    else:
        ref = SpanRef(parent.trace_id, new_span_id(), parent.sampled, parent)
    live = LiveSpan(name, ref, None, attributes, task)
    emit_start(live)
    return live


class RestartTracer:
    """The crash → restart spans of one span server (attached to the supervisor events while it runs)."""

    def __init__(self, handler_id: str) -> None:
        self._handler_id = handler_id
        # id(exception) -> (exception, crash span, last span): crashes waiting for their supervisor.
        self._crashes: dict[int, tuple[BaseException, SpanRef, SpanRef]] = {}
        # (supervisor, child id) -> (crash span, last span): exits waiting for their restart.
        self._exits: dict[tuple[object, object], tuple[SpanRef, SpanRef]] = {}
        # (supervisor, child id) -> (init span, last span): restarts waiting for the new start.
        self._inits: dict[tuple[object, object], tuple[LiveSpan, SpanRef]] = {}

    def attach(self) -> None:
        telemetry.attach_many(self._handler_id, [_CHILD_EXIT, _CHILD_RESTART, _CHILD_START], self._on_event)

    def detach(self) -> None:
        try:
            telemetry.detach(self._handler_id)
        except Exception:  # already detached (a handler that raised is detached by the bus)
            pass

    def crashed(self, server: object, reason: Exit, innermost: SpanRef | None) -> None:
        """A server with spans crashed: record its ``crash`` span; ``innermost`` is the innermost span
        the crash left open (the crash span's parent), if any."""
        exception = reason.exception
        if exception is None:
            return
        name = getattr(server, "name", None) or type(server).__name__
        error = f"{type(exception).__name__}: {exception}"
        live = instant_span(f"crash {name}", innermost, {"exit_reason": repr(reason)}, server)
        live.ended = True
        emit_stop(live, "error", error)
        self._crashes[id(exception)] = (exception, live.ref, innermost or live.ref)
        _bounded(self._crashes)

    def _on_event(
        self,
        event: tuple[str, ...],
        measurements: Mapping[str, float],
        metadata: Mapping[str, Any],
        config: Any,
    ) -> None:
        key = (metadata.get("supervisor"), metadata.get("child_id"))
        if event == _CHILD_EXIT:
            self._fail_init(key, metadata.get("reason"))
            reason = metadata.get("reason")
            exception = getattr(reason, "exception", None)
            if exception is None:
                return
            found = self._crashes.pop(id(exception), None)
            if found is not None and found[0] is exception:
                self._exits[key] = (found[1], found[2])
                _bounded(self._exits)
        elif event == _CHILD_RESTART:
            exited = self._exits.pop(key, None)
            if exited is None:
                return
            crash, last = exited
            attributes: dict[str, object] = {"supervisor": str(key[0]), "child_id": str(key[1])}
            strategy = metadata.get("strategy")
            if isinstance(strategy, str):
                attributes["strategy"] = strategy
            decision = instant_span(f"restart {key[1]}", crash, attributes, None)
            decision.ended = True
            emit_stop(decision, "ok")
            init = instant_span(f"init {key[1]}", decision.ref, {"child_id": str(key[1])}, None)
            init.links = [SpanLink(last.trace_id, last.span_id, {"arbord.link": "crashed incarnation"})]
            self._inits[key] = (init, last)
            _bounded(self._inits)
        else:  # _CHILD_START
            pending = self._inits.pop(key, None)
            if pending is not None:
                init = pending[0]
                init.ended = True
                emit_stop(init, "ok")

    def _fail_init(self, key: tuple[object, object], reason: object) -> None:
        pending = self._inits.pop(key, None)
        if pending is not None:
            init = pending[0]
            init.ended = True
            emit_stop(init, "error", repr(reason))
