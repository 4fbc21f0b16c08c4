"""The documentation site's own checks (mkdocs.yml, docs/hooks.py), without building the site.

``make docs`` (run by ``make test``) builds it with ``--strict``; these tests pin the hook that
makes a public name without a docstring fail that build, and what the site is made of.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

# The public API the reference documents: the library's core and its tiers, and the daemon's
# modules other code builds on (issue 18).
REFERENCE = (
    "supervisor",
    "supervisor.tables",
    "supervisor.errors",
    "supervisor.telemetry",
    "supervisor.testing",
    "supervisor.lowlevel",
    "daemon.context",
    "daemon.spans",
    "daemon.telemetry",
    "daemon.flags",
)


@pytest.fixture(scope="module")
def hooks() -> ModuleType:
    """docs/hooks.py, loaded from its path as mkdocs loads it (docs/ is not a package)."""
    spec = importlib.util.spec_from_file_location("arbord_docs_hooks", DOCS / "hooks.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_reference_renders_the_public_api(hooks: ModuleType) -> None:
    assert hooks.rendered_modules(DOCS) == sorted(REFERENCE, key=lambda m: f"reference/{m}.md")


def test_every_public_name_of_the_reference_has_a_docstring(hooks: ModuleType) -> None:
    assert hooks.undocumented(REFERENCE) == []


def test_a_public_name_without_a_docstring_is_reported(hooks: ModuleType, tmp_path: Path) -> None:
    package = tmp_path / "sample_api"
    package.mkdir()
    (package / "__init__.py").write_text(
        '"""A sample."""\n'
        "from sample_api._impl import Documented, bare\n"
        "from sample_api import _impl as impl\n"
        '__all__ = ["CONSTANT", "Documented", "bare", "impl", "ghost"]\n'
        "CONSTANT = 1\n"
        '"""A constant, documented by the string under it."""\n',
        encoding="utf-8",
    )
    (package / "_impl.py").write_text(
        'class Documented:\n    """Has one."""\n\ndef bare() -> None:\n    pass\n', encoding="utf-8"
    )
    # The re-exported function without a docstring, and the name __all__ lists but nothing defines.
    assert hooks.undocumented(["sample_api"], tmp_path) == ["sample_api.bare", "sample_api.ghost"]


def test_the_nav_lists_every_page_that_exists() -> None:
    """mkdocs refuses a nav entry to a missing page and (validation.omitted_files) a page left out."""
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    in_nav = set(re.findall(r"^\s+- (?:[^:\n]+: )?([\w./-]+\.md)$", config, flags=re.MULTILINE))
    pages = {str(page.relative_to(DOCS)) for page in DOCS.rglob("*.md")}
    assert in_nav == pages


def test_the_built_site_is_ignored_by_git() -> None:
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert "site/" in ignored
