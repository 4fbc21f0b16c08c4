"""What the switched-interface tests share: a flags server that declares the two migration flags of
the error context and span management, and a span server (tests/daemon/test_switched_*.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from daemon import context_switched
from daemon.flags import FLAGS_NAME, Flags, MemoryStore
from daemon.flags.config import FlagsSettings
from daemon.legacy import span_stacks
from daemon.spans import SPANS_NAME, SpanServer
from daemon.spans import switched as spans_switched

FLAGS = (context_switched.FLAG, spans_switched.FLAG)


@dataclass
class Paths:
    """The running servers, and the flips between the two paths."""

    flags: Flags
    spans: SpanServer

    async def choose(self, path: str) -> None:
        """Serve every following call of both components on ``path`` (``supervised`` or ``legacy``)."""
        for flag in FLAGS:
            if path == "supervised":
                await self.flags.enable(flag, actor="test")
            else:
                await self.flags.disable(flag, actor="test")


@asynccontextmanager
async def paths(path: str) -> AsyncIterator[Paths]:
    """Both servers, the flags declared with ``path`` in force; on exit, both legacy dicts empty."""
    on = path == "supervised"
    settings = FlagsSettings.model_validate({"store": "memory", **{f: {"default": on} for f in FLAGS}})
    flags = await Flags.start(settings, store=MemoryStore(), name=FLAGS_NAME)
    spans = await SpanServer.start(name=SPANS_NAME)
    try:
        yield Paths(flags, spans)
    finally:
        await spans.stop()
        await flags.stop()
    assert span_stacks.open_count() == 0, "a legacy span was left open"
