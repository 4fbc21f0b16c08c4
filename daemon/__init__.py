"""The arbord daemon: the application built on ``supervisor`` (its servers, settings, control socket).

The public surface grows with the daemon; ``__all__`` lists it.
"""

from __future__ import annotations

from importlib.metadata import version

__all__ = ["__version__"]

__version__ = version("arbord")  # one source of truth: pyproject.toml
