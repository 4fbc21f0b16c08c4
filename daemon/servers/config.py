"""``[servers.<name>]``: the user's own servers, each a ``supervisor.Server`` subclass named by import path.

>>> ServerSection(start="supervisor:Server").restart
'permanent'
>>> check_server_names({"Bad Name": ServerSection(start="supervisor:Server")})
Traceback (most recent call last):
...
ValueError: a server name is 1-64 of [a-z0-9_-], starting with a letter or digit: 'Bad Name'
"""

from __future__ import annotations

import importlib
import math
import re
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from daemon.sections import DEFAULT_START_TIMEOUT
from daemon.settings_strict import STRICT_CONTEXT
from supervisor import Server

__all__ = ["ServerSection", "ServersSection", "check_server_names"]

_SERVER_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_START: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")


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
    start_timeout: float | Literal["infinity"] = DEFAULT_START_TIMEOUT
    """Seconds its ``init`` may take (30); past it the server is killed and its start fails (a reload
    that started it is rolled back, a restart is retried and counted). ``"infinity"``: no limit."""

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

        if not (isinstance(target, type) and issubclass(target, Server)):
            raise ValueError(f"{value!r} is not a supervisor.Server subclass")
        return value

    @field_validator("shutdown", mode="before")
    @classmethod
    def _shutdown(cls, value: Any, info: ValidationInfo) -> Any:
        if value in ("brutal_kill", "infinity"):
            return value
        if info.context == STRICT_CONTEXT and not isinstance(value, int | float):
            # A file's "5" is a string, not seconds (daemon/settings_strict.py): a type error.
            raise PydanticCustomError("float_type", "expected seconds >= 0, 'brutal_kill' or 'infinity'")
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"expected seconds >= 0, 'brutal_kill' or 'infinity', got {value!r}") from None
        if not 0 <= seconds < math.inf or isinstance(value, bool):
            raise ValueError(f"expected seconds >= 0, 'brutal_kill' or 'infinity', got {value!r}")
        return seconds

    @field_validator("start_timeout", mode="before")
    @classmethod
    def _start_timeout(cls, value: Any) -> Any:
        if value == "infinity":
            return value
        try:
            seconds = float(value)  # a number, or a string of one (from the environment)
        except (TypeError, ValueError):
            seconds = math.nan
        if isinstance(value, bool) or not 0 < seconds < math.inf:
            raise ValueError(f"expected seconds > 0 or 'infinity', got {value!r}")
        return seconds

    @property
    def start_limit(self) -> float | None:
        """``start_timeout`` as ``ChildSpec.start_timeout`` takes it (None: no limit)."""
        return None if self.start_timeout == "infinity" else float(self.start_timeout)

    def server_class(self) -> type[Any]:
        """The class named by ``start`` (already checked importable by validation)."""
        module_name, class_name = self.start.split(":")
        return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]


def check_server_names(value: dict[str, ServerSection]) -> dict[str, ServerSection]:
    """Refuse a server name that is not 1-64 of ``[a-z0-9_-]`` starting with a letter or digit."""
    for name in value:
        if not _SERVER_NAME.match(name):
            raise ValueError(
                f"a server name is 1-64 of [a-z0-9_-], starting with a letter or digit: {name!r}"
            )
    return value


ServersSection = Annotated[dict[str, ServerSection], AfterValidator(check_server_names)]
"""The ``[servers]`` section: user-defined servers by name (lower-case letters, digits, ``_``, ``-``)."""
