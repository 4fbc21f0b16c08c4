"""The component contract: what a part of the daemon declares so that the tree, the settings, the
verbs and a reload all find it, and the one list (``daemon.tree.COMPONENTS``) that names them.

A ``Component`` says:

- ``name``: its settings section (``[name]`` in the TOML file, ``ARBORD_NAME__KEY``), and its name;
- ``settings``: the section's pydantic type (None: the component takes no settings) and ``default``;
  ``view``: what it reads of the whole configuration (default: its section);
- ``child_specs(view, context)``: its children of the root supervisor, in start order;
- ``verbs()``: its control methods, asked for when the daemon builds its verb table (its first
  request, ``VerbTable.deferred``): import the verb module inside it, not at the top of the module;
- ``error_map``: the error codes of foreign errors its verbs let escape (its own errors carry a
  ``code`` and live in its package's ``errors.py``);
- ``reload(old, new)``: what a reload does to it: ``Reload.KEEP``, ``Reload.RESTART`` (stop its
  children, start them with the new specs), or an ``UpdateInPlace`` (it applies the change itself);
- ``after_reply``: replace it only after the reply to the reload (the control server carries it).

Adding a component is one package exporting one ``Component`` and one entry in the list: the
settings model is assembled from the sections (``daemon.settings.settings_model``), the verb table
and the error map from the verbs and the maps (``verb_table``), the root's children from the specs.

>>> from pydantic import BaseModel
>>> class Echo(BaseModel):
...     greeting: str = "hello"
>>> ECHO = Component("echo", settings=Echo)
>>> ECHO.reload(Echo(), Echo()), ECHO.reload(Echo(), Echo(greeting="hi"))
(<Reload.KEEP: 'keep'>, <Reload.RESTART: 'restart'>)
>>> ECHO.default_section()
Echo(greeting='hello')
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Generic, TypeVar, cast

from daemon.verbs.error_codes import ErrorMap, merge_error_maps
from daemon.verbs.method import DaemonContext, Method, VerbTable, methods_by_name
from supervisor import ChildSpec

__all__ = [
    "Component",
    "ComponentContext",
    "Reload",
    "ReloadOutcome",
    "ReloadRule",
    "UndoStep",
    "UpdateInPlace",
    "restart_when_changed",
    "verb_table",
]

S = TypeVar("S")


class Reload(enum.Enum):
    """What a reload does to a component."""

    KEEP = "keep"
    """Nothing changed that it reads: its children keep running."""
    RESTART = "restart"
    """Stop its children and start them with the new specs (each keeps its place in the root)."""


UndoStep = Callable[[], Awaitable[str | None]]
"""Undo one applied step of a reload; returns an error line, or None."""


@dataclass(slots=True)
class ReloadOutcome:
    """What a reload did: for the ``reload`` control method's reply and the log.

    A reload is all or nothing: each step applied records how to undo it (``record``); at the first
    error the steps already applied are undone in reverse (``roll_back``) and the configuration in
    force stays the previous one.
    """

    changed: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)
    needs_restart: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    """Root children that kept their previous spec because the new one failed to start."""
    rolled_back: list[str] = field(default_factory=list)
    """What a failed reload put back as it was, in the order it was undone."""
    undo: list[tuple[str | None, UndoStep]] = field(default_factory=list)
    """Each applied step's label and undo, in the order applied (not part of the reply)."""

    def record(self, label: str | None, undo: UndoStep) -> None:
        """A step was applied; ``undo`` puts it back if the reload fails later. A step without a
        label is part of one already recorded (a child's spec following its in-place change): it is
        undone too, but not listed in ``rolled_back``."""
        self.undo.append((label, undo))

    async def roll_back(self) -> None:
        """Undo every recorded step, last first; an undo that fails is reported in ``errors``."""
        steps, self.undo = self.undo, []
        for label, undo in reversed(steps):
            error = await undo()
            if label is None:
                if error:
                    self.errors.append(f"not restored to its previous configuration: {error}")
                continue
            self.rolled_back.append(label)
            if error:
                self.errors.append(f"{label}: not restored to its previous configuration: {error}")

    def as_reply(self) -> dict[str, object]:
        return {
            "ok": not self.errors,
            "errors": list(self.errors),
            "changed": list(self.changed),
            "restarted": list(self.restarted),
            "needs_restart": list(self.needs_restart),
            "rolled_back": list(self.rolled_back),
        }


@dataclass(frozen=True, slots=True)
class UpdateInPlace:
    """A reload rule's answer when the component applies the change to its running children itself
    (the user servers, diffed one by one under their supervisor; the control server's limits):
    ``apply`` records in the outcome what it restarted, what failed (in ``errors``: it stops at the
    first) and how to undo each step it applied (``ReloadOutcome.record``).

    Once ``apply`` succeeds, the reload gives the root the component's new child specs without
    restarting anything (``Supervisor.update_childspec``): a child that crashes later comes back
    with the settings in force, not with those from before the reload."""

    apply: Callable[[ReloadOutcome], Awaitable[None]]


ReloadRule = Callable[[Any, Any], Reload | UpdateInPlace]
"""``rule(old_view, new_view)``: what a reload does to the component."""


def restart_when_changed(old: object, new: object) -> Reload:
    """The usual rule: restart the component's children when its section changed."""
    return Reload.KEEP if old == new else Reload.RESTART


def _no_verbs() -> Sequence[Method]:
    return ()


def _no_children(section: Any, context: ComponentContext) -> Sequence[ChildSpec]:
    return ()


def _healthy() -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True, slots=True)
class ComponentContext:
    """What a component's ``child_specs`` may use besides its own section."""

    daemon: DaemonContext
    """The running daemon (the control server and the console serve verbs against it)."""
    runtime_dir: Path
    """Where the sockets live."""
    verbs: VerbTable
    """Every verb of every component, with the merged error map (what a transport serves)."""


@dataclass(frozen=True, slots=True)
class Component(Generic[S]):
    """One part of the daemon, as the tree, the settings, the verbs and a reload see it."""

    name: str
    settings: Any = None
    """The section's type: a pydantic model, or any type pydantic validates (``dict[str, Model]``);
    None when the component takes no settings."""
    default: Callable[[], Any] | None = None
    """The section's default value (None: ``settings()``, the model with its defaults)."""
    view: Callable[[Any], S] | None = None
    """What the component reads of the whole configuration, given to ``child_specs`` and ``reload``
    (None: its section). The user servers read ``[tree.servers]`` besides their own."""
    child_specs: Callable[[S, ComponentContext], Sequence[ChildSpec]] = _no_children
    verbs: Callable[[], Sequence[Method]] = _no_verbs
    error_map: ErrorMap = field(default_factory=lambda: MappingProxyType({}))
    reload: ReloadRule = restart_when_changed
    after_reply: bool = False
    """Replace this component only after the reply to the reload is sent (the control server)."""
    health: Callable[[], Mapping[str, Any]] = _healthy
    """What is wrong with the running component, by problem (empty: healthy): the daemon's ``status``
    shows every component's under ``health`` (the flags: ``flags_read_only`` while their store
    refuses writes). Runs on the event loop, without awaiting: read state, do not ask a server."""

    def default_section(self) -> Any:
        """The section's value when the configuration does not mention it."""
        if self.default is not None:
            return self.default()
        return self.settings()

    def of(self, settings: object) -> S:
        """What this component reads of ``settings``: its ``view``, else its section (None for a
        component that takes no settings)."""
        if self.view is not None:
            return self.view(settings)
        return cast(S, getattr(settings, self.name) if self.settings is not None else None)


def verb_table(components: Sequence[Component[Any]]) -> VerbTable:
    """Every component's verbs by name and their merged error map; a name or an error type declared
    twice is a programming error (``ValueError``)."""
    return VerbTable(
        methods_by_name(*(component.verbs() for component in components)),
        MappingProxyType(merge_error_maps(*(component.error_map for component in components))),
    )
