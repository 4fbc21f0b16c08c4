"""The control socket's client side: ``arborctl``, the clients, socket discovery, console attach.

- ``arborctl`` (daemon/ctl/arborctl.py): the command; ``python -m daemon.ctl`` runs it too;
- ``wire``: the blocking client ``arborctl`` speaks; ``client``: an asyncio client for programs on an
  event loop; ``frames``: what both share (``ControlReplyError``);
- ``discovery``: where the control socket is; ``attach``: ``arborctl console``;
- ``diagnose``: ``arborctl diagnose``, a bundle made from the ordinary verbs (its masking reads the
  redaction words of ``daemon.context_policy``, a standard-library module).

This package imports only the standard library and the pure modules of ``daemon.verbs`` (words,
render, codes): never pydantic, the settings or ``supervisor`` (``tests/test_layout.py``), so that
``arborctl ping`` costs about what a one-line Python client does (docs/performance.md). The console
client (aiomonitor) is imported only by ``arborctl console``.
"""

from __future__ import annotations

from daemon.ctl.discovery import SYSTEMD_SOCKET, default_socket_path, socket_candidates, source_checkout
from daemon.ctl.frames import ControlReplyError

__all__ = [
    "SYSTEMD_SOCKET",
    "ControlReplyError",
    "default_socket_path",
    "socket_candidates",
    "source_checkout",
]
