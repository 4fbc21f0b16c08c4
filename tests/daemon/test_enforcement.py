"""enforce_no_process_dict (daemon/enforcement.py): with the flag on, the hidden-state check runs over
the user servers' modules at start and at reload; a finding refuses the start (exit 78, file:line and
rule) or the reload (the old configuration kept, the findings in the reply). The flag is read through
``enforcement_enabled`` (the flags server, else the store or the declared default at start); the
variable ARBORD_ENFORCE_NO_PROCESS_DICT forces it on, and the process tests set that."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from daemon.app import ExitCode
from daemon.enforcement import (
    ENFORCE_FLAG,
    INTERIM_VARIABLE,
    check_servers,
    enforce_no_hidden_state,
    enforcement_enabled,
    server_modules,
)
from daemon.flags import FLAGS_NAME, Flags, MemoryStore
from daemon.flags.stores import open_store
from daemon.servers.config import ServerSection
from daemon.settings import load_settings
from tests.daemon.conftest import ROOT, StartArbord

ON = {INTERIM_VARIABLE: "1"}

DIRTY = """from typing import Any

from supervisor import Caller, Server

_SEEN: dict[str, int] = {}


class Dirty(Server):
    async def handle_call(self, request: Any, caller: Caller) -> Any:
        _SEEN[str(request)] = 1
        return len(_SEEN)
"""
DIRTY_LINE = 5  # where _SEEN is defined: ARB001 points there

CLEAN = """from typing import Any

from supervisor import Caller, Server


class Clean(Server):
    async def init(self) -> None:
        self.seen: dict[str, int] = {}

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        self.seen[str(request)] = 1
        return len(self.seen)
"""


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on ``sys.path`` holding a dirty and a clean server module (new names per test)."""
    directory = tmp_path / "mods"
    directory.mkdir()
    (directory / "enf_dirty.py").write_text(DIRTY)
    (directory / "enf_clean.py").write_text(CLEAN)
    (directory / "enf_broken.py").write_text("def broken(:\n")
    monkeypatch.syspath_prepend(str(directory))
    yield directory
    for name in ("enf_dirty", "enf_clean", "enf_broken"):
        sys.modules.pop(name, None)


def section(start: str) -> ServerSection:
    return ServerSection(start=start)


# --- the check ------------------------------------------------------------------------------------


def test_a_module_global_dict_is_a_finding_with_file_line_and_rule(modules: Path) -> None:
    [problem] = check_servers({"dirty": section("enf_dirty:Dirty")})
    assert problem.startswith("servers.dirty: module enf_dirty: ")
    assert f"{modules / 'enf_dirty.py'}:{DIRTY_LINE}:1 ARB001 `_SEEN` is module-level state" in problem


def test_a_clean_module_has_no_finding(modules: Path) -> None:
    assert check_servers({"clean": section("enf_clean:Clean")}) == []


def test_a_module_that_cannot_be_found_is_named() -> None:
    ghost = ServerSection.model_construct(start="enf_no_such_module:Server")
    [problem] = check_servers({"ghost": ghost})
    assert problem == (
        "servers.ghost: cannot check module 'enf_no_such_module' for hidden state: it cannot be found"
    )


def test_a_module_without_python_source_is_named() -> None:
    builtin = ServerSection.model_construct(start="sys:Server")
    [problem] = check_servers({"builtin": builtin})
    assert problem.startswith(
        "servers.builtin: cannot check module 'sys' for hidden state: it has no Python source"
    )


def test_a_module_that_does_not_parse_is_a_finding_naming_it(modules: Path) -> None:
    broken = ServerSection.model_construct(start="enf_broken:Server")
    [problem] = check_servers({"broken": broken})
    assert problem.startswith(
        f"servers.broken: module enf_broken: {modules / 'enf_broken.py'}:1:1 ARB000 cannot check"
    )


def test_the_class_module_is_checked_besides_the_named_one(modules: Path) -> None:
    (modules / "enf_reexport.py").write_text("from enf_dirty import Dirty\n\n__all__ = ['Dirty']\n")
    try:
        reexported = section("enf_reexport:Dirty")
        assert server_modules(reexported) == ["enf_reexport", "enf_dirty"]
        [problem] = check_servers({"dirty": reexported})
    finally:
        sys.modules.pop("enf_reexport", None)
    assert problem.startswith("servers.dirty: module enf_dirty: ")


def test_the_project_allow_list_is_honoured(modules: Path) -> None:
    (modules / "pyproject.toml").write_text(
        '[tool.arbord.hidden-state]\nallow = [\n    # a legacy module, on its way out\n    "enf_dirty",\n]\n'
    )
    assert check_servers({"dirty": section("enf_dirty:Dirty")}) == []


# --- when it runs ----------------------------------------------------------------------------------


def settings_with(tmp_path: Path, start: str) -> Any:
    path = tmp_path / "arbord.toml"
    path.write_text(f'[servers.one]\nstart = "{start}"\n')
    return load_settings(path, {})


def _config(directory: Path, text: str) -> Any:
    path = directory / "flags.toml"
    path.write_text(text)
    return load_settings(path, {})


async def test_the_variable_forces_enforcement_on() -> None:
    assert await enforcement_enabled(None, {INTERIM_VARIABLE: "on"})
    assert not await enforcement_enabled(None, {INTERIM_VARIABLE: "0"})
    assert not await enforcement_enabled(None, {})


async def test_at_start_the_flag_is_its_declared_default_or_its_state_in_the_store(tmp_path: Path) -> None:
    declared = _config(
        tmp_path, '[flags]\nstore = "memory"\n[flags.enforce_no_process_dict]\ndefault = true\n'
    )
    assert await enforcement_enabled(declared, {})
    undeclared = _config(tmp_path, '[flags]\nstore = "memory"\n')
    assert not await enforcement_enabled(undeclared, {})
    # A flag turned on in the (durable) store is on at the next start.
    environ = {"STATE_DIRECTORY": str(tmp_path)}
    durable = _config(tmp_path, '[flags]\nstore = "sqlite"\n')
    assert not await enforcement_enabled(durable, environ)
    flags = await Flags.start(store=await open_store(durable.flags, environ), name=FLAGS_NAME)
    try:
        await flags.enable(ENFORCE_FLAG, actor="test", create=True)
    finally:
        await flags.stop()
    assert await enforcement_enabled(durable, environ)


async def test_in_a_running_daemon_the_flags_server_answers(tmp_path: Path) -> None:
    settings = _config(tmp_path, '[flags]\nstore = "memory"\n')
    flags = await Flags.start(store=MemoryStore(), name=FLAGS_NAME)
    try:
        assert not await enforcement_enabled(settings, {})
        await flags.enable(ENFORCE_FLAG, actor="test", create=True)
        assert await enforcement_enabled(settings, {})
        await flags.disable(ENFORCE_FLAG, actor="test")
        assert not await enforcement_enabled(settings, {})
    finally:
        await flags.stop()


async def test_with_the_flag_off_nothing_is_checked(modules: Path, tmp_path: Path) -> None:
    assert await enforce_no_hidden_state(settings_with(tmp_path, "enf_dirty:Dirty"), {}) == []


async def test_with_the_flag_on_the_findings_come_back(modules: Path, tmp_path: Path) -> None:
    [problem] = await enforce_no_hidden_state(settings_with(tmp_path, "enf_dirty:Dirty"), ON)
    assert "ARB001" in problem


async def test_the_check_runs_off_the_event_loop(tmp_path: Path) -> None:
    # The check waits for something only the event loop can do: run on the loop, it would never end.
    loop_ran = threading.Event()

    def check(servers: Mapping[str, ServerSection]) -> list[str]:
        if not loop_ran.wait(10):
            return ["the loop never ran"]
        return []

    async def set_from_the_loop() -> None:
        loop_ran.set()

    probe = asyncio.create_task(set_from_the_loop())
    settings = settings_with(tmp_path, "supervisor:Server")
    assert await enforce_no_hidden_state(settings, ON, check=check) == []
    await probe


async def test_a_check_past_its_bound_refuses(tmp_path: Path) -> None:
    release = threading.Event()

    def stuck(servers: Mapping[str, ServerSection]) -> list[str]:
        release.wait(10)
        return []

    try:
        problems = await enforce_no_hidden_state(
            settings_with(tmp_path, "supervisor:Server"), ON, check=stuck, timeout=0.05
        )
    finally:
        release.set()
    assert problems == ["the hidden-state check of the user servers did not finish within 0.05 s"]


# --- a real daemon --------------------------------------------------------------------------------


def environ(directory: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join([str(ROOT), str(directory)]), **(extra or {})}


def request(path: Path, method: str) -> Any:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(str(path))
        sock.sendall(json.dumps({"id": 1, "method": method, "params": {}}).encode() + b"\n")
        with sock.makefile("rb") as stream:
            reply = json.loads(stream.readline())
    assert "error" not in reply, reply
    return reply["result"]


@pytest.fixture
def server_dir(short_tmp: Path) -> Path:
    directory = short_tmp / "mods"
    directory.mkdir()
    (directory / "enf_dirty.py").write_text(DIRTY)
    (directory / "enf_clean.py").write_text(CLEAN)
    return directory


def test_a_start_naming_a_module_with_a_global_dict_exits_78_with_file_line_and_rule(
    start_arbord: StartArbord, server_dir: Path
) -> None:
    config = '[servers.dirty]\nstart = "enf_dirty:Dirty"\n'
    running = start_arbord(config, env=environ(server_dir, ON), wait=False)
    assert running.wait() == ExitCode.CONFIG
    stderr = running.stderr()
    assert "arbord: configuration refused:" in stderr
    assert f"servers.dirty: module enf_dirty: {server_dir / 'enf_dirty.py'}:{DIRTY_LINE}:1 ARB001" in stderr
    assert "Traceback" not in stderr


def test_without_the_flag_the_same_start_runs(start_arbord: StartArbord, server_dir: Path) -> None:
    running = start_arbord('[servers.dirty]\nstart = "enf_dirty:Dirty"\n', env=environ(server_dir))
    assert running.stop() == ExitCode.OK


def test_a_clean_module_passes_and_a_reload_to_a_dirty_module_is_refused(
    start_arbord: StartArbord, server_dir: Path
) -> None:
    running = start_arbord('[servers.one]\nstart = "enf_clean:Clean"\n', env=environ(server_dir, ON))
    before = request(running.control_socket, "config.show")
    running.write_config('[servers.one]\nstart = "enf_dirty:Dirty"\n')
    reply = request(running.control_socket, "reload")
    assert reply["ok"] is False
    assert reply["restarted"] == []
    [problem] = reply["errors"]
    assert problem.startswith(
        f"servers.one: module enf_dirty: {server_dir / 'enf_dirty.py'}:{DIRTY_LINE}:1 ARB001"
    )
    assert request(running.control_socket, "config.show") == before
    assert running.process.poll() is None
    assert running.stop() == ExitCode.OK
