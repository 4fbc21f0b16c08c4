"""Whether the console can run here: it needs aiomonitor, which is the ``console`` extra, not a
dependency of every install (it brings ~25 packages; docs/dependencies.md).

>>> console_missing() is None  # the test environment installs every extra
True
"""

from __future__ import annotations

import importlib.util
from typing import Final

__all__ = ["CONSOLE_EXTRA", "console_missing"]

CONSOLE_EXTRA: Final = "pip install 'arbord[console]'"
"""How to install what the console needs."""


def console_missing() -> str | None:
    """None if aiomonitor can be imported; otherwise why the console cannot run and what to install.

    ``find_spec`` only looks: aiomonitor is imported when the console starts (~270 ms).
    """
    try:
        found = importlib.util.find_spec("aiomonitor") is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return None
    return f"the console needs the 'console' extra (aiomonitor is not installed): {CONSOLE_EXTRA}"
