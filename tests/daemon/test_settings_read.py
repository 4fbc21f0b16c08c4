"""Reading a configuration path is bounded (issue 12, item 7): regular files only, at most
``MAX_CONFIG_BYTES``, and no blocking open of a FIFO, at start-up, on a reload and for
``config.check``. A refused path is a ``ConfigError`` naming what it is, at once."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from daemon.ctl.client import open_control_client
from daemon.errors import ConfigError
from daemon.settings_sources import MAX_CONFIG_BYTES, read_toml
from tests.daemon.conftest import StartArbord
from tests.daemon.test_control_helpers import running_control
from tests.daemon.test_tree import start


@contextlib.contextmanager
def fifo_with_a_writer(path: Path) -> Iterator[Callable[[], None]]:
    """A named pipe at ``path`` with valid TOML in it and its write end held open: a reader that
    opens and reads it as a file blocks until the write end closes, which the callable yielded
    does (also on the way out)."""
    os.mkfifo(path)
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)  # a reader and a writer: nobody waits to open it
    os.write(fd, b"[daemon]\n")
    closed: list[bool] = []

    def release() -> None:
        if not closed:
            closed.append(True)
            os.close(fd)

    try:
        yield release
    finally:
        release()


async def test_a_named_pipe_is_refused_without_reading_it(tmp_path: Path) -> None:
    with fifo_with_a_writer(tmp_path / "pipe.toml") as release:
        reading = asyncio.ensure_future(asyncio.to_thread(read_toml, tmp_path / "pipe.toml"))
        try:
            # A guard, not a measurement: a reader that waits for the end of the pipe is released
            # by closing its write end, and then fails the assertion instead of hanging the suite.
            async with asyncio.timeout(30):
                await asyncio.wait([reading])
        except TimeoutError:
            release()
        with pytest.raises(ConfigError, match="not a regular file \\(a named pipe\\)"):
            await reading


@pytest.mark.parametrize(
    ("path", "kind"),
    [("/dev/zero", "a character device"), ("/", "a directory"), ("/dev/null", "a character device")],
)
def test_what_is_not_a_regular_file_is_refused(path: str, kind: str) -> None:
    with pytest.raises(ConfigError, match=f"not a regular file \\({kind}\\)"):
        read_toml(Path(path))


def test_a_file_over_the_cap_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    at_cap = tmp_path / "at.toml"
    at_cap.write_bytes(b"#" * (MAX_CONFIG_BYTES - 1) + b"\n")
    assert read_toml(at_cap).data == {}
    over = tmp_path / "over.toml"
    over.write_bytes(b"#" * MAX_CONFIG_BYTES + b"\n")  # a valid TOML comment, one byte too long
    with pytest.raises(ConfigError, match=f"larger than {MAX_CONFIG_BYTES} bytes"):
        read_toml(over)
    assert read_toml(over, max_bytes=MAX_CONFIG_BYTES + 1).data == {}


async def test_config_check_refuses_a_pipe_and_a_device_at_once(tmp_path: Path) -> None:
    with fifo_with_a_writer(tmp_path / "pipe.toml"):
        async with running_control() as h, open_control_client(h.path) as client:
            for path, kind in (
                (tmp_path / "pipe.toml", "named pipe"),
                (Path("/dev/zero"), "character device"),
            ):
                checked = await client.call("config.check", {"path": str(path)})
                assert checked["ok"] is False
                assert f"not a regular file (a {kind})" in checked["errors"][0]


async def test_a_reload_from_a_path_that_became_a_pipe_keeps_the_old_configuration(short_tmp: Path) -> None:
    harness = await start(short_tmp)
    try:
        before = harness.daemon.settings
        harness.config.unlink()
        with fifo_with_a_writer(harness.config):
            reply = await harness.daemon.reload()
        assert reply["ok"] is False
        assert "not a regular file (a named pipe)" in reply["errors"][0]
        assert harness.daemon.settings is before
    finally:
        harness.daemon.request_shutdown()
        async with asyncio.timeout(10):
            await harness.run


async def test_the_real_daemon_answers_config_check_of_a_pipe_and_a_device_at_once(
    start_arbord: StartArbord, tmp_path: Path
) -> None:
    # Issue 12: `config.check /dev/zero` grew the daemon's memory ~100 MB/s in a thread that
    # outlived its request; a FIFO blocked a thread in open() for as long as nobody wrote to it.
    daemon = start_arbord("")
    with fifo_with_a_writer(tmp_path / "pipe.toml"):
        async with open_control_client(daemon.control_socket) as client:
            for path, kind in (
                (tmp_path / "pipe.toml", "named pipe"),
                (Path("/dev/zero"), "character device"),
            ):
                checked = await client.call("config.check", {"path": str(path)})
                assert checked["ok"] is False
                assert f"not a regular file (a {kind})" in checked["errors"][0]
            assert await client.call("ping") == {"pong": True}
