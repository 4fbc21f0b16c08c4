"""docs/otp-conformance.md is the one semantics reference, and what it lists exists.

The repository cites no document outside itself: behaviours are cited as
``docs/otp-conformance.md#<section>``, and every ``tests/...py::test_name`` that page names is a test
function that exists. Citations are prose in comments, docstrings and Markdown, so this is a text
scan of the tracked files; the patterns are spelled so that this file does not match them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFORMANCE = ROOT / "docs" / "otp-conformance.md"

# Documents that live outside the repository, and section signs ("\u00a7 13") that cite them.
FOREIGN_CITATION = re.compile(
    r"REFERENCE\.md|ECOSYSTEM\.md|RELIABILITY\.md|\.\./share[d]\b|/share[d]/|\u00a7\s*\d",
)
TEST_REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")
SECTION_LINK = re.compile(r"docs/otp-conformance\.md#([a-z0-9-]+)")


def tracked_files() -> list[Path]:
    """The files git tracks, or skip where there is no git checkout (an unpacked sdist)."""
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    result = subprocess.run([git, "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [ROOT / name for name in result.stdout.decode().split("\0") if name]


def text_of(path: Path) -> str | None:
    """The file's text, or None for a binary file (or one deleted but not yet committed)."""
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, FileNotFoundError):
        return None


def anchors() -> set[str]:
    """The anchors of the page's headings, as GitHub derives them from the heading text."""
    headings = re.findall(r"^#{2,4} (.+)$", CONFORMANCE.read_text(encoding="utf-8"), re.MULTILINE)
    return {re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_no_file_cites_a_document_outside_the_repository() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in tracked_files()
        if (text := text_of(path)) is not None
        for number, line in enumerate(text.splitlines(), start=1)
        if FOREIGN_CITATION.search(line)
    ]
    assert found == [], "cite docs/otp-conformance.md#<section> instead:\n" + "\n".join(found)


def test_every_citation_of_the_conformance_page_names_one_of_its_sections() -> None:
    sections = anchors()
    cited = {
        (str(path.relative_to(ROOT)), anchor)
        for path in tracked_files()
        if (text := text_of(path)) is not None
        for anchor in SECTION_LINK.findall(text)
    }
    assert cited, "nothing cites docs/otp-conformance.md"
    assert sorted((path, anchor) for path, anchor in cited if anchor not in sections) == []


def test_every_test_the_page_lists_exists() -> None:
    listed = TEST_REFERENCE.findall(CONFORMANCE.read_text(encoding="utf-8"))
    assert len(listed) > 100
    missing = [
        f"{path}::{name}"
        for path, name in listed
        if not (ROOT / path).is_file()
        or not re.search(rf"^(async )?def {name}\(", (ROOT / path).read_text(encoding="utf-8"), re.MULTILINE)
    ]
    assert missing == []


def test_the_readme_lists_the_page() -> None:
    assert "docs/otp-conformance.md" in (ROOT / "README.md").read_text(encoding="utf-8")
