"""The ``arbord`` and ``arborctl`` console scripts: check that arbord's packages are arbord's, then run.

arbord's import names, ``supervisor`` and ``daemon``, are also those of two other distributions on
PyPI: supervisord's ``supervisor`` and python-daemon's ``daemon``. Installed into the same environment,
either one overwrites (or shadows) arbord's package, and neither pip nor ``pip check`` says a word;
what follows is an ``ImportError`` deep in a traceback, or worse, a daemon that runs until the other
distribution is uninstalled. This module has a name no other distribution uses, so it always loads,
and it looks before importing anything else: each package's ``__init__.py`` must begin with
``MARKER``. If one does not, the script prints one line to stderr and exits (78 for ``arbord``,
EX_CONFIG, so systemd does not restart it; 1 for ``arborctl``)::

    arbord: another distribution has replaced arbord's 'supervisor' package: install arbord in its
    own virtual environment

(one line, folded here).

The check reads two lines and imports nothing (``arborctl``'s start-up is measured:
bench/bench_arborctl.py). ``tests/test_packaging.py`` installs supervisord and python-daemon over arbord in
a scratch environment and checks the line.

>>> replaced_package() is None
True
"""

from __future__ import annotations

import importlib.util
import sys

__all__ = ["MARKER", "PACKAGES", "arborctl", "arbord", "collision_message", "replaced_package"]

MARKER = b"# arbord's own package: the console scripts look for this line (_arbord_entry.py)."
"""The first line of ``supervisor/__init__.py`` and ``daemon/__init__.py``."""

PACKAGES = ("supervisor", "daemon")
"""arbord's top-level packages, the names other distributions use too."""


def replaced_package() -> str | None:
    """The first of ``PACKAGES`` whose ``__init__.py`` (as Python would import it) is not arbord's."""
    for name in PACKAGES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            return name
        origin = spec.origin if spec is not None else None
        if origin is None:
            return name
        try:
            with open(origin, "rb") as source:
                first = source.readline().rstrip(b"\r\n")
        except OSError:
            return name
        if first != MARKER:
            return name
    return None


def collision_message(program: str, package: str) -> str:
    """The one line printed when ``package`` is not arbord's."""
    return (
        f"{program}: another distribution has replaced arbord's {package!r} package: "
        "install arbord in its own virtual environment"
    )


def _checked(program: str, exit_code: int) -> None:
    package = replaced_package()
    if package is not None:
        print(collision_message(program, package), file=sys.stderr)
        raise SystemExit(exit_code)


def arbord() -> int:
    """The ``arbord`` console script (``daemon.cli.main``)."""
    _checked("arbord", 78)
    from daemon.cli import main

    return main()


def arborctl() -> int:
    """The ``arborctl`` console script (``daemon.ctl.arborctl.main``)."""
    _checked("arborctl", 1)
    from daemon.ctl.arborctl import main

    return main()
