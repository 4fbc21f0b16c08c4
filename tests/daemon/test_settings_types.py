"""Configuration types: a file's values are typed and never converted, the environment's are parsed;
non-finite numbers and degenerate intervals are refused wherever they come from."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from daemon.errors import ConfigError
from daemon.sections import MIN_LAG_INTERVAL, MIN_LAG_WARNING
from daemon.settings import load_settings

# (section, key, a wrongly typed TOML value, the TOML type named in the message), one per type family.
WRONG_IN_FILE = [
    ("tree.root", "intensity", '"3"', "string"),
    ("tree.root", "intensity", "3.5", "float"),
    ("tree.root", "intensity", "true", "boolean"),
    ("tree.root", "period", "true", "boolean"),
    ("tree.root", "period", '"5"', "string"),
    ("daemon", "watchdog", '"yes"', "string"),
    ("daemon", "watchdog", "1", "integer"),
    ("daemon", "loop", "5", "integer"),
    ("daemon", "runtime_dir", "5", "integer"),
    ("console", "tcp_port", '"20101"', "string"),
    ("registry", "indexed_attributes", '"zone"', "string"),
    ("registry", "max_entries_per_owner", '"10"', "string"),
    ("cache.caches.default", "ttl", '"30"', "string"),
    ("cache", "caches", "5", "integer"),
    ("servers.x", "shutdown", '"5"', "string"),
]

# What a table needs beside the wrongly typed value, so that it is the one problem.
FIRST_LINE = {"servers.x": "start = 'supervisor:Server'\n", "console": "tcp_host = '127.0.0.1'\n"}

# Values lax validation would have converted without a word: refused now, naming the TOML type.
CONVERTED_BEFORE = [case for case in WRONG_IN_FILE if case[2] not in ("3.5", "5", '"zone"')]

# (variable, text, the parsed value at that key): environment variables are text, parsed per type.
PARSED_FROM_ENVIRONMENT = [
    ("ARBORD_TREE__ROOT__INTENSITY", "3", ("tree", "root", "intensity"), 3),
    ("ARBORD_TREE__ROOT__PERIOD", "2.5", ("tree", "root", "period"), 2.5),
    ("ARBORD_DAEMON__WATCHDOG", "false", ("daemon", "watchdog"), False),
    ("ARBORD_DAEMON__LOOP", "asyncio", ("daemon", "loop"), "asyncio"),
    ("ARBORD_DAEMON__RUNTIME_DIR", "/run/x", ("daemon", "runtime_dir"), Path("/run/x")),
    ("ARBORD_REGISTRY__INDEXED_ATTRIBUTES", '["zone"]', ("registry", "indexed_attributes"), ("zone",)),
    ("ARBORD_CACHE__CACHES__DEFAULT__TTL", "30", ("cache", "caches", "default", "ttl"), 30.0),
]


def file_problems(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> list[str]:
    path = tmp_path / "arbord.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ or {})
    return caught.value.problems


def value_at(settings: object, loc: tuple[str, ...]) -> object:
    for part in loc:
        settings = settings[part] if isinstance(settings, dict) else getattr(settings, part)
    return settings


@pytest.mark.parametrize(("table", "key", "value", "kind"), WRONG_IN_FILE)
def test_a_wrongly_typed_file_value_is_refused_with_its_toml_type(
    tmp_path: Path, table: str, key: str, value: str, kind: str
) -> None:
    start = FIRST_LINE.get(table, "")
    problems = file_problems(tmp_path, f"[{table}]\n{start}{key} = {value}\n")
    assert len(problems) == 1, problems
    (problem,) = problems
    assert problem.startswith(f"{table}.{key}: ")
    assert problem.endswith(f"{tmp_path / 'arbord.toml'} line {2 + bool(start)})")


@pytest.mark.parametrize(("table", "key", "value", "kind"), CONVERTED_BEFORE)
def test_the_message_names_the_toml_type_given(
    tmp_path: Path, table: str, key: str, value: str, kind: str
) -> None:
    start = FIRST_LINE.get(table, "")
    (problem,) = file_problems(tmp_path, f"[{table}]\n{start}{key} = {value}\n")
    assert f", not a TOML {kind} (got " in problem


def test_a_file_integer_is_a_number_of_seconds(tmp_path: Path) -> None:
    path = tmp_path / "arbord.toml"
    path.write_text("[tree.root]\nperiod = 5\n[servers.x]\nstart = 'supervisor:Server'\nshutdown = 2\n")
    settings = load_settings(path, {})
    assert settings.tree.root.period == 5.0
    assert settings.servers["x"].shutdown == 2.0  # type: ignore[attr-defined]


def test_a_file_array_is_a_tuple_and_a_file_string_a_path(tmp_path: Path) -> None:
    path = tmp_path / "arbord.toml"
    path.write_text("[daemon]\nruntime_dir = '/run/x'\n[registry]\nindexed_attributes = ['zone']\n")
    settings = load_settings(path, {})
    assert settings.daemon.runtime_dir == Path("/run/x")
    assert settings.registry.indexed_attributes == ("zone",)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("name", "text", "loc", "expected"), PARSED_FROM_ENVIRONMENT)
def test_environment_text_is_parsed_into_each_type(
    name: str, text: str, loc: tuple[str, ...], expected: object
) -> None:
    assert value_at(load_settings(None, {name: text}), loc) == expected


def test_environment_text_for_a_server_shutdown_is_parsed() -> None:
    environ = {"ARBORD_SERVERS__X__START": "supervisor:Server", "ARBORD_SERVERS__X__SHUTDOWN": "5"}
    assert load_settings(None, environ).servers["x"].shutdown == 5.0  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("ARBORD_TREE__ROOT__INTENSITY", "three"),
        ("ARBORD_TREE__ROOT__PERIOD", "soon"),
        ("ARBORD_DAEMON__WATCHDOG", "perhaps"),
        ("ARBORD_DAEMON__LOOP", "trio"),
        ("ARBORD_REGISTRY__INDEXED_ATTRIBUTES", "[1]"),
    ],
)
def test_unparseable_environment_text_is_refused(name: str, text: str) -> None:
    with pytest.raises(ConfigError, match=f"from environment variable {name}"):
        load_settings(None, {name: text})


def test_the_environment_replaces_a_wrongly_typed_file_value(tmp_path: Path) -> None:
    path = tmp_path / "arbord.toml"
    path.write_text("[tree.root]\nintensity = '3'\n")
    settings = load_settings(path, {"ARBORD_TREE__ROOT__INTENSITY": "4"})
    assert settings.tree.root.intensity == 4


def test_a_value_out_of_range_and_wrongly_typed_is_reported_once(tmp_path: Path) -> None:
    (problem,) = file_problems(tmp_path, "[tree.root]\nintensity = '-1'\n")
    assert problem.startswith("tree.root.intensity: ")


# --- non-finite and degenerate numbers -----------------------------------------------------------------


@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("daemon", "shutdown_timeout"),
        ("daemon", "health_timeout"),
        ("tree.root", "period"),
        ("control", "idle_timeout"),
        ("control", "request_timeout"),
        ("cache.caches.default", "ttl"),
        ("cache.caches.default", "janitor_interval"),
        ("registry", "period"),
    ],
)
def test_a_non_finite_number_is_refused_from_a_file_and_from_the_environment(
    tmp_path: Path, table: str, key: str, value: str
) -> None:
    (problem,) = file_problems(tmp_path, f"[{table}]\n{key} = {value}\n")
    assert problem.startswith(f"{table}.{key}: ")
    variable = "ARBORD_" + "__".join([*table.split("."), key]).upper()
    with pytest.raises(ConfigError, match=f"from environment variable {variable}"):
        load_settings(None, {variable: value})


def test_a_non_finite_server_shutdown_is_refused(tmp_path: Path) -> None:
    (problem,) = file_problems(tmp_path, "[servers.x]\nstart = 'supervisor:Server'\nshutdown = inf\n")
    assert problem.startswith("servers.x.shutdown: expected seconds >= 0")


@pytest.mark.parametrize(
    ("table", "key", "floor"),
    [
        ("daemon", "lag_interval", MIN_LAG_INTERVAL),
        ("daemon", "lag_warning", MIN_LAG_WARNING),
        ("cache.caches.default", "janitor_interval", 0.01),
    ],
)
def test_an_interval_below_its_floor_is_refused_naming_the_floor(
    tmp_path: Path, table: str, key: str, floor: float
) -> None:
    (problem,) = file_problems(tmp_path, f"[{table}]\n{key} = {floor / 10}\n")
    assert problem.startswith(f"{table}.{key}: expected a value greater than or equal to {floor} (got ")
    path = tmp_path / "floor.toml"
    path.write_text(f"[{table}]\n{key} = {floor}\n")
    assert not math.isnan(floor)
    load_settings(path, {})
