"""What the migrations need from the flags server, as a small protocol: read a flag for an actor (in
the caller's task), read a flag's gates, and write flags as one ordered, audited change.

``daemon.flags.migration.control`` is written against this protocol alone; ``flags_port()`` adapts the
running flags server (``arbord.flags``) to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

__all__ = ["AUTO_ROLLBACK", "FlagsPort"]

AUTO_ROLLBACK = "auto-rollback"
"""The actor an automatic rollback writes as (the audit trail shows it)."""


class FlagsPort(Protocol):
    """The flags server, as the migrations see it."""

    def enabled(self, flag: str, actor: object = None) -> bool:
        """Whether ``flag`` is on for ``actor``: the arm that served it (no mailbox hop)."""
        ...

    def percentage(self, flag: str) -> float | None:
        """The flag's percentage-of-actors gate (0..100) when its rollout is judged by arms: set, and
        the boolean gate absent or false; None otherwise."""
        ...

    def values(self) -> Mapping[str, bool]:
        """Every flag's boolean gate (True: on for everyone), to read a plan's stage back."""
        ...

    async def write(self, changes: Mapping[str, bool | None], *, actor: str, reason: str) -> int:
        """Set each flag's boolean gate (None: clear the flag's percentage rollout and turn it off)
        as one audited change by ``actor`` with ``reason``; returns the revision. Raises, having
        changed nothing, when the store refuses."""
        ...
