"""One run: start the daemon, start the load processes, watch, inject faults, collect, stop.

The daemon runs pinned to the first CPU this process may use and every load process to the second,
at nice 10 (on a machine with one CPU, or with ``pin=False``, nothing is pinned and the report says
so): the load generator cannot take the daemon's core, and the daemon is a single event loop, one
core's worth at most. The harness itself (this process) samples once a second over a control
connection of its own: the stress cache's stats, the daemon's RSS, fds and watchdog pings, the load
server's account; with a CSV it also writes a row of the time series every ``sample`` seconds, and
in a soak it injects the faults that are due (bench/stress/faults.py).
"""

from __future__ import annotations

import contextlib
import csv
import multiprocessing
import os
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from bench.stress.clients import STRESS_CACHE, ClientPlan, run_clients
from bench.stress.daemon_process import CACHE_MAX_SIZE, FLUSH, WATCHDOG_SEC, StressDaemon
from bench.stress.faults import CRASH_KEY, VICTIM_PATH, Faults
from bench.stress.histogram import Histogram
from bench.stress.tiers import Rates
from bench.stress.wire import Counts
from daemon.ctl.frames import ControlReplyError
from daemon.ctl.wire import BlockingClient, connect

__all__ = ["SERIES", "Run", "run"]

CONTROL_PROCESSES: Final = 2
CACHE_PROCESSES: Final = 2
CACHE_CONNECTIONS: Final = 4
FLAG_CONNECTIONS: Final = 4
READY_TIMEOUT: Final = 60.0
FINISH_TIMEOUT: Final = 60.0
CALL_TIMEOUT: Final = 30.0
WINDOW: Final = 1.0
"""Seconds: each load process reports its counts this often while a series is written."""
SERIES: Final = (
    "t",
    "rss_mb",
    "fds",
    "tasks",
    "control_p99_ms",
    "cache_p99_ms",
    "loop_lag_p99_ms",
    "control_per_s",
    "cache_per_s",
    "events_per_s",
    "spans_per_s",
    "faults",
)
"""The soak's CSV columns: seconds since the load began, then one value per series."""


@dataclass
class Run:
    """What the judge and the report read: the record (JSON-able) and the soak's time series."""

    record: dict[str, Any]
    series: list[dict[str, float]] = field(default_factory=list)


def _cpus(pin: bool) -> tuple[int | None, int | None]:
    if not pin:
        return None, None
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return (allowed[0], allowed[1]) if len(allowed) >= 2 else (None, None)


def _plans(rates: Rates, socket: str, duration: float, window: float, cpu: int | None) -> list[ClientPlan]:
    plans: list[ClientPlan] = []
    per = [
        rates.control_clients // CONTROL_PROCESSES + (i < rates.control_clients % CONTROL_PROCESSES)
        for i in range(CONTROL_PROCESSES)
    ]
    for i, n in enumerate(per):
        if n:
            plans.append(ClientPlan("control", socket, n, rates.control_rate, duration, i, window, cpu=cpu))
    if rates.cache_ops:
        rate = rates.cache_ops / (CACHE_PROCESSES * CACHE_CONNECTIONS)
        for i in range(CACHE_PROCESSES):
            plans.append(ClientPlan("cache", socket, CACHE_CONNECTIONS, rate, duration, i, window, cpu=cpu))
    if rates.flag_writes:
        plans.append(
            ClientPlan(
                "flags",
                socket,
                FLAG_CONNECTIONS,
                rates.flag_writes / FLAG_CONNECTIONS,
                duration,
                0,
                window,
                cpu=cpu,
            )
        )
    return plans


def _call(client: BlockingClient, method: str, params: dict[str, Any] | None = None) -> Any:
    """One request of the harness's own, with a fresh ``CALL_TIMEOUT``."""
    client.extend(CALL_TIMEOUT)
    return client.call(method, params)


def run(
    rates: Rates,
    duration: float,
    *,
    faults_every: float = 0.0,
    sample: float = 5.0,
    csv_path: Path | None = None,
    pin: bool = True,
    progress: Callable[[str], None] = lambda line: None,
) -> Run:
    """Drive ``rates`` at the daemon for ``duration`` seconds; a soak when ``faults_every`` is set."""
    daemon_cpu, load_cpu = _cpus(pin)
    daemon = StressDaemon.start(rates, duration, cpu=daemon_cpu)
    context = multiprocessing.get_context("spawn")
    go, stop = context.Event(), context.Event()
    results: Any = context.Queue()
    window = WINDOW if csv_path is not None else 0.0
    plans = _plans(rates, str(daemon.control_socket), duration, window, load_cpu)
    per_kind = {kind: sum(p.kind == kind for p in plans) for kind in ("control", "cache")}
    readies = [context.Event() for _ in plans]
    processes = [
        context.Process(target=run_clients, args=(plan, ready, go, stop, results), daemon=True)
        for plan, ready in zip(plans, readies, strict=True)
    ]
    record: dict[str, Any] = {
        "mode": "soak" if faults_every else "stress",
        "rates": rates.name,
        "duration": duration,
        "flush": FLUSH,
        "capacity": CACHE_MAX_SIZE,
        "span_bound": int(rates.spans * 1.0) + rates.control_clients + 64,
        "pinned": {"daemon": daemon_cpu, "load": load_cpu},
        "load_processes": len(plans),
        "loadavg_before": os.getloadavg(),
    }
    finals: list[dict[str, Any]] = []
    result = Run(record)
    writer: Any = None
    csv_file = None
    try:
        for process in processes:
            process.start()
        deadline = time.monotonic() + READY_TIMEOUT
        for ready in readies:
            if not ready.wait(max(0.0, deadline - time.monotonic())):
                raise RuntimeError("a load process did not connect in time")
        client = connect(daemon.control_socket, timeout=CALL_TIMEOUT)
        # Warm-up, outside the measured window: the daemon builds its table of control methods (and
        # imports their modules) on the first request, a one-off stall that is not the load's.
        _call(client, "methods")
        faults = Faults(faults_every)
        if csv_path is not None:
            csv_file = csv_path.open("w", newline="")
            writer = csv.DictWriter(csv_file, fieldnames=SERIES)
            writer.writeheader()
        daemon.go.touch()
        go.set()
        start = time.monotonic()
        cpu_start = daemon.cpu()
        faults.next_at = start + faults_every
        progress(f"load on: {len(plans)} load processes, daemon pid {daemon.pid}, {duration:g} s")
        cache_samples: list[dict[str, Any]] = []
        rss, fds = [daemon.rss()], [daemon.fds()]
        windows: dict[str, Counts] = {}
        reported: dict[str, int] = {}
        last_row = start
        last_account: dict[str, Any] = daemon.load_account() or {}
        next_tick = start
        while time.monotonic() - start < duration:
            next_tick += 1.0
            while (left := next_tick - time.monotonic()) > 0:
                try:
                    item = results.get(timeout=left)
                except queue.Empty:
                    break
                if "window" in item:
                    windows.setdefault(item["kind"], Counts()).merge(Counts.from_json(item["window"]))
                    reported[item["kind"]] = reported.get(item["kind"], 0) + 1
                else:
                    finals.append(item["final"])
            now = time.monotonic()
            stats = _call(client, "cache.stats", {"cache": STRESS_CACHE})
            cache_samples.append(dict(stats[STRESS_CACHE]))
            daemon.read_notify()
            rss.append(daemon.rss())
            fds.append(daemon.fds())
            kind = faults.due(now)
            if kind is not None:
                _inject(kind, client, daemon, faults)
            if writer is not None and now - last_row >= sample:
                account = daemon.load_account() or {}
                # A kind's rate: its replies over the seconds its windows covered, per process.
                seconds = {k: reported.get(k, 0) * WINDOW / max(n, 1) for k, n in per_kind.items()}
                row = _row(
                    now - start, now - last_row, daemon, account, last_account, windows, seconds, faults
                )
                writer.writerow(row)
                csv_file.flush()  # type: ignore[union-attr]
                result.series.append(row)
                progress(", ".join(f"{k} {v:g}" for k, v in row.items()))
                windows, reported, last_row, last_account = {}, {}, now, account
        stop.set()
        record["loadavg_during"] = os.getloadavg()
        record["daemon_cpu"] = (daemon.cpu() - cpu_start) / (time.monotonic() - start)
        daemon.read_notify()
        record["watchdog"] = {
            "interval": WATCHDOG_SEC,
            "pings": len(daemon.watchdog_pings),
            "max_gap": daemon.watchdog_gap(start, time.monotonic()),
        }
        finals += _finals(results, len(plans) - len(finals))
        account = _wait_account(daemon)
        record["account"] = account
        record["clients"] = finals
        record["telemetry_stats"] = _call(client, "telemetry.stats", {"prefix": "stress"})
        stats = _call(client, "cache.stats", {"cache": STRESS_CACHE})
        cache_samples.append(dict(stats[STRESS_CACHE]))
        record["cache_samples"] = cache_samples
        record["flags_held"] = _flags_held(client, finals)
        status = _call(client, "status")
        record["restarts"] = int(status.get("restarts", {}).get("children", {}).get(VICTIM_PATH, 0))
        record["faults"] = {"done": faults.done, "failures": faults.failures} if faults_every else None
        record["rss"] = {"start": rss[0], "max": max(rss), "end": rss[-1]}
        record["fds"] = {"start": fds[0], "max": max(fds), "end": fds[-1]}
        client.close()
    finally:
        stop.set()
        for process in processes:
            process.join(timeout=15)
            if process.is_alive():
                process.kill()
        results.close()
        results.join_thread()
        record["exit_code"] = daemon.stop()
        record["stderr_tail"] = daemon.stderr.read_text(errors="replace")[-4000:]
        daemon.close()
        if csv_file is not None:
            csv_file.close()
    return result


def _inject(kind: str, client: BlockingClient, daemon: StressDaemon, faults: Faults) -> None:
    try:
        if kind == "crash":
            _call(client, "cache.put", {"key": CRASH_KEY, "value": faults.done["crash"] + 1, "ttl": 60.0})
        elif kind == "sighup":
            daemon.hangup()
        else:
            reply = _call(client, "reload")
            if not reply.get("ok"):
                faults.failures.append(f"reload answered {reply}")
        faults.done[kind] += 1
    except (ControlReplyError, OSError) as error:
        faults.failures.append(f"{kind}: {error}")


def _row(
    t: float,
    span: float,
    daemon: StressDaemon,
    account: dict[str, Any],
    last: dict[str, Any],
    windows: dict[str, Counts],
    seconds: dict[str, float],
    faults: Faults,
) -> dict[str, float]:
    count, before = account.get("count", {}), last.get("count", {})
    lag = Histogram.from_json(account.get("loop_lag")).minus(Histogram.from_json(last.get("loop_lag")))
    control, cache = windows.get("control", Counts()), windows.get("cache", Counts())

    def per_s(key: str) -> float:
        return round((count.get(key, 0) - before.get(key, 0)) / span, 1) if span else 0.0

    return {
        "t": round(t, 1),
        "rss_mb": round(daemon.rss() / 2**20, 2),
        "fds": float(daemon.fds()),
        "tasks": float(account.get("tasks", 0)),
        "control_p99_ms": round(control.latency.percentile(0.99) * 1e3, 2),
        "cache_p99_ms": round(cache.latency.percentile(0.99) * 1e3, 2),
        "loop_lag_p99_ms": round(lag.percentile(0.99) * 1e3, 2),
        "control_per_s": round(control.replies / seconds["control"], 1) if seconds.get("control") else 0.0,
        "cache_per_s": round(cache.replies / seconds["cache"], 1) if seconds.get("cache") else 0.0,
        "events_per_s": per_s("event_calls"),
        "spans_per_s": per_s("spans_opened"),
        "faults": float(sum(faults.done.values())),
    }


def _finals(results: Any, missing: int) -> list[dict[str, Any]]:
    finals: list[dict[str, Any]] = []
    deadline = time.monotonic() + FINISH_TIMEOUT
    while len(finals) < missing and time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            item = results.get(timeout=1.0)
            if "final" in item:
                finals.append(item["final"])
    for _ in range(missing - len(finals)):
        finals.append({"kind": "?", "failed": "no result from a load process"})
    return finals


def _wait_account(daemon: StressDaemon) -> dict[str, Any]:
    deadline = time.monotonic() + FINISH_TIMEOUT
    account: dict[str, Any] = {}
    while time.monotonic() < deadline:
        account = daemon.load_account() or {}
        if account.get("done"):
            break
        time.sleep(0.2)
    return account


def _flags_held(client: BlockingClient, finals: list[dict[str, Any]]) -> dict[str, float | None]:
    held: dict[str, float | None] = {}
    for final in finals:
        for flag in final.get("acked", {}):
            try:
                gates = _call(client, "flags.get", {"flag": flag}).get("gates", {})
            except ControlReplyError:
                held[flag] = None
                continue
            percentage = gates.get("percentage")
            held[flag] = percentage.get("value") if isinstance(percentage, dict) else None
    return held
