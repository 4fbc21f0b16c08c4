"""Metrics: definitions (after ``telemetry_metrics``), aggregation in handlers over the metrics
server's tables, arbord's default metrics, and bad input at configuration load and at run time."""

from __future__ import annotations

import asyncio
import inspect
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest

from daemon.app import ExitCode
from daemon.cli import main
from daemon.component import verb_table
from daemon.console.config import ConsoleSettings
from daemon.console.server import ConsoleServer
from daemon.ctl.client import ControlReplyError, open_control_client
from daemon.errors import ConfigError, ControlError
from daemon.settings import load_settings
from daemon.telemetry.aggregation import DROPPED, METRICS_NAME, MetricsServer, Series, metrics_server
from daemon.telemetry.component import TELEMETRY
from daemon.telemetry.config import TelemetrySettings
from daemon.telemetry.metrics import (
    DEFAULT_METRICS,
    Kind,
    Metric,
    counter,
    distribution,
    last_value,
    sum_of,
    summary,
)
from daemon.telemetry.metrics_config import MetricsSettings
from daemon.telemetry.metrics_verbs import metrics_methods
from daemon.verbs.codes import ErrorCode
from daemon.verbs.component import CORE
from daemon.verbs.render import render_result
from supervisor import ChildSpec, Server, Supervisor, telemetry, whereis
from tests.daemon.switched_paths import paths
from tests.daemon.test_console import TelnetSession
from tests.daemon.test_control_helpers import running_control


async def started(*metrics: Metric, name: str | None = None) -> MetricsServer:
    return await MetricsServer.start(list(metrics), name=name)


@pytest.fixture
async def server(request: pytest.FixtureRequest) -> AsyncIterator[MetricsServer]:
    metrics: list[Metric] = request.param
    running = await started(*metrics)
    yield running
    await running.stop()


def values(server: MetricsServer, name: str) -> dict[tuple[str, ...], Any]:
    return {tuple(s.tags.values()): s.value for s in server.series() if s.metric.name == name}


def dropped(server: MetricsServer) -> dict[tuple[str, str], int]:
    return {(s.tags["metric"], s.tags["reason"]): s.value for s in server.series() if s.metric is DROPPED}


# --- definitions -----------------------------------------------------------------------------------


def test_the_name_says_the_event_and_the_measurement_as_in_telemetry_metrics() -> None:
    metric = sum_of("myapp.job.stop.rows", tags=("queue",))
    assert (metric.kind, metric.event, metric.measurement, metric.tags) == (
        Kind.SUM,
        ("myapp", "job", "stop"),
        "rows",
        ("queue",),
    )
    other = last_value("myapp.depth", event=("myapp", "queue", "poll"), measurement="length")
    assert (other.event, other.measurement) == (("myapp", "queue", "poll"), "length")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: counter("single"), "dotted words"),
        (lambda: counter("a.b", event=()), "non-empty tuple"),
        (lambda: distribution("a.b", buckets=(1.0, 0.5)), "increasing order"),
        (lambda: distribution("a.b", buckets=(1.0, math.inf)), "finite upper bounds"),
        (lambda: summary("a.b", quantiles=(0.5, 1.0)), "between 0 and 1"),
        (lambda: last_value("a.b", unit=("second", "byte")), "cannot convert second to byte"),
        (lambda: last_value("a.b", unit=("fortnight", "second")), "unknown unit 'fortnight'"),
    ],
)
def test_a_bad_definition_is_a_value_error_naming_the_value(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


# --- aggregation -----------------------------------------------------------------------------------

JOB = ("job", "done")


@pytest.mark.parametrize("server", [[counter("job.done.count", tags=("queue",))]], indirect=True)
async def test_a_counter_counts_events_per_tag_value(server: MetricsServer) -> None:
    for queue in ("fast", "fast", "slow"):
        telemetry.execute(JOB, {}, {"queue": queue})
    telemetry.execute(JOB, {}, {})  # a missing tag is the empty string
    assert values(server, "job.done.count") == {("fast",): 2, ("slow",): 1, ("",): 1}


@pytest.mark.parametrize(
    "server",
    [[sum_of("job.done.rows"), last_value("job.done.took", unit=("millisecond", "second"))]],
    indirect=True,
)
async def test_sum_and_last_value_read_the_measurement_converted_to_the_unit(server: MetricsServer) -> None:
    telemetry.execute(JOB, {"rows": 3, "took": 250})
    telemetry.execute(JOB, {"rows": 4.5, "took": 1500})
    assert values(server, "job.done.rows") == {(): 7.5}
    assert values(server, "job.done.took") == {(): 1.5}


@pytest.mark.parametrize("server", [[distribution("job.done.took", buckets=(1, 10))]], indirect=True)
async def test_a_distribution_counts_values_into_cumulative_buckets(server: MetricsServer) -> None:
    for took in (0.5, 1, 2, 10, 11, 100):
        telemetry.execute(JOB, {"took": took})
    assert values(server, "job.done.took") == {
        (): {"count": 6, "sum": 124.5, "buckets": [(1.0, 2), (10.0, 4), (math.inf, 6)]}
    }


@pytest.mark.parametrize(
    "server", [[summary("job.done.took", quantiles=(0.5, 0.9), window=10)]], indirect=True
)
async def test_a_summary_keeps_count_and_sum_of_all_and_quantiles_of_the_window(
    server: MetricsServer,
) -> None:
    for took in range(1, 21):
        telemetry.execute(JOB, {"took": took})
    # The window holds 11..20: the nearest-rank median is 15, the 0.9 quantile 19.
    assert values(server, "job.done.took") == {
        (): {"count": 20, "sum": 210.0, "quantiles": [(0.5, 15), (0.9, 19)]}
    }


@pytest.mark.parametrize("server", [[counter("job.done.count", tags=("key",))]], indirect=True)
async def test_an_unhashable_tag_value_is_keyed_by_its_repr(server: MetricsServer) -> None:
    telemetry.execute(JOB, {}, {"key": ["a", 1]})
    telemetry.execute(JOB, {}, {"key": ["a", 1]})
    assert values(server, "job.done.count") == {("['a', 1]",): 2}


@pytest.mark.parametrize("server", [[sum_of("job.done.rows"), counter("job.done.count")]], indirect=True)
async def test_a_missing_or_non_numeric_measurement_is_counted_and_the_handler_stays(
    server: MetricsServer, caplog: pytest.LogCaptureFixture
) -> None:
    telemetry.execute(JOB, {})
    telemetry.execute(JOB, {"rows": "many"})  # type: ignore[dict-item]
    telemetry.execute(JOB, {"rows": True})
    telemetry.execute(JOB, {"rows": "many"})  # type: ignore[dict-item]
    telemetry.execute(JOB, {"rows": 2})
    assert dropped(server) == {
        ("job.done.rows", "missing_measurement"): 1,
        ("job.done.rows", "not_a_number"): 3,
    }
    assert values(server, "job.done.rows") == {(): 2.0}
    assert values(server, "job.done.count") == {(): 5}  # the counter reads no measurement
    assert [h.id for h in telemetry.list_handlers(JOB)]  # still attached
    # Logged once per metric and reason, not once per event.
    assert sum("drops events" in r.getMessage() for r in caplog.records) == 2


def _explode(metadata: Any) -> Any:
    raise RuntimeError("a tag_values function with a bug")


@pytest.mark.parametrize(
    "server",
    [[counter("job.done.count", tag_values=_explode, tags=("x",)), counter("job.done.other")]],
    indirect=True,
)
async def test_a_metric_whose_code_raises_is_counted_and_never_detaches_the_handler(
    server: MetricsServer,
) -> None:
    with telemetry.capture(telemetry.HANDLER_FAILURE) as failures:
        telemetry.execute(JOB, {})
        telemetry.execute(JOB, {})
    assert failures == []
    assert dropped(server) == {("job.done.count", "handler_error"): 2}
    assert values(server, "job.done.other") == {(): 2}
    assert server.alive


async def test_stopping_the_server_detaches_its_handlers() -> None:
    server = await started(counter("job.done.count"))
    assert telemetry.list_handlers(JOB)
    await server.stop()
    assert telemetry.list_handlers(JOB) == []
    telemetry.execute(JOB, {})  # nothing listens, nothing raises


async def test_a_restarted_daemon_server_replaces_the_handlers_its_crashed_predecessor_left() -> None:
    spec = ChildSpec("metrics", MetricsServer, args=([counter("job.done.count")],), name=METRICS_NAME)
    async with Supervisor([spec]):
        first = metrics_server()
        assert first is not None
        telemetry.execute(JOB, {})
        with telemetry.capture(("supervisor", "child", "start")) as starts:
            first.kill()  # no terminate: its handlers stay attached until the successor replaces them
            async with asyncio.timeout(5):
                await starts.wait(("supervisor", "child", "start"))
        second = metrics_server()
        assert second is not None
        assert second is not first
        assert [h.id for h in telemetry.list_handlers(JOB)] == ["arbord.metrics:job.done"]
        telemetry.execute(JOB, {})
        assert values(second, "job.done.count") == {(): 1}  # a new server counts from zero
    assert telemetry.list_handlers(JOB) == []


# --- arbord's own metrics --------------------------------------------------------------------------


class Crashes(Server):
    async def handle_cast(self, message: Any) -> None:
        raise RuntimeError("boom")


async def test_the_default_metrics_count_restarts_crashes_and_give_ups() -> None:
    server = await started(*DEFAULT_METRICS)
    try:
        spec = ChildSpec("worker", Crashes, name="crashy")
        sup = await Supervisor.start([spec], name="test.sup", intensity=1, period=60)
        with telemetry.capture(("supervisor", "child", "restart")) as restarts:
            whereis("crashy").cast("go")  # type: ignore[union-attr]
            async with asyncio.timeout(5):
                await restarts.wait(("supervisor", "child", "restart"))
        tags = ("test.sup", "worker")
        assert values(server, "supervisor.child.restart.count")[tags] == 1
        assert values(server, "supervisor.child.crash.count")[tags] == 1
        with telemetry.capture(("supervisor", "escalate")) as escalations:
            whereis("crashy").cast("go")  # type: ignore[union-attr]
            async with asyncio.timeout(5):
                await escalations.wait(("supervisor", "escalate"))
        await sup.wait()
        assert values(server, "supervisor.escalate.count") == {("test.sup",): 1}
    finally:
        await server.stop()


# --- configuration ---------------------------------------------------------------------------------


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "arbord.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    return caught.value.problems


def definition(**fields: Any) -> str:
    body = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in fields.items())
    return f"[[telemetry.metrics.definitions]]\n{body}"


def test_definitions_in_the_toml_become_metrics_after_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "arbord.toml"
    path.write_text(
        definition(type="distribution", name="myapp.job.stop.duration", tags=["queue"], buckets=[0.1, 1])
        + 'unit = { from = "nanosecond", to = "second" }\n'
        + definition(type="counter", name="myapp.jobs", event="myapp.job.stop")
    )
    metrics = TELEMETRY.of(load_settings(path, {})).metrics.metrics()
    assert metrics[: len(DEFAULT_METRICS)] == DEFAULT_METRICS
    mine = metrics[len(DEFAULT_METRICS) :]
    assert [(m.kind, m.event, m.measurement, m.unit, m.scale) for m in mine] == [
        (Kind.DISTRIBUTION, ("myapp", "job", "stop"), "duration", "second", 1e-9),
        (Kind.COUNTER, ("myapp", "job", "stop"), "jobs", "", 1.0),
    ]
    assert MetricsSettings(defaults=False).metrics() == ()


def test_a_metric_over_a_measurement_an_arbord_event_lacks_names_the_key(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, definition(type="sum", name="arbord.loop.lag.lagg"))
    assert problem.startswith(
        "telemetry.metrics.definitions.0.measurement: the event arbord.loop.lag has no measurement 'lagg' "
        "(it carries: interval, lag)"
    )
    assert "line 1" in problem


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"type": "gauge", "name": "a.b"}, "telemetry.metrics.definitions.0.type: expected 'counter'"),
        (
            {"type": "counter", "name": "nodots"},
            "telemetry.metrics.definitions.0.name: expected dotted words",
        ),
        ({"type": "distribution", "name": "a.b", "buckets": [2, 1]}, "increasing order"),
        ({"type": "summary", "name": "a.b", "quantiles": [1.5]}, "between 0 and 1"),
        ({"type": "sum", "name": "a.b", "unit": "x", "bogus": 1}, "definitions.0.bogus: unknown key"),
        (
            {"type": "counter", "name": "arbord.cache.hit.count"},
            "two metrics are named 'arbord.cache.hit.count'",
        ),
    ],
)
def test_bad_definitions_are_configuration_errors(
    tmp_path: Path, fields: dict[str, Any], expected: str
) -> None:
    assert any(expected in problem for problem in problems(tmp_path, definition(**fields)))


def test_check_config_exits_78_naming_the_bad_measurement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "arbord.toml"
    path.write_text(definition(type="last_value", name="arbord.cache.sweep.durationn"))
    assert main(["check-config", str(path)]) == ExitCode.CONFIG
    assert ExitCode.CONFIG.value == 78
    assert (
        "telemetry.metrics.definitions.0.measurement: the event arbord.cache.sweep" in capsys.readouterr().err
    )


def test_the_default_section_defines_arbords_metrics() -> None:
    names = {m.name for m in TelemetrySettings().metrics.metrics()}
    assert {"supervisor.child.restart.count", "arbord.cache.hit.count", "arbord.loop.lag.lag"} <= names


def test_series_are_records_of_metric_tags_and_value() -> None:
    series = Series(counter("a.b"), {}, 1)
    assert (series.metric.name, series.tags, series.value) == ("a.b", {}, 1)


def test_arborctl_shows_metrics_as_a_table_with_a_summary_of_each_value() -> None:
    records = [
        {"metric": "a.b.count", "type": "counter", "tags": {"q": "x", "r": "y"}, "value": 4, "unit": ""},
        {
            "metric": "a.b.took",
            "type": "distribution",
            "tags": {},
            "value": {"count": 2, "sum": 0.5, "buckets": [[0.1, 1], [1.0, 2], ["+Inf", 2]]},
            "unit": "second",
        },
        {
            "metric": "a.b.size",
            "type": "summary",
            "tags": {},
            "value": {"count": 3, "sum": 6.0, "quantiles": [[0.5, 2.0], [0.99, "NaN"]]},
            "unit": "",
        },
    ]
    assert render_result("metrics", records).splitlines() == [
        "METRIC     TYPE          TAGS     VALUE                          UNIT",
        "a.b.count  counter       q=x,r=y  4                              -",
        "a.b.took   distribution  -        count=2 sum=0.5 <=0.1:1 <=1:2  second",
        "a.b.size   summary       -        count=3 sum=6 p50=2 p99=NaN    -",
    ]
    assert render_result("metrics", []) == "no metrics"
    assert render_result("metrics.prometheus", {"text": "# TYPE x counter\nx_total 1.0\n"}) == (
        "# TYPE x counter\nx_total 1.0"
    )


async def test_control_requests_are_counted_by_method_and_error_code() -> None:
    server = await started(*DEFAULT_METRICS)
    try:
        async with running_control() as h, open_control_client(h.path) as client:
            await client.call("ping")
            await client.call("ping")
            with pytest.raises(ControlReplyError):
                await client.call("tree", {"path": "root/nope"})
            with pytest.raises(ControlReplyError):
                await client.call("no.such.method.x1")
            with pytest.raises(ControlReplyError):
                await client.call("tree", {"depth": "deep"})
        counts = values(server, "arbord.control.request.count")
        took = values(server, "arbord.control.request.duration")
    finally:
        await server.stop()
    assert counts == {
        ("ping", ""): 2,
        ("tree", "not_found"): 1,
        ("(unknown)", "method_not_found"): 1,
        ("tree", "invalid_params"): 1,
    }
    assert took[("ping",)]["count"] == 2


@pytest.mark.parametrize("path", ["supervised", "legacy"])
async def test_control_requests_are_counted_by_the_path_that_held_their_span(path: str) -> None:
    # otp_cleanup's span flag moves the daemon's own request spans (docs/migrations.md).
    server = await started(*DEFAULT_METRICS)
    try:
        async with paths(path), running_control() as h, open_control_client(h.path) as client:
            await client.call("ping")
            await client.call("ping")
            with pytest.raises(ControlReplyError):
                await client.call("no.such.method.x1")
            spans_paths = values(server, "arbord.control.request.span_path.count")
    finally:
        await server.stop()
    assert spans_paths == {(path,): 3}


async def test_the_console_has_a_metrics_command() -> None:
    server = await started(counter("job.done.count", tags=("queue",)), name=METRICS_NAME)
    telemetry.execute(JOB, {}, {"queue": "fast"})
    try:
        async with running_control() as h:
            verbs = verb_table([CORE, TELEMETRY])
            console = await ConsoleServer.start(ConsoleSettings(enabled=True), h.path.parent, h.daemon, verbs)
            try:
                async with TelnetSession.open_unix(h.path.parent / "console.sock") as session:
                    await session.expect("arbord >>>")
                    await session.command("metrics prefix=job")
                    shown = await session.expect("queue=fast")
                    assert "job.done.count" in shown
                    await session.command("metrics prometheus")
                    assert 'job_done_count_total{queue="fast"} 1.0' in await session.expect("1.0")
            finally:
                await console.stop()
    finally:
        await server.stop()


@pytest.mark.parametrize(
    "server",
    [[counter("job.done.count", tags=("key",), max_series=2), sum_of("job.done.rows", max_series=1)]],
    indirect=True,
)
async def test_a_metric_keeps_at_most_max_series_tag_combinations(server: MetricsServer) -> None:
    for key in ("a", "b", "c", "a", "d"):
        telemetry.execute(JOB, {"rows": 1}, {"key": key})
    assert values(server, "job.done.count") == {("a",): 2, ("b",): 1}
    assert values(server, "job.done.rows") == {(): 5.0}
    assert dropped(server) == {("job.done.count", "series_limit"): 2}
    assert [s.value for s in await server.series_in_slices()] == [s.value for s in server.series()]


async def test_the_metrics_verbs_answer_server_down_while_no_metrics_server_runs() -> None:
    assert metrics_server() is None
    for method in metrics_methods():
        outcome = method.handler(method.parse({}), cast(Any, None))
        assert inspect.isawaitable(outcome)
        with pytest.raises(ControlError) as caught:
            await outcome
        assert caught.value.code is ErrorCode.SERVER_DOWN
