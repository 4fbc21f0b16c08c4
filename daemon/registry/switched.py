"""The registry behind the migration flag: one interface, the supervised path or its legacy twin, chosen
per call by ``use_ets_agent_registry`` (docs/migrations.md, "arbord's own migrated components").

``SwitchedRegistry(name)`` answers as the unique ``Registry`` registered as ``name`` does (same
methods, results, errors and telemetry), and on each call asks
``daemon.flags.migration.backend.use_supervised`` which path serves it: the registry's tables, or
the module-global dict of ``daemon.legacy.registry``. The flag is read **for the key** (the key is
the actor of a percentage rollout, as Foundation's ``enabled_for_id?``), so a rollout by actor sends
each key to one path, always the same one.

**Nothing is lost on a flip.** A key lives in one path at a time, the one that registered it, until
it is unregistered or its owner exits; every call sees both:

- a read asks the path in force first and the other one after (only when it holds anything: the
  legacy dict, once drained, costs one truthiness test), so an entry registered before a flip is
  found after it, either way round;
- ``register`` refuses a key a live owner holds in either path (``AlreadyRegistered``), so no key is
  ever in both: the listings (``list_all``, ``find_by_attribute``, ``query``, ``scan``, ``count``)
  are the union of the two, with no duplicate;
- ``unregister`` and ``update_metadata`` act where the key is.

**Shadow mode.** While a key's flag chooses the legacy path and ``enable_migration_monitoring`` is on,
the legacy path stays authoritative and the supervised one shadows it: ``register``,
``update_metadata`` and ``unregister`` are applied to the registry too (a failure there is counted as
an error of the ``otp_cleanup.registry.shadow_write`` experiment and logged at the first, never
raised), and
``lookup`` runs as the ``otp_cleanup.registry.lookup`` experiment, comparing what a caller sees (key,
owner, metadata; never the owner task itself) with what the registry alone would answer. A shadow
entry is the registry's entry for a key the legacy path holds live: the listings and ``held`` skip
it, so no key looks live twice, and after a flip the legacy entry keeps answering until it goes
(it takes its shadow with it).

Every method is synchronous (``scan`` aside) with no await inside, so a flip (a write through the
flags server) lands between two calls, never inside one.

>>> import asyncio
>>> from daemon.registry import Registry
>>> async def demo() -> list[object]:
...     registry = await Registry.start(name="doc.registry")
...     switched = SwitchedRegistry("doc.registry")
...     owner = asyncio.create_task(asyncio.Event().wait())
...     switched.register("agent-1", owner, {"node": "a"})     # no flags server: supervised
...     found = switched.lookup("agent-1")
...     backend = switched.backend("agent-1")
...     owner.cancel()
...     await asyncio.gather(owner, return_exceptions=True)
...     await registry.stop()
...     return [found is not None and found.key, backend]
>>> asyncio.run(demo())
['agent-1', 'supervised']
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final, Literal, cast

from daemon.chunked import SCAN_CHUNK, keep_chunked
from daemon.flags.experiments import experiment
from daemon.flags.experiments.table import COUNTS_TABLE
from daemon.flags.migration.backend import flag_on, use_supervised
from daemon.legacy import registry as legacy
from daemon.registry.criteria import matcher, parse_criteria
from daemon.registry.entry import Entry, KeyMode, describe_owner, owner_task
from daemon.registry.errors import AlreadyRegistered
from daemon.registry.registry import LOOKUP_MISS, OWNER_DOWN, REGISTER, UNREGISTER, Registry, registry_named
from daemon.registry.spec import REGISTRY_NAME
from supervisor import NoProc, telemetry
from supervisor.lowlevel import names_view
from supervisor.tables import whereis_table

__all__ = ["MONITORING_FLAG", "REGISTRY_FLAG", "SHADOW_LOOKUP", "SHADOW_WRITE", "Backend", "SwitchedRegistry"]

REGISTRY_FLAG: Final = "use_ets_agent_registry"
"""The ``otp_cleanup`` flag that sends the registry to its supervised path (binding name)."""
MONITORING_FLAG: Final = "enable_migration_monitoring"
"""The ``otp_cleanup`` flag that, on the legacy path, makes the supervised registry shadow it."""
SHADOW_LOOKUP: Final = "otp_cleanup.registry.lookup"
"""The experiment a lookup runs in shadow mode (legacy answers, the registry is compared)."""
SHADOW_WRITE: Final = "otp_cleanup.registry.shadow_write"
"""The experiment a shadow write is counted in: an error is a write the registry refused."""

_log = logging.getLogger(__name__)

Backend = Literal["supervised", "legacy"]

_ONE: Final[Mapping[str, float]] = MappingProxyType({"count": 1})
_COLLECTIONS: Final = (list, tuple, set, frozenset)


def _actor(key: Hashable) -> str:
    """The flag's actor for ``key``: the key itself when it is a str (the common case), else its repr."""
    return key if isinstance(key, str) else repr(key)


# --- the legacy path: the registry's contract over the legacy dict ---------------------------------


def _taken(entry: Entry) -> AlreadyRegistered:
    return AlreadyRegistered(
        f"{entry.key!r} is already registered by {describe_owner(entry.owner)}", entry.owner
    )


def _miss(label: str, key: Hashable) -> None:
    if LOOKUP_MISS in telemetry.active_events:  # as Registry._miss
        telemetry.execute(LOOKUP_MISS, _ONE, {"registry": label, "key": key})


def _legacy_live(label: str, key: Hashable) -> Entry | None:
    return cast("Entry | None", legacy.live(label, key))


def _legacy_entries(label: str) -> list[Entry]:
    return cast("list[Entry]", legacy.rows(label))


def _owner_down(label: str) -> legacy.OnDown:
    def down(owner: Any, count: int) -> None:
        telemetry.execute(OWNER_DOWN, {"count": count}, {"registry": label, "owner": owner})

    return down


def _legacy_register(label: str, key: Hashable, owner: Any, metadata: Mapping[str, Any] | None) -> Entry:
    """``Registry.register``'s checks, errors and event, with the entry stored in the legacy dict."""
    try:
        hash(key)
    except TypeError:
        raise TypeError(f"a registry key must be hashable, not {key!r}") from None
    task = owner_task(owner)
    if task.done():
        raise NoProc(f"{describe_owner(owner)} is not alive: it cannot own {key!r}")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError(f"metadata is a mapping, not {metadata!r}")
    held = _legacy_live(label, key)
    if held is not None:
        raise _taken(held)
    entry = Entry._make((key, owner, MappingProxyType(dict(metadata or {})), task))
    legacy.put(label, entry, _owner_down(label))
    if REGISTER in telemetry.active_events:
        telemetry.execute(REGISTER, _ONE, {"registry": label, "key": key, "owner": owner})
    return entry


def _legacy_unregister(label: str, key: Hashable, owner: Any) -> bool:
    row = legacy.remove(label, key, owner)
    if row is None or row[3].done():
        return False
    if UNREGISTER in telemetry.active_events:
        telemetry.execute(UNREGISTER, _ONE, {"registry": label, "key": key, "owner": row[1]})
    return True


def _legacy_update(label: str, key: Hashable, metadata: Mapping[str, Any], owner: Any) -> bool:
    if not isinstance(metadata, Mapping):
        raise TypeError(f"metadata is a mapping, not {metadata!r}")
    entry = _legacy_live(label, key)
    if entry is None or (owner is not None and entry.owner is not owner):
        return False
    legacy.replace(label, entry._replace(metadata=MappingProxyType(dict(metadata))))
    return True


def _has_attribute(metadata: Mapping[str, Any], attribute: str, value: Hashable) -> bool:
    """Is ``metadata[attribute]`` ``value``, or a list/set holding it? (The registry's index answers
    the same question with a hash lookup; this is the scan the legacy path has instead.)"""
    held = metadata.get(attribute)
    if held is None:
        return False
    if isinstance(held, _COLLECTIONS):
        return any(item == value for item in held)
    return bool(held == value)


def _legacy_query(label: str, criteria: list[Any]) -> list[Entry]:
    match = matcher(parse_criteria(criteria))
    return [e for e in _legacy_entries(label) if match(e.metadata)]


# --- shadow mode ---------------------------------------------------------------------------------------


def _seen(entry: Entry | None) -> tuple[Hashable, str, dict[str, Any]] | None:
    """What a caller sees of an entry, comparable across the paths: key, owner, metadata (the owner
    described, never the task: an awaitable result would make the experiment async)."""
    if entry is None:
        return None
    return (entry.key, describe_owner(entry.owner), dict(entry.metadata))


def _shadow_write(label: str, seen: object, write: Callable[[], object]) -> None:
    """Apply ``write`` to the registry as the shadow of a legacy write that answered ``seen``;
    counted in ``SHADOW_WRITE``; a failure is logged at the first error counted, never raised."""
    failed: list[BaseException] = []

    def candidate() -> object:
        try:
            return write()
        except Exception as error:
            failed.append(error)
            raise

    experiment(SHADOW_WRITE, lambda: seen, candidate)
    if not failed:
        return
    counts = whereis_table(COUNTS_TABLE)  # logged once: at the first error counted (each one without)
    if counts is None or counts.lookup_element((SHADOW_WRITE, "errors"), 1, 0) <= 1:
        _log.warning(
            "registry %r: a shadow write failed (%r); the legacy path answers, "
            "failures are counted in the %s experiment",
            label,
            failed[0],
            SHADOW_WRITE,
        )


def _shadowing(key: Hashable) -> bool:
    """Is ``key`` in shadow mode: on the legacy path, with monitoring on?"""
    actor = _actor(key)
    return not use_supervised(REGISTRY_FLAG, actor) and flag_on(MONITORING_FLAG, actor)


def _without_shadows(label: str, found: list[Entry]) -> list[Entry]:
    """The registry's entries less the shadows of keys the legacy path holds live."""
    return [e for e in found if _legacy_live(label, e.key) is None]


# --- the interface -----------------------------------------------------------------------------------


class SwitchedRegistry:
    """The unique registry ``name`` (default ``arbord.registry``) behind ``use_ets_agent_registry``:
    see the module docstring. Holds nothing but the name; each call finds the running registry
    (``NoProc`` while there is none, as ``registry_named``)."""

    __slots__ = ("_find", "name")

    def __init__(self, name: str = REGISTRY_NAME) -> None:
        self.name = name
        # The name table's own get (supervisor.lowlevel.names_view): each call finds the registry
        # running now, a restarted one included, for about a tenth of ``registry_named``.
        self._find = names_view().get

    def __repr__(self) -> str:
        return f"SwitchedRegistry({self.name!r})"

    def _registry(self) -> Registry:
        registry = self._find(self.name)
        if not isinstance(registry, Registry) or not registry._ready or registry.exit_reason is not None:
            registry = registry_named(self.name)  # NoProc, or the registry that just took the name
        if registry.mode is not KeyMode.UNIQUE:
            raise TypeError(f"{self.name!r} is a duplicate registry: only unique registries are switched")
        return registry

    def backend(self, key: Hashable = None) -> Backend:
        """The path the flag sends ``key`` to now (with no key: the flag for no actor)."""
        actor = None if key is None else _actor(key)
        return "supervised" if use_supervised(REGISTRY_FLAG, actor) else "legacy"

    def held(self) -> dict[str, int]:
        """How many live entries each path holds (``registry.backends``: the legacy dict drains as
        its owners exit or unregister); a shadow (shadow mode) is not counted as a second entry."""
        registry = self._registry()
        label = registry.label
        rows = _legacy_entries(label)
        if not rows:
            return {"supervised": registry.count(), "legacy": 0}
        shadows = sum(1 for e in rows if registry.lookup_all(e.key))  # a shadow: a key legacy holds live
        return {"supervised": registry.count() - shadows, "legacy": len(rows)}

    # --- writes ---------------------------------------------------------------------------------------

    def register(self, key: Hashable, owner: Any, metadata: Mapping[str, Any] | None = None) -> Entry:
        """``Registry.register`` on the path in force, refused while the other path holds ``key`` live."""
        registry = self._registry()
        label = registry.label
        if use_supervised(REGISTRY_FLAG, _actor(key)):
            if legacy.books and legacy.held(label):
                held = _legacy_live(label, key)
                if held is not None:
                    raise _taken(held)
                legacy.remove(label, key)  # a dead owner's entry, not cleaned up yet
            return registry.register(key, owner, metadata)
        if not flag_on(MONITORING_FLAG, _actor(key)):
            for entry in registry.lookup_all(key):
                raise _taken(entry)
            return _legacy_register(label, key, owner, metadata)
        held = _legacy_live(label, key)
        if held is not None:
            raise _taken(held)
        for entry in registry.lookup_all(key):
            raise _taken(entry)
        entry = _legacy_register(label, key, owner, metadata)
        _shadow_write(label, _seen(entry), lambda: _seen(registry.register(key, owner, metadata)))
        return entry

    def unregister(self, key: Hashable, owner: Any = None) -> bool:
        """Remove ``key`` (``owner``'s only, when given) from whichever path holds it."""
        registry = self._registry()
        label = registry.label
        removed = bool(legacy.books) and legacy.held(label) and _legacy_unregister(label, key, owner)
        if removed and _shadowing(key):
            _shadow_write(label, True, lambda: registry.unregister(key, owner))
            return True
        return registry.unregister(key, owner) or removed

    def update_metadata(self, key: Hashable, metadata: Mapping[str, Any], owner: Any = None) -> bool:
        """Replace the metadata of ``key`` where it lives; False if neither path holds it live."""
        registry = self._registry()
        label = registry.label
        if legacy.books and legacy.held(label) and _legacy_update(label, key, metadata, owner):
            if _shadowing(key):
                _shadow_write(label, True, lambda: registry.update_metadata(key, metadata, owner))
            else:
                registry.update_metadata(key, metadata, owner)  # a shadow left by shadow mode
            return True
        return registry.update_metadata(key, metadata, owner)

    # --- reads ----------------------------------------------------------------------------------------

    def lookup(self, key: Hashable) -> Entry | None:
        """The live entry under ``key`` in either path, else None (one ``lookup_miss`` event)."""
        registry = self._registry()
        label = registry.label
        if use_supervised(REGISTRY_FLAG, key if key.__class__ is str else repr(key)):
            if legacy.books and legacy.held(label):  # no book at all: the common case after a migration
                entry = _legacy_live(label, key)
                if entry is not None:
                    return entry
            return registry.lookup(key)
        if flag_on(MONITORING_FLAG, key if key.__class__ is str else repr(key)):
            return self._shadow_lookup(registry, key)
        entry = _legacy_live(label, key)
        if entry is not None:
            return entry
        for found in registry.lookup_all(key):
            return found
        _miss(label, key)
        return None

    def _shadow_lookup(self, registry: Registry, key: Hashable) -> Entry | None:
        """The legacy path's lookup, answered, and the registry's alone, compared (``SHADOW_LOOKUP``)."""
        label = registry.label
        answer: list[Entry | None] = []

        def control() -> object:
            entry = _legacy_live(label, key)
            if entry is None:
                entry = next(iter(registry.lookup_all(key)), None)
            answer.append(entry)
            return _seen(entry)

        def candidate() -> object:
            for entry in registry.lookup_all(key):
                return _seen(entry)
            return None

        experiment(SHADOW_LOOKUP, control, candidate)
        if answer[0] is None:
            _miss(label, key)
        return answer[0]

    def lookup_all(self, key: Hashable) -> list[Entry]:
        """The live entry under ``key`` as a list (zero or one)."""
        registry = self._registry()
        entry = _legacy_live(registry.label, key)
        return [entry] if entry is not None else registry.lookup_all(key)

    def find_by_attribute(self, attribute: str, value: Hashable) -> list[Entry]:
        """``Registry.find_by_attribute`` (``NotIndexed`` for an attribute it does not index), with
        the legacy path's matches (a scan) after the indexed ones."""
        registry = self._registry()
        found = registry.find_by_attribute(attribute, value)
        if legacy.books and legacy.held(registry.label):
            found = _without_shadows(registry.label, found)
            found += [
                e for e in _legacy_entries(registry.label) if _has_attribute(e.metadata, attribute, value)
            ]
        return found

    def query(self, criteria: Iterable[Any]) -> list[Entry]:
        """``Registry.query`` over both paths (``ValueError`` for a malformed criterion)."""
        criteria = list(criteria)
        registry = self._registry()
        found = registry.query(criteria)
        if legacy.books and legacy.held(registry.label):
            found = _without_shadows(registry.label, found)
            found += _legacy_query(registry.label, criteria)
        return found

    async def scan(self, criteria: Iterable[Any] = (), *, chunk: int = SCAN_CHUNK) -> list[Entry]:
        """``Registry.scan`` over both paths, in slices (what the control verbs use)."""
        criteria = list(criteria)
        registry = self._registry()
        label = registry.label
        # The legacy rows are taken before the scan's pauses; one that moved to the registry during
        # them (unregistered, registered again after a flip) is listed once, from the registry.
        held = _legacy_query(label, criteria) if legacy.books and legacy.held(label) else []
        found = await registry.scan(criteria, chunk=chunk)
        if not held:
            return found
        # A key the legacy path still holds live is listed from it (the registry's is its shadow).
        found = await keep_chunked(found, lambda e: _legacy_live(label, e.key) is None, chunk=chunk)
        keys = {e.key for e in found}
        return found + await keep_chunked(
            held, lambda e: e.key not in keys and not e.task.done(), chunk=chunk
        )

    def list_all(self, filter: Callable[[Mapping[str, Any]], bool] | None = None) -> list[Entry]:
        """Every live entry of both paths (those whose metadata passes ``filter``)."""
        registry = self._registry()
        found = registry.list_all(filter)
        held = _legacy_entries(registry.label)
        if held:
            found = _without_shadows(registry.label, found)
        return found + (held if filter is None else [e for e in held if filter(e.metadata)])

    def count(self) -> int:
        """How many live entries both paths hold."""
        held = self.held()
        return held["supervised"] + held["legacy"]
