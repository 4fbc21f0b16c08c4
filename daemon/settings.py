"""The daemon's configuration: one frozen ``Settings`` tree, from defaults, a TOML file and ``ARBORD_*``.

Every section is a pydantic model with ``extra="forbid"`` (a misspelt key is an error, not a silent
default) and ``frozen=True`` (servers hold a snapshot; a reload builds a new one and swaps it).
``config/arbord.toml`` documents the defaults and a test keeps it equal to the embedded ones.

Precedence: ``ARBORD_SECTION__KEY`` environment variables over the file over the defaults.
``load_settings`` gathers the sources itself (rather than letting pydantic-settings read ``os.environ``
behind its back) so that each refused value is reported with where it came from:

>>> load_settings(None, {"ARBORD_DAEMON__LOOP": "asyncio"}).daemon.loop
'asyncio'
>>> load_settings(None, {"ARBORD_DAEMON__SHUTDOWN_TIMEOUT": "soon"})
Traceback (most recent call last):
...
daemon.errors.ConfigError: daemon.shutdown_timeout: expected a valid number, unable to parse string \
as a number (got 'soon'; from environment variable ARBORD_DAEMON__SHUTDOWN_TIMEOUT)
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from daemon.cache.config import CacheSettings
from daemon.console.config import ConsoleSettings
from daemon.control.config import ControlSettings
from daemon.errors import ConfigError
from daemon.registry.config import RegistrySettings
from daemon.settings_errors import format_validation_error
from daemon.settings_sources import ENV_PREFIX, Loc, merge, parse_environ, read_toml

__all__ = [
    "RESERVED_ENVIRONMENT",
    "DaemonSection",
    "ServerSection",
    "Settings",
    "SupervisorSection",
    "TreeSection",
    "load_settings",
]

RESERVED_ENVIRONMENT: Final = frozenset({"ARBORD_SOCKET", "ARBORD_CONTROL_SOCKET"})
"""``ARBORD_*`` variables that are not settings (``arborctl`` reads them); never reported as unknown."""

_SERVER_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_START: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")


class DaemonSection(BaseModel):
    """``[daemon]``: the process itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    loop: Literal["uvloop", "asyncio"] = "uvloop"
    """The event loop: uvloop by default; ``asyncio`` to debug with the standard loop."""
    runtime_dir: Path | None = None
    """Where the sockets live; None: ``$RUNTIME_DIRECTORY``, else ``$XDG_RUNTIME_DIR/arbord``, else
    ``run/`` in the checkout (or ``/tmp/arbord-<uid>``). Created 0700. Changing it needs a restart."""
    shutdown_timeout: float = Field(default=10.0, gt=0)
    """The budget for a clean stop (SIGTERM to exit); past it the daemon exits 70. Keep systemd's
    ``TimeoutStopSec`` above it."""
    watchdog: bool = True
    """Ping ``WATCHDOG=1`` when systemd asks for it (``WatchdogSec=``); off only to debug."""
    health_timeout: float = Field(default=2.0, gt=0)
    """Seconds the root supervisor has to answer the health check behind each watchdog ping."""
    lag_interval: float = Field(default=0.5, gt=0)
    """Seconds between two samples of the event loop's lag (telemetry ``arbord.loop.lag``)."""
    lag_warning: float = Field(default=0.25, gt=0)
    """A lag above this many seconds is logged as a warning."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """The log level of the ``arbord`` and ``supervisor`` loggers (applied on reload too)."""


class SupervisorSection(BaseModel):
    """One supervisor's flags (docs/operations.md explains the default strategies)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: Literal["one_for_one", "one_for_all", "rest_for_one"] = "one_for_one"
    intensity: int = Field(default=3, ge=0)
    """More than this many restarts within ``period`` seconds and the supervisor gives up."""
    period: float = Field(default=5.0, gt=0)


class TreeSection(BaseModel):
    """``[tree.*]``: the flags of the supervisors this module configures (the cache supervisor's live in
    ``[cache]``). Changing ``root`` needs a restart; changing ``servers`` restarts that supervisor."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    root: SupervisorSection = SupervisorSection()
    servers: SupervisorSection = SupervisorSection()


class ServerSection(BaseModel):
    """``[servers.<name>]``: a user-defined server, started under the ``servers`` supervisor and
    registered as ``arbord.servers.<name>``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: str
    """``"package.module:ClassName"``, a ``supervisor.Server`` subclass importable by the daemon."""
    args: tuple[JsonValue, ...] = ()
    """Positional arguments of its ``init``."""
    kwargs: dict[str, JsonValue] = Field(default_factory=dict)
    """Keyword arguments of its ``init``."""
    restart: Literal["permanent", "transient", "temporary"] = "permanent"
    shutdown: float | Literal["brutal_kill", "infinity"] = 5.0
    """Seconds to stop gracefully, or ``"brutal_kill"`` / ``"infinity"``."""

    @field_validator("start")
    @classmethod
    def _importable_server(cls, value: str) -> str:
        if not _START.match(value):
            raise ValueError(f"expected 'package.module:ClassName', got {value!r}")
        module_name, class_name = value.split(":")
        try:
            module = importlib.import_module(module_name)
        except Exception as error:
            raise ValueError(f"cannot import module {module_name!r}: {error}") from None
        target = getattr(module, class_name, None)
        from supervisor import Server  # local: keeps the settings import light for arborctl

        if not (isinstance(target, type) and issubclass(target, Server)):
            raise ValueError(f"{value!r} is not a supervisor.Server subclass")
        return value

    @field_validator("shutdown", mode="before")
    @classmethod
    def _shutdown(cls, value: Any) -> Any:
        if value in ("brutal_kill", "infinity"):
            return value
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"expected seconds >= 0, 'brutal_kill' or 'infinity', got {value!r}") from None
        if not seconds >= 0 or isinstance(value, bool):
            raise ValueError(f"expected seconds >= 0, 'brutal_kill' or 'infinity', got {value!r}")
        return seconds

    def server_class(self) -> type[Any]:
        """The class named by ``start`` (already checked importable by validation)."""
        module_name, class_name = self.start.split(":")
        return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]


class Settings(BaseSettings):
    """Everything the daemon is configured with. Build it with ``load_settings``."""

    model_config = SettingsConfigDict(
        extra="forbid", frozen=True, env_prefix=ENV_PREFIX, env_nested_delimiter="__"
    )

    daemon: DaemonSection = DaemonSection()
    tree: TreeSection = TreeSection()
    control: ControlSettings = ControlSettings()
    console: ConsoleSettings = ConsoleSettings()
    registry: RegistrySettings = RegistrySettings()
    cache: CacheSettings = CacheSettings()
    servers: dict[str, ServerSection] = Field(default_factory=dict)
    """User-defined servers by name (lower-case letters, digits, ``_``, ``-``)."""

    @field_validator("servers")
    @classmethod
    def _server_names(cls, value: dict[str, ServerSection]) -> dict[str, ServerSection]:
        for name in value:
            if not _SERVER_NAME.match(name):
                raise ValueError(
                    f"a server name is 1-64 of [a-z0-9_-], starting with a letter or digit: {name!r}"
                )
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings merges the file and the environment itself, to know where each value came
        # from; Settings() alone is therefore exactly the embedded defaults.
        return (init_settings,)


def _unknown_environment(environ: Mapping[str, str]) -> list[str]:
    """pydantic ignores an unknown top-level variable (but not a nested one): report both alike."""
    sections = set(Settings.model_fields)
    problems = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in RESERVED_ENVIRONMENT:
            continue
        section = upper[len(ENV_PREFIX) :].split("__")[0].lower()
        if section not in sections:
            problems.append(
                f"{section or '(empty)'}: unknown section; expected one of: {', '.join(sorted(sections))} "
                f"(from environment variable {name})"
            )
    return problems


def load_settings(config_path: Path | None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read ``config_path`` (None: the embedded defaults only) under ``environ`` (default ``os.environ``).

    Raises ``ConfigError`` with one line per problem: a file that is missing or not valid TOML (with its
    line), an unknown key or section, a value of the wrong type or out of range, each naming the key,
    the value, what was expected and the file line or environment variable it came from.
    """
    environ = os.environ if environ is None else environ
    toml = read_toml(config_path) if config_path is not None else None
    env = parse_environ(environ, ignore=tuple(RESERVED_ENVIRONMENT))
    problems = _unknown_environment(environ)
    known = set(Settings.model_fields)
    env_data = {key: value for key, value in env.data.items() if key in known}
    data = merge(toml.data if toml else {}, env_data)

    def origin(loc: Loc) -> str | None:
        return env.origin(loc) or (toml.origin(loc) if toml else None)

    try:
        settings = Settings(**data)
    except ValidationError as error:
        problems.extend(format_validation_error(error, Settings, origin))
    if problems:
        raise ConfigError(problems)
    return settings
