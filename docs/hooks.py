"""An mkdocs hook (``mkdocs.yml``, ``hooks``): a public name without a docstring is a build warning.

mkdocstrings leaves out, without a word, a public name that has no docstring; under ``--strict``
this hook turns that silence into a failure. For each ``::: module`` a page renders, every name in
the module's ``__all__`` (submodules aside) must have a docstring, read the way the reference reads
it (griffe: a class's or function's docstring, or the string literal under a constant or alias).
Members of those classes are not checked: dataclass fields and enum members are documented in their
class's docstring.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import griffe

__all__ = ["on_pre_build", "rendered_modules", "undocumented"]

log: Final = logging.getLogger("mkdocs.hooks.public_docstrings")

_IDENTIFIER: Final = re.compile(r"^::: ([\w.]+)\s*$", re.MULTILINE)

_ROOT: Final = Path(__file__).resolve().parent.parent


def undocumented(modules: Iterable[str], search_path: Path = _ROOT) -> list[str]:
    """The names in each module's ``__all__`` (submodules aside) without a docstring, as dotted paths."""
    loader = griffe.GriffeLoader(search_paths=[search_path])
    loaded = [loader.load(module) for module in modules]
    loader.resolve_aliases(implicit=False, external=False)
    missing = []
    for module in loaded:
        for export in module.exports or ():
            name = str(export)
            member = module.members.get(name)
            if member is None:
                missing.append(f"{module.path}.{name}")  # in __all__, defined nowhere: nothing to show
                continue
            target = member.final_target if isinstance(member, griffe.Alias) else member
            if not target.is_module and not target.docstring:
                missing.append(f"{module.path}.{name}")
    return missing


def rendered_modules(docs_dir: Path) -> list[str]:
    """The modules the pages render (their ``::: module`` lines), in page order."""
    return [
        module
        for page in sorted(docs_dir.rglob("*.md"))
        for module in _IDENTIFIER.findall(page.read_text(encoding="utf-8"))
    ]


def on_pre_build(config: Any) -> None:
    """Warn once per public name without a docstring in the modules the reference renders."""
    for path in undocumented(rendered_modules(Path(config["docs_dir"]))):
        log.warning("%s has no docstring: the API reference would leave it out", path)
