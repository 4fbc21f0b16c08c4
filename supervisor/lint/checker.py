"""Running the check: parse each file once, walk it, join the package's evidence, apply suppressions.

``check_paths`` is what the command line runs; ``check_source`` checks one string, for tests and
editors. Neither imports the code it checks: everything comes from ``ast.parse``.

>>> for finding in check_source("def add(item, into=[]):\\n    into.append(item)\\n", "m.py"):
...     print(finding.format())
m.py:1:20 ARB007 the default of `into` in `add` is one object shared by every call: default to None and ...
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from supervisor.lint.config import Config
from supervisor.lint.facts import ModuleFacts, collect
from supervisor.lint.index import StateIndex, state_findings
from supervisor.lint.modules import is_package_init, module_name, package_root, python_files
from supervisor.lint.rules import RULES, Finding
from supervisor.lint.suppress import apply_suppressions, parse_suppressions

__all__ = ["SourceFile", "check_paths", "check_source", "display_path", "read_source", "report"]


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One file, read and walked: ``facts`` is None when it does not parse (``error`` says why)."""

    path: Path
    display: str
    module: str
    source: str
    facts: ModuleFacts | None
    error: Finding | None = None


def read_source(
    path: Path, config: Config, *, display: str | None = None, source: str | None = None
) -> SourceFile:
    """Read (unless ``source`` is given), parse and walk one file."""
    shown = str(path) if display is None else display
    module = module_name(path)
    try:
        text = path.read_text(encoding="utf-8") if source is None else source
        tree = ast.parse(text, filename=shown)
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError) as error:
        line = getattr(error, "lineno", None) or 1
        finding = Finding(shown, line, 0, "ARB000", RULES["ARB000"].message(f"cannot check {shown}: {error}"))
        return SourceFile(path, shown, module, "", None, finding)
    facts = collect(
        tree,
        path=path,
        module=module,
        display=shown,
        is_package=is_package_init(path),
        context_allowed=config.is_context(path, module),
    )
    return SourceFile(path, shown, module, text, facts)


def report(file: SourceFile, index: StateIndex, config: Config) -> list[Finding]:
    """The findings of one file, after its allow-list entry and its inline suppressions."""
    if file.facts is None:
        return [] if file.error is None else [file.error]
    if config.is_allowed(file.path, file.module):
        return []
    findings = [*file.facts.findings, *state_findings(file.facts, index)]
    return sorted(apply_suppressions(findings, parse_suppressions(file.source), file.display))


def display_path(path: Path) -> str:
    """``path`` as findings show it: relative to the working directory when it can be."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive, on Windows
        return str(path)


def check_paths(paths: Iterable[Path], config: Config) -> list[Finding]:
    """Check every Python file under ``paths``. The packages those files belong to are read too, so that
    a mutation from an unchecked sibling module still counts. Raises ``UsageError`` for a missing path."""
    targets: dict[Path, Path] = {}
    for path in python_files(paths):
        targets.setdefault(path.resolve(), path)
    roots = {root for path in targets.values() if (root := package_root(path)) is not None}
    others: dict[Path, Path] = {}
    for other in python_files(sorted(roots)):
        resolved = other.resolve()
        if resolved not in targets:
            others.setdefault(resolved, other)
    checked = [read_source(path, config) for path in targets.values()]
    context = [read_source(path, config, display=display_path(path)) for path in others.values()]
    index = StateIndex(file.facts for file in (*checked, *context) if file.facts is not None)
    findings: list[Finding] = []
    for file in checked:
        findings.extend(report(file, index, config))
    return findings


def check_source(
    source: str,
    path: str = "<string>",
    *,
    config: Config | None = None,
    siblings: Sequence[tuple[str, str]] = (),
) -> list[Finding]:
    """Check ``source`` as if it were the file ``path``; ``siblings`` are other ``(path, source)``
    modules of the same package, whose mutations count toward ARB001."""
    settings = Config(root=Path.cwd()) if config is None else config
    file = read_source(Path(path), settings, display=path, source=source)
    others = [read_source(Path(p), settings, display=p, source=s) for p, s in siblings]
    index = StateIndex(f.facts for f in (file, *others) if f.facts is not None)
    return report(file, index, settings)
