"""What a context may hold and what of it may leave the process. ``ContextPolicy`` says the limits
and the redaction words.

Two checks, at two places. When a block adds fields (``check_keys``): keys must be identifiers, and
a context holds at most ``max_fields`` (new keys past it are dropped). When a context leaves the
process — a log line, an exception note, a crash record (``clean_fields``): values under a key that
names a secret are redacted and long values cut. The program itself reads its own values unchanged
(``get_context``); only what is written out is cleaned, and the check costs nothing on the hot path
of entering a block (bench/bench_context.py).

Nothing is dropped or cut silently: a redacted value reads ``REDACTED``, a cut one ends with a
marker saying how much was cut, and the keys of both are returned, so the record counts them.

>>> policy = ContextPolicy(max_value_chars=8)
>>> fields, redacted, truncated = clean_fields(policy, {"user": "ada", "api_token": "s3cr3t"})
>>> fields["api_token"], redacted
('[redacted]', ('api_token',))
>>> fields, redacted, truncated = clean_fields(policy, {"query": "select * from t"})
>>> fields["query"], truncated
('select *…[+7 chars]', ('query',))
>>> check_keys(policy, {"not an identifier": 1}, {})
Traceback (most recent call last):
...
daemon.context_policy.ContextKeyError: context keys must be identifiers: 'not an identifier'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "DEFAULT_POLICY",
    "DEFAULT_REDACT",
    "REDACTED",
    "ContextKeyError",
    "ContextPolicy",
    "check_keys",
    "clean_fields",
]

DEFAULT_REDACT: Final = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "token",
        "api_key",
        "apikey",
        "authorization",
        "cookie",
        "credential",
        "private_key",
    }
)
"""The words a key is redacted for when it contains one (case-insensitively): ``db_password``,
``refresh_token``, ``Authorization``."""

REDACTED: Final = "[redacted]"
"""What a redacted value reads as, in the context, in logs and in crash records."""


class ContextKeyError(ValueError, TypeError):
    """A context key that is not a Python identifier (``with_context(**{"a b": 1})``): keys become
    log fields and JSON keys, so they are held to the rules of keyword arguments. Rename the key."""


@dataclass(frozen=True, slots=True)
class ContextPolicy:
    """The limits and the redaction list of error contexts.

    A policy travels with the context it governs (``daemon.context.context_policy``), so a block, a
    task or the whole daemon can set one without any global setting.
    """

    redact: frozenset[str] = DEFAULT_REDACT
    """Lowercase words: a key containing one of them has its value replaced by ``REDACTED``."""
    max_fields: int = 64
    """Fields one context may hold; new keys past it are dropped, and counted as truncated."""
    max_value_chars: int = 1024
    """Characters (``str``) or bytes (``bytes``) a value may hold; longer ones are cut and marked."""
    _pattern: re.Pattern[str] | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if self.max_fields < 1 or self.max_value_chars < 1:
            raise ValueError(f"context limits must be positive: {self.max_fields}, {self.max_value_chars}")
        words = sorted(w.lower() for w in self.redact)
        if any(not w for w in words):
            raise ValueError("a redaction word cannot be empty")
        pattern = re.compile("|".join(map(re.escape, words)), re.IGNORECASE) if words else None
        object.__setattr__(self, "_pattern", pattern)

    def redacts(self, key: str) -> bool:
        """Whether ``key``'s value is redacted."""
        return self._pattern is not None and self._pattern.search(key) is not None


DEFAULT_POLICY: Final = ContextPolicy()
"""Ten redaction words, 64 fields, 1024 characters a value."""


def check_keys(
    policy: ContextPolicy, fields: Mapping[str, object], existing: Mapping[str, object]
) -> tuple[str, ...]:
    """Check ``fields`` before they join ``existing``: raise ``ContextKeyError`` for a key that is not
    an identifier; return the new keys past ``max_fields`` (to be dropped, and counted)."""
    if not all(map(_is_identifier, fields)):
        bad = next(k for k in fields if type(k) is not str or not k.isidentifier())
        raise ContextKeyError(f"context keys must be identifiers: {bad!r}")
    if len(existing) + len(fields) <= policy.max_fields:
        return ()
    room = policy.max_fields - len(existing)
    dropped: list[str] = []
    for key in fields:
        if key in existing:
            continue
        if room > 0:
            room -= 1
        else:
            dropped.append(key)
    return tuple(dropped)


def _is_identifier(key: object) -> bool:
    return type(key) is str and key.isidentifier()


def clean_fields(
    policy: ContextPolicy, fields: Mapping[str, object]
) -> tuple[dict[str, object], tuple[str, ...], tuple[str, ...]]:
    """``fields`` as they may leave the process (a log line, a note, a crash record, a reply): the
    fields, the keys redacted, the keys whose values were cut."""
    pattern = policy._pattern
    limit = policy.max_value_chars
    out: dict[str, object] = {}
    redacted: list[str] = []
    truncated: list[str] = []
    for key, value in fields.items():
        if pattern is not None and pattern.search(key) is not None:
            redacted.append(key)
            value = REDACTED
        elif isinstance(value, (str, bytes)) and len(value) > limit:
            truncated.append(key)
            unit = "chars" if isinstance(value, str) else "bytes"
            cut = value[:limit]
            shown = cut if isinstance(cut, str) else repr(cut)
            value = f"{shown}…[+{len(value) - limit} {unit}]"
        out[key] = value
    return out, tuple(redacted), tuple(truncated)
