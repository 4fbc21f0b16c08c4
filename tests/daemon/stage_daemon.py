"""A real daemon with every ``otp_cleanup`` flag on, moved between stages through ``arborctl
migration``: the start-up shared by the end-to-end stage tests (test_switched_daemon.py,
test_control_paths_daemon.py).

``stage_config(extra, head=...)`` is the configuration: the flags in memory, every component flag
on (the declared defaults), hidden-state enforcement off, a cool-down of 0 so the plan can go up
again after a rollback, and a verdict interval of an hour so that no verdict (inconclusive, with no
traffic) pauses the plan during a test. ``ctl`` runs arborctl in this process (``--json``);
``until`` polls a condition for at most ``DEADLINE`` seconds.

>>> stage_config().startswith('[flags]\\nstore = "memory"\\n')
True
"""

from __future__ import annotations

import io
import json
from functools import partial
from pathlib import Path
from typing import Any, Final

from daemon.ctl.arborctl import main
from supervisor.testing import wait_until

__all__ = ["DEADLINE", "STAGE_FLAGS", "ctl", "stage_config", "until"]

DEADLINE: Final = 30.0
STAGE_FLAGS: Final = (
    "use_ets_agent_registry",
    "enable_migration_monitoring",
    "use_logger_error_context",
    "use_genserver_telemetry",
    "use_genserver_span_management",
    "use_ets_sampled_events",
)

until = partial(wait_until, timeout=DEADLINE)


def stage_config(extra: str = "", *, head: str = "") -> str:
    """The daemon's configuration: ``head`` (sections before ``[flags]``), the flags, then ``extra``."""
    return (
        head
        + '[flags]\nstore = "memory"\n'
        + "".join(f"\n[flags.{flag}]\ndefault = true\n" for flag in STAGE_FLAGS)
        + """
[flags.enforce_no_process_dict]
default = false

[flags.migration]
cooldown = 0
interval = 3600
"""
        + extra
    )


def ctl(sock: Path, *argv: str) -> Any:
    """``arborctl --json ARGV`` against ``sock``: its reply (None if it printed nothing); it must exit 0."""
    out, err = io.StringIO(), io.StringIO()
    code = main(["--socket", str(sock), "--json", *argv], out=out, err=err)
    assert code == 0, f"arborctl {' '.join(argv)}: {err.getvalue()}"
    text = out.getvalue()
    return json.loads(text) if text.strip() else None
