"""The daemon runner: start the tree, serve until told to stop, reload on request, stop cleanly.

``Daemon`` is the ``DaemonContext`` the control methods and the console talk to. Its life::

    STARTING ──tree up, READY=1──▶ RUNNING ◀──READY=1── RELOADING (SIGHUP, arborctl reload)
                                      │
                 SIGTERM/SIGINT, shutdown, or the root gave up
                                      ▼
                                  STOPPING ──▶ STOPPED

A stop sends ``STOPPING=1``, stops the control server first (it stops accepting and drains the
in-flight requests), then the rest of the tree in reverse start order, all within
``[daemon] shutdown_timeout``. A second SIGTERM/SIGINT while stopping forces the exit (code 1); the
handlers stay installed until the process is gone.

A stop always finishes (docs/operations.md, "Stop and reload guarantees"). A child abandoned anywhere
in the tree (it swallowed its cancellation, so its task lives on) makes the exit code 70, whatever
supervisor abandoned it: the runner listens for the ``("supervisor", "child", "abandoned")`` event.
The ``arbord`` command runs the daemon with ``owns_process=True``: a stop then also arms a thread
that ends the process with code 70 half a second after the budget, even if the event loop itself is
blocked, and the command ends the process with ``os._exit`` once ``run`` returns, so nothing left on
the loop (an abandoned task, an executor thread) can keep it alive.

``run`` returns the process exit code (``ExitCode``): 0 after a clean stop, 70 when the top of the
tree gave up (restart intensity exhausted, an unkillable child, or the stop budget exceeded), 1 when
the tree failed to start, 78 when that failure was a configuration problem.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
import os
import signal
import threading
import time
from collections.abc import Coroutine, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Final

import daemon
from daemon.app_logging import set_format, set_level
from daemon.app_paths import (
    RuntimePaths,
    prepare_runtime_dir,
    resolve_paths,
    runtime_dir_gid,
    runtime_dir_mode,
)
from daemon.app_reload import (
    ComponentChange,
    ReloadOutcome,
    apply_components,
    changed_sections,
    frozen_parts,
    replace_children,
    split_settings,
)
from daemon.component import Component, ComponentContext, verb_table
from daemon.context import context_policy
from daemon.context_policy import DEFAULT_POLICY
from daemon.enforcement import enforce_no_hidden_state
from daemon.errors import ConfigError, UnsafeSocketPath
from daemon.notify import Notifier
from daemon.restart_log import RestartLog
from daemon.sections import SettingsBase
from daemon.settings import load_settings
from daemon.tree import COMPONENTS, PlannedChild, plan_tree, root_flags
from daemon.verbs.method import VerbTable
from daemon.watchdog import monitor_lag, ping_watchdog, watchdog_interval
from supervisor import SHUTDOWN, ArbordError, Exit, ExitKind, StartFailed, Supervisor, telemetry
from supervisor.lowlevel import Clock, MonotonicClock

__all__ = ["Daemon", "DaemonState", "ExitCode", "describe_start_failure"]

log = logging.getLogger("arbord.daemon")

_STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)
_ABANDONED: Final = ("supervisor", "child", "abandoned")
_DEADLINE_MARGIN: Final = 0.5
"""Seconds past ``shutdown_timeout`` the exit thread waits for the loop to finish the stop itself."""


class ExitCode(enum.IntEnum):
    """The process exit codes (docs/operations.md, "Exit codes")."""

    OK = 0
    FAILURE = 1
    SOFTWARE = 70
    """EX_SOFTWARE: the top of the tree gave up."""
    CONFIG = 78
    """EX_CONFIG: the configuration was refused; ``RestartPreventExitStatus=78`` stops a crash loop."""


class DaemonState(enum.Enum):
    """Where the daemon is in its life (``status()["state"]``)."""

    STARTING = "starting"
    RUNNING = "running"
    RELOADING = "reloading"
    STOPPING = "stopping"
    STOPPED = "stopped"


def describe_start_failure(error: StartFailed) -> tuple[str, bool]:
    """A readable chain of why the tree did not start, and whether a ``ConfigError`` or an
    ``UnsafeSocketPath`` was the cause."""
    path: list[str] = []
    reason: Exit | None = error.reason
    while reason is not None:
        if reason.kind is ExitKind.SHUTDOWN and isinstance(reason.term, tuple) and len(reason.term) == 2:
            child_id, inner = reason.term
            path.append(str(child_id))
            reason = inner if isinstance(inner, Exit) else None
            continue
        cause = reason.exception
        where = "/".join(path) or "root"
        if cause is not None:
            # What only a change of configuration or of the filesystem can fix: exit 78, no retry.
            return f"child {where}: {cause}", isinstance(cause, ConfigError | UnsafeSocketPath)
        return f"child {where}: {reason!r}", False
    return str(error), False


class Daemon:
    """One run of the daemon (implements ``daemon.control.DaemonContext``). Build, then ``await run()``."""

    def __init__(
        self,
        settings: SettingsBase,
        *,
        config_path: Path | None,
        environ: Mapping[str, str],
        components: Sequence[Component[Any]] = COMPONENTS,
        notifier: Notifier | None = None,
        clock: Clock | None = None,
        owns_process: bool = False,
    ) -> None:
        """``owns_process``: this run is the process (the ``arbord`` command): a stop arms a thread
        that ends the process with code 70 if the stop outlasts its budget, even with the event loop
        blocked, and the stop signals' handlers stay installed after ``run`` returns."""
        self._settings = settings
        self._config_path = config_path
        self._environ = environ
        self._components = tuple(components)
        self._settings_model = type(settings)  # load_settings built it for these components
        self._notifier = notifier if notifier is not None else Notifier.from_environ(environ)
        self._clock = clock if clock is not None else MonotonicClock()
        self._paths: RuntimePaths = resolve_paths(settings, environ)
        # Read once: ``daemon.__version__`` asks importlib.metadata, which scans sys.path on every
        # read (stat calls: tens of milliseconds on a busy disk), and ``status`` runs on the loop.
        self._version = daemon.__version__
        self._state = DaemonState.STARTING
        self._root: Supervisor | None = None
        self._plan: list[PlannedChild] = []
        self._verbs = VerbTable({})
        self._stop_requested = asyncio.Event()
        self._reload_lock = asyncio.Lock()
        self._reloads: set[asyncio.Task[Any]] = set()  # never cancelled: a reload runs to its end
        self._health_tasks: list[asyncio.Task[Any]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._started_at = time.monotonic()
        # Restart counts and the last crash for `status`, over sub-supervisors' restarts too.
        self.restarts = RestartLog()
        self._owns_process = owns_process
        self._abandoned: list[str] = []
        """Children abandoned anywhere in the tree during this run (``supervisor/child``)."""
        self._telemetry_id = f"arbord.daemon.abandoned-{id(self):x}"

    # --- DaemonContext ---------------------------------------------------------------------------

    @property
    def root(self) -> Supervisor:
        if self._root is None:
            raise RuntimeError("the supervision tree is not started")
        return self._root

    @property
    def settings(self) -> SettingsBase:
        return self._settings

    @property
    def runtime_dir(self) -> Path:
        return self._paths.runtime_dir

    @property
    def state(self) -> DaemonState:
        return self._state

    @property
    def paths(self) -> RuntimePaths:
        return self._paths

    def status(self) -> Mapping[str, Any]:
        loop = asyncio.get_running_loop()
        return {
            "state": self._state.value,
            "pid": os.getpid(),
            "uptime": time.monotonic() - self._started_at,
            "version": self._version,
            "loop": "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio",
            "config": str(self._config_path) if self._config_path is not None else None,
            "runtime_dir": str(self._paths.runtime_dir),
            "control_socket": str(self._paths.control_socket),
            **self._restart_summary(),
            "health": self._health(),
        }

    def _health(self) -> dict[str, Any]:
        """``{"ok": bool, PROBLEM: details, ...}``: every component's problems (``Component.health``;
        the flags' ``flags_read_only``, fault matrix F10). ``ok`` is true when there is none."""
        problems: dict[str, Any] = {}
        for component in self._components:
            problems.update(component.health())
        return {"ok": not problems, **problems}

    def _restart_summary(self) -> dict[str, Any]:
        """``restarts`` ({"total", "children": [{"supervisor", "child", "restarts"}]}) and
        ``last_crash`` (None or {"time", "supervisor", "child", "reason"}): children named as the
        supervisor report in the log names them (the ``status`` verb turns them into tree paths)."""
        restarts = self.restarts
        crash = restarts.last_crash
        return {
            "restarts": {
                "total": restarts.total,
                "children": [
                    {"supervisor": sup, "child": child, "restarts": n}
                    for (sup, child), n in sorted(restarts.counts.items())
                ],
            },
            "last_crash": None if crash is None else dataclasses.asdict(crash),
        }

    def request_shutdown(self) -> None:
        self._stop_requested.set()

    async def reload(self) -> Mapping[str, Any]:
        # The reload runs in a task of its own, to its end, even if this caller gives up (a control
        # request's timeout, a stop cancelling a SIGHUP's waiter): cut short, it would leave the tree
        # half-applied (test_lifecycle.py::test_a_reload_outliving_its_request_still_finishes).
        task = asyncio.get_running_loop().create_task(self._reload_in_turn(), name="arbord.reload")
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)
        return await asyncio.shield(task)

    async def _reload_in_turn(self) -> Mapping[str, Any]:
        async with self._reload_lock:
            if self._state is not DaemonState.RUNNING or self._root is None:
                return ReloadOutcome(errors=[f"cannot reload while {self._state.value}"]).as_reply()
            self._state = DaemonState.RELOADING
            self._notifier.reloading(status="reloading the configuration")
            try:
                outcome = await self._reload()
            except Exception as error:  # a bug, not a bad file: report it, keep serving
                log.exception("reload failed unexpectedly")
                outcome = ReloadOutcome(errors=[f"internal error while reloading: {error!r}"])
            finally:
                if self._state is DaemonState.RELOADING:
                    self._state = DaemonState.RUNNING
            if outcome.errors:
                for problem in outcome.errors:
                    log.error("reload: %s", problem)
                if outcome.rolled_back:
                    log.error("reload rolled back: %s", ", ".join(outcome.rolled_back))
                self._notifier.ready(status=f"running; reload failed: {outcome.errors[0]}")
            else:
                log.info("configuration reloaded; restarted: %s", ", ".join(outcome.restarted) or "nothing")
                self._notifier.ready(status=f"running; control socket {self._paths.control_socket}")
            return outcome.as_reply()

    # --- running ---------------------------------------------------------------------------------

    async def run(self) -> int:
        """Start the tree, serve until a stop, and return the exit code (never raises ``ConfigError``
        after start; a config problem found while starting is raised to the caller)."""
        policy = self._settings.context.policy()
        if policy is DEFAULT_POLICY:  # the root context's own: nothing to enter
            return await self._run_in_policy()
        # [context], in this task before anything starts: every task of the tree, the signal handlers'
        # callbacks and what they spawn inherit it (docs/context.md, "The daemon's policy").
        with context_policy(policy):
            return await self._run_in_policy()

    async def _run_in_policy(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in _STOP_SIGNALS:
            loop.add_signal_handler(sig, self._on_stop_signal, sig)
        loop.add_signal_handler(signal.SIGHUP, self._on_reload_signal)
        self.restarts.attach()
        telemetry.attach(self._telemetry_id, _ABANDONED, self._on_abandoned)
        try:
            return await self._run()
        finally:
            telemetry.detach(self._telemetry_id)
            self.restarts.detach()
            await self._cancel_tasks(self._settings.daemon.shutdown_timeout)
            loop.remove_signal_handler(signal.SIGHUP)
            if not self._owns_process:  # the command keeps them until its os._exit
                for sig in _STOP_SIGNALS:
                    loop.remove_signal_handler(sig)
            self._state = DaemonState.STOPPED

    def _on_abandoned(
        self, event: object, measurements: Mapping[str, float], metadata: Mapping[str, object], _: object
    ) -> None:
        self._abandoned.append(f"{metadata.get('supervisor')}/{metadata.get('child_id')}")

    async def _run(self) -> int:
        try:
            prepare_runtime_dir(
                self._paths.runtime_dir, runtime_dir_mode(self._settings), runtime_dir_gid(self._settings)
            )
        except OSError as error:
            raise ConfigError(
                [f"daemon.runtime_dir: cannot create {self._paths.runtime_dir}: {error.strerror}"]
            ) from None
        # enforce_no_process_dict: user servers whose modules keep hidden state are refused (exit 78).
        problems = await enforce_no_hidden_state(self._settings, self._environ)
        if problems:
            raise ConfigError(problems)
        # Built by the first request that needs it: the verb modules are not imported at start.
        self._verbs = VerbTable.deferred(partial(verb_table, self._components))
        self._plan = plan_tree(self._settings, self._context(self._paths), self._components)
        try:
            root = await Supervisor.start([c.spec for c in self._plan], **root_flags(self._settings))
        except StartFailed as error:
            message, is_config = describe_start_failure(error)
            log.error("the supervision tree failed to start: %s", message)
            self._notifier.status(f"failed to start: {message}")
            return ExitCode.CONFIG if is_config else ExitCode.FAILURE
        self._root = root
        self._state = DaemonState.RUNNING
        log.info(
            "arbord %s running (pid %d); control socket: %s",
            self._version,
            os.getpid(),
            self._paths.control_socket,
        )
        self._notifier.ready(status=f"running; control socket {self._paths.control_socket}")
        self._start_health_tasks()
        root_exit = root.wait()
        stop: asyncio.Future[Any] = asyncio.ensure_future(self._stop_requested.wait())
        waiting: set[asyncio.Future[Any]] = {root_exit, stop}
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if root_exit.done() and not self._stop_requested.is_set():
            self._state = DaemonState.STOPPING
            log.critical("the root supervisor gave up (%r); exiting", root_exit.result())
            self._notifier.stopping(status="the supervision tree gave up")
            return ExitCode.SOFTWARE
        return await self._shutdown(root)

    async def _shutdown(self, root: Supervisor) -> int:
        self._state = DaemonState.STOPPING
        self._notifier.stopping(status="stopping")
        log.info("stopping")
        budget = self._settings.daemon.shutdown_timeout
        if self._owns_process:
            self._arm_exit_deadline(budget + _DEADLINE_MARGIN)
        try:
            async with asyncio.timeout(budget):
                await self._cancel_tasks(None)
                async with self._reload_lock:  # let a reload in progress finish first
                    pass
                await self._stop_control_first(root)
                if root.alive:
                    await root.stop(SHUTDOWN)
        except TimeoutError:
            log.critical("the tree did not stop within %.1f s; giving up on it", budget)
            root.kill()
            return ExitCode.SOFTWARE
        except ArbordError as error:  # the root exited on its own meanwhile
            log.warning("stopping: %s", error)
        # Abandoned at any depth, at any time of the run: its task lives on, so this stop is not clean
        # (test_lifecycle.py::test_a_child_abandoned_deep_in_the_tree_makes_the_stop_exit_70).
        # Every supervisor reports its abandoned children by the event, the root included.
        abandoned = list(dict.fromkeys(self._abandoned)) or list(root.abandoned)
        if abandoned:
            log.critical("children that would not stop were abandoned: %s", ", ".join(abandoned))
            return ExitCode.SOFTWARE
        log.info("stopped")
        return ExitCode.OK

    @staticmethod
    def _arm_exit_deadline(seconds: float) -> None:
        """End the process with code 70 in ``seconds`` from a thread of its own, whatever the event
        loop is doing (a loop blocked by a child cannot finish the stop, nor take a second signal)."""

        def overrun() -> None:
            os.write(2, b"arbord: the stop overran [daemon] shutdown_timeout; exiting 70\n")
            os._exit(ExitCode.SOFTWARE)

        timer = threading.Timer(seconds, overrun)
        timer.name = "arbord.stop-deadline"
        timer.daemon = True
        timer.start()

    async def _stop_control_first(self, root: Supervisor) -> None:
        """Stop the control server before the rest, wherever a reload left it among the children."""
        control = self._plan[-1].id if self._plan else None
        if control is None:
            return
        try:
            await root.terminate_child(control, timeout=None)
        except ArbordError as error:
            log.debug("stopping the control server first: %s", error)

    # --- signals ---------------------------------------------------------------------------------

    def _on_stop_signal(self, sig: signal.Signals) -> None:
        if self._stop_requested.is_set():
            log.critical("second %s while stopping: forcing the exit", sig.name)
            logging.shutdown()
            os._exit(ExitCode.FAILURE)
        log.info("%s received", sig.name)
        self._stop_requested.set()

    def _on_reload_signal(self) -> None:
        log.info("SIGHUP received: reloading the configuration")
        self._spawn(self.reload())

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- health ----------------------------------------------------------------------------------

    def _start_health_tasks(self) -> None:
        loop = asyncio.get_running_loop()
        section = self._settings.daemon
        tasks = [loop.create_task(monitor_lag(section.lag_interval, section.lag_warning, self._clock))]
        interval = watchdog_interval(self._environ, os.getpid())
        if section.watchdog and interval is not None and self._notifier.enabled:
            tasks.append(loop.create_task(ping_watchdog(self._notifier, interval, self._healthy)))
        self._health_tasks = tasks

    async def _healthy(self) -> bool:
        root = self._root
        if root is None or not root.alive:
            return False
        try:
            await root.count_children(timeout=self._settings.daemon.health_timeout)
        except ArbordError:
            return False
        return True

    async def _cancel_tasks(self, timeout: float | None) -> None:
        """Cancel the health tasks and background work (a SIGHUP reload's waiter: the reload itself
        runs to its end, see ``reload``) and wait up to ``timeout`` seconds for them."""
        current = asyncio.current_task()
        tasks = [t for t in (*self._health_tasks, *self._background) if t is not current]
        self._health_tasks = []
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    # --- reload ----------------------------------------------------------------------------------

    def _context(self, paths: RuntimePaths) -> ComponentContext:
        return ComponentContext(self, paths.runtime_dir, self._verbs)

    async def _reload(self) -> ReloadOutcome:
        old = self._settings
        try:
            # In a thread: the file is bounded (regular, at most MAX_CONFIG_BYTES), but parsing and
            # validating a large one still takes long enough to stall the loop (docs/performance.md).
            loaded = await asyncio.to_thread(
                load_settings, self._config_path, self._environ, self._settings_model
            )
            effective = split_settings(old, loaded)
            paths = resolve_paths(effective, self._environ)
        except ConfigError as error:
            return ReloadOutcome(errors=list(error.problems))
        # enforce_no_process_dict: a configuration naming a server that keeps hidden state is refused
        # before anything is applied (test_enforcement.py::test_a_reload_to_a_dirty_module_is_refused).
        problems = await enforce_no_hidden_state(effective, self._environ)
        if problems:
            return ReloadOutcome(errors=problems)
        outcome = ReloadOutcome(
            changed=changed_sections(old, loaded), needs_restart=frozen_parts(old, loaded)
        )
        new_plan = plan_tree(effective, self._context(paths), self._components)
        try:
            plan, later = await apply_components(
                self.root, self._components, old, effective, self._plan, new_plan, outcome
            )
        except Exception as error:  # a bug: still all or nothing
            log.exception("reload failed unexpectedly; rolling back")
            outcome.errors.append(f"internal error while reloading: {error!r}")
        if outcome.errors:
            # All or nothing: put back what was applied; the previous configuration stays in force,
            # so the next reload diffs against what runs
            # (test_lifecycle.py::test_a_reload_whose_server_never_starts_is_rolled_back_whole).
            await outcome.roll_back()
            return outcome
        self._plan = plan
        for change in later:
            # The reply to this very reload may travel on the control server: replace it after the
            # reply, through its own drain (it finishes in-flight requests before it stops).
            self._spawn(self._replace_after_reply(change))
        self._paths = paths if not later else self._paths
        self._settings = effective
        if old.daemon.log_level != effective.daemon.log_level:
            set_level(effective.daemon.log_level)
        if old.daemon.log_format != effective.daemon.log_format:
            set_format(effective.daemon.log_format)
        if old.daemon != effective.daemon:
            await self._cancel_health_tasks()
            self._start_health_tasks()
        return outcome

    async def _cancel_health_tasks(self) -> None:
        tasks, self._health_tasks = self._health_tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _replace_after_reply(self, change: ComponentChange) -> None:
        outcome = ReloadOutcome()
        in_force = await replace_children(self.root, change.before, change.after, outcome)
        self._plan = [
            *(c for c in self._plan if c.component != change.component),
            *in_force,
        ]
        order = {component.name: index for index, component in enumerate(self._components)}
        self._plan.sort(key=lambda child: order[child.component])
        if outcome.failed:
            log.error("the control server kept its previous configuration: %s", "; ".join(outcome.errors))
            self._notifier.status(f"running; control server not reconfigured: {outcome.errors[0]}")
            return
        self._paths = resolve_paths(self._settings, self._environ)
        log.info("control server restarted: %s", self._paths.control_socket)
        self._notifier.status(
            f"running; control server restarted; control socket {self._paths.control_socket}"
        )
