"""OFREP against a real daemon: a real HTTP client (urllib) POSTs the protocol's documented requests to
the listener on loopback and checks the documented responses (docs/flags.md, "OFREP"): single and
bulk evaluation, ETag and 304, 404 FLAG_NOT_FOUND, 400 PARSE_ERROR / INVALID_CONTEXT, a percentage
rollout agreeing with ``arborctl flags explain``, the stock Python OFREP provider, and exit 78 when
``[flags] ofrep`` is on without a listener."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from daemon.flags.migration.components import OTP_CLEANUP_DECLARATIONS
from tests.daemon.conftest import ROOT, RunningDaemon, StartArbord
from tests.daemon.test_process import request

CONFIG = """
[telemetry.prometheus]
listen = "127.0.0.1:0"

[flags]
store = "memory"
ofrep = true

[flags.beta]
owner = "payments"

[flags.rollout]
owner = "payments"

[flags.dark]
owner = "payments"
default = false
"""

Answer = tuple[int, dict[str, str], Any]


def arborctl(daemon: RunningDaemon, *argv: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "daemon.ctl", "--socket", str(daemon.control_socket), "--json", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def port_of(daemon: RunningDaemon) -> int:
    """The port of the listener started last (a reload starts a new one)."""
    found = re.findall(r"HTTP listener on 127\.0\.0\.1:(\d+) serving", daemon.stderr())
    assert found, daemon.stderr()
    return int(found[-1])


def post(port: int, path: str, body: bytes | None, headers: dict[str, str] | None = None) -> Answer:
    """POST ``body`` and return the status, the headers and the decoded JSON (None for no body)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=body if body is not None else b"",
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, head, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            status, head, raw = error.code, dict(error.headers), error.read()
    return status, head, json.loads(raw) if raw else None


def context(**attributes: Any) -> bytes:
    return json.dumps({"context": attributes}).encode()


@pytest.fixture
def daemon(start_arbord: StartArbord) -> Iterator[RunningDaemon]:
    running = start_arbord(CONFIG)
    yield running
    if running.process.poll() is None:
        running.stop()


def test_single_evaluation_answers_the_documented_shape(daemon: RunningDaemon) -> None:
    port = port_of(daemon)
    assert "OFREP on http://127.0.0.1:" in daemon.stderr()
    arborctl(daemon, "flags", "enable", "beta")
    status, head, answer = post(port, "/ofrep/v1/evaluate/flags/beta", context(targetingKey="alice"))
    assert (status, head["Content-Type"]) == (200, "application/json")
    revision = arborctl(daemon, "flags", "list")["revision"]
    assert answer == {
        "key": "beta",
        "value": True,
        "reason": "STATIC",
        "variant": "on",
        "metadata": {"gate": "boolean", "revision": revision},
    }
    arborctl(daemon, "flags", "actor", "beta", "bob", "off")
    _, _, bob = post(port, "/ofrep/v1/evaluate/flags/beta", context(targetingKey="bob"))
    assert (bob["value"], bob["variant"], bob["reason"]) == (False, "off", "TARGETING_MATCH")
    arborctl(daemon, "flags", "disable", "beta")
    _, _, off = post(port, "/ofrep/v1/evaluate/flags/beta", context(targetingKey="carol"))
    assert (off["value"], off["reason"]) == (False, "DISABLED")
    _, _, dark = post(port, "/ofrep/v1/evaluate/flags/dark", None)  # no body: no context
    assert (dark["value"], dark["reason"], dark["metadata"]["gate"]) == (False, "DEFAULT", "default")


def test_errors_are_the_documented_statuses_and_codes_and_the_daemon_stays_up(
    daemon: RunningDaemon,
) -> None:
    port = port_of(daemon)
    status, _, answer = post(port, "/ofrep/v1/evaluate/flags/nope", context(targetingKey="alice"))
    assert (status, answer["key"], answer["errorCode"]) == (404, "nope", "FLAG_NOT_FOUND")
    assert "nope" in answer["errorDetails"]
    for body, code in [
        (b'{"context": ', "PARSE_ERROR"),
        (b"\xff\xfe not utf-8", "PARSE_ERROR"),
        (b"[1, 2]", "PARSE_ERROR"),
        (b"[" * 60000, "PARSE_ERROR"),  # nests too deeply for the parser: still a 400
        (b'{"context": "alice"}', "INVALID_CONTEXT"),
        (b'{"context": {"targetingKey": 7}}', "INVALID_CONTEXT"),
    ]:
        status, _, answer = post(port, "/ofrep/v1/evaluate/flags/beta", body)
        assert (status, answer["key"], answer["errorCode"]) == (400, "beta", code), body[:40]
        assert answer["errorDetails"]
        status, _, answer = post(port, "/ofrep/v1/evaluate/flags", body)
        assert (status, answer["errorCode"]) == (400, code), body[:40]
    status, _, answer = post(port, "/ofrep/v1/evaluate/flags/beta", b" " * (64 * 1024 + 1))
    assert (status, answer["errorCode"]) == (400, "PARSE_ERROR")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/ofrep/v1/evaluate/flags/beta", timeout=10)
    refused.value.close()
    assert refused.value.code == 405  # evaluation is a POST
    assert post(port, "/ofrep/v1/evaluate/flags/beta", context())[0] == 200
    assert daemon.process.poll() is None


def test_bulk_evaluation_carries_an_etag_and_answers_304_until_a_change(daemon: RunningDaemon) -> None:
    port = port_of(daemon)
    arborctl(daemon, "flags", "enable", "beta")
    status, head, answer = post(port, "/ofrep/v1/evaluate/flags", context(targetingKey="alice"))
    assert status == 200
    own = [f for f in answer["flags"] if f["key"] not in OTP_CLEANUP_DECLARATIONS]  # arbord's own
    assert [(f["key"], f["value"], f["reason"], f["variant"]) for f in own] == [
        ("beta", True, "STATIC", "on"),
        ("dark", False, "DEFAULT", "off"),
        ("rollout", False, "DEFAULT", "off"),
    ]
    etag = head["ETag"]
    status, head, answer = post(
        port, "/ofrep/v1/evaluate/flags", context(targetingKey="alice"), {"If-None-Match": etag}
    )
    assert (status, head["ETag"], answer) == (304, etag, None)
    arborctl(daemon, "flags", "enable", "dark")
    status, head, answer = post(
        port, "/ofrep/v1/evaluate/flags", context(targetingKey="alice"), {"If-None-Match": etag}
    )
    assert status == 200
    assert head["ETag"] != etag
    assert {f["key"]: f["value"] for f in answer["flags"]}["dark"] is True


def test_a_percentage_rollout_by_targeting_key_agrees_with_arborctl_explain(daemon: RunningDaemon) -> None:
    port = port_of(daemon)
    arborctl(daemon, "flags", "percentage", "rollout", "actors", "40")
    for actor in [f"user-{n}" for n in range(12)]:
        _, _, answer = post(port, "/ofrep/v1/evaluate/flags/rollout", context(targetingKey=actor))
        explained = arborctl(daemon, "flags", "explain", "rollout", actor)
        assert answer["value"] is explained["value"], actor
        assert answer["metadata"]["bucket"] == explained["bucket"], actor
        assert answer["reason"] == "SPLIT"
        assert answer["variant"] == ("on" if explained["value"] else "off")


def test_the_stock_python_ofrep_provider_reads_the_flags(daemon: RunningDaemon) -> None:
    ofrep = pytest.importorskip("openfeature.contrib.provider.ofrep")
    from openfeature import api
    from openfeature.evaluation_context import EvaluationContext
    from openfeature.exception import ErrorCode
    from openfeature.flag_evaluation import Reason

    port = port_of(daemon)
    arborctl(daemon, "flags", "enable", "beta")
    arborctl(daemon, "flags", "percentage", "rollout", "actors", "40")
    api.set_provider(ofrep.OFREPProvider(f"http://127.0.0.1:{port}"), domain="ofrep-test")
    try:
        client = api.get_client("ofrep-test")
        details = client.get_boolean_details("beta", False, EvaluationContext("alice"))
        assert (details.value, details.reason, details.variant) == (True, Reason.STATIC, "on")
        split = client.get_boolean_details("rollout", False, EvaluationContext("user-3"))
        explained = arborctl(daemon, "flags", "explain", "rollout", "user-3")
        assert (split.value, split.reason) == (explained["value"], Reason.SPLIT)
        assert split.flag_metadata["bucket"] == explained["bucket"]
        missing = client.get_boolean_details("nope", True, EvaluationContext("alice"))
        assert (missing.value, missing.error_code) == (True, ErrorCode.FLAG_NOT_FOUND)
    finally:
        api.clear_providers()


def test_ofrep_without_the_listener_exits_78_naming_the_key(start_arbord: StartArbord) -> None:
    daemon = start_arbord('[flags]\nstore = "memory"\nofrep = true\n', wait=False)
    assert daemon.wait() == 78
    assert "[telemetry.prometheus] listen" in daemon.stderr()
    assert "[flags] ofrep" in daemon.stderr()


def test_a_reload_follows_a_new_listener_and_refuses_to_drop_it(daemon: RunningDaemon) -> None:
    arborctl(daemon, "flags", "enable", "beta")
    first = port_of(daemon)
    # A change of [telemetry]: its component starts a new listener; OFREP is on it once it runs.
    daemon.write_config(CONFIG.replace("[flags]\n", "[telemetry.poller]\ninterval = 2.0\n\n[flags]\n"))
    reply = request(daemon.control_socket, "reload")
    assert reply["ok"] is True, reply
    assert "telemetry" in reply["changed"]
    second = port_of(daemon)
    assert second != first
    assert post(second, "/ofrep/v1/evaluate/flags/beta", context())[2]["value"] is True
    # Without the listener OFREP would serve nothing: the reload is refused, rolled back whole.
    daemon.write_config(CONFIG.replace('[telemetry.prometheus]\nlisten = "127.0.0.1:0"\n', ""))
    reply = request(daemon.control_socket, "reload")
    assert reply["ok"] is False
    assert any("[telemetry.prometheus] listen" in error for error in reply["errors"]), reply
    third = port_of(daemon)  # the rollback started the previous listener again
    assert post(third, "/ofrep/v1/evaluate/flags/beta", context())[2]["value"] is True
