"""The soak's time series as a picture: four panels over time, the faults marked on each.

Memory (RSS), resources (fds, tasks), latency (control and cache p99, loop lag p99) and throughput
(control and cache requests, telemetry events, spans per second), from the CSV a soak writes
(``bench.stress.run.SERIES``). Needs matplotlib (the ``bench`` extra); drawn with the Agg backend,
so no display is needed. docs/soak.png is one.
"""

from __future__ import annotations

import csv
from pathlib import Path

__all__ = ["plot_soak", "read_series"]


def read_series(path: Path) -> dict[str, list[float]]:
    """The CSV's columns, as floats."""
    with path.open(newline="") as file:
        rows = list(csv.DictReader(file))
    columns: dict[str, list[float]] = {}
    for row in rows:
        for key, value in row.items():
            columns.setdefault(key, []).append(float(value))
    return columns


def plot_soak(csv_path: Path, png_path: Path, title: str | None = None) -> None:
    """Draw ``csv_path``'s series into ``png_path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = read_series(csv_path)
    minutes = [t / 60 for t in s["t"]]
    faults_at = [
        m
        for m, before, after in zip(minutes[1:], s["faults"], s["faults"][1:], strict=False)
        if after > before
    ]
    figure, axes = plt.subplots(4, 1, figsize=(10, 11), sharex=True)
    panels = [
        ("memory", "MB", [("rss_mb", "daemon RSS")]),
        ("resources", "count", [("fds", "open fds"), ("tasks", "asyncio tasks")]),
        (
            "latency (p99 per sample)",
            "ms",
            [
                ("control_p99_ms", "control request"),
                ("cache_p99_ms", "cache op"),
                ("loop_lag_p99_ms", "loop lag"),
            ],
        ),
        (
            "throughput",
            "per second",
            [
                ("control_per_s", "control requests"),
                ("cache_per_s", "cache ops"),
                ("events_per_s", "telemetry events"),
                ("spans_per_s", "spans"),
            ],
        ),
    ]
    for axis, (name, unit, series) in zip(axes, panels, strict=True):
        for key, label in series:
            axis.plot(minutes, s[key], label=label, linewidth=1.2)
        for at in faults_at:
            axis.axvline(at, color="grey", alpha=0.25, linewidth=0.8)
        axis.set_title(name, loc="left", fontsize=10)
        axis.set_ylabel(unit)
        axis.set_ylim(bottom=0)
        axis.grid(alpha=0.3)
        axis.legend(loc="upper right", fontsize=8)
    axes[-1].set_xlabel("minutes (grey lines: injected faults — a crash, a SIGHUP or a reload)")
    figure.suptitle(title or f"arbord soak: {len(minutes)} samples over {minutes[-1]:.0f} min", fontsize=12)
    figure.tight_layout()
    figure.savefig(png_path, dpi=90)
    plt.close(figure)
