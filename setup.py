"""The one thing pyproject.toml cannot yet declare stably: the C extension.

``supervisor._speedups`` holds the tables' hot paths (supervisor/_speedups.c, docs/performance.md);
``daemon.flags._speedups`` the flags' evaluation (daemon/flags/_speedups.c).
Everything else about the distribution is in pyproject.toml.

- ``ARBORD_NO_EXTENSIONS=1`` (any value but empty or ``0``) builds no extension: arbord installs on
  a machine without a C compiler and runs on the tables' pure-Python twin (docs/tables.md). Without
  it a failed build fails the install: a silent fall-back would make every table slower.
- ``ARBORD_STRICT_BUILD=1`` turns warnings into errors (``-Werror``). The Makefile's ``lint`` sets it;
  the build users run never does, as a newer compiler's new warning must not break an install.
"""

import os

from setuptools import Extension, setup


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


_WARNINGS = ["-Wall", "-Wextra", "-Wno-unused-parameter"]

setup(
    ext_modules=[]
    if _flag("ARBORD_NO_EXTENSIONS")
    else [
        Extension(
            "supervisor._speedups",
            sources=["supervisor/_speedups.c"],
            extra_compile_args=["-O2", *_WARNINGS, *(["-Werror"] if _flag("ARBORD_STRICT_BUILD") else [])],
        ),
        # The error context's and the spans' hot paths (daemon/_context_speedups.c, daemon/context_core.py).
        Extension(
            "daemon._context_speedups",
            sources=["daemon/_context_speedups.c"],
            extra_compile_args=["-O2", *_WARNINGS, *(["-Werror"] if _flag("ARBORD_STRICT_BUILD") else [])],
        ),
        # The flags' evaluation (daemon/flags/_speedups.c; its twin: daemon/flags/fastpath.py).
        Extension(
            "daemon.flags._speedups",
            sources=["daemon/flags/_speedups.c"],
            extra_compile_args=["-O2", *_WARNINGS, *(["-Werror"] if _flag("ARBORD_STRICT_BUILD") else [])],
        ),
    ]
)
