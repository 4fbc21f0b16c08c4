"""Enforcing no hidden state at run time: ``enforce_no_process_dict`` refuses user servers that keep it.

When the flag is on, the daemon runs the hidden-state check (``supervisor.lint``, docs/hidden-state.md)
over the modules of the configured user servers (``[servers.<name>] start = "pkg.mod:Class"``: the
module named there, and the module that defines the class if it is another one), at start and at each
reload. A finding refuses the start (``ConfigError``: exit 78, one line per finding) or the reload (the
previous configuration stays in force; the findings are the reply's ``errors``). Each line names the
server, the module, and the finding as the check prints it, ``file:line:col CODE message``. A module
that cannot be found, has no Python source, or cannot be read or parsed is refused the same way, with
a line naming it. The check reads source files and imports nothing; the configuration of the check
(``[tool.arbord.hidden-state]``: allow-list, context modules) is the nearest ``pyproject.toml`` above
each module's file, as when the project runs ``python -m supervisor.lint`` itself.

The check runs in a thread of its own so that it never holds the event loop, within ``CHECK_TIMEOUT``
seconds; past that the start or reload is refused (a check that cannot finish cannot vouch for the
code). The thread is a daemon thread, not the loop's executor, so a check stuck in a read cannot delay
the process's exit.

**The flag.** ``enforcement_enabled(settings, environ)`` is the one place that reads it. In a
running daemon (a reload) it asks the flags server (``arbord.flags``), as any evaluation does. At
start, before the tree (and so the flags server) runs, it reads the flag's state from the configured
store (``[flags] store``), else the flag's declared default (``[flags.enforce_no_process_dict]
default = true``); a store that cannot be read at start leaves the declared default (the flags server
then reports the store itself). The environment variable ``ARBORD_ENFORCE_NO_PROCESS_DICT`` (``1``,
``true``, ``yes`` or ``on``) forces enforcement on whatever the flag says: for a deployment's own CI,
which has no flag store to write to.

>>> import asyncio
>>> asyncio.run(enforcement_enabled(None, {"ARBORD_ENFORCE_NO_PROCESS_DICT": "1"}))
True
>>> asyncio.run(enforcement_enabled(None, {}))
False
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import sys
import threading
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, Final, TypeVar

from daemon.flags.binding import FLAGS_NAME
from daemon.flags.config import FlagsSettings
from daemon.flags.errors import StoreFailed
from daemon.flags.evaluate import decide
from daemon.flags.server import Flags
from daemon.flags.stores import open_store
from daemon.servers.config import ServerSection
from supervisor import whereis

__all__ = [
    "CHECK_TIMEOUT",
    "ENFORCE_FLAG",
    "INTERIM_VARIABLE",
    "check_servers",
    "configured_servers",
    "enforce_no_hidden_state",
    "enforcement_enabled",
    "server_modules",
]

T = TypeVar("T")

log = logging.getLogger("arbord.enforcement")

ENFORCE_FLAG: Final = "enforce_no_process_dict"
"""The flag of Foundation's ``otp_cleanup`` plan that turns enforcement on."""
INTERIM_VARIABLE: Final = "ARBORD_ENFORCE_NO_PROCESS_DICT"
"""Until the flags server is merged: the environment variable that stands for the flag."""
CHECK_TIMEOUT: Final = 30.0
"""Seconds the check of every user server's modules may take before the start or reload is refused."""

_TRUE: Final = frozenset({"1", "true", "yes", "on"})


async def enforcement_enabled(settings: object, environ: Mapping[str, str]) -> bool:
    """Whether ``enforce_no_process_dict`` is on for ``settings`` (the configuration being started or
    reloaded); the module docstring says where it is read from."""
    if environ.get(INTERIM_VARIABLE, "").strip().lower() in _TRUE:
        return True
    section = getattr(settings, "flags", None)
    if not isinstance(section, FlagsSettings):
        return False  # a daemon without the flags component: the flag cannot be on
    server = whereis(FLAGS_NAME)
    if isinstance(server, Flags):
        return server.enabled(ENFORCE_FLAG)
    declared = section.declared.get(ENFORCE_FLAG)
    default = declared.default if declared is not None else False
    try:
        store = await open_store(section, environ)
        try:
            snapshot = await store.load()
        finally:
            await store.close()
    except StoreFailed as error:
        log.warning(
            "enforce_no_process_dict: the flags store cannot be read (%s); its declared default", error
        )
        return default
    state = snapshot.flags.get(ENFORCE_FLAG)
    return decide(state, None, None, _no_groups, default=default).value


def _no_groups(name: str) -> None:
    """No group functions before the flags server runs: a group gate matches nobody at start."""


def configured_servers(settings: object) -> Mapping[str, ServerSection]:
    """The ``[servers.<name>]`` sections of ``settings`` (none when the daemon has no such component)."""
    servers = getattr(settings, "servers", None)
    return servers if isinstance(servers, Mapping) else {}


def server_modules(section: ServerSection) -> list[str]:
    """The modules to check for one server: the one named by ``start``, then the class's own."""
    named = section.start.split(":")[0]
    modules = [named]
    try:
        defining = getattr(section.server_class(), "__module__", None)
    except Exception:  # validated importable; if that changed, the named module's problem says so
        defining = None
    if isinstance(defining, str) and defining not in modules:
        modules.append(defining)
    return modules


def _source_of(module: str) -> Path | str:
    """The module's source file, or a line saying why it has none to check."""
    loaded = sys.modules.get(module)
    try:
        spec = getattr(loaded, "__spec__", None) or importlib.util.find_spec(module)
    except (ImportError, ValueError) as error:
        return f"cannot check module {module!r} for hidden state: it cannot be found ({error})"
    if spec is None:
        return f"cannot check module {module!r} for hidden state: it cannot be found"
    origin = spec.origin
    if not spec.has_location or origin is None or not origin.endswith(".py"):
        return f"cannot check module {module!r} for hidden state: it has no Python source ({origin})"
    return Path(origin)


def check_servers(servers: Mapping[str, ServerSection]) -> list[str]:
    """Check the modules of ``servers``; one line per finding or problem, empty when all is clean.

    Blocking (it reads files): ``enforce_no_hidden_state`` runs it in a thread."""
    problems: list[str] = []
    checked: dict[Path, list[str]] = {}
    for name in sorted(servers):
        for module in server_modules(servers[name]):
            source = _source_of(module)
            if isinstance(source, str):
                problems.append(f"servers.{name}: {source}")
                continue
            if source not in checked:
                checked[source] = _findings(source, module)
            problems.extend(f"servers.{name}: {line}" for line in checked[source])
    return problems


def _findings(source: Path, module: str) -> list[str]:
    # The checker is imported only when there is something to check: a daemon that enforces nothing
    # does not pay for it before READY (docs/performance.md, "The daemon").
    from supervisor.lint import LintError, check_paths, load_config

    try:
        config = load_config(cwd=source.parent)
        findings = check_paths([source], config)
    except (LintError, OSError) as error:
        return [f"cannot check module {module!r} for hidden state: {error}"]
    return [f"module {module}: {finding.format()}" for finding in sorted(findings)]


async def enforce_no_hidden_state(
    settings: object,
    environ: Mapping[str, str],
    *,
    timeout: float = CHECK_TIMEOUT,
    check: Callable[[Mapping[str, ServerSection]], list[str]] = check_servers,
) -> list[str]:
    """The findings that refuse ``settings`` when ``enforce_no_process_dict`` is on (else none),
    checked in a thread within ``timeout`` seconds. ``check`` is the check (tests replace it)."""
    if not await enforcement_enabled(settings, environ):
        return []
    servers = configured_servers(settings)
    if not servers:
        return []
    try:
        return await _in_thread(partial(check, servers), timeout)
    except TimeoutError:
        return [f"the hidden-state check of the user servers did not finish within {timeout:g} s"]


async def _in_thread(work: Callable[[], T], timeout: float) -> T:
    """``work()`` in a daemon thread of its own, awaited for at most ``timeout`` seconds (then
    ``TimeoutError``; the thread is left to finish on its own, its result dropped)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(failure: BaseException | None, result: Any) -> None:
        if done.done():  # given up on (timeout, cancellation)
            return
        if failure is not None:
            done.set_exception(failure)
        else:
            done.set_result(result)

    def run() -> None:
        failure: BaseException | None = None
        result: Any = None
        try:
            result = work()
        except BaseException as error:
            failure = error
        try:
            loop.call_soon_threadsafe(settle, failure, result)
        except RuntimeError:  # the loop closed meanwhile: nobody waits any more
            pass

    threading.Thread(target=run, name="arbord.enforcement", daemon=True).start()
    async with asyncio.timeout(timeout):
        return await done
