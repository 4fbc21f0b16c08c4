"""One timer per connection for its idle, request and write time limits, instead of one per await.

``asyncio.timeout`` arms and cancels a timer handle on every use; a control connection would use two
or three per request, a sixth of a ``ping``'s cost (bench/bench_control.py). ``Deadline`` keeps one
handle armed and moves only a number per phase: when the handle fires before the current deadline it
re-arms itself for it; when a phase needs an earlier deadline than the one armed, it re-arms at once.
An overrun cancels the task, and the phase that overran raises ``TimeoutError``, as ``asyncio.timeout``
would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Deadline"]


class Deadline:
    """Time limits for phases of ``task``'s work; ``with deadline.phase(seconds): await ...``."""

    __slots__ = ("_armed_at", "_expires", "_fired", "_handle", "_loop", "_task")

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self._loop = task.get_loop()
        self._task = task
        self._handle: asyncio.TimerHandle | None = None
        self._armed_at = 0.0
        self._expires: float | None = None
        self._fired = False

    @contextmanager
    def phase(self, seconds: float) -> Iterator[None]:
        """Limit the enclosed awaits to ``seconds``; ``TimeoutError`` if they take longer."""
        expires = self._loop.time() + seconds
        self._expires = expires
        if self._handle is None or self._armed_at > expires:
            self._arm(expires)
        try:
            yield
        except asyncio.CancelledError:
            if self._fired and self._task.uncancel() == 0:
                self._fired = False
                raise TimeoutError from None
            raise
        finally:
            self._expires = None

    def close(self) -> None:
        """Cancel the timer (idempotent)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._expires = None

    def _arm(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._armed_at = when
        self._handle = self._loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._handle = None
        expires = self._expires
        if expires is None:
            return  # between phases: the next phase arms it again
        if self._loop.time() >= expires:
            self._fired = True
            self._task.cancel()
        else:
            self._arm(expires)
