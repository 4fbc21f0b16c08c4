"""``[context]`` (daemon/sections.py ``ContextSection``): more redaction words and the size limits of
error contexts, from the daemon's configuration. The daemon enters the policy in its own task before
the tree starts (daemon/app.py), so its handlers' contexts follow it; a change waits for a restart."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from daemon.app import Daemon, ExitCode
from daemon.app_reload import frozen_parts, split_settings
from daemon.cli import main as arbord_main
from daemon.context import ContextPolicy, get_context, with_context
from daemon.context_policy import DEFAULT_POLICY, DEFAULT_REDACT, REDACTED
from daemon.errors import ConfigError
from daemon.sections import ContextSection
from daemon.settings import load_settings
from supervisor import Caller, Server, whereis
from tests.daemon.conftest import wait_ready
from tests.daemon.test_context_logs import _ask, _spawn_faulty
from tests.daemon.test_tree import RecordingNotifier


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "arbord.toml"
    path.write_text(text)
    return path


# --- the section ------------------------------------------------------------------------------------


def test_the_defaults_are_the_default_policy_itself() -> None:
    assert ContextSection().policy() is DEFAULT_POLICY
    assert load_settings(None, {}).context == ContextSection()


def test_the_words_are_added_to_the_built_in_ones_in_lowercase(tmp_path: Path) -> None:
    path = _config(tmp_path, '[context]\nredact = ["PIN", " Order "]\nmax_fields = 8\nmax_value_chars = 4\n')
    section = load_settings(path, {}).context
    assert section.redact == ("pin", "order")
    policy = section.policy()
    assert policy == ContextPolicy(DEFAULT_REDACT | {"pin", "order"}, 8, 4)
    assert policy.redacts("card_PIN")
    assert policy.redacts("db_password")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[context]\nmax_fields = 0\n",
            "context.max_fields: expected a value greater than or equal to 1 (got 0;",
        ),
        ("[context]\nmax_value_chars = 'long'\n", "context.max_value_chars: expected a valid integer"),
        ('[context]\nredact = "pin"\n', "context.redact: expected a valid tuple (got 'pin';"),
        (
            '[context]\nredact = ["  "]\n',
            "context.redact.0: String should have at least 1 character (got '  ';",
        ),
        (
            "[context]\nredcat = []\n",
            "context.redcat: unknown key; expected one of: max_fields, max_value_chars",
        ),
    ],
)
def test_a_wrong_value_is_refused_with_its_key_its_value_and_what_was_expected(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_config(tmp_path, text), {})
    (problem,) = caught.value.problems
    assert problem.startswith(expected), problem


def test_the_daemon_refuses_to_start_with_a_wrong_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config(tmp_path, "[context]\nmax_value_chars = 0\n")
    assert arbord_main(["run", "--config", str(path)]) == ExitCode.CONFIG
    assert "context.max_value_chars" in capsys.readouterr().err


def test_a_changed_section_waits_for_a_restart(tmp_path: Path) -> None:
    old = load_settings(None, {})
    new = load_settings(_config(tmp_path, '[context]\nredact = ["pin"]\nmax_value_chars = 9\n'), {})
    assert frozen_parts(old, new) == ["context.redact", "context.max_value_chars"]
    assert split_settings(old, new).context == old.context
    assert frozen_parts(old, old) == []


# --- in the daemon ------------------------------------------------------------------------------------


class PolicyProbe(Server):
    """Answers with the policy of its own task's error context (a caller with nothing current carries
    nothing, so ``handle_call`` runs in the context the server's task inherited from the tree)."""

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        with with_context(card_pin="1234"):
            return get_context().policy, get_context().cleaned()[0]


async def test_the_tree_runs_under_the_sections_policy_and_a_reload_keeps_it(short_tmp: Path) -> None:
    config = short_tmp / "arbord.toml"
    server = '[servers.probe]\nstart = "tests.daemon.test_context_section:PolicyProbe"\n'
    head = f'[daemon]\nruntime_dir = "{short_tmp / "run"}"\n'
    config.write_text(f'{head}[context]\nredact = ["pin"]\nmax_value_chars = 16\n{server}')
    notifier = RecordingNotifier()
    daemon = Daemon(load_settings(config, {}), config_path=config, environ={}, notifier=notifier)
    run = asyncio.create_task(daemon.run())
    try:
        await notifier.wait_for("READY")
        probe = whereis("arbord.servers.probe")
        assert probe is not None
        policy, shown = await probe.call("policy")
        assert (policy.max_value_chars, policy.redacts("card_pin")) == (16, True)
        assert shown == {"card_pin": REDACTED}
        assert get_context().policy is DEFAULT_POLICY  # the caller's own task is not the daemon's

        config.write_text(f"{head}[context]\nmax_value_chars = 32\n{server}")
        reply = await daemon.reload()
        assert reply["ok"], reply
        assert reply["needs_restart"] == ["context.redact", "context.max_value_chars"]
        assert daemon.settings.context.redact == ("pin",)
        policy, shown = await probe.call("policy")
        assert (policy.max_value_chars, shown) == (16, {"card_pin": REDACTED})  # unchanged until a restart
    finally:
        daemon.request_shutdown()
        async with asyncio.timeout(10):
            assert await run == ExitCode.OK


def test_the_daemons_handlers_redact_the_sections_words_in_its_json_lines(short_tmp: Path) -> None:
    # A real daemon process: the faulty verb's handler holds {"order": 7} when it fails.
    running = _spawn_faulty(short_tmp, '[context]\nredact = ["Order"]\n')
    try:
        wait_ready(running)
        error = _ask(running.control_socket, "faulty.fail")["error"]
    finally:
        code = running.stop()
        running.notify.close()
    assert code == 0, running.stderr()
    lines = [json.loads(line) for line in running.stderr().splitlines() if line.startswith("{")]
    (failed,) = [line for line in lines if "faulty.fail failed" in line["message"]]
    assert failed["correlation_id"] == error["correlation_id"]
    assert failed["context"] == {"order": REDACTED}
