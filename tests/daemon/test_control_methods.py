"""The core control methods against an in-process tree: tree, children by path, tables, config,
reload, status and shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from daemon.ctl.client import ControlClient, ControlReplyError, open_control_client
from daemon.verbs.paging import PAGE_BYTES
from daemon.verbs.render import render_result
from supervisor import Access, Server, Table, TableType, whereis
from tests.daemon.test_control_helpers import running_control


async def _error(
    client: ControlClient, method: str, params: dict[str, Any] | None = None
) -> ControlReplyError:
    with pytest.raises(ControlReplyError) as caught:
        await client.call(method, params)
    return caught.value


# --- the tree ------------------------------------------------------------------------------------


async def test_tree_shows_every_child_with_state_restarts_and_uptime() -> None:
    async with running_control() as h, open_control_client(h.path) as client:
        tree = await client.call("tree")
        assert tree["id"] == "root"
        assert tree["strategy"] == "one_for_one"
        assert [c["id"] for c in tree["children"]] == ["core", "pool", "control"]
        core = tree["children"][0]
        assert core["type"] == "supervisor"
        assert core["path"] == "root/core"
        echo = core["children"][0]
        assert echo == {
            "id": "echo",
            "path": "root/core/echo",
            "type": "worker",
            "state": "running",
            "restarts": 0,
            "uptime": echo["uptime"],
            "name": "test.echo",
        }
        assert echo["uptime"] >= 0
        assert tree["children"][1]["strategy"] == "dynamic"
        shallow = await client.call("tree", {"depth": 0})
        assert shallow["children"] is None
        subtree = await client.call("tree", {"path": "root/core"})
        assert [c["id"] for c in subtree["children"]] == ["echo", "other"]


async def test_tree_and_children_are_paged_per_supervisor() -> None:
    # Issue 12: `tree` and `which_children` grew without bound with a supervisor's children.
    async with running_control() as h, open_control_client(h.path) as client:
        tree = await client.call("tree", {"limit": 1})
        assert [c["id"] for c in tree["children"]] == ["core"]
        assert (tree["children_total"], tree["children_next"]) == (3, 1)
        core = tree["children"][0]
        assert [c["id"] for c in core["children"]] == ["echo"]
        assert (core["children_total"], core["children_next"]) == (2, 1)
        rest = await client.call("tree", {"limit": 2, "offset": 1})
        assert [c["id"] for c in rest["children"]] == ["pool", "control"]
        assert (rest["children_total"], rest["children_next"]) == (3, None)
        assert "children_total" not in (await client.call("tree"))
        drawn = render_result("tree", tree).splitlines()
        assert drawn[-1] == "… 1 of 3 children shown (offset=1)"
        assert drawn[-2] == "    … 1 of 2 children shown (offset=1)"

        first = await client.call("which_children", {"path": "root", "limit": 2})
        assert ([c["id"] for c in first["children"]], first["total"], first["next"]) == (
            ["core", "pool"],
            3,
            2,
        )
        last = await client.call("which_children", {"path": "root", "offset": first["next"]})
        assert ([c["id"] for c in last["children"]], last["next"]) == (["control"], None)
        assert (await _error(client, "which_children", {"limit": 0})).code == "invalid_params"


async def test_tables_list_is_paged() -> None:
    async with running_control() as h, open_control_client(h.path) as client:
        tables = [Table(f"test.paged.{i}", named=True) for i in range(5)]
        try:
            whole = await client.call("tables.list", {"limit": 10_000})
            assert whole["next"] is None
            assert whole["total"] == len(whole["tables"]) >= 5
            seen: list[Any] = []
            offset: int | None = 0
            while offset is not None:
                page = await client.call("tables.list", {"limit": 2, "offset": offset})
                assert len(page["tables"]) <= 2
                seen.extend(page["tables"])
                offset = page["next"]
            assert seen == whole["tables"]
            assert (await _error(client, "tables.list", {"limit": 10_001})).code == "invalid_params"
        finally:
            for table in tables:
                table.delete_table()


async def test_tree_counts_restarts() -> None:
    async with running_control() as h, open_control_client(h.path) as client:
        echo = whereis("test.echo")
        assert echo is not None
        echo.kill()
        await echo.wait()
        children = (await client.call("which_children", {"path": "root/core"}))["children"]
        assert [(c["id"], c["restarts"], c["state"]) for c in children] == [
            ("echo", 1, "running"),
            ("other", 0, "running"),
        ]


async def test_count_children() -> None:
    async with running_control() as h, open_control_client(h.path) as client:
        counts = await client.call("count_children", {"path": "root"})
        assert counts == {"specs": 3, "active": 3, "supervisors": 2, "workers": 1}


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("which_children", "core", "not_found"),
        ("which_children", "root/nope", "not_found"),
        ("which_children", "root/core/echo", "conflict"),
        ("terminate_child", "root", "conflict"),
        ("restart_child", "root/core/nope", "not_found"),
    ],
)
async def test_bad_paths_are_refused_by_name(method: str, path: str, code: str) -> None:
    async with running_control() as h, open_control_client(h.path) as client:
        error = await _error(client, method, {"path": path})
        assert error.code == code
        assert error.message


# --- managing children ---------------------------------------------------------------------------


async def test_terminate_restart_delete_by_path() -> None:
    async with running_control() as h, open_control_client(h.path) as client:
        assert (await _error(client, "restart_child", {"path": "root/core/echo"})).code == "conflict"
        assert (await _error(client, "delete_child", {"path": "root/core/echo"})).code == "conflict"
        await client.call("terminate_child", {"path": "root/core/echo"})
        assert whereis("test.echo") is None
        await client.call("restart_child", {"path": "root/core/echo"})
        assert whereis("test.echo") is not None
        await client.call("terminate_child", {"path": "root/core/echo"})
        await client.call("delete_child", {"path": "root/core/echo"})
        children = (await client.call("which_children", {"path": "root/core"}))["children"]
        assert [c["id"] for c in children] == ["other"]


async def test_start_child_from_a_json_spec() -> None:
    spec = {"id": "extra", "start": "tests.daemon.test_control_helpers:Echo", "name": "test.extra"}
    async with running_control() as h, open_control_client(h.path) as client:
        started = await client.call("start_child", {"path": "root/core", "spec": spec})
        assert started == {"path": "root/core/extra", "started": True, "name": "test.extra"}
        server = whereis("test.extra")
        assert server is not None
        assert await server.call("hi") == "hi"
        assert (await _error(client, "start_child", {"path": "root/core", "spec": spec})).code == "conflict"


async def test_start_child_under_the_root_needs_force() -> None:
    # Issue 11: a user child under the root spends the root's intensity; crashing, it made the root
    # give up and the daemon exit 70. Refused by default, allowed with force.
    spec = {"id": "rooted", "start": "tests.daemon.test_control_helpers:Echo", "name": "test.rooted"}
    async with running_control() as h, open_control_client(h.path) as client:
        for params in ({"spec": spec}, {"path": "root", "spec": spec}, {"path": "/root/", "spec": spec}):
            error = await _error(client, "start_child", params)
            assert (error.code, error.data) == ("invalid_params", {"path": params.get("path", "root")})
            assert "force=true" in error.message
        assert whereis("test.rooted") is None
        started = await client.call("start_child", {"path": "root", "spec": spec, "force": True})
        assert started == {"path": "root/rooted", "started": True, "name": "test.rooted"}
        assert whereis("test.rooted") is not None


async def test_start_child_under_a_dynamic_supervisor_then_terminate_it() -> None:
    spec = {"id": "x", "start": "tests.daemon.test_control_helpers:Echo", "name": "test.dyn"}
    async with running_control() as h, open_control_client(h.path) as client:
        started = await client.call("start_child", {"path": "root/pool", "spec": spec})
        assert started["path"] == "root/pool/test.dyn"
        await client.call("terminate_child", {"path": "root/pool/test.dyn"})
        assert whereis("test.dyn") is None
        assert (await _error(client, "restart_child", {"path": "root/pool/anything"})).code == "not_found"


@pytest.mark.parametrize(
    ("start", "fragment"),
    [
        ("tests.daemon.no_such_module:Echo", "cannot import"),
        ("tests.daemon.test_control_helpers:Nope", "cannot import"),
        ("tests.daemon.test_control_helpers:running_control", "not a supervisor.Server"),
        ("os:system; rm -rf", "pattern"),
    ],
)
async def test_start_child_refuses_what_is_not_a_server(start: str, fragment: str) -> None:
    spec = {"id": "bad", "start": start}
    async with running_control() as h, open_control_client(h.path) as client:
        error = await _error(client, "start_child", {"path": "root/core", "spec": spec})
        assert error.code == "invalid_params"
        assert fragment in error.message or fragment in str(error.data)


# --- tables --------------------------------------------------------------------------------------


async def test_tables_list_info_and_dump_from_a_snapshot() -> None:
    async with running_control() as h, open_control_client(h.path) as client:
        table = Table("test.agents", named=True, type=TableType.ORDERED_SET, access=Access.PUBLIC)
        hidden = Table("test.private", named=True, access=Access.PRIVATE)
        try:
            table.insert([(i, f"agent-{i}", {"tags": ("a", "b")}) for i in range(25)])
            listed = {t["name"]: t for t in (await client.call("tables.list"))["tables"]}
            assert listed["test.agents"] == {
                "name": "test.agents",
                "owner": listed["test.agents"]["owner"],
                "type": "ordered_set",
                "access": "public",
                "size": 25,
            }
            assert listed["test.agents"]["owner"].startswith("task ")
            assert "test.private" in listed
            info = await client.call("tables.info", {"name": "test.agents"})
            assert (info["keypos"], info["size"]) == (0, 25)
            assert info["memory"] > 0

            chunks: list[list[Any]] = []
            async for chunk in client.stream("tables.dump", {"name": "test.agents", "chunk": 10}):
                if not chunks:
                    table.delete_all_objects()  # after the snapshot: the dump must not see it
                chunks.append(chunk["rows"])
            assert [len(c) for c in chunks] == [10, 10, 5]
            assert chunks[0][0] == [0, "agent-0", {"tags": ["a", "b"]}]
            assert client.last_stream_result == {"items": 3}
            assert len(table) == 0

            limited = [c async for c in client.stream("tables.dump", {"name": "test.agents", "limit": 0})]
            assert limited == []
            assert (await _error(client, "tables.dump", {"name": "test.private"})).code == "permission_denied"
            assert (await _error(client, "tables.dump", {"name": "nope"})).code == "not_found"
            assert (await _error(client, "tables.info", {"name": "nope"})).code == "not_found"
            assert await client.call("ping") == {"pong": True}
        finally:
            table.delete_table()
            hidden.delete_table()


async def test_tables_list_shows_every_table_named_or_not_with_its_owner() -> None:
    # Issue 11: the daemon's own tables are not named; a listing of named tables alone was empty.
    class Holder(Server):
        async def init(self) -> None:
            self.table = Table("held", type=TableType.BAG)
            self.table.insert([("k", 1), ("k", 2)])
            self.anonymous = Table()

    async with running_control() as h, open_control_client(h.path) as client:
        holder = await Holder.start(name="test.holder")
        try:
            listed = [t for t in (await client.call("tables.list"))["tables"] if t["owner"] == "test.holder"]
            assert listed == [
                {"name": "held", "owner": "test.holder", "type": "bag", "access": "protected", "size": 2},
                {"name": None, "owner": "test.holder", "type": "set", "access": "protected", "size": 0},
            ]
            shared = Table("test.shared", named=True, heir=holder)
            try:
                info = await client.call("tables.info", {"name": "test.shared"})
                assert (info["owner"].startswith("task "), info["heir"]) == (True, "test.holder")
            finally:
                shared.delete_table()
        finally:
            await holder.stop()
        assert [t for t in (await client.call("tables.list"))["tables"] if t["owner"] == "test.holder"] == []


# --- the daemon ----------------------------------------------------------------------------------


async def test_status_config_and_reload_go_to_the_daemon() -> None:
    async with running_control() as h, open_control_client(h.path) as client:
        status = await client.call("status")
        assert status["state"] == "running"
        assert status["control"] == {
            "socket": str(h.path),
            "connections": 1,
            "accepted": 1,
            "refused": 0,
            "busy": 0,
        }
        shown = await client.call("config.show")
        assert shown["label"] == "fake"
        assert shown["control"]["max_frame_bytes"] == 1024 * 1024
        # Secrets stay in the daemon: whoever may read the configuration does not get them.
        assert shown["store_url"] == "redis://app:[redacted]@cache:6379/2"
        assert shown["api_token"] == "[redacted]"
        assert await client.call("reload") == {"ok": True, "errors": [], "changed": [], "restarted": []}
        assert h.daemon.reloads == 1
        version = await client.call("version")
        assert version["protocol"] == 1
        assert version["loop"] in ("asyncio", "uvloop")


async def test_config_check_needs_an_absolute_path() -> None:
    async with running_control() as h, open_control_client(h.path) as client:
        assert (await _error(client, "config.check", {"path": "relative.toml"})).code == "invalid_params"


@pytest.mark.skipif(importlib.util.find_spec("daemon.settings") is None, reason="needs daemon.settings")
async def test_config_check_reports_each_problem(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text("")
    bad = tmp_path / "bad.toml"
    bad.write_text("[control]\nmax_frame_bytes = 'big'\nnot_a_key = 1\n")
    async with running_control() as h, open_control_client(h.path) as client:
        assert (await client.call("config.check", {"path": str(good)}))["ok"] is True
        checked = await client.call("config.check", {"path": str(bad)})
        assert checked["ok"] is False
        assert len(checked["errors"]) == 2
        assert any("max_frame_bytes" in e for e in checked["errors"])
        missing = await client.call("config.check", {"path": str(tmp_path / "missing.toml")})
        assert missing["ok"] is False


async def test_shutdown_replies_then_asks_the_daemon_to_stop() -> None:
    async with running_control() as h, open_control_client(h.path) as client:
        assert await client.call("shutdown") == {"stopping": True}
        await h.daemon.shutdown_requested.wait()


async def test_commands_that_change_the_daemon_are_logged_with_the_peer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="daemon.control")
    async with running_control() as h, open_control_client(h.path) as client:
        await client.call("ping")
        await client.call("terminate_child", {"path": "root/core/other"})
    audited = [r.getMessage() for r in caplog.records if r.getMessage().startswith("control: ")]
    assert audited == [
        f"control: terminate_child {{'path': 'root/core/other'}} by pid {os.getpid()} uid {os.geteuid()}"
    ]


async def test_the_control_server_will_not_terminate_itself() -> None:
    async with running_control() as h, open_control_client(h.path) as client:
        error = await _error(client, "terminate_child", {"path": "root/control"})
        assert error.code == "conflict"
        assert "shutdown" in error.message
        assert await client.call("ping") == {"pong": True}


async def test_a_client_leaving_mid_stream_is_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="daemon.control")
    async with running_control() as h:
        table = Table("test.big", named=True, access=Access.PUBLIC)
        try:
            table.insert([(i, "x" * 1000) for i in range(3000)])
            async with open_control_client(h.path) as client:
                async for _ in client.stream("tables.dump", {"name": "test.big", "chunk": 1}):
                    break  # leave after the first row, 3 MB still to come
            async with open_control_client(h.path) as other:
                assert await other.call("ping") == {"pong": True}
        finally:
            table.delete_table()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_a_dump_goes_out_in_frames_of_bounded_size() -> None:
    # 300 rows of 4 KB in chunks of 500 rows would be one 1.2 MB frame; frames stop at ~256 KiB.
    async with running_control() as h, open_control_client(h.path) as client:
        table = Table("test.bulky", named=True, access=Access.PUBLIC)
        try:
            table.insert([(i, "x" * 4000) for i in range(300)])
            sizes = [len(c["rows"]) async for c in client.stream("tables.dump", {"name": "test.bulky"})]
            assert sum(sizes) == 300
            assert len(sizes) >= 4
            assert max(sizes) * 4000 <= PAGE_BYTES + 4100
        finally:
            table.delete_table()


async def test_a_peer_that_does_not_read_a_large_reply_is_cut_at_max_unsent_bytes() -> None:
    # One 3 MB row cannot be sent in bounded frames; the peer has not read it: rather than hold it for
    # idle_timeout (60 s here), the daemon drops the connection once 256 KiB are waiting (issue 12).
    async with running_control(max_unsent_bytes=256 * 1024, idle_timeout=60) as h:
        table = Table("test.huge", named=True, access=Access.PUBLIC)
        try:
            table.insert((1, "x" * 3_000_000))
            reader, writer = await asyncio.open_unix_connection(str(h.path))
            writer.write(b'{"id": 1, "method": "tables.dump", "params": {"name": "test.huge"}}\n')
            received = 0
            async with asyncio.timeout(20):
                with contextlib.suppress(ConnectionError):
                    while chunk := await reader.read(65536):
                        received += len(chunk)
            writer.close()
            assert received < 3_000_000
            async with open_control_client(h.path) as client:
                assert await client.call("ping") == {"pong": True}
        finally:
            table.delete_table()
