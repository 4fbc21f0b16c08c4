"""Feature flags: FunWithFlags' gates over an owned table, durable writes, an audit trail.

The binding: ``Flags`` (the server, ``arbord.flags``), ``enabled``, ``enable``, ``disable``, ``clear``,
``set_percentage``, ``register_group``; and ``experiment`` (docs/migrations.md, "Experiments").
Evaluation runs in the caller's task; writes go through the server, which orders them, commits them
to the store, then publishes them. docs/flags.md is the guide.
"""

from __future__ import annotations

import importlib
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from daemon.flags.binding import (
        FLAGS_NAME,
        clear,
        disable,
        enable,
        enabled,
        flags_server,
        register_group,
        set_percentage,
    )
    from daemon.flags.errors import FlagsReadOnly, InvalidGate, StoreCorrupt, StoreFailed, UnknownFlag
    from daemon.flags.evaluate import Decision
    from daemon.flags.experiments import experiment
    from daemon.flags.gates import FlagState, GateKind, GateOp, Percentage
    from daemon.flags.server import Actor, Flags
    from daemon.flags.store import Change, ChangeRecord, FlagStore, MemoryStore, Snapshot


__all__ = [
    "FLAGS_NAME",
    "Actor",
    "Change",
    "ChangeRecord",
    "Decision",
    "FlagState",
    "FlagStore",
    "Flags",
    "FlagsReadOnly",
    "GateKind",
    "GateOp",
    "InvalidGate",
    "MemoryStore",
    "Percentage",
    "Snapshot",
    "StoreCorrupt",
    "StoreFailed",
    "UnknownFlag",
    "clear",
    "disable",
    "enable",
    "enabled",
    "experiment",
    "flags_server",
    "register_group",
    "set_percentage",
]

# The names above are imported from their modules when first used (PEP 562), so that importing one
# module of the package (the daemon's start imports the few it runs) does not import them all.
_EXPORTS: Final = MappingProxyType(
    {
        "Actor": "daemon.flags.server",
        "Change": "daemon.flags.store",
        "ChangeRecord": "daemon.flags.store",
        "Decision": "daemon.flags.evaluate",
        "FLAGS_NAME": "daemon.flags.binding",
        "FlagState": "daemon.flags.gates",
        "FlagStore": "daemon.flags.store",
        "Flags": "daemon.flags.server",
        "FlagsReadOnly": "daemon.flags.errors",
        "GateKind": "daemon.flags.gates",
        "GateOp": "daemon.flags.gates",
        "InvalidGate": "daemon.flags.errors",
        "MemoryStore": "daemon.flags.store",
        "Percentage": "daemon.flags.gates",
        "Snapshot": "daemon.flags.store",
        "StoreCorrupt": "daemon.flags.errors",
        "StoreFailed": "daemon.flags.errors",
        "UnknownFlag": "daemon.flags.errors",
        "clear": "daemon.flags.binding",
        "disable": "daemon.flags.binding",
        "enable": "daemon.flags.binding",
        "enabled": "daemon.flags.binding",
        "experiment": "daemon.flags.experiments",
        "flags_server": "daemon.flags.binding",
        "register_group": "daemon.flags.binding",
        "set_percentage": "daemon.flags.binding",
    }
)


def __getattr__(name: str) -> Any:
    """A re-exported name, imported from its module when first asked for."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
