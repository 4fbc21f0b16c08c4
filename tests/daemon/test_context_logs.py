"""The error context in logs: ContextFilter on every record, JSON lines (``[daemon] log_format``), the
structlog processor, and a failing control request whose reply and log line share one correlation id
(a real daemon in its own process)."""

from __future__ import annotations

import io
import json
import logging
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from daemon.app_logging import configure_logging, set_format
from daemon.context import (
    ContextFilter,
    SpanRef,
    operation,
    reset_span_ref,
    set_span_ref,
    structlog_processor,
    with_context,
)
from daemon.log_json import JsonFormatter
from tests.daemon.conftest import (
    ROOT,
    NotifyReceiver,
    RunningDaemon,
    config_with_runtime_dir,
    daemon_environ,
    wait_ready,
)

TRACE = "0af7651916cd43dd8448eb211c80319c"
SPAN = "b7ad6b7169203331"


@pytest.fixture
def json_log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose records go through ContextFilter and JsonFormatter into a string."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.context.json")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_every_record_carries_the_context_fields_and_the_ids(
    json_log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_log
    token = set_span_ref(SpanRef(TRACE, SPAN, True))
    try:
        with with_context(request_id="r1", api_token="t0p"), operation("billing", "charge") as ctx:
            logger.warning("declined %s", "card", extra={"amount": 3})
    finally:
        reset_span_ref(token)
    (line,) = _lines(stream)
    assert ctx.operation is not None
    assert line["message"] == "declined card"
    assert line["level"] == "warning"
    assert line["correlation_id"] == TRACE
    assert (line["trace_id"], line["span_id"]) == (TRACE, SPAN)
    assert line["operation_id"] == ctx.operation.operation_id
    assert line["context"] == {"request_id": "r1", "api_token": "[redacted]"}
    assert line["context_redacted"] == 1
    assert line["amount"] == 3


def test_a_record_outside_any_context_has_no_context_keys(
    json_log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_log
    logger.info("plain")
    (line,) = _lines(stream)
    assert set(line) == {"time", "level", "logger", "message"}


def test_a_crash_logged_elsewhere_carries_the_context_it_left(
    json_log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_log
    try:
        with with_context(job="j7"), operation("worker", "run"):
            raise ValueError("bad row")
    except ValueError as error:
        failure = error
    logger.error("child crashed", exc_info=failure)  # as a supervisor does, outside the blocks
    (line,) = _lines(stream)
    assert line["context"] == {"job": "j7"}
    assert "arbord context: correlation_id=" in line["exception"]
    assert "ValueError: bad row" in line["exception"]


def test_fields_given_with_extra_are_not_overwritten(json_log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = json_log
    with operation("m", "f"):
        logger.error("x", extra={"correlation_id": "given"})
    assert _lines(stream)[0]["correlation_id"] == "given"


@pytest.mark.usefixtures("restore_logging")
def test_the_daemon_handler_switches_between_text_and_json() -> None:
    stream = io.StringIO()
    configure_logging("info", {}, stream, log_format="json")
    log = logging.getLogger("arbord.test_context_logs")
    try:
        with with_context(request_id="r2"):
            log.info("in json")
        set_format("text")
        with with_context(request_id="r3"):
            log.info("in text")
    finally:
        configure_logging("info", {}, io.StringIO())
    first, second = stream.getvalue().splitlines()
    assert json.loads(first)["context"] == {"request_id": "r2"}
    assert second.endswith("INFO arbord.test_context_logs: in text")


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_under_journald_keep_the_priority_prefix(tmp_path: Path) -> None:
    import os

    path = tmp_path / "journal"
    with path.open("w") as stream:
        info = os.fstat(stream.fileno())
        configure_logging("info", {"JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}"}, stream, "json")
        try:
            logging.getLogger("arbord.test_context_logs").error("to the journal")
        finally:
            configure_logging("info", {}, io.StringIO())
    line = path.read_text().strip()
    assert line.startswith("<3>{")
    assert json.loads(line[3:])["message"] == "to the journal"


def test_the_structlog_processor_adds_the_same_fields() -> None:
    out = io.StringIO()
    structlog.configure(
        processors=[structlog_processor, structlog.processors.JSONRenderer()],
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    try:
        with with_context(request_id="r4", password="p"), operation("api", "get") as ctx:
            structlog.get_logger().info("served", request_id="bound wins")
    finally:
        structlog.reset_defaults()
    line = json.loads(out.getvalue())
    assert ctx.operation is not None
    assert line["request_id"] == "bound wins"
    assert line["password"] == "[redacted]"
    assert line["context_redacted"] == 1
    assert line["correlation_id"] == ctx.operation.correlation_id


# --- end to end: a real daemon ---------------------------------------------------------------------


def _spawn_faulty(workdir: Path, extra: str = "") -> RunningDaemon:
    """The faulty daemon (tests/daemon/faulty_daemon.py) with JSON logs, and ``extra`` configuration."""
    runtime_dir = workdir / "run"
    config = workdir / "arbord.toml"
    config.write_text(config_with_runtime_dir('[daemon]\nlog_format = "json"\n' + extra, runtime_dir))
    notify = NotifyReceiver.bind(workdir / "notify")
    stderr_path = workdir / "stderr.log"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.daemon.faulty_daemon", str(config)],
            cwd=ROOT,
            env=daemon_environ(notify.path),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    return RunningDaemon(
        process, workdir, config, runtime_dir, runtime_dir / "control.sock", notify, stderr_path
    )


def _ask(path: Path, method: str) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(path))
        sock.sendall(json.dumps({"id": 1, "method": method, "params": {}}).encode() + b"\n")
        with sock.makefile("rb") as stream:
            reply: dict[str, Any] = json.loads(stream.readline())
    return reply


def test_a_failing_request_and_its_json_log_line_share_the_correlation_id(short_tmp: Path) -> None:
    running = _spawn_faulty(short_tmp)
    try:
        wait_ready(running)
        error = _ask(running.control_socket, "faulty.fail")["error"]
        missing = _ask(running.control_socket, "no.such.method")["error"]
    finally:
        code = running.stop()
        running.notify.close()
    assert code == 0, running.stderr()
    assert error["code"] == "internal"
    correlation_id = error["correlation_id"]
    assert len(correlation_id) == 32
    assert len(missing["correlation_id"]) == 32
    lines = [json.loads(line) for line in running.stderr().splitlines() if line.startswith("{")]
    (failed,) = [line for line in lines if "faulty.fail failed" in line["message"]]
    assert failed["correlation_id"] == correlation_id
    assert correlation_id in failed["message"]
    assert failed["level"] == "error"
    assert failed["context"] == {"order": 7}  # what the handler's block held when it failed
    assert "the faulty verb failed on purpose" in failed["exception"]
