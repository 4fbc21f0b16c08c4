"""arbord's hidden-state check: state lives in servers, owned tables and explicit parameters.

The Python version of Foundation's ban on the process dictionary (``Process.put/get``): an AST check,
never a text grep, that flags module-level mutable state, ``global``/``nonlocal`` state, thread-locals,
``ContextVar``s outside the modules allowed to hold context, function attributes, mutable defaults,
shared class-level containers and module-level ``functools`` caches. It runs as
``python -m supervisor.lint PATH...``, as a flake8 plugin (``ARB``) and as a pre-commit hook;
``docs/hidden-state.md`` is the guide, ``RULES`` the list of codes.

>>> for finding in check_source("import threading\\n_local = threading.local()\\n", "m.py"):
...     print(finding.code, finding.line, finding.col)
ARB004 2 9
"""

from __future__ import annotations

from supervisor.lint.checker import check_paths, check_source
from supervisor.lint.config import Config, load_config
from supervisor.lint.errors import ConfigError, LintError, UsageError
from supervisor.lint.rules import RULES, Finding, Rule

__all__ = [
    "RULES",
    "Config",
    "ConfigError",
    "Finding",
    "LintError",
    "Rule",
    "UsageError",
    "check_paths",
    "check_source",
    "load_config",
]
