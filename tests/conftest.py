"""Test configuration: every async test runs on the default asyncio loop and on uvloop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
import uvloop


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


def pytest_report_header(config: pytest.Config) -> str:
    from supervisor.tables._core import IMPLEMENTATION

    return f"arbord tables core: {IMPLEMENTATION} (ARBORD_NO_EXTENSIONS=1 selects the Python twin)"
