"""W3C Trace Context ids and the ``traceparent`` header.

A trace id is 32 lowercase hex digits (16 random bytes), a span id 16 (8 random bytes); neither may
be all zeros. The header is ``version-traceid-spanid-flags``, version ``00``, flag bit 0 = sampled.

>>> format_traceparent("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", True)
'00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
>>> parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00")
('0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', False)
>>> parse_traceparent("00-00000000000000000000000000000000-b7ad6b7169203331-01")
Traceback (most recent call last):
    ...
daemon.spans.errors.BadTraceparent: traceparent: the trace id is all zeros
>>> len(new_trace_id()), len(new_span_id())
(32, 16)
"""

from __future__ import annotations

import re
from random import getrandbits
from typing import Final

from daemon.spans.errors import BadTraceparent

__all__ = [
    "format_traceparent",
    "is_span_id",
    "is_trace_id",
    "new_span_id",
    "new_trace_id",
    "parse_traceparent",
]

_HEADER: Final = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_TRACE_ID: Final = re.compile(r"[0-9a-f]{32}")
_SPAN_ID: Final = re.compile(r"[0-9a-f]{16}")
_ZERO_TRACE: Final = "0" * 32
_ZERO_SPAN: Final = "0" * 16


def new_trace_id() -> str:
    """A fresh trace id: 128 random bits as 32 lowercase hex digits, never all zeros."""
    # random.getrandbits, as OTel's SDK: ids need uniqueness, not secrecy, and os.urandom costs
    # a system call per span (bench/bench_spans.py).
    bits = getrandbits(128)
    while not bits:  # pragma: no cover - one chance in 2**128
        bits = getrandbits(128)
    return bits.to_bytes(16, "big").hex()


def new_span_id() -> str:
    """A fresh span id: 64 random bits as 16 lowercase hex digits, never all zeros."""
    bits = getrandbits(64)
    while not bits:  # pragma: no cover - one chance in 2**64
        bits = getrandbits(64)
    return bits.to_bytes(8, "big").hex()


def is_trace_id(value: object) -> bool:
    """True for a valid trace id: 32 lowercase hex digits, not all zeros."""
    return isinstance(value, str) and bool(_TRACE_ID.fullmatch(value)) and value != _ZERO_TRACE


def is_span_id(value: object) -> bool:
    """True for a valid span id: 16 lowercase hex digits, not all zeros."""
    return isinstance(value, str) and bool(_SPAN_ID.fullmatch(value)) and value != _ZERO_SPAN


def format_traceparent(trace_id: str, span_id: str, sampled: bool) -> str:
    """The ``traceparent`` header of a span (version 00)."""
    return f"00-{trace_id}-{span_id}-{'01' if sampled else '00'}"


def parse_traceparent(header: object) -> tuple[str, str, bool]:
    """``(trace_id, parent span id, sampled)`` of a ``traceparent`` header; ``BadTraceparent`` with
    the reason for anything W3C Trace Context says to refuse (wrong shape, upper case, version
    ``ff``, extra fields on version 00, all-zero ids)."""
    if not isinstance(header, str):
        raise BadTraceparent(f"traceparent: a header is a str, not {type(header).__name__}")
    if len(header) > 512:
        raise BadTraceparent(f"traceparent: {len(header)} characters, more than a header can be")
    match = _HEADER.fullmatch(header.strip())
    if match is None:
        raise BadTraceparent(f"traceparent: {header[:80]!r} is not version-traceid-spanid-flags in lower hex")
    version, trace_id, span_id, flags, rest = match.groups()
    if version == "ff":
        raise BadTraceparent("traceparent: version ff is invalid")
    if version == "00" and rest:
        raise BadTraceparent("traceparent: version 00 has exactly four fields")
    if trace_id == _ZERO_TRACE:
        raise BadTraceparent("traceparent: the trace id is all zeros")
    if span_id == _ZERO_SPAN:
        raise BadTraceparent("traceparent: the parent id is all zeros")
    return trace_id, span_id, bool(int(flags, 16) & 1)
