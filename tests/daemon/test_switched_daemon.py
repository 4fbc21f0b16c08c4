"""End to end through a real daemon: ``arborctl migration`` moves ``otp_cleanup`` from stage 0 to 4
and back to 0, and at each stage the error context and span management serve from the path the
stage says (cumulative stages: context supervised from stage 2, spans from stage 3), as a user server
using their switched interfaces observes (tests/daemon/switched_servers.py) and as ``arborctl spans``
lists (docs/migrations.md, "Error context and spans: two paths behind their flags").

A fresh daemon serves both from the supervised paths (the flags' declared defaults); an emergency
rollback then writes every flag off (stage 0). The cool-down is 0 so the plan can go up again after
it; the verdict interval is an hour so that no verdict (inconclusive, with no traffic) pauses the
plan during the test.
"""

from __future__ import annotations

from pathlib import Path

from tests.daemon.conftest import StartArbord
from tests.daemon.stage_daemon import ctl, stage_config, until

CONFIG = stage_config('\n[servers.probe]\nstart = "tests.daemon.switched_servers:Probe"\n')


Seen = tuple[int, str, str, bool]


def probe(sock: Path) -> Seen | None:
    """The probe's last row: tick, the error context's path, the spans' path, all as promised."""
    rows = ctl(sock, "tables", "dump", "probe.paths")
    found = [row for row in rows["rows"] if row[0] == "last"] if rows else []
    if not found:
        return None
    _, tick, context_path, spans_path, ok = found[0]
    return (int(tick), str(context_path), str(spans_path), bool(ok))


def observed_after(sock: Path, what: str) -> tuple[str, str, bool]:
    """The paths the probe saw at a tick that began after now (two ticks on: the one running now
    may have read the flags before the move)."""
    first = until(lambda: probe(sock), what=f"the probe's first tick ({what})")
    assert first is not None

    def two_ticks_later() -> Seen | None:
        seen = probe(sock)
        return seen if seen is not None and seen[0] >= first[0] + 2 else None

    later = until(two_ticks_later, what=f"{what}: two ticks later")
    assert later is not None
    _, context_path, spans_path, ok = later
    listed = [s["name"] for s in ctl(sock, "spans")["spans"] if s["name"] == "probe.held"]
    assert listed == (["probe.held"] if spans_path == "supervised" else []), what
    return context_path, spans_path, ok


def expected(stage: int) -> tuple[str, str, bool]:
    return (
        "supervised" if stage >= 2 else "legacy",
        "supervised" if stage >= 3 else "legacy",
        True,
    )


def test_stages_zero_to_four_and_back_move_context_and_spans_between_their_paths(
    start_arbord: StartArbord,
) -> None:
    running = start_arbord(CONFIG)
    sock = running.control_socket
    assert observed_after(sock, "a fresh daemon") == ("supervised", "supervised", True)
    # From whatever stage a fresh daemon reads as, to stage 0 with every flag written off.
    ctl(sock, "migration", "emergency-rollback", "the stage test starts at 0")
    assert observed_after(sock, "stage 0") == expected(0)
    for stage in range(1, 5):
        ctl(sock, "migration", "advance", f"to={stage}")
        assert observed_after(sock, f"stage {stage}") == expected(stage), f"stage {stage}"
    for stage in (2, 0):
        ctl(sock, "migration", "rollback", str(stage))
        assert observed_after(sock, f"back to stage {stage}") == expected(stage), f"stage {stage}"
    running.stop()
