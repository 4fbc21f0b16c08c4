"""The tree assembly and the daemon runner, in process, with small stand-in components.

The real registry, cache, console and control servers are exercised end to end in test_process.py;
here stand-ins record how they were started and stopped, so the tests can check the order of the
tree, what a reload restarts, and each exit code, without sockets.
"""

from __future__ import annotations

import asyncio
import doctest
import grp
import importlib
import importlib.metadata
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from daemon.app import Daemon, DaemonState, ExitCode, describe_start_failure
from daemon.cache.component import CACHE
from daemon.component import Component, ComponentContext
from daemon.console.component import CONSOLE
from daemon.console.config import ConsoleSettings
from daemon.control.component import CONTROL
from daemon.control.config import ControlSettings
from daemon.errors import ConfigError
from daemon.notify import Notifier
from daemon.registry.component import KEEPER, REGISTRY
from daemon.registry.config import RegistrySettings
from daemon.servers.component import SERVERS
from daemon.settings import Settings, load_settings
from daemon.tree import changed_components
from daemon.verbs.component import CORE
from daemon.verbs.daemon_verbs import status as status_verb
from daemon.verbs.method import MethodContext, NoParams
from supervisor import Caller, ChildSpec, Exit, Server, StartFailed, Supervisor, crash, shutdown, whereis


class Recorder(Server):
    """A stand-in component: remembers its settings; logs its stop in the shared ``events`` list."""

    async def init(self, label: str, settings: object, events: list[str]) -> None:
        self.label, self.settings, self.events = label, settings, events
        events.append(f"start {label}")

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        return self.settings

    async def terminate(self, reason: Exit) -> None:
        self.events.append(f"stop {self.label}")


class Crashy(Server):
    """A user server that crashes on any cast."""

    async def handle_cast(self, message: Any) -> None:
        raise RuntimeError(f"crashed on {message!r}")


@dataclass(frozen=True)
class LocalConnection:
    """The connection a verb is called on in process (no socket)."""

    id: int = 0
    task: asyncio.Task[Any] | None = None
    peer_uid: int | None = None
    peer_pid: int | None = None


class FailingControl(Server):
    async def init(self) -> None:
        raise ConfigError(["control.socket: in use by a live instance"])


class Stubborn(Server):
    """A user server whose terminate never returns (shutdown = infinity)."""

    async def terminate(self, reason: Exit) -> None:
        await asyncio.Event().wait()


class EventLog(list[str]):
    """The components' start/stop log, which a test can wait on."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = asyncio.Event()

    def append(self, item: str) -> None:
        super().append(item)
        self.changed.set()

    async def wait_for_count(self, count: int) -> None:
        async with asyncio.timeout(10):
            while len(self) < count:
                self.changed.clear()
                await self.changed.wait()


@dataclass
class Stand:
    events: EventLog = field(default_factory=EventLog)
    fail_control: bool = False
    # Whether the stand-in control server takes the real one's name (verbs then ask it for statistics).
    name_control: bool = True

    def components(self) -> tuple[Component[Any], ...]:
        """The daemon's component list with stand-ins for the registry, cache, console and control."""

        def recorder(label: str) -> Callable[[Any, ComponentContext], Sequence[ChildSpec]]:
            def specs(section: Any, context: ComponentContext) -> Sequence[ChildSpec]:
                return (ChildSpec(label, Recorder, (label, section, self.events), name=f"arbord.{label}"),)

            return specs

        def control(section: ControlSettings, context: ComponentContext) -> Sequence[ChildSpec]:
            if self.fail_control:
                return (ChildSpec("control", FailingControl),)
            settings = (section, section.socket_path(context.runtime_dir))
            name = "arbord.control" if self.name_control else None
            return (ChildSpec("control", Recorder, ("control", settings, self.events), name=name),)

        def console(section: ConsoleSettings, context: ComponentContext) -> Sequence[ChildSpec]:
            return recorder("console")(section, context) if section.enabled else ()

        return (
            CORE,
            KEEPER,
            replace(REGISTRY, child_specs=recorder("registry")),
            replace(CACHE, child_specs=recorder("cache")),
            SERVERS,
            replace(CONSOLE, child_specs=console),
            replace(CONTROL, child_specs=control),
        )


class RecordingNotifier(Notifier):
    def __init__(self) -> None:
        super().__init__(None)
        self.sent: list[dict[str, str]] = []
        self.changed = asyncio.Event()

    def send(self, fields: Mapping[str, str]) -> bool:
        self.sent.append(dict(fields))
        self.changed.set()
        return True

    async def wait_for(self, key: str) -> dict[str, str]:
        async with asyncio.timeout(10):
            while True:
                for message in self.sent:
                    if key in message:
                        return message
                self.changed.clear()
                await self.changed.wait()


@dataclass
class Harness:
    daemon: Daemon
    notifier: RecordingNotifier
    stand: Stand
    config: Path
    run: asyncio.Task[int]

    def write(self, text: str) -> None:
        self.config.write_text(f'[daemon]\nruntime_dir = "{self.daemon.runtime_dir}"\n{text}')


async def start(short_tmp: Path, text: str = "", stand: Stand | None = None) -> Harness:
    config = short_tmp / "arbord.toml"
    config.write_text(f'[daemon]\nruntime_dir = "{short_tmp / "run"}"\n{text}')
    stand = stand or Stand()
    notifier = RecordingNotifier()
    runner = Daemon(
        load_settings(config, {}),
        config_path=config,
        environ={},
        components=stand.components(),
        notifier=notifier,
    )
    task = asyncio.create_task(runner.run())
    harness = Harness(runner, notifier, stand, config, task)
    if not stand.fail_control:
        await notifier.wait_for("READY")
    return harness


@pytest.fixture
async def harness(short_tmp: Path) -> AsyncIterator[Harness]:
    h = await start(short_tmp)
    yield h
    h.daemon.request_shutdown()
    async with asyncio.timeout(10):
        await h.run


async def child_ids(daemon: Daemon) -> list[str | None]:
    return [info.id for info in reversed(await daemon.root.which_children())]


# --- assembly --------------------------------------------------------------------------------------


async def test_the_tree_starts_in_order_with_the_control_server_last(harness: Harness) -> None:
    assert await child_ids(harness.daemon) == ["registry_keeper", "registry", "cache", "servers", "control"]
    assert harness.stand.events == ["start registry", "start cache", "start control"]
    assert harness.daemon.state is DaemonState.RUNNING
    assert harness.notifier.sent[0] == {
        "READY": "1",
        "STATUS": f"running; control socket {harness.daemon.runtime_dir / 'control.sock'}",
    }


async def test_the_runtime_directory_is_created_owner_only(harness: Harness) -> None:
    assert harness.daemon.runtime_dir.stat().st_mode & 0o777 == 0o700


async def test_the_runtime_directory_lets_the_control_group_traverse_it(short_tmp: Path) -> None:
    h = await start(short_tmp, '[control]\ngroup = "operators"\n')
    assert h.daemon.runtime_dir.stat().st_mode & 0o777 == 0o710
    h.daemon.request_shutdown()
    assert await h.run == ExitCode.OK


def _a_group_to_give() -> int | None:
    """A gid this process may give a directory it owns, other than its own group (None: none)."""
    if os.geteuid() == 0:
        return next((g.gr_gid for g in grp.getgrall() if g.gr_gid != os.getegid()), None)
    return next((gid for gid in os.getgroups() if gid != os.getegid()), None)


async def test_the_runtime_directory_belongs_to_the_control_group(short_tmp: Path) -> None:
    # Issue 12: a runtime directory the daemon created kept the daemon's own group, so the members of
    # [control] group could not traverse its 0710 to reach the socket.
    gid = _a_group_to_give()
    if gid is None:
        pytest.skip("this user belongs to no group besides its own")
    h = await start(short_tmp, f'[control]\ngroup = "{gid}"\n')
    info = h.daemon.runtime_dir.stat()
    assert (info.st_mode & 0o777, info.st_gid) == (0o710, gid)
    h.daemon.request_shutdown()
    assert await h.run == ExitCode.OK


async def test_the_console_joins_the_tree_before_control_when_enabled(short_tmp: Path) -> None:
    h = await start(short_tmp, "[console]\nenabled = true\n")
    assert await child_ids(h.daemon) == [
        "registry_keeper",
        "registry",
        "cache",
        "servers",
        "console",
        "control",
    ]
    h.daemon.request_shutdown()
    assert await h.run == ExitCode.OK


async def test_user_servers_start_under_their_supervisor_by_name(short_tmp: Path) -> None:
    h = await start(short_tmp, '[servers.plain]\nstart = "supervisor:Server"\n')
    assert whereis("arbord.servers.plain") is not None
    h.daemon.request_shutdown()
    assert await h.run == ExitCode.OK
    assert whereis("arbord.servers.plain") is None


async def test_status_reports_state_loop_and_paths(harness: Harness) -> None:
    status = harness.daemon.status()
    assert status["state"] == "running"
    assert status["config"] == str(harness.config)
    assert status["control_socket"] == str(harness.daemon.runtime_dir / "control.sock")
    assert status["loop"] in ("asyncio", "uvloop")


async def test_status_reads_the_version_once_not_the_metadata_per_request(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # importlib.metadata scans sys.path on every read (tens of milliseconds on a busy disk, on
    # the loop): ``status``, one control request in twenty in the stress mix, must not ask it.
    version = str(harness.daemon.status()["version"])
    reads: list[str] = []

    def counted(name: str) -> str:
        reads.append(name)
        return version

    monkeypatch.setattr(importlib.metadata, "version", counted)
    assert [harness.daemon.status()["version"] for _ in range(3)] == [version] * 3
    assert reads == []


async def crash_user_server(name: str) -> None:
    """Crash the server registered as ``name`` and wait until it has exited."""
    server = whereis(name)
    assert server is not None
    server.cast("boom")
    await server.wait()


async def test_status_counts_restarts_and_names_the_last_crash_across_a_sub_supervisor_restart(
    short_tmp: Path,
) -> None:
    text = '[tree.servers]\nintensity = 1\n[servers.crashy]\nstart = "tests.daemon.test_tree:Crashy"\n'
    h = await start(short_tmp, text, Stand(name_control=False))
    before = h.daemon.status()
    assert before["restarts"] == {"total": 0, "children": []}
    assert before["last_crash"] is None
    old_servers = whereis("arbord.servers")
    assert isinstance(old_servers, Supervisor)
    await crash_user_server("arbord.servers.crashy")
    await old_servers.count_children()  # handled after the exit: the restart is done
    await crash_user_server("arbord.servers.crashy")  # one too many: arbord.servers gives up
    await old_servers.wait()
    await h.daemon.root.count_children()  # the root has restarted arbord.servers
    status = h.daemon.status()
    # The new arbord.servers has fresh records; the status still counts the restart of its child.
    assert status["restarts"] == {
        "total": 2,
        "children": [
            {"supervisor": "arbord.root", "child": "servers", "restarts": 1},
            {"supervisor": "arbord.servers", "child": "crashy", "restarts": 1},
        ],
    }
    crash = status["last_crash"]
    assert (crash["supervisor"], crash["child"]) == ("arbord.servers", "crashy")
    assert crash["reason"] == "crash: RuntimeError(\"crashed on 'boom'\")"
    # The verb names children by their tree paths, as `tree` shows them.
    context = MethodContext(LocalConnection(), h.daemon)  # type: ignore[arg-type]
    reply = status_verb.handler(NoParams(), context)
    assert isinstance(reply, Awaitable)
    shown = await reply
    assert shown["restarts"]["children"] == {"root/servers": 1, "root/servers/crashy": 1}
    assert shown["last_crash"]["child"] == "root/servers/crashy"
    h.daemon.request_shutdown()
    assert await h.run == ExitCode.OK


def test_a_reload_changes_the_components_whose_reload_rule_says_so() -> None:
    stand = Stand().components()
    new_settings = Settings.model_validate(
        {"registry": RegistrySettings(max_entries_per_owner=5), "console": ConsoleSettings(enabled=True)}
    )
    assert changed_components(stand, Settings(), Settings()) == []
    assert changed_components(stand, Settings(), new_settings) == ["registry", "console"]
    assert changed_components(stand, new_settings, Settings()) == ["registry", "console"]


# --- stopping and exit codes -----------------------------------------------------------------------


async def test_a_stop_sends_stopping_then_stops_control_first_then_the_rest_in_reverse(
    harness: Harness,
) -> None:
    harness.daemon.request_shutdown()
    assert await harness.run == ExitCode.OK
    assert harness.notifier.sent[-1] == {"STOPPING": "1", "STATUS": "stopping"}
    assert harness.stand.events[3:] == ["stop control", "stop cache", "stop registry"]
    assert harness.daemon.state is DaemonState.STOPPED


async def test_the_root_giving_up_exits_70(short_tmp: Path) -> None:
    h = await start(short_tmp, "[tree.root]\nintensity = 0\n")
    registry = whereis("arbord.registry")
    assert registry is not None
    registry.kill()
    assert await h.run == ExitCode.SOFTWARE
    assert h.notifier.sent[-1] == {"STOPPING": "1", "STATUS": "the supervision tree gave up"}


async def test_a_stop_over_budget_exits_70(short_tmp: Path) -> None:
    text = '[servers.stubborn]\nstart = "tests.daemon.test_tree:Stubborn"\nshutdown = "infinity"\n'
    h = await start(short_tmp, "shutdown_timeout = 0.2\n" + text)
    h.daemon.request_shutdown()
    assert await h.run == ExitCode.SOFTWARE


async def test_a_configuration_problem_while_starting_exits_78(short_tmp: Path) -> None:
    h = await start(short_tmp, stand=Stand(fail_control=True))
    assert await h.run == ExitCode.CONFIG
    assert h.notifier.sent == [
        {"STATUS": "failed to start: child control: control.socket: in use by a live instance"}
    ]


def test_describe_start_failure_follows_nested_supervisors() -> None:
    error = StartFailed("x", shutdown(("servers", shutdown(("leaf", crash(ValueError("bad")))))))
    assert describe_start_failure(error) == ("child servers/leaf: bad", False)
    config = StartFailed("x", shutdown(("control", crash(ConfigError(["bad socket"])))))
    assert describe_start_failure(config) == ("child control: bad socket", True)


# --- reload ----------------------------------------------------------------------------------------


async def test_a_reload_with_nothing_changed_restarts_nothing(harness: Harness) -> None:
    reply = await harness.daemon.reload()
    assert reply == {
        "ok": True,
        "errors": [],
        "changed": [],
        "restarted": [],
        "needs_restart": [],
        "rolled_back": [],
    }
    assert harness.stand.events == ["start registry", "start cache", "start control"]
    reloading = harness.notifier.sent[-2]
    assert reloading["RELOADING"] == "1"
    assert int(reloading["MONOTONIC_USEC"]) > 0
    assert harness.notifier.sent[-1]["READY"] == "1"


async def test_a_reload_restarts_only_the_children_whose_settings_changed(harness: Harness) -> None:
    cache = whereis("arbord.cache")
    order = [info.id for info in await harness.daemon.root.which_children()]
    harness.write("[registry]\nmax_entries_per_owner = 7\n")
    reply = await harness.daemon.reload()
    # The restarted child keeps its place: the stop order stays the reverse of the start order.
    assert [info.id for info in await harness.daemon.root.which_children()] == order
    assert reply["ok"]
    assert reply["changed"] == ["registry"]
    assert reply["restarted"] == ["registry"]
    assert harness.stand.events[3:] == ["stop registry", "start registry"]
    assert whereis("arbord.cache") is cache
    registry = whereis("arbord.registry")
    assert registry is not None
    assert (await registry.call("get")).max_entries_per_owner == 7
    assert REGISTRY.of(harness.daemon.settings).max_entries_per_owner == 7


async def test_a_reload_with_a_bad_file_keeps_the_old_configuration(harness: Harness) -> None:
    before = harness.daemon.settings
    harness.write("[registry]\nmax_entries_per_owner = 'many'\n")
    reply = await harness.daemon.reload()
    assert reply["ok"] is False
    assert reply["errors"][0].startswith("registry.max_entries_per_owner: expected a valid integer")
    assert harness.daemon.settings is before
    assert harness.stand.events == ["start registry", "start cache", "start control"]
    assert harness.notifier.sent[-1]["READY"] == "1"
    assert harness.notifier.sent[-1]["STATUS"].startswith("running; reload failed: registry.max_entries")


async def test_a_reload_with_a_syntax_error_keeps_the_old_configuration(harness: Harness) -> None:
    harness.config.write_text("[daemon\n")
    reply = await harness.daemon.reload()
    assert not reply["ok"]
    assert "TOML syntax error" in reply["errors"][0]


async def test_a_reload_diffs_user_servers_one_by_one(harness: Harness) -> None:
    harness.write('[servers.a]\nstart = "supervisor:Server"\n')
    assert (await harness.daemon.reload())["restarted"] == ["servers.a"]
    a = whereis("arbord.servers.a")
    harness.write('[servers.a]\nstart = "supervisor:Server"\n[servers.b]\nstart = "supervisor:Server"\n')
    assert (await harness.daemon.reload())["restarted"] == ["servers.b"]
    assert whereis("arbord.servers.a") is a
    harness.write('[servers.b]\nstart = "supervisor:Server"\n')
    assert (await harness.daemon.reload())["restarted"] == ["servers.a"]
    assert whereis("arbord.servers.a") is None
    assert whereis("arbord.servers.b") is not None


async def test_parts_that_need_a_restart_are_reported_and_kept(harness: Harness) -> None:
    harness.write('loop = "asyncio"\n[tree.root]\nintensity = 9\n')
    reply = await harness.daemon.reload()
    assert reply["ok"]
    assert reply["needs_restart"] == ["daemon.loop", "tree.root"]
    assert harness.daemon.settings.daemon.loop == "uvloop"
    assert harness.daemon.settings.tree.root.intensity == 3


async def test_a_changed_control_socket_is_replaced_after_the_reply(harness: Harness) -> None:
    harness.write('[control]\nsocket = "other.sock"\n')
    reply = await harness.daemon.reload()
    assert reply["restarted"] == ["control"]
    await harness.stand.events.wait_for_count(5)
    assert harness.stand.events[3:] == ["stop control", "start control"]
    control = whereis("arbord.control")
    assert control is not None
    assert (await control.call("get"))[1] == harness.daemon.runtime_dir / "other.sock"
    assert await child_ids(harness.daemon) == ["registry_keeper", "registry", "cache", "servers", "control"]


async def test_enabling_the_console_on_reload_starts_it(harness: Harness) -> None:
    harness.write("[console]\nenabled = true\n")
    reply = await harness.daemon.reload()
    assert reply["restarted"] == ["console"]
    assert whereis("arbord.console") is not None
    harness.write("")
    assert (await harness.daemon.reload())["restarted"] == ["console"]
    assert whereis("arbord.console") is None


# --- the examples in the docstrings of the process modules ----------------------------------------

PROCESS_MODULES = (
    "daemon.app",
    "daemon.app_logging",
    "daemon.app_paths",
    "daemon.app_reload",
    "daemon.cli",
    "daemon.component",
    "daemon.notify",
    "daemon.respec",
    "daemon.sections",
    "daemon.servers.component",
    "daemon.servers.config",
    "daemon.settings",
    "daemon.settings_errors",
    "daemon.settings_sources",
    "daemon.tree",
    "daemon.watchdog",
)


@pytest.mark.parametrize("name", PROCESS_MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, verbose=False)
    assert result.failed == 0, f"{result.failed} failing example(s) in {name}"
