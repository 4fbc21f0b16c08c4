"""Shared pieces of the control tests: a fake daemon, a small tree, a running control server.

Holds no tests itself; the control test modules import from it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from daemon.control import ControlSettings, control_child_spec
from daemon.verbs.core import CORE_ERROR_MAP, core_methods
from daemon.verbs.method import Method, MethodContext, NoParams, VerbTable, methods_by_name
from supervisor import Caller, ChildSpec, ChildType, DynamicSupervisor, Server, Supervisor

__all__ = [
    "Echo",
    "FakeDaemon",
    "FakeSettings",
    "Harness",
    "running_control",
    "short_tmpdir",
]


class Echo(Server):
    """Answers every call with its request."""

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        return request


class FakeSettings(BaseModel):
    """Stands in for ``daemon.settings.Settings``: only what ``config.show`` dumps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    control: ControlSettings = ControlSettings()
    label: str = "fake"
    store_url: str = "redis://app:s3cr3t@cache:6379/2"
    api_token: str = "t0k3n"


@dataclass
class FakeDaemon:
    """A ``DaemonContext`` that records what the control methods asked of it."""

    root_supervisor: Supervisor
    runtime_directory: Path
    config: FakeSettings = field(default_factory=FakeSettings)
    shutdown_requested: asyncio.Event = field(default_factory=asyncio.Event)
    reloads: int = 0
    reload_result: Mapping[str, Any] = field(
        default_factory=lambda: {"ok": True, "errors": [], "changed": [], "restarted": []}
    )

    @property
    def root(self) -> Supervisor:
        return self.root_supervisor

    @property
    def settings(self) -> BaseModel:
        return self.config

    @property
    def runtime_dir(self) -> Path:
        return self.runtime_directory

    def status(self) -> Mapping[str, Any]:
        return {"state": "running", "pid": os.getpid(), "version": "test"}

    async def reload(self) -> Mapping[str, Any]:
        self.reloads += 1
        return self.reload_result

    def request_shutdown(self) -> None:
        self.shutdown_requested.set()


@contextmanager
def short_tmpdir() -> Iterator[Path]:
    """A directory short enough for ``sun_path`` (pytest's tmp_path is often too long)."""
    path = Path(tempfile.mkdtemp(prefix="arb-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@dataclass
class Harness:
    """A running tree with a control server: ``path`` is its socket."""

    root: Supervisor
    daemon: FakeDaemon
    path: Path
    gate: asyncio.Event
    """Opens the test-only ``test.wait`` method."""


def extra_methods(gate: asyncio.Event) -> tuple[Method, ...]:
    """Methods that misbehave on purpose: wait on ``gate``, raise, return what JSON cannot carry; and
    ``test.tick``, which counts its calls (in order of handling, over every connection)."""
    ticks = [0]

    async def tick(params: NoParams, context: MethodContext) -> dict[str, int]:
        ticks[0] += 1
        return {"ticks": ticks[0]}

    async def wait(params: NoParams, context: MethodContext) -> dict[str, bool]:
        await gate.wait()
        return {"waited": True}

    async def boom(params: NoParams, context: MethodContext) -> None:
        raise RuntimeError("boom")

    async def unserialisable(params: NoParams, context: MethodContext) -> object:
        return object()

    return (
        Method("test.wait", NoParams, wait, "waits until the test opens the gate"),
        Method("test.boom", NoParams, boom, "raises"),
        Method("test.unserialisable", NoParams, unserialisable, "returns a non-JSON value"),
        Method("test.tick", NoParams, tick, "counts its calls"),
    )


@asynccontextmanager
async def running_control(
    settings: ControlSettings | None = None, **overrides: Any
) -> AsyncIterator[Harness]:
    """A root with ``core`` (echo, other), a dynamic ``pool`` and the control server, in a short tmpdir.

    ``overrides`` go to ``ControlSettings``; the gate of ``test.wait`` is ``harness.gate``.
    """
    with short_tmpdir() as tmp:
        runtime_dir = tmp / "run"
        core = [ChildSpec("echo", Echo, name="test.echo"), ChildSpec("other", Echo)]
        root = Supervisor(
            [
                ChildSpec("core", Supervisor, args=(core,), type=ChildType.SUPERVISOR),
                ChildSpec("pool", DynamicSupervisor, type=ChildType.SUPERVISOR),
            ]
        )
        async with root:
            fake = FakeDaemon(root, runtime_dir)
            control = settings or ControlSettings(**overrides)
            gate = asyncio.Event()
            verbs = VerbTable(methods_by_name(core_methods(), extra_methods(gate)), CORE_ERROR_MAP)
            path = control.socket_path(runtime_dir)
            await root.start_child(control_child_spec(control, path, fake, verbs))
            harness = Harness(root, fake, path, gate)
            try:
                yield harness
            finally:
                gate.set()
