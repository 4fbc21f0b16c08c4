"""Start and stop order (docs/otp-conformance.md#start-and-stop-order, and nested supervisors).

Children start left to right and stop in exactly the reverse order; children added later go after the
existing ones; ``which_children`` lists the most recently started first; a nested supervisor stops its
own children, in reverse, before its older siblings stop.
"""

from __future__ import annotations

from supervisor import ChildSpec, ChildType, Strategy, Supervisor, telemetry
from tests.supervisor.test_supervisor_support import EventLog, ids, worker


async def test_children_start_left_to_right_and_stop_in_reverse() -> None:
    log: EventLog = []
    async with Supervisor([worker(x, log) for x in "abcde"]):
        assert ids(log, "start") == list("abcde")
        assert ids(log, "stop") == []
    assert ids(log, "stop") == list("edcba")


async def test_started_children_go_after_existing_ones_and_stop_first() -> None:
    log: EventLog = []
    async with Supervisor([worker("a", log), worker("b", log)]) as sup:
        await sup.start_child(worker("c", log))
        await sup.start_child(worker("d", log))
        assert ids(log, "start") == list("abcd")
    assert ids(log, "stop") == list("dcba")


async def test_which_children_lists_the_most_recently_started_first() -> None:
    log: EventLog = []
    async with Supervisor([worker("a", log), worker("b", log)]) as sup:
        await sup.start_child(worker("c", log))
        assert [info.id for info in await sup.which_children()] == ["c", "b", "a"]


async def test_a_restarted_child_keeps_its_position() -> None:
    log: EventLog = []
    async with Supervisor([worker(x, log) for x in "abc"]) as sup:
        await sup.terminate_child("a")
        await sup.restart_child("a")
        assert [info.id for info in await sup.which_children()] == ["c", "b", "a"]
        log.clear()
    assert ids(log, "stop") == ["c", "b", "a"]


async def test_a_deleted_then_re_added_child_moves_to_the_end() -> None:
    log: EventLog = []
    async with Supervisor([worker(x, log) for x in "abc"]) as sup:
        await sup.terminate_child("a")
        await sup.delete_child("a")
        await sup.start_child(worker("a", log))
        log.clear()
    assert ids(log, "stop") == ["a", "c", "b"]


async def test_nested_supervisor_starts_and_stops_its_children_in_place() -> None:
    log: EventLog = []
    inner = ChildSpec(
        "inner",
        Supervisor,
        args=([worker("b1", log), worker("b2", log)],),
        type=ChildType.SUPERVISOR,
    )
    async with Supervisor([worker("a", log), inner, worker("c", log)]):
        assert ids(log, "start") == ["a", "b1", "b2", "c"]
    assert ids(log, "stop") == ["c", "b2", "b1", "a"]


async def test_start_and_stop_order_is_also_the_telemetry_order() -> None:
    log: EventLog = []
    events = (("supervisor", "child", "start"), ("supervisor", "shutdown"))
    with telemetry.capture(*events) as seen:
        async with Supervisor([worker(x, log) for x in "abc"], strategy=Strategy.ONE_FOR_ALL) as sup:
            pass
    starts = [c.metadata["child_id"] for c in seen.of(events[0])]
    assert starts == ["a", "b", "c"]
    (shutdown,) = seen.of(events[1])
    assert shutdown.metadata["supervisor"] == sup.label
    assert ids(log, "stop") == ["c", "b", "a"]
