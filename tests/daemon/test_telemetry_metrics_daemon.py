"""End to end: events emitted by a user server show up in ``arborctl metrics`` and in ``/metrics``
scraped over HTTP from the real daemon (docs/telemetry.md, "Metrics and export")."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.daemon.conftest import ROOT, RunningDaemon, StartArbord, daemon_environ

CONFIG = """
[telemetry.prometheus]
listen = "127.0.0.1:0"

[telemetry.poller]
interval = 0.05

[[telemetry.metrics.definitions]]
type = "distribution"
name = "myapp.job.stop.duration"
tags = ["queue"]
unit = { from = "nanosecond", to = "second" }
buckets = [0.01, 0.1, 1.0]

[[telemetry.metrics.definitions]]
type = "counter"
name = "myapp.job.stop.count"
tags = ["queue"]

[servers.jobs]
start = "tests.daemon.metrics_servers:Jobs"
args = [[5000000, 50000000, 2000000000]]
"""


def arborctl(running: RunningDaemon, *words: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "daemon.ctl", "--socket", str(running.control_socket), *words]
    return subprocess.run(
        command, cwd=ROOT, env=daemon_environ(None), capture_output=True, text=True, timeout=30, check=False
    )


def listener_port(running: RunningDaemon) -> int:
    found = re.search(r"HTTP listener on 127\.0\.0\.1:(\d+) serving /metrics", running.stderr())
    assert found, running.stderr()
    return int(found[1])


def scrape(port: int) -> tuple[int, str, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return response.status, response.headers["Content-Type"], response.read().decode()


def test_a_user_servers_events_show_in_arborctl_metrics_and_in_scraped_metrics(
    start_arbord: StartArbord,
) -> None:
    running = start_arbord(CONFIG)
    listed = arborctl(running, "--json", "metrics", "prefix=myapp")
    assert listed.returncode == 0, listed.stderr
    records: list[dict[str, Any]] = json.loads(listed.stdout)
    assert records == [
        {
            "metric": "myapp.job.stop.duration",
            "type": "distribution",
            "tags": {"queue": "mail"},
            "value": {
                "count": 3,
                "sum": 2.055,
                "buckets": [[0.01, 1], [0.1, 2], [1.0, 2], ["+Inf", 3]],
            },
            "unit": "second",
        },
        {
            "metric": "myapp.job.stop.count",
            "type": "counter",
            "tags": {"queue": "mail"},
            "value": 4,
            "unit": "",
        },
    ]
    table = arborctl(running, "metrics", "prefix=myapp")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split() == ["METRIC", "TYPE", "TAGS", "VALUE", "UNIT"]
    assert "myapp.job.stop.count     counter       queue=mail  4" in table.stdout

    status, content_type, text = scrape(listener_port(running))
    assert (status, content_type.split(";")[0]) == (200, "text/plain")
    families = {family.name: family for family in text_string_to_metric_families(text)}
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for s in families["myapp_job_stop_duration"].samples
    }
    assert samples[("myapp_job_stop_duration_count", (("queue", "mail"),))] == 3.0
    assert samples[("myapp_job_stop_duration_bucket", (("le", "0.1"), ("queue", "mail")))] == 2.0
    dropped = {
        (s.labels["metric"], s.labels["reason"]): s.value
        for s in families["arbord_metrics_dropped_count"].samples
    }
    assert dropped == {("myapp.job.stop.duration", "not_a_number"): 1.0}
    # The control method returns the same exposition.
    prometheus = arborctl(running, "--json", "metrics.prometheus")
    assert 'myapp_job_stop_count_total{queue="mail"} 4.0' in json.loads(prometheus.stdout)["text"]
    # The poller's rounds (every 50 ms here) feed the default metrics: the metrics server's own
    # mailbox depth shows up after a round or two.
    for _ in range(200):
        polled = json.loads(arborctl(running, "--json", "metrics", "prefix=arbord.poller").stdout)
        depths = {
            r["tags"].get("server"): r["value"]
            for r in polled
            if r["metric"] == "arbord.poller.mailbox.depth"
        }
        if "arbord.metrics" in depths:
            break
    assert depths["arbord.metrics"] == 0
    names = {r["metric"] for r in polled}
    assert {"arbord.poller.tree.processes", "arbord.poller.table.size", "arbord.poller.process.rss"} <= names
    assert running.stop() == 0


def exchange(running: RunningDaemon, frame: bytes) -> bytes:
    """Send ``frame`` on a fresh connection and read what the daemon answers until it closes or
    ends its reply line: the answer proves the daemon has handled (and counted) the frame."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(running.control_socket))
        sock.sendall(frame)
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


def test_bad_control_frames_are_counted_by_reason_in_the_default_metrics(start_arbord: StartArbord) -> None:
    # RELIABILITY X1: a counter per bad frame, not a log line; by the reason answered.
    running = start_arbord("[control]\nmax_frame_bytes = 1024\n")
    assert b'"parse_error"' in exchange(running, b"not json\n")
    assert b'"parse_error"' in exchange(running, b"{\n")
    assert b'"invalid_request"' in exchange(running, b"[1]\n")
    assert b'"frame_too_large"' in exchange(running, b"x" * 4096)
    listed = arborctl(running, "--json", "metrics", "prefix=arbord.control.rejected")
    assert listed.returncode == 0, listed.stderr
    counts = {record["tags"]["reason"]: record["value"] for record in json.loads(listed.stdout)}
    assert counts == {"parse_error": 2, "invalid_request": 1, "frame_too_large": 1}
    assert "Traceback" not in running.stderr()
    exposition = json.loads(arborctl(running, "--json", "metrics.prometheus").stdout)["text"]
    samples = {
        s.labels["reason"]: s.value
        for family in text_string_to_metric_families(exposition)
        if family.name == "arbord_control_rejected_count"
        for s in family.samples
    }
    assert samples == {"parse_error": 2.0, "invalid_request": 1.0, "frame_too_large": 1.0}


def test_call_latency_is_sampled_into_the_default_metrics(start_arbord: StartArbord) -> None:
    # `status` calls the control server ("statistics"): a first call to a server is always timed.
    running = start_arbord("")
    status = arborctl(running, "status")
    assert status.returncode == 0, status.stderr
    listed = arborctl(running, "--json", "metrics", "prefix=supervisor.call.stop")
    assert listed.returncode == 0, listed.stderr
    by_server = {record["tags"]["server"]: record for record in json.loads(listed.stdout)}
    control = by_server["arbord.control"]
    assert control["metric"] == "supervisor.call.stop.duration"
    assert (control["type"], control["unit"]) == ("distribution", "second")
    assert control["value"]["count"] >= 1
    assert control["value"]["sum"] > 0
