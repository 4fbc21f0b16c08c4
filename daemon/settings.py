"""The daemon's configuration: one frozen ``Settings`` tree, from defaults, a TOML file and ``ARBORD_*``.

``Settings`` is assembled from the sections: the daemon's own (``[daemon]``, ``[tree.*]``,
daemon/sections.py) and one per component that takes settings, in the order of the component list
(``daemon.tree.COMPONENTS``); ``settings_model`` assembles it for another list (a test adds a small
component). Read a component's section through the component: ``REGISTRY.of(settings)``.

Every section is a pydantic model with ``extra="forbid"`` (a misspelt key is an error, not a silent
default) and ``frozen=True`` (servers hold a snapshot; a reload builds a new one and swaps it).
``config/arbord.toml`` documents the defaults and a test keeps it equal to the embedded ones.

Precedence: ``ARBORD_SECTION__KEY`` environment variables over the file over the defaults. The
environment is text and is parsed (``"3"`` is the integer 3, ``"true"`` a boolean); a file's values are
typed and never converted: ``intensity = "3"`` is an error (daemon/settings_strict.py).
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

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError, create_model

from daemon.component import Component
from daemon.errors import ConfigError
from daemon.sections import DaemonSection, SettingsBase, SupervisorSection, TreeSection
from daemon.servers.config import ServerSection
from daemon.settings_errors import format_validation_error
from daemon.settings_sources import ENV_PREFIX, Loc, merge, parse_environ, read_toml
from daemon.settings_strict import strict_problems
from daemon.tree import COMPONENTS

__all__ = [
    "RESERVED_ENVIRONMENT",
    "DaemonSection",
    "ServerSection",
    "Settings",
    "SettingsBase",
    "SupervisorSection",
    "TreeSection",
    "load_settings",
    "settings_model",
]

RESERVED_ENVIRONMENT: Final = frozenset(
    {"ARBORD_SOCKET", "ARBORD_CONTROL_SOCKET", "ARBORD_DAEMON_USER", "ARBORD_ENFORCE_NO_PROCESS_DICT"}
)
"""``ARBORD_*`` variables that are not settings (``arborctl`` reads the socket ones; the last stands
for the flag ``enforce_no_process_dict`` until the flags server is merged: daemon/enforcement.py);
never reported as unknown."""


def settings_model(components: Sequence[Component[Any]]) -> type[SettingsBase]:
    """``SettingsBase`` with one field per component that takes settings, named after it.

    A section named twice, or named like a daemon-wide one, is a programming error (``ValueError``).
    """
    fields: dict[str, Any] = {}
    for component in components:
        if component.settings is None:
            continue
        if component.name in fields or component.name in SettingsBase.model_fields:
            raise ValueError(f"settings section {component.name!r} is declared twice")
        fields[component.name] = (component.settings, component.default_section())
    return create_model(
        "Settings",
        __base__=SettingsBase,
        __module__=__name__,
        __doc__="Everything the daemon is configured with. Build it with ``load_settings``.",
        **fields,
    )


Settings: Final = settings_model(COMPONENTS)
"""Everything the daemon is configured with: the daemon's sections and the components'."""


def _unknown_environment(environ: Mapping[str, str], model: type[SettingsBase]) -> list[str]:
    """pydantic ignores an unknown top-level variable (but not a nested one): report both alike."""
    sections = set(model.model_fields)
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


def load_settings(
    config_path: Path | None,
    environ: Mapping[str, str] | None = None,
    model: type[SettingsBase] = Settings,
) -> SettingsBase:
    """Read ``config_path`` (None: the embedded defaults only) under ``environ`` (default ``os.environ``)
    into ``model`` (``settings_model`` of another component list).

    Raises ``ConfigError`` with one line per problem: a file that is missing or not valid TOML (with its
    line), an unknown key or section, a value of the wrong type or out of range, each naming the key,
    the value, what was expected and the file line or environment variable it came from.
    """
    environ = os.environ if environ is None else environ
    toml = read_toml(config_path) if config_path is not None else None
    env = parse_environ(environ, ignore=tuple(RESERVED_ENVIRONMENT))
    problems = _unknown_environment(environ, model)
    known = set(model.model_fields)
    env_data = {key: value for key, value in env.data.items() if key in known}
    data = merge(toml.data if toml else {}, env_data)

    def origin(loc: Loc) -> str | None:
        return env.origin(loc) or (toml.origin(loc) if toml else None)

    settings: SettingsBase | None = None
    lax_locs: list[Loc] = []
    try:
        settings = model(**data)
    except ValidationError as error:
        problems.extend(format_validation_error(error, model, origin))
        lax_locs = [item["loc"] for item in error.errors(include_url=False)]
    if toml is not None:
        # The file's values are typed and never converted (daemon/settings_strict.py).
        problems.extend(strict_problems(model, toml, lambda loc: env.origin(loc) is not None, lax_locs))
    if problems or settings is None:
        raise ConfigError(problems)
    return settings
