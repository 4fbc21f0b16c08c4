"""Adding a component is one ``Component`` and one entry in the list: a small one proves it.

``GREETER`` (below, test-only) has a settings section, one child server, one verb and one error code.
Added to the daemon's component list, it is validated as ``[greeter]``, started in the tree before
the control server, reachable by its verb over the control socket, answered with its error code,
and restarted by a reload that changes its section.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import pytest
from pydantic import BaseModel, ConfigDict, Field

from daemon.app import Daemon, ExitCode
from daemon.component import Component, ComponentContext, verb_table
from daemon.ctl.client import ControlReplyError, open_control_client
from daemon.errors import ConfigError
from daemon.settings import load_settings, settings_model
from daemon.tree import COMPONENTS
from daemon.verbs.codes import ErrorCode
from daemon.verbs.method import Method, MethodContext
from supervisor import Caller, ChildSpec, Server, whereis
from tests.daemon.test_tree import RecordingNotifier

GREETER_NAME: Final = "arbord.greeter"


class GreeterSettings(BaseModel):
    """``[greeter]``: how to greet, and the longest name it greets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    greeting: str = "hello"
    max_length: int = Field(default=10, ge=1)


class NameTooLong(Exception):
    """A name over ``[greeter] max_length``: the component maps it to ``invalid_params``."""


class Greeter(Server):
    """The component's one child: holds its settings."""

    async def init(self, settings: GreeterSettings) -> None:
        self.settings = settings

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        return self.settings


class GreetParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str


async def greet(params: GreetParams, context: MethodContext) -> dict[str, str]:
    greeter = whereis(GREETER_NAME)
    assert greeter is not None
    settings: GreeterSettings = await greeter.call("settings")
    if len(params.name) > settings.max_length:
        raise NameTooLong(f"{params.name!r} is longer than {settings.max_length}")
    return {"greeting": f"{settings.greeting}, {params.name}"}


def _children(section: GreeterSettings, context: ComponentContext) -> Sequence[ChildSpec]:
    return (ChildSpec("greeter", Greeter, args=(section,), name=GREETER_NAME),)


def _verbs() -> Sequence[Method]:
    return (Method("greeter.greet", GreetParams, greet, "greet someone"),)


GREETER: Final[Component[GreeterSettings]] = Component(
    "greeter",
    GreeterSettings,
    child_specs=_children,
    verbs=_verbs,
    error_map=MappingProxyType({NameTooLong: ErrorCode.INVALID_PARAMS}),
)

# The one list entry: before the control server, which stays last.
WITH_GREETER: Final = (*COMPONENTS[:-1], GREETER, COMPONENTS[-1])
SettingsWithGreeter: Final = settings_model(WITH_GREETER)


@dataclass
class Running:
    daemon: Daemon
    config: Path
    run: asyncio.Task[int]


@pytest.fixture
async def running(short_tmp: Path) -> AsyncIterator[Running]:
    config = short_tmp / "arbord.toml"
    config.write_text(f'[daemon]\nruntime_dir = "{short_tmp / "run"}"\n[greeter]\ngreeting = "hi"\n')
    notifier = RecordingNotifier()
    settings = load_settings(config, {}, SettingsWithGreeter)
    daemon = Daemon(settings, config_path=config, environ={}, components=WITH_GREETER, notifier=notifier)
    task = asyncio.create_task(daemon.run())
    await notifier.wait_for("READY")
    yield Running(daemon, config, task)
    daemon.request_shutdown()
    async with asyncio.timeout(10):
        assert await task == ExitCode.OK


def test_its_section_joins_the_settings_and_is_validated() -> None:
    assert GREETER.of(SettingsWithGreeter()) == GreeterSettings()
    short = load_settings(None, {"ARBORD_GREETER__MAX_LENGTH": "3"}, SettingsWithGreeter)
    assert GREETER.of(short).max_length == 3
    with pytest.raises(ConfigError) as refused:
        load_settings(None, {"ARBORD_GREETER__MAX_LENGTH": "0"}, SettingsWithGreeter)
    assert refused.value.problems[0].startswith(
        "greeter.max_length: expected a value greater than or equal to 1"
    )
    with pytest.raises(ConfigError) as unknown:
        load_settings(None, {"ARBORD_GREETER__NAME": "x"})  # not a section of the standard daemon
    assert unknown.value.problems[0].startswith("greeter: unknown section")


def test_its_verb_and_error_code_join_the_table() -> None:
    table = verb_table(WITH_GREETER)
    assert "greeter.greet" in table.methods
    assert table.error_for(NameTooLong("x"))[0] is ErrorCode.INVALID_PARAMS


async def test_it_starts_before_the_control_server_and_answers_its_verb(running: Running) -> None:
    children = [info.id for info in reversed(await running.daemon.root.which_children())]
    assert children[-2:] == ["greeter", "control"]
    async with open_control_client(running.daemon.paths.control_socket) as client:
        assert await client.call("greeter.greet", {"name": "bob"}) == {"greeting": "hi, bob"}
        with pytest.raises(ControlReplyError) as refused:
            await client.call("greeter.greet", {"name": "x" * 11})
        assert refused.value.code == "invalid_params"
        assert (await client.call("config.show"))["greeter"] == {"greeting": "hi", "max_length": 10}


async def test_a_reload_that_changes_its_section_restarts_it(running: Running) -> None:
    before = whereis(GREETER_NAME)
    runtime_dir = running.daemon.runtime_dir
    running.config.write_text(f'[daemon]\nruntime_dir = "{runtime_dir}"\n[greeter]\ngreeting = "hey"\n')
    reply = await running.daemon.reload()
    assert (reply["changed"], reply["restarted"]) == (["greeter"], ["greeter"])
    after = whereis(GREETER_NAME)
    assert after is not None
    assert after is not before
    assert (await after.call("settings")).greeting == "hey"
