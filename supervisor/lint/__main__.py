"""``python -m supervisor.lint``: see ``supervisor.lint.cli``."""

from __future__ import annotations

from supervisor.lint.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
