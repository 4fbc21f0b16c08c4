"""User servers for the crash-record tests (tests/daemon/test_crashes.py), importable by a daemon
subprocess from its configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from daemon.context import operation, with_context
from daemon.crashes import CRASHES_NAME
from supervisor import Server, call, whereis


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


class CrashOnceThenBreakTheLog(CrashOnce):
    """``CrashOnce``, and after its restart a request the crash log does not understand, which crashes
    the crash log for real (through its supervisor, the root); ``<marker>.broke`` says it is done.

    The request reaches the crash log after the record of this server's crash and its restart
    decision: both are cast to it by the supervisor before it restarts this server.
    """

    async def handle_continue(self, arg: Any) -> None:
        if not self.marker.exists():
            await super().handle_continue(arg)
            return
        broke = self.marker.with_name(self.marker.name + ".broke")
        if broke.exists():
            return
        log = whereis(CRASHES_NAME)
        assert log is not None
        try:
            await call(log, ("not a request",))
        except Exception:  # the crash log crashed under the request, as wanted
            broke.write_text("the crash log crashed")
