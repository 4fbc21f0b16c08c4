"""A flags store for the migrations' unit tests: boolean gates and a percentage-of-actors gate in a
dict, each write recorded with its actor and reason. It implements ``FlagsPort`` the way the flags
server does (the daemon test runs against the real server)."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass
class Write:
    changes: dict[str, bool | None]
    actor: str
    reason: str


@dataclass
class MemoryFlags:
    gates: dict[str, bool] = field(default_factory=dict)
    percentages: dict[str, float] = field(default_factory=dict)
    writes: list[Write] = field(default_factory=list)
    refuse: bool = False

    @staticmethod
    def bucket(flag: str, actor: object) -> int:
        return zlib.crc32(f"{flag}:{actor}".encode()) % 100 + 1

    def enabled(self, flag: str, actor: object = None) -> bool:
        if self.gates.get(flag):
            return True
        percentage = self.percentages.get(flag)
        return percentage is not None and actor is not None and self.bucket(flag, actor) <= percentage

    def percentage(self, flag: str) -> float | None:
        return None if self.gates.get(flag) else self.percentages.get(flag)

    def values(self) -> Mapping[str, bool]:
        return dict(self.gates)

    async def write(self, changes: Mapping[str, bool | None], *, actor: str, reason: str) -> int:
        if self.refuse:
            raise OSError("disk full")
        for flag, value in changes.items():
            if value is None:
                self.percentages.pop(flag, None)
                self.gates[flag] = False
            else:
                self.gates[flag] = value
        self.writes.append(Write(dict(changes), actor, reason))
        return len(self.writes)
