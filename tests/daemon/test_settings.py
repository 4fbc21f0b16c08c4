"""Configuration: defaults, sources and their precedence, and one precise message per problem."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from daemon.errors import ConfigError
from daemon.registry.component import REGISTRY
from daemon.servers.component import SERVERS
from daemon.settings import Settings, load_settings
from daemon.settings_sources import parse_environ, parse_toml

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS_FILE = ROOT / "config" / "arbord.toml"
EXAMPLES = sorted((ROOT / "config" / "examples").glob("*.toml"))


def problems_of(text: str, tmp_path: Path, environ: dict[str, str] | None = None) -> list[str]:
    path = tmp_path / "arbord.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ or {})
    return caught.value.problems


# --- defaults --------------------------------------------------------------------------------------


def test_the_documented_defaults_file_equals_the_embedded_defaults() -> None:
    assert load_settings(DEFAULTS_FILE, {}) == Settings() == load_settings(None, {})


def test_the_documented_defaults_file_writes_out_every_default_value() -> None:
    # Not just "equal after validation": every non-null default is spelled out, so the file documents it.
    written = tomllib.loads(DEFAULTS_FILE.read_text())
    embedded = Settings().model_dump(mode="json", exclude_none=True)
    assert embedded.pop("servers") == {}
    assert written == embedded


def test_the_documented_defaults_file_mentions_every_optional_key() -> None:
    text = DEFAULTS_FILE.read_text()
    for key in ("runtime_dir", "socket", "group", "tcp_host", "tcp_port", "start", "kwargs", "shutdown"):
        assert f"# {key} =" in text, key


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_configuration_is_valid(path: Path) -> None:
    load_settings(path, {})


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.daemon.loop = "asyncio"


def test_settings_alone_never_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARBORD_DAEMON__LOOP", "asyncio")
    assert Settings().daemon.loop == "uvloop"
    assert load_settings(None).daemon.loop == "asyncio"


# --- sources and precedence ------------------------------------------------------------------------


def test_the_environment_overrides_the_file(tmp_path: Path) -> None:
    path = tmp_path / "arbord.toml"
    path.write_text('[daemon]\nloop = "asyncio"\nlog_level = "debug"\n')
    settings = load_settings(path, {"ARBORD_DAEMON__LOG_LEVEL": "warning"})
    assert (settings.daemon.loop, settings.daemon.log_level) == ("asyncio", "warning")


def test_environment_names_are_case_insensitive_and_nest_with_double_underscores() -> None:
    settings = load_settings(None, {"arbord_tree__servers__Strategy": "rest_for_one"})
    assert settings.tree.servers.strategy == "rest_for_one"


def test_environment_values_in_brackets_are_json() -> None:
    settings = load_settings(None, {"ARBORD_REGISTRY__INDEXED_ATTRIBUTES": '["zone"]'})
    assert REGISTRY.of(settings).indexed_attributes == ("zone",)


@pytest.mark.parametrize("name", ["ARBORD_SOCKET", "ARBORD_CONTROL_SOCKET", "ARBORD_DAEMON_USER"])
def test_the_socket_variables_of_arborctl_are_not_settings(name: str) -> None:
    assert load_settings(None, {name: "/x.sock"}) == Settings()


def test_user_servers_are_validated_as_importable_server_classes(tmp_path: Path) -> None:
    text = '[servers.echo]\nstart = "supervisor:Server"\nargs = [1, "two"]\nrestart = "transient"\n'
    path = tmp_path / "arbord.toml"
    path.write_text(text)
    echo = SERVERS.of(load_settings(path, {})).servers["echo"]
    assert (echo.args, echo.restart, echo.shutdown) == ((1, "two"), "transient", 5.0)


def test_parse_toml_records_the_line_of_keys_and_tables() -> None:
    doc = parse_toml('# c\n[a.b]\nx = 1\n"y" . z = 2\n[[c]]\n', "f.toml")
    assert doc.lines == {("a", "b"): 2, ("a", "b", "x"): 3, ("a", "b", "y", "z"): 4, ("c",): 5}
    assert doc.origin(("a", "b", "x", 0)) == "f.toml line 3"
    assert doc.origin(("q",)) is None


def test_parse_environ_ignores_other_variables() -> None:
    env = parse_environ({"PATH": "/bin", "ARBORD_A__B": "1", "ARBORD_X": "2"}, ignore=("ARBORD_X",))
    assert env.data == {"a": {"b": "1"}}


# --- errors: one line per problem, naming key, source, value, expectation ---------------------------


def test_a_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: configuration file not found"):
        load_settings(tmp_path / "nope.toml", {})


def test_a_toml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    (problem,) = problems_of('[daemon]\nloop = "uvloop"\nlog_level = \n', tmp_path)
    assert problem.startswith(f"{tmp_path / 'arbord.toml'}: TOML syntax error")
    assert "line 3" in problem


def test_a_file_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "arbord.toml"
    path.write_bytes(b"loop = '\xff'\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(path, {})


def test_a_wrong_type_names_key_value_expectation_file_and_line(tmp_path: Path) -> None:
    (problem,) = problems_of("[daemon]\n\nshutdown_timeout = 'soon'\n", tmp_path)
    assert problem == (
        "daemon.shutdown_timeout: expected a valid number, unable to parse string as a number "
        f"(got 'soon'; from {tmp_path / 'arbord.toml'} line 3)"
    )


def test_an_out_of_range_value_says_the_bound(tmp_path: Path) -> None:
    (problem,) = problems_of("[control]\nmax_frame_bytes = 12\n", tmp_path)
    assert problem.startswith(
        "control.max_frame_bytes: expected a value greater than or equal to 1024 (got 12;"
    )


def test_an_unknown_key_lists_the_known_ones(tmp_path: Path) -> None:
    (problem,) = problems_of("[daemon]\nlooop = 'asyncio'\n", tmp_path)
    assert problem.startswith("daemon.looop: unknown key; expected one of: health_timeout, lag_interval,")
    assert problem.endswith(f"(got 'asyncio'; from {tmp_path / 'arbord.toml'} line 2)")


def test_an_unknown_section_in_the_file_is_an_error(tmp_path: Path) -> None:
    (problem,) = problems_of("[deamon]\nloop = 'asyncio'\n", tmp_path)
    assert problem.startswith(
        "deamon: unknown key; expected one of: cache, console, context, control, crashes, daemon,"
    )


def test_an_environment_error_names_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {"ARBORD_TREE__ROOT__INTENSITY": "-1"})
    assert caught.value.problems == [
        "tree.root.intensity: expected a value greater than or equal to 0 "
        "(got '-1'; from environment variable ARBORD_TREE__ROOT__INTENSITY)"
    ]


@pytest.mark.parametrize("name", ["ARBORD_BOGUS", "ARBORD_DEAMON__LOOP"])
def test_an_unknown_top_level_variable_is_an_error_like_a_nested_one(name: str) -> None:
    with pytest.raises(ConfigError, match=f"unknown section; .* \\(from environment variable {name}\\)"):
        load_settings(None, {name: "1"})


def test_an_unknown_nested_variable_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"daemon\.bogus: unknown key; .*ARBORD_DAEMON__BOGUS"):
        load_settings(None, {"ARBORD_DAEMON__BOGUS": "1"})


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = "[daemon]\nloop = 'trio'\nwatchdog = 'maybe'\n[tree.servers]\nstrategy = 'one_for_none'\n"
    problems = problems_of(text, tmp_path, {"ARBORD_CONTROL__IDLE_TIMEOUT": "0"})
    assert [p.split(":")[0] for p in problems] == [
        "daemon.loop",
        "daemon.watchdog",
        "tree.servers.strategy",
        "control.idle_timeout",
    ]


def test_a_model_level_error_points_at_its_table(tmp_path: Path) -> None:
    (problem,) = problems_of("[console]\nenabled = true\ntcp_host = '0.0.0.0'\ntcp_port = 1\n", tmp_path)
    assert problem.startswith("console: tcp_host '0.0.0.0' is not a loopback address")
    assert problem.endswith("line 1)")


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ("start = 'no_such_module_x:Server'", "servers.x.start: cannot import module 'no_such_module_x'"),
        (
            "start = 'supervisor:ChildSpec'",
            "servers.x.start: 'supervisor:ChildSpec' is not a supervisor.Server",
        ),
        ("start = 'not a path'", "servers.x.start: expected 'package.module:ClassName'"),
        ("args = []", "servers.x.start: required but not given (in "),
        ("start = 'supervisor:Server'\nshutdown = -1", "servers.x.shutdown: expected seconds >= 0"),
        ("start = 'supervisor:Server'\nrestart = 'always'", "servers.x.restart: expected 'permanent'"),
    ],
)
def test_user_server_problems(tmp_path: Path, table: str, expected: str) -> None:
    (problem,) = problems_of(f"[servers.x]\n{table}\n", tmp_path)
    assert problem.startswith(expected)


def test_a_bad_server_name_is_refused(tmp_path: Path) -> None:
    (problem,) = problems_of("[servers.Bad]\nstart = 'supervisor:Server'\n", tmp_path)
    assert problem.startswith("servers: a server name is 1-64 of [a-z0-9_-]")


def test_a_long_value_is_cut_in_the_message(tmp_path: Path) -> None:
    (problem,) = problems_of(f"[daemon]\nloop = '{'x' * 500}'\n", tmp_path)
    assert "..." in problem
    assert len(problem) < 300
