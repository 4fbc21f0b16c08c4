"""The error context's and the spans' two cores: the C extension ``daemon._context_speedups`` and its
pure-Python twin, chosen by ``ARBORD_NO_EXTENSIONS`` (daemon/context_core.py). Every test of
``daemon.context`` and ``daemon.spans`` runs on both (the Makefile's TWIN_SUITES); these check the
choice itself and that the C functions take their arguments exactly as the Python ones do."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from daemon import context_core
from daemon.context import _PyContextBlock, get_context, with_context
from daemon.spans import SPANS_NAME, STOP, SpanServer, current_span, end_span, start_span
from supervisor.testing import capture


@pytest.fixture
async def spans() -> AsyncIterator[SpanServer]:
    server = await SpanServer.start(name=SPANS_NAME)
    yield server
    await server.stop()


def test_the_variable_chooses_the_core() -> None:
    twin = os.environ.get(context_core.NO_EXTENSIONS_VARIABLE, "") not in ("", "0")
    assert ("python" if twin else "c") == context_core.IMPLEMENTATION
    assert (context_core.SPEEDUPS is None) == twin
    base = with_context.__mro__[1]
    if context_core.SPEEDUPS is None:
        assert base is _PyContextBlock
    else:
        assert base is context_core.SPEEDUPS.ContextBlock
        assert start_span is context_core.SPEEDUPS.start_span  # no Python frame around it


def test_with_context_takes_keywords_only_on_both_cores() -> None:
    with pytest.raises(TypeError):
        with_context("positional")  # type: ignore[call-arg]
    block = with_context(a=1, b="two")
    with block as ctx:
        assert dict(ctx) == {"a": 1, "b": "two"}
    assert dict(get_context()) == {}


def test_a_bad_key_and_a_full_context_take_the_python_path() -> None:
    with pytest.raises(Exception, match="identifiers"), with_context(**{"not an identifier": 1}):
        pass
    with with_context(**{f"k{n}": n for n in range(70)}) as ctx:  # past max_fields (64): dropped
        assert len(ctx) == 64
        assert len(ctx.dropped) == 6


async def test_start_and_end_take_their_arguments_as_the_python_signatures(spans: SpanServer) -> None:
    with pytest.raises(TypeError):
        start_span()  # type: ignore[call-arg]
    ref = start_span(name="keyworded", attributes={"rows": 3})
    live = current_span()
    assert live is not None
    assert (live.name, dict(live.attributes)) == ("keyworded", {"rows": 3})
    with pytest.raises(TypeError):
        end_span(ref, "error", ValueError("x"))  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        end_span(ref, bogus=1)  # type: ignore[call-arg]
    with capture(STOP) as stops:
        assert end_span(ref=ref, status="error", error=ValueError("bad row"), attributes={"n": 1})
    (stop,) = stops
    assert (stop.metadata["status"], stop.metadata["error"], stop.metadata["n"]) == (
        "error",
        "ValueError: bad row",
        1,
    )
    assert end_span(ref) is False  # already ended: an orphan end, on both cores
