"""The flags' read-only state: what the flags server keeps while its store cannot persist a write.

A commit that the disk refuses (full, a read-only file system, an I/O error: ``FlagsReadOnly``) turns
the flags read-only, as Redis stops taking writes after a failed save (``stop-writes-on-bgsave-error``)
and Elasticsearch blocks an index at its flood-stage disk watermark:

- every write is refused at once with ``FlagsReadOnly`` (error code ``read_only``), **without
  touching the disk**: a full disk is not hammered by retries, and the flags in force are unchanged;
- evaluation is untouched (it never reaches the store);
- the daemon's health says so (``arborctl status``: ``health``), and so do ``arborctl flags status``,
  the telemetry event ``("arbord", "flags", "read_only")`` and one warning in the log;
- every ``[flags] probe_interval`` seconds (5 by default) the server tries a **probe write** that
  changes no flag (``FlagStore.probe``). The first that succeeds makes the flags writable again by
  itself: a warning, the event ``("arbord", "flags", "writable")``, and the next write commits.

The probe is bounded: one small transaction per interval, on the server's task between two requests.

>>> state = ReadOnly(since=1_700_000_000.0, started=10.0, reason="disk full")
>>> state.refused += 1
>>> state.describe(now=12.5)["seconds"], state.describe(now=12.5)["refused"]
(2.5, 1)
>>> print(state.refusal(next_probe=2.0).replace("; ", ";\\n"))
the flags are read-only since 2023-11-14T22:13:20.000+00:00 (disk full): nothing was changed;
the next probe write is in 2 s
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from daemon.flags.store import iso_time

__all__ = ["READ_ONLY", "WRITABLE", "ReadOnly"]

READ_ONLY: Final = ("arbord", "flags", "read_only")
"""Emitted when the flags turn read-only; metadata ``{"store", "error"}``."""
WRITABLE: Final = ("arbord", "flags", "writable")
"""Emitted when a probe write succeeds; measurements ``{"seconds", "probes", "refused"}``."""


@dataclass(slots=True)
class ReadOnly:
    """Since when (``since``: wall clock; ``started``: monotonic) and why the flags are read-only,
    with the probes that failed and the writes refused since."""

    since: float
    started: float
    reason: str
    probes: int = 0
    refused: int = 0

    def describe(self, now: float) -> dict[str, Any]:
        """For ``flags status`` and the daemon's health (``now``: monotonic)."""
        return {
            "since": iso_time(self.since),
            "seconds": round(now - self.started, 3),
            "reason": self.reason,
            "probes": self.probes,
            "refused": self.refused,
        }

    def refusal(self, next_probe: float) -> str:
        """The message of a write refused while read-only (``next_probe``: seconds to it)."""
        return (
            f"the flags are read-only since {iso_time(self.since)} ({self.reason}): nothing was changed;"
            f" the next probe write is in {next_probe:.0f} s"
        )
