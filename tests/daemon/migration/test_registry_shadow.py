"""Shadow mode of the switched registry (daemon/registry/switched.py): on the legacy path with
``enable_migration_monitoring`` on, the legacy path answers and the supervised registry shadows it
(writes applied to both, lookups compared in the ``otp_cleanup.registry.lookup`` experiment); a
flip to the supervised path afterwards loses and duplicates nothing."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from daemon.flags.experiments import Experiments, read_report
from daemon.registry import LOOKUP_MISS, Registry
from daemon.registry.errors import AlreadyRegistered
from daemon.registry.switched import (
    MONITORING_FLAG,
    REGISTRY_FLAG,
    SHADOW_LOOKUP,
    SHADOW_WRITE,
    SwitchedRegistry,
)
from supervisor.testing import capture, wait_for
from tests.daemon.conftest import Spawn
from tests.daemon.migration.conftest import Backends

NAME = "test.shadow.registry"


@pytest.fixture
async def experiments() -> AsyncIterator[Experiments]:
    server = await Experiments.start()
    yield server
    await server.stop()


async def shadowing(flippable: Backends, *, limit: int | None = None) -> tuple[Registry, SwitchedRegistry]:
    """The registry on its legacy path with monitoring on: shadow mode."""
    registry = await Registry.start(name=NAME, max_entries_per_owner=limit)
    await flippable.use(REGISTRY_FLAG, False)
    await flippable.use(MONITORING_FLAG, True)
    return registry, SwitchedRegistry(NAME)


def counts(name: str) -> dict[str, int]:
    report = read_report(name)
    return {} if report is None else report.counts


async def test_legacy_answers_and_the_shadow_matches(
    flippable: Backends, experiments: Experiments, spawn: Spawn
) -> None:
    registry, switched = await shadowing(flippable)
    owner = spawn()
    entry = switched.register("a", owner, {"node": "n1"})
    assert registry.lookup("a") is not None  # the shadow write
    assert switched.held() == {"supervised": 0, "legacy": 1}  # the shadow is not a second entry
    found = switched.lookup("a")
    assert found is entry  # the legacy path's own entry answers
    with capture(LOOKUP_MISS) as seen:
        assert switched.lookup("missing") is None
    assert len(seen) == 1
    assert counts(SHADOW_LOOKUP) == {"runs": 2, "matches": 2, "mismatches": 0, "errors": 0, "timeouts": 0}
    assert counts(SHADOW_WRITE)["matches"] == 1
    assert switched.update_metadata("a", {"node": "n2"}) is True
    assert registry.lookup("a").metadata == {"node": "n2"}  # type: ignore[union-attr]
    assert switched.lookup("a").metadata == {"node": "n2"}  # type: ignore[union-attr]
    assert [e.key for e in switched.list_all()] == ["a"]
    assert [e.key for e in await switched.scan()] == ["a"]
    assert switched.count() == 1
    assert switched.unregister("a") is True
    assert registry.lookup_all("a") == []
    assert counts(SHADOW_LOOKUP)["mismatches"] == 0
    assert counts(SHADOW_WRITE) == {"runs": 3, "matches": 3, "mismatches": 0, "errors": 0, "timeouts": 0}
    await registry.stop()


async def test_monitoring_off_leaves_the_legacy_path_alone(
    flippable: Backends, experiments: Experiments, spawn: Spawn
) -> None:
    registry, switched = await shadowing(flippable)
    await flippable.use(MONITORING_FLAG, False)
    switched.register("a", spawn())
    assert switched.lookup("a") is not None
    assert registry.lookup_all("a") == []
    assert counts(SHADOW_LOOKUP) == {}
    assert counts(SHADOW_WRITE) == {}
    await registry.stop()


async def test_a_divergence_is_a_mismatch_recorded_with_both_values(
    flippable: Backends, experiments: Experiments, spawn: Spawn
) -> None:
    registry, switched = await shadowing(flippable)
    owner = spawn()
    entry = switched.register("gone-from-shadow", owner, {"node": "n1"})
    registry.unregister("gone-from-shadow")  # the shadow diverges
    assert switched.lookup("gone-from-shadow") is entry  # the caller still sees legacy
    report = read_report(SHADOW_LOOKUP)
    assert report is not None
    assert report.counts["mismatches"] == 1
    [mismatch] = report.mismatches
    assert "gone-from-shadow" in mismatch["control"]
    assert "'node': 'n1'" in mismatch["control"]
    assert mismatch["candidate"] == "None"
    await registry.stop()


async def test_a_failed_shadow_write_never_reaches_the_caller(
    flippable: Backends, experiments: Experiments, spawn: Spawn, caplog: pytest.LogCaptureFixture
) -> None:
    registry, switched = await shadowing(flippable, limit=1)  # the registry refuses a 2nd key per owner
    owner = spawn()
    caplog.set_level(logging.WARNING, logger="daemon.registry.switched")
    for n in range(3):
        switched.register(f"k{n}", owner)  # legacy has no limit: all three are registered
    assert sorted(e.key for e in switched.list_all()) == ["k0", "k1", "k2"]
    assert counts(SHADOW_WRITE)["errors"] == 2
    assert len([r for r in caplog.records if "shadow write failed" in r.getMessage()]) == 1  # once
    assert switched.lookup("k2") is not None  # answered by legacy; the shadow's miss is a mismatch
    assert counts(SHADOW_LOOKUP)["mismatches"] == 1
    await registry.stop()


async def test_flipping_to_supervised_afterwards_loses_and_duplicates_nothing(
    flippable: Backends, experiments: Experiments, spawn: Spawn
) -> None:
    registry, switched = await shadowing(flippable)
    first, second = spawn(), spawn()
    for n in range(6):
        switched.register(f"k{n}", first if n % 2 else second, {"node": f"n{n % 3}"})
    assert switched.unregister("k0") is True
    await flippable.use(REGISTRY_FLAG, True)  # monitoring stays on: it only acts on the legacy path
    keys = ["k1", "k2", "k3", "k4", "k5"]
    assert sorted(e.key for e in switched.list_all()) == keys
    assert sorted(e.key for e in await switched.scan()) == keys
    assert sorted(e.key for e in switched.query([])) == keys
    assert sorted(e.key for e in switched.find_by_attribute("node", "n1")) == ["k1", "k4"]
    assert switched.count() == 5
    assert switched.held() == {"supervised": 0, "legacy": 5}
    for key in keys:
        with pytest.raises(AlreadyRegistered):
            switched.register(key, spawn())  # live in legacy (and shadowed): refused
        assert switched.lookup(key).owner is (first if int(key[1]) % 2 else second)  # type: ignore[union-attr]
    assert switched.unregister("k1") is True  # takes its shadow with it
    assert registry.lookup_all("k1") == []
    switched.register("k1", second)  # now supervised, and only there
    assert switched.held() == {"supervised": 1, "legacy": 4}
    assert sorted(e.key for e in switched.list_all()) == keys
    second.cancel()
    # The owner's exit empties both paths of its keys (each path's own monitor or done callback).
    await wait_for(
        lambda: sorted(e.key for e in switched.list_all()) == ["k3", "k5"], what="second's keys gone"
    )
    assert switched.held() == {"supervised": 0, "legacy": 2}
    assert registry.count() == 2  # the shadows of first's keys, nothing else
    await registry.stop()
