"""Declared flags: ``[flags.<name>]`` sub-tables beside the section's own keys, refused when bad;
``lint``: undeclared evaluations, flags never evaluated since start, flags past ``expires``."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from daemon.errors import ConfigError
from daemon.flags import Flags, MemoryStore
from daemon.flags.config import FlagDeclaration, FlagsSettings
from daemon.flags.migration.components import OTP_CLEANUP_DECLARATIONS
from daemon.flags.migration.config import MigrationSettings
from daemon.settings import load_settings


def load(text: str, tmp_path: Path) -> FlagsSettings:
    path = tmp_path / "arbord.toml"
    path.write_text(text)
    flags: FlagsSettings = load_settings(path, {}).flags  # type: ignore[attr-defined]
    return flags


def test_sub_tables_of_flags_declare_flags(tmp_path: Path) -> None:
    settings = load(
        '[flags]\nstore = "memory"\nwriters_group = "deploy"\n'
        '[flags.new_checkout]\ndescription = "one page"\nowner = "payments"\ndefault = true\n'
        "expires = 2027-03-01\n"
        "[flags.quiet]\n",
        tmp_path,
    )
    assert settings.store == "memory"
    assert settings.writers_group == "deploy"
    own = {k: v for k, v in settings.declared.items() if k not in OTP_CLEANUP_DECLARATIONS}
    assert own == {
        "new_checkout": FlagDeclaration(
            description="one page", owner="payments", default=True, expires=datetime.date(2027, 3, 1)
        ),
        "quiet": FlagDeclaration(),
    }


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[flags.x]\ndefault = 1\n", "default"),
        ('[flags.x]\nexpires = "soon"\n', "expires"),
        ('[flags.x]\ncolour = "red"\n', "colour"),
        ('[flags]\nstore = "redis-ish"\n', "store"),
        ("[flags.store]\n", "store"),
        ('[flags]\n"bad\\tname" = {}\n', "control characters"),
    ],
)
def test_bad_declarations_are_refused_at_load(text: str, problem: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(text, tmp_path)
    assert problem in "\n".join(caught.value.problems)


async def test_lint_lists_undeclared_evaluations_never_evaluated_and_expired_flags() -> None:
    settings = FlagsSettings.model_validate(
        {
            "store": "memory",
            "used": {},
            "unused": {},
            "old": {"expires": datetime.date(2026, 1, 1)},
            "later": {"expires": datetime.date(2026, 6, 1)},
        }
    )
    flags = await Flags.start(settings, store=MemoryStore())
    try:
        await flags.enable("made", create=True)
        flags.enabled("used")
        flags.enabled("used", "ann")
        flags.enabled("typo")
        flags.enabled("typo")
        report = flags.lint(today=datetime.date(2026, 3, 1))
        assert report == {
            "undeclared": {"typo": 2},
            "never_evaluated": ["later", "made", "old", "unused"],
            "expired": {"old": "2026-01-01"},
        }
    finally:
        await flags.stop()


def test_declared_flags_round_trip_through_their_dump() -> None:
    settings = FlagsSettings.model_validate({"a": {"owner": "me"}, "path": "/x/f.db"})
    assert settings.model_dump(mode="json") == {
        "store": "sqlite",
        "path": "/x/f.db",
        "writers_group": None,
        "ofrep": False,  # OFREP on the HTTP listener (docs/flags.md, "OFREP")
        "probe_interval": 5.0,  # read-only after a refused commit: seconds between probes (flags.md)
        "redis": None,  # [flags.redis], for store = "redis" (docs/flags.md, "Shared store (Redis)")
        "migration": MigrationSettings().model_dump(mode="json"),  # [flags.migration] (docs/migrations.md)
        "a": {"description": "", "owner": "me", "default": False, "expires": None},
        # otp_cleanup's flags, declared by arbord (daemon/flags/migration/components.py)
        **{name: {**d, "expires": None} for name, d in OTP_CLEANUP_DECLARATIONS.items()},
    }
    assert FlagsSettings.model_validate(settings.model_dump()) == settings
