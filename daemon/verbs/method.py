"""What a control method is: a name, a pydantic model for its params, and an async handler.

Every part of the daemon that can be driven from outside (the core verbs, the registry, the caches)
contributes a tuple of ``Method``; the tree assembly hands them all to the control server, and the
console reuses the same handlers, so a verb behaves the same from ``arborctl``, ``socat`` and the console.

A unary handler returns one JSON-serialisable value; a streamed one (``streamed=True``) is an async
generator whose items are sent as ``{"id", "result", "more": true}`` replies, closed by a final reply
without ``more``. A handler refuses a request by raising ``daemon.errors.ControlError`` (or an error
with a ``code``, or one its component maps to a code: ``daemon.verbs.error_codes``).

A verb is declared where its handler is, with ``@verb``: the params model is the annotation of the
handler's first parameter, so name, params, handler and summary cannot drift apart::

    @verb("ping", "liveness: answers {pong: true}")
    async def ping(params: NoParams, context: MethodContext) -> dict[str, bool]:
        return {"pong": True}

and a module's verbs are ``methods_of(globals())``. A ``VerbTable`` is what a transport serves: the
methods by name and the error map they share.
"""

from __future__ import annotations

import asyncio
import typing
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol, TypeAlias

from pydantic import BaseModel, ConfigDict

from daemon.verbs.codes import ErrorCode
from daemon.verbs.error_codes import ErrorMap, error_for
from supervisor import Supervisor

__all__ = [
    "Connection",
    "DaemonContext",
    "Handler",
    "Method",
    "MethodContext",
    "NoParams",
    "VerbTable",
    "methods_by_name",
    "methods_of",
    "verb",
]


class NoParams(BaseModel):
    """The params model of a method that takes none."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Connection(Protocol):
    """One client of the control socket (or the console). ``task`` serves it and ends when it closes,
    so anything registered "by the connection" can be owned by, and monitored through, that task."""

    @property
    def id(self) -> int: ...

    @property
    def task(self) -> asyncio.Task[Any]: ...

    @property
    def peer_uid(self) -> int | None: ...

    @property
    def peer_pid(self) -> int | None: ...


class DaemonContext(Protocol):
    """What control methods may ask of the running daemon (implemented by the daemon runner)."""

    @property
    def root(self) -> Supervisor:
        """The top of the supervision tree."""
        ...

    @property
    def settings(self) -> BaseModel:
        """The configuration in force (``daemon.settings.Settings``), frozen."""
        ...

    @property
    def runtime_dir(self) -> Path:
        """The directory holding the control socket (and the console socket)."""
        ...

    def status(self) -> Mapping[str, Any]:
        """A JSON-serialisable summary: state, pid, uptime, version, loop, config path."""
        ...

    async def reload(self) -> Mapping[str, Any]:
        """Re-read and validate the configuration; apply what changed or keep the old one.

        Returns ``{"ok": bool, "errors": [...], "changed": [...], "restarted": [...]}``.
        """
        ...

    def request_shutdown(self) -> None:
        """Begin a clean stop, as SIGTERM does; returns at once."""
        ...


@dataclass(frozen=True, slots=True)
class MethodContext:
    """Passed to every handler: who is asking, and the daemon they are asking."""

    connection: Connection
    daemon: DaemonContext


Handler: TypeAlias = Callable[[Any, MethodContext], Awaitable[Any] | AsyncIterator[Any]]


@dataclass(frozen=True, slots=True)
class Method:
    """One control method. ``params`` validates the request's params (``extra="forbid"``)."""

    name: str
    params: type[BaseModel]
    handler: Handler
    summary: str
    streamed: bool = False

    def parse(self, params: Mapping[str, Any]) -> BaseModel:
        """``params`` from the wire, validated in pydantic's strict mode (``ValidationError`` if not).

        The wire is JSON, so every value already has its type: ``"ttl": "5"`` is a string and
        ``"ttl": true`` a boolean, neither of them seconds (test_wire_params_are_strictly_typed).
        An integer is still a number where a float belongs.
        """
        return self.params.model_validate(params, strict=True)

    def describe(self) -> dict[str, Any]:
        """What ``methods`` says of it (and what ``arborctl``'s completion and man page are made of):
        name, summary, streamed, and the params' JSON schema, in declaration order."""
        return {
            "name": self.name,
            "summary": self.summary,
            "streamed": self.streamed,
            "params": self.params.model_json_schema(),
        }


def verb(name: str, summary: str, *, streamed: bool = False) -> Callable[[Handler], Method]:
    """Declare ``handler`` as the verb ``name``: its params model is its first parameter's annotation.

    A streamed verb (``streamed=True``) is an async generator; the others are coroutines.
    """

    def declare(handler: Handler) -> Method:
        hints = typing.get_type_hints(handler)
        params = hints[next(iter(hints))]
        if not (isinstance(params, type) and issubclass(params, BaseModel)):
            raise TypeError(f"verb {name!r}: the first parameter's annotation must be a pydantic model")
        return Method(name, params, handler, summary, streamed)

    return declare


def methods_of(namespace: Mapping[str, object] | Iterable[object]) -> tuple[Method, ...]:
    """The ``Method`` objects among a module's names (``methods_of(globals())``) or in an iterable."""
    values = namespace.values() if isinstance(namespace, Mapping) else namespace
    return tuple(value for value in values if isinstance(value, Method))


def methods_by_name(*groups: Sequence[Method]) -> dict[str, Method]:
    """Merge groups of methods into one table; a name defined twice is a programming error."""
    table: dict[str, Method] = {}
    for group in groups:
        for method in group:
            if method.name in table:
                raise ValueError(f"control method {method.name!r} is defined twice")
            table[method.name] = method
    return table


class VerbTable:
    """The verbs a transport serves (``methods`` by name) and the error map they are answered with.

    ``VerbTable.deferred(build)`` is a table whose methods and error map are built by ``build`` the
    first time either is read: the daemon's start hands the control server a deferred table, so the
    verb modules (a params model and a handler per method) are imported by the first request, not
    on the way to READY (docs/performance.md, "The daemon").

    >>> table = VerbTable.deferred(lambda: VerbTable({"ping": None}))  # type: ignore[dict-item]
    >>> list(table.methods), dict(table.error_map)
    (['ping'], {})
    """

    __slots__ = ("_build", "_error_map", "_methods")

    def __init__(self, methods: Mapping[str, Method], error_map: ErrorMap | None = None) -> None:
        self._methods: Mapping[str, Method] | None = methods
        self._error_map: ErrorMap | None = MappingProxyType({}) if error_map is None else error_map
        self._build: Callable[[], VerbTable] | None = None

    @classmethod
    def deferred(cls, build: Callable[[], VerbTable]) -> VerbTable:
        """A table built by ``build`` when its methods or error map are first read."""
        table = cls.__new__(cls)
        table._methods = table._error_map = None
        table._build = build
        return table

    def _built(self) -> None:
        assert self._build is not None
        built = self._build()
        self._methods, self._error_map, self._build = built.methods, built.error_map, None

    @property
    def methods(self) -> Mapping[str, Method]:
        """The methods by name."""
        if self._methods is None:
            self._built()
        assert self._methods is not None
        return self._methods

    @property
    def error_map(self) -> ErrorMap:
        """What each foreign error type is answered with."""
        if self._error_map is None:
            self._built()
        assert self._error_map is not None
        return self._error_map

    def __repr__(self) -> str:
        if self._build is not None:
            return "VerbTable(<deferred>)"
        return f"VerbTable(methods={self._methods!r}, error_map={self._error_map!r})"

    def error_for(self, error: BaseException) -> tuple[ErrorCode, str, dict[str, Any]]:
        """The error code, message and extra fields ``error`` is answered with."""
        return error_for(error, self.error_map)
