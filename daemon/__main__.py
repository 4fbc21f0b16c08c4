"""``python -m daemon``: the same as the ``arbord`` command."""

from __future__ import annotations

import sys

from daemon.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
