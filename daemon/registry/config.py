"""The agent registry's settings: the ``[registry]`` section of the daemon's configuration.

>>> RegistrySettings().indexed_attributes
('capability', 'health_status', 'node')
>>> RegistrySettings(indexed_attributes=("zone",)).indexed_attributes
('zone',)
"""

from __future__ import annotations

import re
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["DEFAULT_INDEXED_ATTRIBUTES", "RegistrySettings"]

DEFAULT_INDEXED_ATTRIBUTES: Final = ("capability", "health_status", "node")
"""The metadata attributes indexed by default (Foundation's MABEAM registry indexed the same three)."""

_ATTRIBUTE: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class RegistrySettings(BaseModel):
    """How the daemon's agent registry (``arbord.registry``) is set up.

    ``indexed_attributes``: top-level metadata keys kept in index tables, so ``find_by_attribute``
    is an index lookup; any other attribute is refused with ``NotIndexed`` (use ``query``).
    ``max_entries_per_owner``: a bound on the entries one owner may hold (a control-socket client
    cannot exhaust the daemon's memory by registering in a loop); ``None`` removes the bound.
    ``max_indexed_values``: a bound on the distinct values of indexed attributes one entry may
    carry (a list value is indexed element by element), so no registration's index work can grow
    without bound; past it the registration is refused (``TooManyValues``).
    ``intensity``/``period``: the restart limit of the registry's own supervisor.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    indexed_attributes: tuple[str, ...] = DEFAULT_INDEXED_ATTRIBUTES
    max_entries_per_owner: int | None = Field(default=100_000, ge=1)
    max_indexed_values: int = Field(default=1024, ge=1, le=1_000_000)
    intensity: int = Field(default=3, ge=0)
    """The registry's supervisor (``arbord.registry.supervisor``, over the registry alone) gives up
    after more than this many restarts within ``period`` seconds; the root then restarts it, and the
    new registry claims its tables back from the keeper, a child of the root (docs/registry.md)."""
    period: float = Field(default=5.0, gt=0, allow_inf_nan=False)

    @field_validator("indexed_attributes")
    @classmethod
    def _identifiers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for attribute in value:
            if not _ATTRIBUTE.match(attribute):
                raise ValueError(f"an indexed attribute is an identifier, not {attribute!r}")
        if len(set(value)) != len(value):
            raise ValueError(f"indexed attributes are listed twice: {list(value)!r}")
        return value
