"""The signals arbord emits, in one place: each telemetry event with the operation that emits it and
its measurement and metadata keys, each span arbord opens itself with its attributes, and each field
of a JSON log line.

This is the source of truth the documentation is checked against (docs/telemetry.md, "Events arbord
emits", and the other tables ``daemon/telemetry/catalog_docs.py`` renders), and the one
``daemon.telemetry.metrics.KNOWN_EVENTS`` is made from, so a metric over a measurement an event does
not carry is refused at load. ``tests/daemon/test_observability.py`` performs each operation and
checks that its event goes out with exactly these keys, and that no call site in ``daemon`` or
``supervisor`` emits an event missing here.

>>> EVENTS[("supervisor", "child", "restart")].measurements
('restarts', 'intensity_left')
>>> EVENTS[("arbord", "loop", "lag")].units
(('lag', 'ns'), ('interval', 'ns'))
>>> SPANS["control"].attributes
('rpc.system', 'rpc.method')

The module is data only (standard library), so anything may import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = ["EVENTS", "LOG_FIELDS", "SPANS", "EventSignal", "LogField", "SpanSignal"]

EventName = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EventSignal:
    """One telemetry event arbord emits.

    ``metadata`` are the keys every emission carries, ``optional`` the keys only some carry (said in
    ``operation``), ``open_metadata`` what else may be merged in (a span's attributes: keys of the
    user's choosing), empty when nothing else ever is."""

    event: EventName
    operation: str
    source: str
    measurements: tuple[str, ...] = ()
    metadata: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    open_metadata: str = ""
    units: tuple[tuple[str, str], ...] = ()
    """The unit of a measurement, where it has one: ``(("duration", "ns"),)``."""

    @property
    def dotted(self) -> str:
        """The event's name with dots, as metrics and ``arborctl`` print it."""
        return ".".join(self.event)


@dataclass(frozen=True, slots=True)
class SpanSignal:
    """A span arbord opens itself: its name is ``prefix`` and a word (``control config.show``)."""

    prefix: str
    name: str
    operation: str
    source: str
    attributes: tuple[str, ...]
    optional: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LogField:
    """A key of a JSON log line (``[daemon] log_format = "json"``)."""

    key: str
    when: str
    source: str


def _events(*signals: EventSignal) -> Mapping[EventName, EventSignal]:
    table = {signal.event: signal for signal in signals}
    assert len(table) == len(signals), "an event is listed twice"
    return MappingProxyType(table)


_SERVER = "supervisor/_server.py"
_CHILDREN = "supervisor/_children.py"
_ENGINE = "supervisor/_engine.py"
_TABLES = "supervisor/tables/_base.py"
_CACHE = "daemon/cache/cache.py"
_REGISTRY = "daemon/registry/registry.py"
_POLLER = "daemon/telemetry/poller.py"
_SPANS = "daemon/spans/events.py"
_CONTEXT = "daemon/context.py"
_EXPERIMENTS = "daemon/flags/experiments/run.py"
_MIGRATION = "daemon/flags/migration/control.py"
_REDIS = "daemon/flags/redis_store.py"
_FLAGS = "daemon/flags/server.py"
_SPAN_ATTRIBUTES = "the span's attributes"
_OBSERVATIONS = ("control_duration", "candidate_duration")
_NS_OBSERVATIONS = (("control_duration", "ns"), ("candidate_duration", "ns"))
_STEP = ("from_stage", "to_stage")
_STEP_METADATA = ("plan", "actor", "reason")

EVENTS: Final[Mapping[EventName, EventSignal]] = _events(
    # --- the library: servers, supervisors, calls, handlers, tables ---
    EventSignal(("server", "start"), "a server's `init` returned", _SERVER, (), ("server", "name")),
    EventSignal(("server", "exit"), "a server exited, for any reason", _SERVER, ("uptime",),
                ("server", "name", "reason"),
                units=(("uptime", "s"),)),
    EventSignal(("supervisor", "child", "start"), "a supervisor started a child (first start or restart)",
                _ENGINE, ("restarts",), ("supervisor", "child_id")),
    EventSignal(("supervisor", "child", "exit"), "a supervisor saw a child exit", _CHILDREN, ("restarts",),
                ("supervisor", "child_id", "reason")),
    EventSignal(("supervisor", "child", "restart"), "a supervisor is about to restart a child", _ENGINE,
                ("restarts", "intensity_left"), ("supervisor", "child_id", "strategy")),
    EventSignal(("supervisor", "child", "abandoned"), "a child ignored cancellation and was abandoned",
                _CHILDREN, (), ("supervisor", "child_id")),
    EventSignal(("supervisor", "escalate"), "a supervisor exceeded its restart intensity and gives up",
                _ENGINE, ("intensity",), ("supervisor", "child_id")),
    EventSignal(("supervisor", "shutdown"), "a supervisor stopped its children and exits", _ENGINE, (),
                ("supervisor", "reason")),
    EventSignal(("supervisor", "call", "stop"),
                "a sampled `call` got its reply or failed (one in 64 per server, while someone listens)",
                _SERVER, ("duration",), ("server", "status", "sampled_every"),
                units=(("duration", "ns"),)),
    EventSignal(("telemetry", "handler", "failure"), "a telemetry handler raised and was detached",
                "supervisor/telemetry.py", ("monotonic_time", "system_time"),
                ("event_name", "handler_id", "handler_config", "kind", "reason", "stacktrace")),
    EventSignal(("table", "create"), "a table was created", _TABLES, (),
                ("table", "name", "type", "access", "owner")),
    EventSignal(("table", "transfer"), "a table passed to its heir or was given away", _TABLES, (),
                ("table", "name", "from", "to", "reason")),
    EventSignal(("table", "delete"), "a table was deleted, or died with its owner", _TABLES, ("size",),
                ("table", "name", "owner", "reason", "exit"),
                units=(("size", "rows"),)),
    # --- the daemon ---
    EventSignal(("arbord", "loop", "lag"), "the watchdog's timer fired late by more than its threshold",
                "daemon/watchdog.py", ("lag", "interval"),
                units=(("lag", "ns"), ("interval", "ns"))),
    EventSignal(("arbord", "telemetry", "slow_handler"),
                "the handlers of a sampled event overran `[telemetry.events] handler_budget`",
                "daemon/telemetry/events.py", ("duration",), ("event", "handler_ids", "detached"),
                units=(("duration", "s"),)),
    EventSignal(("arbord", "cache", "hit"), "a cache `get` found a live value", _CACHE, ("count",),
                ("cache",)),
    EventSignal(("arbord", "cache", "miss"), "a cache `get` found nothing", _CACHE, ("count",),
                ("cache", "key")),
    EventSignal(("arbord", "cache", "evict"), "a `put` over `max_size` dropped the least recent entry",
                _CACHE, ("count",), ("cache", "key")),
    EventSignal(("arbord", "cache", "expire"), "an entry past its TTL was dropped", _CACHE, ("count",),
                ("cache", "key")),
    EventSignal(("arbord", "cache", "sweep"), "a cache's periodic sweep ran", _CACHE,
                ("expired", "duration"), ("cache",),
                units=(("duration", "s"),)),
    EventSignal(("arbord", "registry", "register"), "a key was registered", _REGISTRY, ("count",),
                ("registry", "key", "owner")),
    EventSignal(("arbord", "registry", "unregister"), "a live entry was unregistered", _REGISTRY, ("count",),
                ("registry", "key", "owner")),
    EventSignal(("arbord", "registry", "lookup_miss"), "a lookup found no entry", _REGISTRY, ("count",),
                ("registry", "key")),
    EventSignal(("arbord", "registry", "owner_down"), "an owner exited: its entries were dropped",
                _REGISTRY, ("count",), ("registry", "owner"),
                units=(("count", "entries"),)),
    EventSignal(("arbord", "control", "request"), "a control request was answered",
                "daemon/control/dispatch.py", ("duration",), ("method", "error", "span_path"),
                units=(("duration", "ns"),)),
    EventSignal(("arbord", "control", "rejected"), "a bad frame or a refused peer, before any method ran",
                "daemon/control/dispatch.py", ("count",), ("reason",)),
    EventSignal(("arbord", "poller", "tree"), "a poller round (`tree`)", _POLLER,
                ("processes", "named", "tables", "restarts")),
    EventSignal(("arbord", "poller", "mailbox"), "a poller round (`mailbox`), per registered server",
                _POLLER, ("depth",), ("server",)),
    EventSignal(("arbord", "poller", "table"), "a poller round (`table`), per named table", _POLLER,
                ("size", "memory"), ("table",),
                units=(("memory", "bytes"),)),
    EventSignal(("arbord", "poller", "loop"), "a poller round (`loop`)", _POLLER, ("lag",),
                units=(("lag", "ns"),)),
    EventSignal(("arbord", "poller", "process"), "a poller round (`process`)", _POLLER, ("rss", "open_fds"),
                units=(("rss", "bytes"),)),
    EventSignal(("arbord", "poller", "failure"), "a poller measurement of yours raised and was removed",
                _POLLER, (), ("measurement", "reason")),
    EventSignal(("arbord", "span", "start"), "a span was opened", _SPANS, ("timestamp", "monotonic_time"),
                ("span_id", "span_name", "parent_id", "trace_id"), open_metadata=_SPAN_ATTRIBUTES),
    EventSignal(("arbord", "span", "stop"), "a span ended (`error` when it failed)", _SPANS,
                ("duration", "timestamp", "monotonic_time"),
                ("span_id", "span_name", "parent_id", "trace_id", "status", "span"), ("error",),
                open_metadata="the span's and the end's attributes, `exit_reason` (ended by a task's exit)",
                units=(("duration", "ns"),)),
    EventSignal(("arbord", "span", "attributes"), "attributes were added to the current span", _SPANS,
                ("timestamp",), ("span_id", "span_name", "trace_id"), open_metadata="the attributes added"),
    EventSignal(("arbord", "span", "event"), "an event was recorded in the current span", _SPANS,
                ("timestamp",), ("span_id", "span_name", "trace_id", "event_name"),
                open_metadata="the event's attributes"),
    EventSignal(("arbord", "span", "link"), "the current span was linked to another", _SPANS, ("timestamp",),
                ("span_id", "trace_id", "linked_trace_id", "linked_span_id"),
                open_metadata="the link's attributes"),
    EventSignal(("arbord", "span", "orphan_end"), "`end_span` was given a span that is not open", _SPANS,
                ("timestamp",), ("span_id", "trace_id", "reason")),
    EventSignal(("arbord", "context", "redacted"), "context values were redacted as they were written out",
                _CONTEXT, ("count",), ("keys",)),
    EventSignal(("arbord", "context", "truncated"), "context values were truncated as they were written out",
                _CONTEXT, ("count",), ("keys",)),
    EventSignal(("arbord", "operation", "stop"), "an `operation` block ended (`error`: the exception class)",
                _CONTEXT, ("duration",), ("module", "function", "correlation_id", "operation_id", "error"),
                units=(("duration", "ns"),)),
    EventSignal(("arbord", "experiment", "match"), "an experiment's candidate agreed with the control",
                _EXPERIMENTS, _OBSERVATIONS, ("name", "counted"), units=_NS_OBSERVATIONS),
    EventSignal(("arbord", "experiment", "mismatch"), "an experiment's candidate disagreed", _EXPERIMENTS,
                _OBSERVATIONS, ("name", "counted", "control", "candidate"), units=_NS_OBSERVATIONS),
    EventSignal(("arbord", "experiment", "error"), "an experiment's candidate or compare raised",
                _EXPERIMENTS, _OBSERVATIONS, ("name", "counted", "error", "where"), units=_NS_OBSERVATIONS),
    EventSignal(("arbord", "experiment", "timeout"), "an experiment's candidate overran its timeout",
                _EXPERIMENTS, _OBSERVATIONS, ("name", "counted"), units=_NS_OBSERVATIONS),
    EventSignal(("arbord", "migration", "advance"), "a migration plan moved to its next stage", _MIGRATION,
                _STEP, _STEP_METADATA),
    EventSignal(("arbord", "migration", "rollback"), "a migration plan moved back a stage", _MIGRATION,
                _STEP, _STEP_METADATA),
    EventSignal(("arbord", "migration", "emergency_rollback"), "a migration plan went back to its start",
                _MIGRATION, _STEP, _STEP_METADATA),
    EventSignal(("arbord", "migration", "auto_rollback"), "the verdict engine rolled a plan back",
                _MIGRATION, _STEP, _STEP_METADATA),
    EventSignal(("arbord", "migration", "alert"), "a rollback of any kind, or a verdict that needs a person",
                _MIGRATION, ("count",), ("subject", "alert_type", "reason", "numbers")),
    EventSignal(("arbord", "flags", "store", "out_of_sync"), "the shared flag store (Redis) was lost",
                _REDIS, (), ("node", "store", "error")),
    EventSignal(("arbord", "flags", "store", "stale"), "the shared store stayed lost past `stale_after`",
                _REDIS, ("seconds",), ("node", "store"),
                units=(("seconds", "s"),)),
    EventSignal(("arbord", "flags", "store", "in_sync"), "the shared store is back", _REDIS, ("seconds",),
                ("node", "store"),
                units=(("seconds", "s"),)),
    EventSignal(("arbord", "flags", "store", "resync"), "a catch-up read changes from the shared store",
                _REDIS, ("changes", "from", "to"), ("why", "node", "store")),
    EventSignal(("arbord", "flags", "read_only"), "the store could not persist a write: flags read-only",
                _FLAGS, (), ("store", "error")),
    EventSignal(("arbord", "flags", "writable"), "a probe write succeeded: the flags take writes again",
                _FLAGS, ("seconds", "probes", "refused"), ("store",),
                units=(("seconds", "s"),)),
)  # fmt: skip
"""Every event arbord emits, by name (docs/telemetry.md, "Events arbord emits")."""

SPANS: Final[Mapping[str, SpanSignal]] = MappingProxyType(
    {
        "control": SpanSignal("control", "control <method>", "a control request ran its method",
                              "daemon/control/dispatch.py", ("rpc.system", "rpc.method")),
        "crash": SpanSignal("crash", "crash <server>", "a server with open spans crashed (status `error`)",
                            "daemon/spans/restarts.py", ("exit_reason",)),
        "restart": SpanSignal("restart", "restart <child id>", "its supervisor decided to restart it",
                              "daemon/spans/restarts.py", ("supervisor", "child_id", "strategy")),
        "init": SpanSignal("init", "init <child id>", "the restarted incarnation's start, up to `init`",
                           "daemon/spans/restarts.py", ("child_id",)),
    }
)  # fmt: skip
"""The spans arbord opens itself, by the first word of their names (docs/spans.md)."""

_JSON = "daemon/log_json.py"
_FILTER = "daemon/context.py"
LOG_FIELDS: Final[tuple[LogField, ...]] = (
    LogField("time", "always: UTC, ISO 8601, microseconds", _JSON),
    LogField("level", "always: `debug` to `critical`", _JSON),
    LogField("logger", "always: the logger's name", _JSON),
    LogField("message", "always: the formatted message", _JSON),
    LogField("correlation_id", "inside a context block or a control request", _FILTER),
    LogField("operation_id", "inside an `operation`", _FILTER),
    LogField("trace_id", "inside a span", _FILTER),
    LogField("span_id", "inside a span", _FILTER),
    LogField("crash_id", "the record's exception has a crash record", _FILTER),
    LogField("context", "the context's fields, cleaned, when there are any", _FILTER),
    LogField("context_redacted", "how many context values were redacted, when any", _FILTER),
    LogField("context_truncated", "how many context values were truncated, when any", _FILTER),
    LogField("supervisor", "a supervisor's report (a restart, an escalation, a stop)", _CHILDREN),
    LogField("child_id", "a supervisor's report", _CHILDREN),
    LogField(
        "reason",
        "a supervisor's report of a restart or of a stop that went wrong; an unsupervised server's crash",
        _CHILDREN,
    ),
    LogField("restart_count", "a supervisor's report of a restart", _CHILDREN),
    LogField("offender", "a supervisor's report of an abandoned child", _CHILDREN),
    LogField("server", "an unsupervised server crashed", _SERVER),
    LogField("exception", "the record carries an exception: its traceback with its notes", _JSON),
    LogField("stack", "logged with `stack_info=True`", _JSON),
)
"""Every key a JSON log line of arbord's may have, in the order they are written (docs/context.md);
the structured fields a call passes (those set in ``supervisor/``) come in the call's own order."""
