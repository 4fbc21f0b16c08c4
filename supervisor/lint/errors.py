"""The errors the hidden-state check raises: both are usage errors, so the command exits with status 2.

A violation in the checked code is never an exception: it is a ``Finding``. These errors mean the check
could not run as asked.
"""

from __future__ import annotations

__all__ = ["ConfigError", "LintError", "UsageError"]


class LintError(Exception):
    """Base of the check's errors; ``python -m supervisor.lint`` prints it and exits with status 2."""


class ConfigError(LintError):
    """Raised by ``load_config`` when ``[tool.arbord.hidden-state]`` is malformed: an unknown key, a value
    that is not a list of strings, an entry that is neither a dotted module name nor a path, or a path
    entry that names nothing. Fix the entry the message quotes."""


class UsageError(LintError):
    """Raised by ``check_paths`` when a path given on the command line does not exist."""
