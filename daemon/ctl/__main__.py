"""``python -m daemon.ctl``: ``arborctl``."""

from __future__ import annotations

import sys

from daemon.ctl.arborctl import main

sys.exit(main())
