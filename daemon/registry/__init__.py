"""The agent registry: keys owned by servers, tasks or control connections, gone when the owner exits.

``keeper_child_spec`` and ``registry_child_spec`` put it in the daemon's tree (the table keeper, then
a supervisor with the registry, ``arbord.registry``); ``registry_methods`` are its control verbs;
its errors (daemon/registry/errors.py) carry their error codes; ``KEEPER`` and ``REGISTRY``
(daemon/registry/component.py) are its two components.
docs/registry.md is the guide: API, decisions, consistency model.
"""

from __future__ import annotations

from daemon.registry.config import DEFAULT_INDEXED_ATTRIBUTES, RegistrySettings
from daemon.registry.criteria import Criterion, Op
from daemon.registry.entry import Entry, KeyMode, describe_owner
from daemon.registry.keeper import Claim, KeeperUp, TableKeeper
from daemon.registry.methods import registry_methods
from daemon.registry.naming import Via, start_via, whereis_via
from daemon.registry.registry import LOOKUP_MISS, OWNER_DOWN, REGISTER, UNREGISTER, Registry, registry_named
from daemon.registry.spec import (
    KEEPER_ID,
    KEEPER_NAME,
    REGISTRY_NAME,
    REGISTRY_SUPERVISOR_NAME,
    keeper_child_spec,
    registry_child_spec,
)

__all__ = [
    "DEFAULT_INDEXED_ATTRIBUTES",
    "KEEPER_ID",
    "KEEPER_NAME",
    "LOOKUP_MISS",
    "OWNER_DOWN",
    "REGISTER",
    "REGISTRY_NAME",
    "REGISTRY_SUPERVISOR_NAME",
    "UNREGISTER",
    "Claim",
    "Criterion",
    "Entry",
    "KeeperUp",
    "KeyMode",
    "Op",
    "Registry",
    "RegistrySettings",
    "TableKeeper",
    "Via",
    "describe_owner",
    "keeper_child_spec",
    "registry_child_spec",
    "registry_methods",
    "registry_named",
    "start_via",
    "whereis_via",
]
