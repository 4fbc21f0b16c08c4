"""The core verbs as a component: no settings and no children, the verbs every daemon has and the
error codes of the supervisor library's errors (``daemon.verbs.core``)."""

from __future__ import annotations

from typing import Final

from daemon.component import Component
from daemon.verbs.core import CORE_ERROR_MAP, core_methods

__all__ = ["CORE"]

CORE: Final[Component[None]] = Component("core", verbs=core_methods, error_map=CORE_ERROR_MAP)
"""hello, ping, status, reload, config.*, shutdown, the tree verbs and tables.*."""
