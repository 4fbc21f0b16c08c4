"""User servers for the crash-record tests (tests/daemon/test_crashes.py), importable by a daemon
subprocess from its configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from daemon.context import operation, with_context
from supervisor import Server


class CrashOnce(Server):
    """Crashes right after its first start, inside an error-context block, and runs on after its
    restart: the flag file ``marker`` says the crash already happened."""

    async def init(self, marker: str) -> None:
        self.marker = Path(marker)
        self.continue_with("maybe crash")

    async def handle_continue(self, arg: Any) -> None:
        if self.marker.exists():
            return
        self.marker.write_text("crashed")
        password = "".join(reversed("2retnuh"))  # a secret the traceback's source lines do not show
        with with_context(job="nightly", db_password=password), operation("tests.crashing", "run"):
            raise RuntimeError("crashing once on purpose")
