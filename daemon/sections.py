"""The daemon's own settings sections, ``[daemon]`` (the process), ``[tree.*]`` (supervisor flags) and
``[context]`` (the error contexts' policy), and ``SettingsBase``, the part of ``Settings`` that is not
a component's.

The components' sections live in their packages (``daemon/registry/config.py``, ...);
``daemon.settings`` assembles them all into ``Settings``, a subclass of ``SettingsBase``.

>>> SupervisorSection().strategy, TreeSection().root.intensity
('one_for_one', 3)
>>> ContextSection(redact=("PIN",)).policy().redacts("card_pin")
True
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from daemon.context_policy import DEFAULT_POLICY, DEFAULT_REDACT, ContextPolicy

__all__ = [
    "CONTEXT_KEYS",
    "DEFAULT_START_TIMEOUT",
    "MIN_LAG_INTERVAL",
    "MIN_LAG_WARNING",
    "ContextSection",
    "DaemonSection",
    "SettingsBase",
    "SupervisorSection",
    "TreeSection",
]

MIN_LAG_INTERVAL: Final = 0.05
"""The shortest ``lag_interval``: a shorter one would flood telemetry (and the log, past ``lag_warning``)."""
MIN_LAG_WARNING: Final = 0.01
"""The lowest ``lag_warning``: below it, ordinary scheduling jitter would be logged at every sample."""

DEFAULT_START_TIMEOUT: Final = 30.0
"""Seconds a child the daemon starts for a user (``[servers.<name>]``, the ``start_child`` verb) may
take to start before it is killed and its start fails (``ChildSpec.start_timeout``): a start that
never returns must not wedge its supervisor, a reload or a management call."""


class DaemonSection(BaseModel):
    """``[daemon]``: the process itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    loop: Literal["uvloop", "asyncio"] = "uvloop"
    """The event loop: uvloop by default; ``asyncio`` to debug with the standard loop."""
    runtime_dir: Path | None = None
    """Where the sockets live; None: ``$RUNTIME_DIRECTORY``, else ``$XDG_RUNTIME_DIR/arbord``, else
    ``run/`` in the checkout (or ``/tmp/arbord-<uid>``). Created 0700. Changing it needs a restart."""
    shutdown_timeout: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    """The budget for a clean stop (SIGTERM to exit); past it the daemon exits 70. Keep systemd's
    ``TimeoutStopSec`` above it."""
    watchdog: bool = True
    """Ping ``WATCHDOG=1`` when systemd asks for it (``WatchdogSec=``); off only to debug."""
    health_timeout: float = Field(default=2.0, gt=0, allow_inf_nan=False)
    """Seconds the root supervisor has to answer the health check behind each watchdog ping."""
    lag_interval: float = Field(default=0.5, ge=MIN_LAG_INTERVAL, allow_inf_nan=False)
    """Seconds between two samples of the event loop's lag (telemetry ``arbord.loop.lag``); at least
    ``MIN_LAG_INTERVAL`` (0.05)."""
    lag_warning: float = Field(default=0.25, ge=MIN_LAG_WARNING, allow_inf_nan=False)
    """A lag above this many seconds is logged as a warning; at least ``MIN_LAG_WARNING`` (0.01)."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """The log level of the ``arbord`` and ``supervisor`` loggers (applied on reload too)."""
    log_format: Literal["text", "json"] = "text"
    """``text`` lines, or ``json``: one JSON object a line with the correlation id, trace and span ids
    and the error context's fields, for journald and log shippers (applied on reload too)."""


class SupervisorSection(BaseModel):
    """One supervisor's flags (docs/operations.md explains the default strategies)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: Literal["one_for_one", "one_for_all", "rest_for_one"] = "one_for_one"
    intensity: int = Field(default=3, ge=0)
    """More than this many restarts within ``period`` seconds and the supervisor gives up."""
    period: float = Field(default=5.0, gt=0, allow_inf_nan=False)


class TreeSection(BaseModel):
    """``[tree.*]``: the flags of the supervisors this module configures (the cache supervisor's live in
    ``[cache]``). Changing ``root`` needs a restart; changing ``servers`` restarts that supervisor."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    root: SupervisorSection = SupervisorSection()
    servers: SupervisorSection = SupervisorSection()


RedactWord = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1)]
"""A redaction word: matched case-insensitively anywhere in a key, so it is kept in lowercase."""


class ContextSection(BaseModel):
    """``[context]``: the policy of the daemon's error contexts (docs/context.md) -- which keys are
    redacted and how much a context may hold when it leaves the process (logs, crash records, replies).

    The daemon enters it (``daemon.context.context_policy``) in its own task before the tree starts,
    so every task of the tree inherits it. A context keeps the policy it was made under, and a
    running task keeps its contexts: a change needs a restart (a reload lists it in
    ``needs_restart`` and keeps the policy in force). The defaults are ``DEFAULT_POLICY``'s."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    redact: tuple[RedactWord, ...] = ()
    """Words redacted besides the built-in ten (``password``, ``token``, ``secret``, ...; they always
    apply): a key containing one, in any case, has its value written as ``[redacted]``."""
    max_fields: int = Field(default=DEFAULT_POLICY.max_fields, ge=1)
    """Fields one context may hold; new keys past it are dropped, and counted as truncated."""
    max_value_chars: int = Field(default=DEFAULT_POLICY.max_value_chars, ge=1)
    """Characters (``str``) or bytes (``bytes``) of a value written out; longer ones are cut and marked."""

    def policy(self) -> ContextPolicy:
        """The ``ContextPolicy`` this section describes (``DEFAULT_POLICY`` itself for the defaults)."""
        if self == _DEFAULT_CONTEXT_SECTION:
            return DEFAULT_POLICY
        return ContextPolicy(DEFAULT_REDACT | frozenset(self.redact), self.max_fields, self.max_value_chars)


_DEFAULT_CONTEXT_SECTION: Final = ContextSection()

CONTEXT_KEYS: Final = tuple(ContextSection.model_fields)
"""The keys of ``[context]``: each one changed by a reload waits for a restart."""


class SettingsBase(BaseModel):
    """The daemon-wide part of ``Settings``: ``[daemon]``, ``[tree.*]`` and ``[context]``. Each
    component adds its own section to it (``daemon.settings.settings_model``); build settings with
    ``load_settings``.

    A plain model: ``load_settings`` reads the file and the environment itself, to know where each
    value came from, so ``Settings()`` alone is exactly the embedded defaults. It was a
    pydantic-settings ``BaseSettings`` with every source but its arguments turned off, which cost
    the daemon's start the import of pydantic-settings for nothing (bench daemon, start -> READY);
    the configuration keeps that class's ``validate_default`` and ``arbitrary_types_allowed``.
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, arbitrary_types_allowed=True
    )

    daemon: DaemonSection = DaemonSection()
    tree: TreeSection = TreeSection()
    context: ContextSection = ContextSection()
