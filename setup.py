"""The one thing pyproject.toml cannot yet declare stably: the C extension.

``supervisor._speedups`` holds the tables' hot paths (supervisor/_speedups.c, docs/performance.md).
Everything else about the distribution is in pyproject.toml.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "supervisor._speedups",
            sources=["supervisor/_speedups.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror"],
        )
    ]
)
