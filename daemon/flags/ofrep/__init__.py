"""OFREP, the OpenFeature Remote Evaluation Protocol, on the daemon's HTTP listener: services in
other languages read arbord's flags with their stock OFREP provider (docs/flags.md, "OFREP").

``protocol``: the two evaluation endpoints (requests in, responses out); ``mount``: the child of the
flags component that mounts them on ``arbord.http`` when ``[flags] ofrep = true``.
"""

from __future__ import annotations

from daemon.flags.ofrep.mount import OFREP_NAME, OFREP_ROUTES, OfrepMount, ofrep_child_spec
from daemon.flags.ofrep.protocol import BULK_PATH, SINGLE_PREFIX, OfrepContext, evaluate_bulk, evaluate_one

__all__ = [
    "BULK_PATH",
    "OFREP_NAME",
    "OFREP_ROUTES",
    "SINGLE_PREFIX",
    "OfrepContext",
    "OfrepMount",
    "evaluate_bulk",
    "evaluate_one",
    "ofrep_child_spec",
]
