"""The error hierarchy drawn in ``supervisor.errors``' docstring is the one the classes have."""

from __future__ import annotations

import re

import pytest

from supervisor import errors


def _drawn_parents() -> dict[str, str]:
    """Each class of the drawing mapped to the class it is drawn under."""
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in (errors.__doc__ or "").splitlines():
        match = re.match(r"^(\s*)(?:[│ ]*[├└]── )?([A-Z][A-Za-z]+)\b", line)
        if not match or not hasattr(errors, match.group(2)):
            continue
        depth = len(line) - len(line.lstrip(" │├└─"))
        name = match.group(2)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[name] = stack[-1][1]
        stack.append((depth, name))
    return parents


def test_the_drawing_names_every_error() -> None:
    drawn = set(_drawn_parents()) | {"ArbordError"}
    assert drawn == set(errors.__all__)


@pytest.mark.parametrize(("name", "parent"), sorted(_drawn_parents().items()))
def test_each_error_derives_from_the_class_it_is_drawn_under(name: str, parent: str) -> None:
    cls, base = getattr(errors, name), getattr(errors, parent)
    assert base in cls.__bases__


@pytest.mark.parametrize("name", errors.__all__)
def test_each_error_says_who_raises_it(name: str) -> None:
    assert (getattr(errors, name).__doc__ or "").strip()
