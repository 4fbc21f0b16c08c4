"""The load tiers of the reliability matrix (T0 smoke, T1 stress, T2 soak) and their pass criteria.

The rates are the matrix's starting targets, written here once; `make stress` offers T1, `make soak`
T2's shape at T1's rates (a 2-core machine cannot offer T2's 50k events/s beside the rest). A run
may ask for other rates (``--rate tier=N``, ``make stress RATES=...``): the report then prints the
tier's target beside what was asked, so a lowered rate is never silent.

>>> T1.control_clients * T1.control_rate, T1.events, T1.spans, T1.cache_ops, T1.flag_writes
(6400.0, 20000.0, 5000.0, 50000.0, 100.0)
>>> T1.with_rates({"events": 5000}).events, T1.events
(5000.0, 20000.0)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = ["CRITERIA", "T0", "T1", "T2", "TIERS", "Criteria", "Rates"]


@dataclass(frozen=True, slots=True)
class Rates:
    """What one run offers the daemon, per second (``control_rate`` per client)."""

    name: str
    control_clients: int
    control_rate: float
    events: float
    spans: float
    cache_ops: float
    flag_writes: float

    def with_rates(self, changes: Mapping[str, float]) -> Rates:
        """These rates with some replaced (``control_clients`` stays an integer)."""
        fields = {f.name for f in dataclasses.fields(self)} - {"name"}
        unknown = set(changes) - fields
        if unknown:
            raise ValueError(f"unknown rate {sorted(unknown)}: expected one of {sorted(fields)}")
        values = {k: (int(v) if k == "control_clients" else float(v)) for k, v in changes.items()}
        return dataclasses.replace(self, **values)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Criteria:
    """The matrix's pass criteria that are numbers (the others are identities: docs/performance.md)."""

    control_p99: float
    """Seconds: the control requests' p99 latency."""
    loop_lag_p99: float
    """Seconds: the event loop's lag p99 (the daemon's own lag samples)."""
    flush_lag_factor: float = 2.0
    """A batch goes out within this many flush intervals of its first item."""
    rate_reached: float = 0.95
    """A tier whose offered rate fell below this share of the asked rate proved nothing: it fails."""


T0: Final = Rates(
    "T0",
    control_clients=32,
    control_rate=20.0,
    events=5_000.0,
    spans=1_000.0,
    cache_ops=10_000.0,
    flag_writes=10.0,
)
T1: Final = Rates(
    "T1",
    control_clients=128,
    control_rate=50.0,
    events=20_000.0,
    spans=5_000.0,
    cache_ops=50_000.0,
    flag_writes=100.0,
)
T2: Final = Rates(
    "T2",
    control_clients=256,
    control_rate=50.0,
    events=50_000.0,
    spans=10_000.0,
    cache_ops=50_000.0,
    flag_writes=10.0,
)
TIERS: Final = {"T0": T0, "T1": T1, "T2": T2}

CRITERIA: Final = {
    "T0": Criteria(control_p99=0.020, loop_lag_p99=0.050),
    "T1": Criteria(control_p99=0.020, loop_lag_p99=0.050),
    "T2": Criteria(control_p99=0.050, loop_lag_p99=0.100),
}
