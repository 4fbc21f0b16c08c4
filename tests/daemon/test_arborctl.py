"""``arborctl`` against an in-process control server: verbs, output for people and for scripts,
the generic method mapping, and the exit codes (0 ok, 1 failed, 2 usage, 3 not running, 4 denied)."""

from __future__ import annotations

import asyncio
import io
import json
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from daemon.ctl.arborctl import default_socket_path, main, socket_candidates
from daemon.verbs.render import render_tree
from daemon.verbs.words import UsageError, build_params, resolve_method
from supervisor import Access, Table, whereis
from tests.daemon.test_control_helpers import running_control, short_tmpdir


async def arborctl(*argv: str | Path) -> tuple[int, str, str]:
    """Run ``arborctl ARGV`` in a thread (it blocks on its socket); (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(main, [str(a) for a in argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


# --- one round trip when the words need no binding ---------------------------------------------------


async def test_the_method_table_is_fetched_only_to_bind_words() -> None:
    # A fake daemon that knows ping and tree and records what it is asked: arborctl sends `ping` as
    # it is, and asks for `methods` only when words are left to bind to params (`tree root`).
    asked: list[str] = []
    table = [
        {"name": "ping", "params": {}, "streamed": False},
        {"name": "tree", "params": {"properties": {"path": {"type": "string"}}}, "streamed": False},
    ]

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            request = json.loads(line)
            asked.append(request["method"])
            reply: dict[str, Any] = {"id": request["id"]}
            if request["method"] == "methods":
                reply["result"] = table
            elif request["method"] in ("ping", "tree"):
                reply["result"] = {"params": request["params"]}
            else:
                reply["error"] = {"code": "method_not_found", "message": f"no method {request['method']!r}"}
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        writer.close()

    with short_tmpdir() as tmp:
        async with await asyncio.start_unix_server(serve, str(tmp / "c.sock")):
            assert (await arborctl("--socket", tmp / "c.sock", "--json", "ping"))[0] == 0
            assert asked == ["ping"]
            asked.clear()
            code, out, _ = await arborctl("--socket", tmp / "c.sock", "--json", "tree", "root/core")
            assert (code, json.loads(out)) == (0, {"params": {"path": "root/core"}})
            assert asked == ["tree.root/core", "methods", "tree"]
            asked.clear()
            code, _, err = await arborctl("--socket", tmp / "c.sock", "nothing")
            assert (code, asked) == (2, ["nothing", "methods"])
            assert "no method 'nothing'" in err


# --- verbs and output ----------------------------------------------------------------------------


async def test_ping_status_and_version() -> None:
    async with running_control() as h:
        assert await arborctl("--socket", h.path, "ping") == (0, "pong: yes\n", "")
        code, out, _ = await arborctl("--socket", h.path, "status")
        assert code == 0
        assert out.splitlines()[0].split() == ["state:", "running"]
        code, out, _ = await arborctl("--socket", h.path, "--json", "version")
        assert json.loads(out)["protocol"] == 1


async def test_tree_is_drawn_for_people_and_json_for_scripts() -> None:
    async with running_control() as h:
        code, out, _ = await arborctl("--socket", h.path, "tree")
        assert code == 0
        lines = out.splitlines()
        assert lines[0].startswith("root  supervisor  one_for_one  running")
        assert lines[1].startswith("├── core  supervisor  one_for_one  running")
        assert lines[2].startswith("│   ├── echo  worker  running")
        assert lines[2].endswith("(test.echo)")
        assert lines[-1].startswith("└── control  worker  running")
        code, out, _ = await arborctl("--socket", h.path, "--json", "tree", "root/core")
        assert [c["id"] for c in json.loads(out)["children"]] == ["echo", "other"]


async def test_children_and_management_verbs_by_path() -> None:
    async with running_control() as h:
        code, out, _ = await arborctl("--socket", h.path, "children", "root/core")
        assert code == 0
        assert out.splitlines()[0].split() == ["ID", "TYPE", "STATE", "RESTARTS", "UPTIME", "NAME"]
        assert await arborctl("--socket", h.path, "stop", "root/core/echo") == (
            0,
            "path:  root/core/echo\nstate: undefined\n",
            "",
        )
        code, _, _ = await arborctl("--socket", h.path, "restart", "path=root/core/echo")
        assert code == 0
        before = whereis("test.echo")
        assert (await arborctl("--socket", h.path, "restart", "root/core/echo"))[0] == 0  # running: too
        assert whereis("test.echo") not in (None, before)
        code, _, err = await arborctl("--socket", h.path, "delete", "root/core/echo")
        assert code == 1
        assert "running" in err


async def test_any_method_is_a_verb_with_positional_or_key_value_params() -> None:
    async with running_control() as h:
        table = Table("ctl.rows", named=True, access=Access.PUBLIC)
        try:
            table.insert([(i, f"v{i}") for i in range(5)])
            code, out, _ = await arborctl("--socket", h.path, "tables", "dump", "ctl.rows", "chunk=2")
            assert code == 0
            assert sorted(out.splitlines()) == [f"{i}\tv{i}" for i in range(5)]
            code, out, _ = await arborctl(
                "--socket", h.path, "--json", "tables", "dump", "name=ctl.rows", "chunk=2"
            )
            assert [len(json.loads(line)["rows"]) for line in out.splitlines()] == [2, 2, 1]
            code, out, _ = await arborctl(
                "--socket", h.path, "--json", "tables", "info", "--params", '{"name": "ctl.rows"}'
            )
            assert json.loads(out)["size"] == 5
        finally:
            table.delete_table()


async def test_methods_lists_every_method_with_its_summary() -> None:
    async with running_control() as h:
        code, out, _ = await arborctl("--socket", h.path, "--json", "methods")
        assert code == 0
        names = [m["name"] for m in json.loads(out)]
        assert {"ping", "tree", "tables.dump", "start_child"} <= set(names)


async def test_reload_waits_for_the_result_and_fails_when_refused() -> None:
    async with running_control() as h:
        assert (await arborctl("--socket", h.path, "reload"))[0] == 0
        h.daemon.reload_result = {"ok": False, "errors": ["daemon.loop: 'tokio' is not a loop"]}
        code, _, err = await arborctl("--socket", h.path, "reload")
        assert code == 1
        assert "daemon.loop: 'tokio' is not a loop" in err
        assert h.daemon.reloads == 2


async def test_config_check_paths_are_taken_from_the_callers_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with short_tmpdir() as tmp:
        (tmp / "arbord.toml").write_text("[control]\nidle_timeout = -1\n")
        monkeypatch.chdir(tmp)
        async with running_control() as h:
            code, out, err = await arborctl("--socket", h.path, "--json", "config", "check", "arbord.toml")
        assert code == 1
        assert json.loads(out)["path"] == str(tmp / "arbord.toml")
        assert "idle_timeout" in json.dumps(json.loads(out)["errors"]) or err


# --- exit codes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["frobnicate"], "no method 'frobnicate'"),
        (["ping", "extra"], "unexpected argument"),
        (["tables", "dump", "name=x", "chunk=0"], "chunk"),
        (["--params", "[1]", "ping"], "JSON object"),
    ],
)
async def test_usage_errors_exit_2(argv: list[str], fragment: str) -> None:
    async with running_control() as h:
        code, _, err = await arborctl("--socket", h.path, *argv)
        assert code == 2
        assert fragment in err


async def test_argparse_usage_exits_2() -> None:
    code, _, _ = await arborctl("--timeout", "soon", "ping")
    assert code == 2


async def test_no_daemon_exits_3() -> None:
    with short_tmpdir() as tmp:
        code, _, err = await arborctl("--socket", tmp / "missing.sock", "ping")
        assert code == 3
        assert "not running" in err
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(str(tmp / "stale.sock"))
        stale.close()
        assert (await arborctl("--socket", tmp / "stale.sock", "ping"))[0] == 3


async def _refusing_server(path: Path) -> asyncio.Server:
    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # As the daemon refuses: say why, end our side, and close once the peer has read it.
        writer.write(b'{"id":null,"error":{"code":"permission_denied","message":"uid 1 may not use this"}}\n')
        writer.write_eof()
        while await reader.read(4096):
            pass
        writer.close()

    return await asyncio.start_unix_server(refuse, str(path))


async def test_permission_denied_exits_4() -> None:
    with short_tmpdir() as tmp:
        server = await _refusing_server(tmp / "c.sock")
        async with server:
            code, _, err = await arborctl("--socket", tmp / "c.sock", "ping")
        assert code == 4
        assert "uid 1 may not" in err


async def test_a_silent_daemon_times_out_with_exit_1() -> None:
    with short_tmpdir() as tmp:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(tmp / "c.sock"))
        listener.listen(1)  # accepts connections (the kernel does) and never answers
        try:
            code, _, err = await arborctl("--socket", tmp / "c.sock", "--timeout", "0.3", "ping")
        finally:
            listener.close()
        assert code == 1
        assert "no reply within 0.3 s" in err


async def test_a_signal_while_a_hold_request_is_in_flight_still_exits_0() -> None:
    # A fake daemon that holds its reply to the command until the test has signalled arborctl:
    # the signal lands while the request is in flight, which used to kill arborctl (-15).
    request_seen = asyncio.Event()
    reply_now = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            request = json.loads(line)
            if request["method"] == "methods":
                ping = {"name": "ping", "params": {}, "streamed": False}
                result: Any = [ping]
            else:
                request_seen.set()
                await reply_now.wait()
                result = {"pong": True}
            writer.write(json.dumps({"id": request["id"], "result": result}).encode() + b"\n")
            await writer.drain()
        writer.close()

    with short_tmpdir() as tmp:
        server = await asyncio.start_unix_server(serve, str(tmp / "c.sock"))
        async with server:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "daemon.ctl", "--socket", str(tmp / "c.sock"), "--json",
                "--hold", "ping",
                stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            async with asyncio.timeout(30):
                await request_seen.wait()
                process.send_signal(signal.SIGTERM)
                reply_now.set()
                out, _ = await process.communicate()
        assert process.returncode == 0
        assert json.loads(out) == {"pong": True}


async def test_the_console_script_runs_as_a_module() -> None:
    async with running_control() as h:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "daemon.ctl", "--socket", str(h.path), "--json", "ping",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        async with asyncio.timeout(30):
            out, _ = await process.communicate()
        assert process.returncode == 0
        assert json.loads(out) == {"pong": True}


def test_console_needs_a_terminal() -> None:
    err = io.StringIO()
    assert main(["console"], out=io.StringIO(), err=err) == 2
    assert "terminal" in err.getvalue()


# --- the pieces ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"ARBORD_SOCKET": "/x/c.sock", "RUNTIME_DIRECTORY": "/run/a"}, "/x/c.sock"),
        ({"RUNTIME_DIRECTORY": "/run/a:/run/b", "XDG_RUNTIME_DIR": "/run/user/1"}, "/run/a/control.sock"),
        ({"XDG_RUNTIME_DIR": "/run/user/1"}, "/run/user/1/arbord/control.sock"),
        ({}, "/run/arbord/control.sock"),
    ],
)
def test_with_no_socket_anywhere_the_first_candidate_is_named(environ: dict[str, str], expected: str) -> None:
    path = default_socket_path(environ, Path("/nonexistent"), checkout=Path("/nonexistent-checkout"), uid=-7)
    assert path == Path(expected)


def test_the_candidates_put_the_service_before_places_any_user_can_create() -> None:
    environ = {"RUNTIME_DIRECTORY": "/r", "XDG_RUNTIME_DIR": "/x"}
    assert socket_candidates(environ, Path("/cwd"), Path("/src"), 1000) == [
        Path("/r/control.sock"),
        Path("/x/arbord/control.sock"),
        Path("/run/arbord/control.sock"),
        Path("/cwd/run/control.sock"),
        Path("/src/run/control.sock"),
        Path("/tmp/arbord-1000/control.sock"),
    ]
    # The working directory being the checkout names it once.
    assert socket_candidates({}, Path("/src"), Path("/src"), 0).count(Path("/src/run/control.sock")) == 1


def test_the_first_candidate_that_exists_wins(tmp_path: Path) -> None:
    xdg, cwd, checkout = tmp_path / "xdg", tmp_path / "cwd", tmp_path / "checkout"
    for where in (cwd / "run", checkout / "run"):
        where.mkdir(parents=True)
    environ = {"XDG_RUNTIME_DIR": str(xdg)}
    # An operator's login shell has $XDG_RUNTIME_DIR, but the daemon (make run) uses the checkout's.
    (checkout / "run" / "control.sock").touch()
    assert default_socket_path(environ, cwd, checkout=checkout, uid=-7) == checkout / "run" / "control.sock"
    (cwd / "run" / "control.sock").touch()
    assert default_socket_path(environ, cwd, checkout=checkout, uid=-7) == cwd / "run" / "control.sock"
    (xdg / "arbord").mkdir(parents=True)
    (xdg / "arbord" / "control.sock").touch()
    assert default_socket_path(environ, cwd, checkout=checkout, uid=-7) == xdg / "arbord" / "control.sock"


def test_the_tmp_fallback_is_the_daemons(tmp_path: Path) -> None:
    from daemon.app_paths import choose_runtime_dir
    from daemon.settings import Settings

    daemon_dir = choose_runtime_dir(Settings(), {}, checkout=None, uid=4242)
    assert daemon_dir / "control.sock" in socket_candidates({}, tmp_path, None, 4242)


@pytest.mark.parametrize(
    ("words", "method", "rest"),
    [
        (["registry", "lookup", "k"], "registry.lookup", ["k"]),
        (["cache", "stats", "default"], "cache.stats", ["default"]),
        (["children", "root"], "which_children", ["root"]),
        (["ping"], "ping", []),
    ],
)
def test_resolve_method_takes_the_longest_known_name(words: list[str], method: str, rest: list[str]) -> None:
    known = {"registry.lookup", "registry", "cache.stats", "which_children", "ping"}
    assert resolve_method(words, known) == (method, rest)


def test_resolve_method_refuses_an_unknown_verb() -> None:
    with pytest.raises(UsageError, match="no method 'nope'"):
        resolve_method(["nope"], {"ping"})


SCHEMA: dict[str, Any] = {
    "properties": {
        "key": {},
        "name": {"type": "string"},
        "ttl": {"anyOf": [{"type": "number"}, {"type": "null"}]},
    },
    "required": ["key"],
}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["42"], {"key": 42}),
        (['"42"'], {"key": "42"}),
        (["k", "007"], {"key": "k", "name": "007"}),
        (["ttl=1.5", "k"], {"ttl": 1.5, "key": "k"}),
        (["[1, 2]"], {"key": [1, 2]}),
    ],
)
def test_build_params_fills_required_first_and_parses_json(
    args: Sequence[str], expected: dict[str, Any]
) -> None:
    assert build_params(args, SCHEMA) == expected


def test_build_params_refuses_extra_words() -> None:
    with pytest.raises(UsageError, match="unexpected"):
        build_params(["a", "b", "1", "extra"], SCHEMA)


def test_render_tree_draws_nested_children() -> None:
    tree = {
        "id": "root",
        "type": "supervisor",
        "state": "running",
        "children": [
            {
                "id": "a",
                "type": "supervisor",
                "state": "running",
                "children": [{"id": "x", "type": "worker", "state": "running"}],
            },
            {"id": "b", "type": "worker", "state": "undefined", "restarts": 2},
        ],
    }  # fmt: skip
    assert render_tree(tree).splitlines() == [
        "root  supervisor  running",
        "├── a  supervisor  running",
        "│   └── x  worker  running",
        "└── b  worker  undefined  restarts=2",
    ]


# --- never a traceback (issue 12) ------------------------------------------------------------------

_NO_METHOD = b'{"id": 1, "error": {"code": "method_not_found", "message": "no method"}}\n'


async def _replying(lines: list[bytes], *argv: str) -> tuple[int, str, str]:
    """arborctl ARGV against a fake daemon that answers its requests with ``lines`` in order (the
    last one again for any further request)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        answers = iter(lines)
        line = lines[-1]
        while await reader.readline():
            line = next(answers, line)
            writer.write(line)
            await writer.drain()
        writer.close()

    with short_tmpdir() as tmp:
        async with await asyncio.start_unix_server(serve, str(tmp / "c.sock")):
            return await arborctl("--socket", tmp / "c.sock", *argv)


@pytest.mark.parametrize(
    "lines",
    [
        [b"HTTP/1.1 400 Bad Request\n"],
        [b"[1, 2]\n"],
        [_NO_METHOD, b'{"id": 2, "result": 5}\n'],
        [_NO_METHOD, b'{"id": 2, "result": [7]}\n'],
    ],
    ids=["not-json", "not-an-object", "a-number-for-the-table", "a-table-of-numbers"],
)
async def test_a_reply_of_the_wrong_shape_is_one_line_and_exit_3(lines: list[bytes]) -> None:
    # `tree root` is tried as a method first, then needs the method table to bind its words.
    code, _, err = await _replying(lines, "tree", "root")
    assert code == 3, err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
