"""A user server that emits events, for the metrics test of the real daemon
(tests/daemon/test_telemetry_metrics_daemon.py names it in ``[servers.<name>] start``).

Not a test module: the daemon subprocess imports it (``PYTHONPATH`` is the repository's root).
"""

from __future__ import annotations

from supervisor import Server, telemetry

__all__ = ["JOB_STOP", "Jobs"]

JOB_STOP = ("myapp", "job", "stop")


class Jobs(Server):
    """``init(durations, queue)``: emits one ``myapp.job.stop`` per duration (nanoseconds), before the
    daemon is ready, so a test reads them without waiting."""

    async def init(self, durations: list[int], queue: str = "mail") -> None:
        for duration in durations:
            telemetry.execute(JOB_STOP, {"duration": duration}, {"queue": queue})
        # And one whose measurement is not a number: the distribution drops it, the counter counts it.
        telemetry.execute(JOB_STOP, {"duration": "slow"}, {"queue": queue})  # type: ignore[dict-item]
