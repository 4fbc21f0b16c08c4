"""Feature flags: FunWithFlags' gates over an owned table, durable writes, an audit trail.

The binding: ``Flags`` (the server, ``arbord.flags``), ``enabled``, ``enable``, ``disable``, ``clear``,
``set_percentage``, ``register_group``; and ``experiment`` (docs/migrations.md, "Experiments").
Evaluation runs in the caller's task; writes go through the server, which orders them, commits them
to the store, then publishes them. docs/flags.md is the guide.
"""

from __future__ import annotations

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
