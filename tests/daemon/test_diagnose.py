"""``arborctl diagnose`` against the real daemon: every part in the archive, secrets masked, a part
that cannot be collected recorded in the index, the archive bounded, and a daemon that is not
running still leaving an archive (exit 3)."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from daemon.ctl.arborctl import main
from daemon.ctl.diagnose import PARTS, Part, collect, write_bundle
from daemon.ctl.wire import connect
from tests.daemon.conftest import RunningDaemon, ready_daemon

SECRET = "hunter2-do-not-leak"
CONFIG = f"""
[flags.redis]
url = "redis://app:{SECRET}@cache.invalid:6379/2"
"""


@pytest.fixture(scope="module")
def daemon() -> Iterator[RunningDaemon]:
    """One daemon for the module, with a secret in its configuration."""
    with ready_daemon(CONFIG) as running:
        yield running


def diagnose(socket: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--socket", str(socket), "--timeout", "10", "diagnose", *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def members(path: Path) -> dict[str, bytes]:
    """The archive's files by name (below its one top directory)."""
    with tarfile.open(path, "r:gz") as archive:
        found = {}
        for info in archive.getmembers():
            stem, _, name = info.name.partition("/")
            assert stem == path.name.removesuffix(".tar.gz")
            extracted = archive.extractfile(info)
            assert extracted is not None
            found[name] = extracted.read()
    return found


def test_the_archive_holds_every_part_with_secrets_masked(
    daemon: RunningDaemon, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = diagnose(daemon.control_socket)
    assert (code, err) == (0, "")
    path = Path(out.strip())
    assert path.parent == tmp_path
    assert path.name.startswith("arbord-diagnose-")
    assert path.stat().st_mode & 0o777 == 0o600
    files = members(path)
    index = json.loads(files["index.json"])
    names = ["client", *(p.name for p in PARTS)]
    assert list(index["parts"]) == names
    assert all(index["parts"][n]["ok"] for n in names), index
    assert sorted(files) == sorted(["index.json", *(f"{n}.json" for n in names)])
    parts: dict[str, Any] = {n: json.loads(files[f"{n}.json"]) for n in names}
    assert parts["status"]["pid"] == daemon.pid
    assert parts["config"]["flags"]["redis"]["url"] == "redis://app:[redacted]@cache.invalid:6379/2"
    assert parts["metrics"]
    assert parts["version"]["protocol"]
    assert all(SECRET.encode() not in data for data in files.values())


def test_a_part_that_fails_is_recorded_and_the_rest_collected(daemon: RunningDaemon, tmp_path: Path) -> None:
    socket = daemon.control_socket
    bundle = collect(
        lambda: connect(socket, timeout=10.0),
        socket=str(socket),
        parts=(Part("nothing", "no.such.method"), *PARTS),
    )
    write_bundle(bundle, tmp_path / "b.tar.gz")
    index = json.loads(members(tmp_path / "b.tar.gz")["index.json"])
    assert index["parts"]["nothing"] == {
        "ok": False,
        "method": "no.such.method",
        "error": {"code": "method_not_found", "message": index["parts"]["nothing"]["error"]["message"]},
    }
    assert bundle.failed == ["nothing"]
    assert all(index["parts"][p.name]["ok"] for p in PARTS)


def test_each_part_is_cut_to_its_size_cap(daemon: RunningDaemon) -> None:
    socket = daemon.control_socket
    bundle = collect(lambda: connect(socket, timeout=10.0), socket=str(socket), part_bytes=2000)
    metrics = bundle.index["parts"]["metrics"]
    assert metrics["ok"]
    assert metrics["truncated"]
    assert 0 < metrics["items_kept"] < metrics["items_total"]
    assert all(len(data) <= 2000 for data in bundle.files.values())
    assert len(json.loads(bundle.files["metrics.json"])) == metrics["items_kept"]


def test_without_a_daemon_the_archive_says_why_and_exit_is_3(tmp_path: Path) -> None:
    code, out, err = diagnose(tmp_path / "none.sock", str(tmp_path / "out.tar.gz"))
    assert code == 3
    assert out.strip() == str(tmp_path / "out.tar.gz")
    assert err.count("not collected (not_running") == len(PARTS)
    files = members(tmp_path / "out.tar.gz")
    index = json.loads(files["index.json"])
    assert index["parts"]["client"]["ok"]
    assert [n for n, e in index["parts"].items() if not e["ok"]] == [p.name for p in PARTS]
    assert json.loads(files["client.json"])["socket"] == str(tmp_path / "none.sock")


def test_diagnose_takes_at_most_one_path(tmp_path: Path) -> None:
    assert diagnose(tmp_path / "none.sock", "a", "b")[0] == 2


def test_completion_and_the_manual_offer_diagnose() -> None:
    from daemon.ctl.arborctl import parser
    from daemon.ctl.completion import completion_script

    assert "diagnose" in completion_script("bash", [], parser())
    assert "diagnose [PATH]" in parser().format_help()
