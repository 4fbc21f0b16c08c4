"""OpenFeature's reason for a decision, as the string both of arbord's OpenFeature faces use: the
in-process provider (``openfeature_provider.py``, the ``openfeature`` extra) and OFREP over HTTP
(``daemon/flags/ofrep``, no dependency). One table, so the two never disagree.

>>> from daemon.flags.evaluate import Decision
>>> [reason_name(Decision(v, g)) for v, g in [(True, "boolean"), (False, "boolean"), (True, "actor")]]
['STATIC', 'DISABLED', 'TARGETING_MATCH']
>>> reason_name(Decision(True, "percentage_of_actors", bucket=7), stale=True)
'STALE'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from daemon.flags.evaluate import Decision

__all__ = ["REASONS", "reason_name"]

REASONS: Final[Mapping[str, str]] = {
    "actor": "TARGETING_MATCH",
    "group": "TARGETING_MATCH",
    "percentage_of_time": "SPLIT",
    "percentage_of_actors": "SPLIT",
    "default": "DEFAULT",
}
"""The reason of each gate but the boolean one (``STATIC`` when on, ``DISABLED`` when off)."""


def reason_name(decision: Decision, *, stale: bool = False) -> str:
    """The reason of ``decision``: ``STALE`` while the flags in force are stale, else the gate's
    (``UNKNOWN`` for a gate the table does not name; an unknown flag is an error, not a reason)."""
    if stale:
        return "STALE"
    if decision.gate == "boolean":
        return "STATIC" if decision.value else "DISABLED"
    return REASONS.get(decision.gate, "UNKNOWN")
