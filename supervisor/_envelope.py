"""The envelope hook: what a sender's task carries to the server that handles its call or cast.

A ``ContextVar`` does not cross a mailbox: ``handle_call`` runs in the server's task, with the
server's context, not the caller's. A program that keeps per-task state in ``ContextVar``\\ s (a
current span, a logging context) installs one ``EnvelopeHook``; the library knows nothing of what
it carries:

- ``capture()`` runs in the sender's task, at ``call`` and ``cast``; it returns what to carry, or
  ``None`` for nothing (then nothing else runs for that message);
- ``enter(carried)`` runs in the server's task just before ``handle_call``/``handle_cast`` of that
  message and returns a token; ``exit(token)`` runs just after, also when the handler raises.

``send`` (``handle_info``) carries nothing: an info message is not a request made in a context.
A deferred reply (``NOREPLY``) is made outside the envelope. Hooks must not raise: an exception in
``capture`` propagates to the caller, in ``enter``/``exit`` it crashes the server.

With no hook installed a call pays one attribute read; with a hook that captures nothing, one
function call (``bench/bench_spans.py``, "call round trip, hook on").

>>> import asyncio
>>> from contextvars import ContextVar
>>> from supervisor import Server
>>> user: ContextVar[str | None] = ContextVar("user", default=None)
>>> hook = EnvelopeHook(capture=user.get, enter=user.set, exit=user.reset)
>>> class Greeter(Server):
...     async def handle_call(self, request, caller):
...         return f"hello {user.get()}"
>>> async def demo() -> str:
...     previous = set_envelope_hook(hook)
...     greeter = await Greeter.start()
...     user.set("ada")
...     try:
...         return await greeter.call("hi")
...     finally:
...         set_envelope_hook(previous)
...         await greeter.stop()
>>> asyncio.run(demo())
'hello ada'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["EnvelopeHook", "envelope_hook", "set_envelope_hook"]


@dataclass(frozen=True, slots=True)
class EnvelopeHook:
    """``capture`` in the sender, ``enter``/``exit`` around the handler (see the module's docstring)."""

    capture: Callable[[], object]
    enter: Callable[[Any], object]
    exit: Callable[[Any], object]


# The one installed hook. Interpreter-wide by design, like the telemetry handler table: every call
# and cast reads it without a server hop (allow-listed in pyproject.toml, docs/hidden-state.md).
hook: EnvelopeHook | None = None


def set_envelope_hook(new: EnvelopeHook | None) -> EnvelopeHook | None:
    """Install ``new`` (None: none) as the envelope hook; returns the one it replaces, to put back."""
    global hook
    if new is not None and not isinstance(new, EnvelopeHook):
        raise TypeError(f"an envelope hook is an EnvelopeHook or None, not {new!r}")
    previous, hook = hook, new
    return previous


def envelope_hook() -> EnvelopeHook | None:
    """The installed envelope hook, or None."""
    return hook
