"""Inline suppressions: ``# arbord: allow-state(reason)``, read from comments only, never from strings.

A suppression on a line with code covers the findings reported on that line; a suppression alone on its
line covers the next line of code, and its reason may go on over the comment lines right below it (so a
long reason can sit above the statement). The reason is
required: a bare ``# arbord: allow-state`` or an empty ``()`` is itself a finding (ARB010), and a
suppression that covers nothing is one too (ARB011), so exceptions cannot outlive their cause.

>>> source = "_cache = {}  # arbord: allow-state(filled once per process, read-only after)\\n"
>>> [(s.line, s.target, s.reason) for s in parse_suppressions(source)]
[(1, 1, 'filled once per process, read-only after')]
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from supervisor.lint.rules import RULES, Finding

__all__ = ["Suppression", "apply_suppressions", "parse_suppressions"]

_MARKER: Final = "arbord:"
_DIRECTIVE: Final = re.compile(r"#\s*arbord:\s*allow-state\b(?:\s*\((?P<reason>.*))?")
_NOT_CODE: Final = frozenset(
    {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
)


@dataclass(frozen=True, slots=True)
class Suppression:
    """A suppression comment at ``line``:``col`` covering the findings on line ``target``; ``reason``
    is None when the comment gives none."""

    line: int
    col: int
    target: int
    reason: str | None


def parse_suppressions(source: str) -> list[Suppression]:
    """Every ``arbord: allow-state`` comment in ``source``. Cheap when there is none: the tokenizer
    only runs if the marker appears somewhere in the text."""
    if _MARKER not in source:
        return []
    comments: list[tuple[int, int, str, bool]] = []
    code_lines: set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                own_line = not token.line[: token.start[1]].strip()
                comments.append((token.start[0], token.start[1], token.string, own_line))
            elif token.type not in _NOT_CODE:
                code_lines.update(range(token.start[0], token.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):
        return []  # the parser reports the file as unparsable (ARB000)
    suppressions: list[Suppression] = []
    for index, (line, col, text, own_line) in enumerate(comments):
        match = _DIRECTIVE.search(text)
        if match is None:
            continue
        opened = match.group("reason")
        last, reason = line, None
        if opened is not None:
            reason, last = _reason(opened, comments[index + 1 :], line, own_line)
        target = min((n for n in code_lines if n > last), default=line) if own_line else line
        suppressions.append(Suppression(line, col + match.start(), target, reason))
    return suppressions


def _reason(
    opened: str, following: list[tuple[int, int, str, bool]], line: int, own_line: bool
) -> tuple[str | None, int]:
    """The text between the parentheses, which may continue on the comment lines right below an
    own-line directive; and the last line it spans."""
    parts, last = [opened], line
    if ")" not in opened and own_line:
        for next_line, _, text, next_own_line in following:
            if next_line != last + 1 or not next_own_line:
                break
            parts.append(text.lstrip("#").strip())
            last = next_line
            if ")" in text:
                break
    joined = " ".join(parts)
    if ")" not in joined:
        return None, last  # an unclosed parenthesis is no reason
    return joined[: joined.rindex(")")].strip() or None, last


def apply_suppressions(
    findings: Iterable[Finding], suppressions: list[Suppression], path: str
) -> list[Finding]:
    """``findings`` minus those a reasoned suppression covers, plus ARB010 for each suppression with no
    reason and ARB011 for each reasoned one that covered nothing."""
    covered = {s.target: s for s in suppressions if s.reason is not None}
    used: set[int] = set()
    kept: list[Finding] = []
    for finding in findings:
        suppression = covered.get(finding.line)
        if suppression is None:
            kept.append(finding)
        else:
            used.add(suppression.line)
    for suppression in suppressions:
        if suppression.reason is None:
            detail = "`# arbord: allow-state` needs a reason"
            kept.append(
                Finding(path, suppression.line, suppression.col, "ARB010", RULES["ARB010"].message(detail))
            )
        elif suppression.line not in used:
            detail = "this suppression covers no hidden-state finding"
            kept.append(
                Finding(path, suppression.line, suppression.col, "ARB011", RULES["ARB011"].message(detail))
            )
    return kept
