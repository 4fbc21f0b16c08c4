"""The daemon's envelope hook: a span or error context current at ``call``/``cast`` is current in the
server's ``handle_call``/``handle_cast`` of that message.

``supervisor`` knows nothing of spans: it offers a generic hook (``supervisor.lowlevel.EnvelopeHook``);
this module fills it with ``daemon.context``'s capture and restore of both values. The span server
installs it while it runs (``SpanServer.init``), and puts back the previous hook when it exits.

>>> CONTEXT_ENVELOPE.capture() is None  # nothing current: nothing is carried, nothing else runs
True
"""

from __future__ import annotations

from typing import Final

from daemon.context import capture_carried, enter_carried, exit_carried
from supervisor.lowlevel import EnvelopeHook

__all__ = ["CONTEXT_ENVELOPE"]

CONTEXT_ENVELOPE: Final = EnvelopeHook(capture=capture_carried, enter=enter_carried, exit=exit_carried)
"""Carries the sender's current span and error context (``daemon.context``) into the handler."""
