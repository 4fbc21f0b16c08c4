"""A real daemon with one more verb, ``faulty.fail``, whose handler raises a bug (an unmapped
exception, answered ``internal``): ``python -m tests.daemon.faulty_daemon CONFIG`` runs it in its own
process as ``arbord run --config CONFIG`` does (logging configured from ``[daemon]``), for the
end-to-end tests of what a failing request leaves in the logs (tests/daemon/test_context_logs.py).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from pydantic import BaseModel

from daemon.app import Daemon
from daemon.app_logging import configure_logging
from daemon.cli import loop_factory
from daemon.component import Component
from daemon.context import with_context
from daemon.settings import load_settings
from daemon.tree import COMPONENTS
from daemon.verbs.method import Method, MethodContext


class FailParams(BaseModel):
    order: int = 7


async def fail(params: FailParams, context: MethodContext) -> dict[str, str]:
    with with_context(order=params.order):
        raise RuntimeError("the faulty verb failed on purpose")


def _verbs() -> Sequence[Method]:
    return (Method("faulty.fail", FailParams, fail, "fail with a bug"),)


FAULTY: Final[Component[None]] = Component("faulty", verbs=_verbs)
WITH_FAULTY: Final = (*COMPONENTS[:-1], FAULTY, COMPONENTS[-1])


def main(config: Path) -> int:
    settings = load_settings(config, os.environ)
    configure_logging(settings.daemon.log_level, os.environ, log_format=settings.daemon.log_format)
    daemon = Daemon(settings, config_path=config, environ=os.environ, components=WITH_FAULTY)
    with asyncio.Runner(loop_factory=loop_factory(settings.daemon.loop)) as runner:
        return runner.run(daemon.run())


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
