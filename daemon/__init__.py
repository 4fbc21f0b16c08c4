# arbord's own package: the console scripts look for this line (_arbord_entry.py).
"""The arbord daemon: the application built on ``supervisor`` (its servers, settings, control socket).

The public surface grows with the daemon; ``__all__`` lists it. ``__version__`` is read from the
installed distribution's metadata when first asked for: ``importlib.metadata`` costs more than the
rest of ``arborctl``'s imports, and ``arborctl`` does not need it (docs/performance.md).
"""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    if name == "__version__":
        from importlib.metadata import version  # on first use: see the module docstring

        return version("arbord")  # one source of truth: pyproject.toml
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
