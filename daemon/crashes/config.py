"""``[crashes]``: how many crash records the daemon keeps.

>>> CrashesSettings().capacity
256
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from daemon.crashes.server import DEFAULT_CAPACITY

__all__ = ["CrashesSettings"]


class CrashesSettings(BaseModel):
    """``[crashes]``: the crash log (``arborctl crashes``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    capacity: int = Field(default=DEFAULT_CAPACITY, ge=1, le=100_000)
    """Records kept; past it the oldest is dropped (and counted: ``arborctl crashes`` says how many)."""
