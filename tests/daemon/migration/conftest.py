"""The flag matrix's fixture: a flags server (``arbord.flags``) whose ``otp_cleanup`` flags send every
migrated component to one path, the supervised or the legacy one, for the component suites that run
on both (tests/daemon/migration/test_switched_*.py); the legacy dicts are emptied after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from daemon.flags import Flags, MemoryStore
from daemon.flags.binding import FLAGS_NAME
from daemon.flags.config import FlagsSettings
from daemon.flags.migration.components import OTP_CLEANUP_DECLARATIONS
from daemon.legacy import registry as legacy_registry
from daemon.legacy import sampled_events as legacy_events

ENFORCE = "enforce_no_process_dict"


class Backends:
    """The running flags server and the path its flags choose; ``use`` moves one flag."""

    def __init__(self, flags: Flags, path: str) -> None:
        self.flags = flags
        self.path = path

    @property
    def supervised(self) -> bool:
        return self.path == "supervised"

    async def use(self, flag: str, supervised: bool) -> None:
        """Send ``flag``'s component to the supervised path (True) or the legacy one (False)."""
        if supervised:
            await self.flags.enable(flag, actor="test")
        else:
            await self.flags.disable(flag, actor="test")


async def start_flags(supervised: bool) -> Flags:
    """``arbord.flags`` with otp_cleanup's component flags defaulting to ``supervised``."""
    declared = {flag: {"default": supervised and flag != ENFORCE} for flag in OTP_CLEANUP_DECLARATIONS}
    settings = FlagsSettings.model_validate({"store": "memory", **declared})
    flags: Flags = await Flags.start(settings, store=MemoryStore(), name=FLAGS_NAME)
    return flags


def forget_legacy() -> None:
    """Empty the legacy dicts (module-global: they outlive a test)."""
    legacy_registry.clear()
    legacy_events.clear()


@pytest.fixture(params=["supervised", "legacy"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backends]:
    """Every migrated component on one path: the suite runs once on each."""
    flags = await start_flags(request.param == "supervised")
    try:
        yield Backends(flags, request.param)
    finally:
        await flags.stop()
        forget_legacy()


@pytest.fixture
async def flippable() -> AsyncIterator[Backends]:
    """Every migrated component on the supervised path, to be flipped by the test."""
    flags = await start_flags(True)
    try:
        yield Backends(flags, "supervised")
    finally:
        await flags.stop()
        forget_legacy()
