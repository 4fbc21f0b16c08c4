"""A hypothesis fuzzer of the control protocol, against one real daemon for the whole module.

What it sends: raw frames (random bytes, invalid UTF-8, deep nesting, NaN and infinities, integers of
hundreds of digits), requests for random method names, and requests for **every method the daemon
lists** (``methods`` reports each one's params as a JSON schema): params of the schema's shape, which
reach the handler, and arbitrary JSON objects, which validation refuses.

What must hold after every example (the "nothing lost" rule of the control socket):

- the request got exactly one final reply (after a stream's ``more`` frames), or the connection was
  closed: never two; the ``ping`` sent next on the same connection is answered next, with its own id;
- the daemon still answers ``ping`` on a new connection;
- nothing was logged at error level, and no traceback.

Methods that change the daemon's lifecycle get only params that validation must refuse (an unknown
key beside schema-shaped ones; every params model forbids extra keys), and the reply must say
``invalid_params``: ``shutdown`` and ``reload`` would stop or reconfigure the daemon under the
fuzzer, ``start_child`` imports whatever ``module:Class`` it is given, and ``terminate_child``,
``restart_child`` and ``delete_child`` could take down the control server the fuzzer talks through.

Bounds: ``ARBORD_FUZZ_EXAMPLES`` examples per test (default 40: seconds in ``make test``), and a
budget of ``ARBORD_FUZZ_SECONDS`` (default 20) per test after which the remaining examples are skipped.
The run is derandomized (the same examples every time) unless ``ARBORD_FUZZ_SEED`` is set; a failure
prints the example and a ``@reproduce_failure`` blob, and a seeded run replays with the same seed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, event, given, seed, settings
from hypothesis import strategies as st

from tests.daemon.conftest import RunningDaemon
from tests.inputs.schema_strategies import any_json, valid_shaped
from tests.inputs.wire import LogCursor, Wire, ping_answers

EXAMPLES: Final = int(os.environ.get("ARBORD_FUZZ_EXAMPLES", "40"))
BUDGET: Final = float(os.environ.get("ARBORD_FUZZ_SECONDS", "20"))
SEED: Final = os.environ.get("ARBORD_FUZZ_SEED")

LIFECYCLE: Final = frozenset(
    {"shutdown", "reload", "start_child", "terminate_child", "restart_child", "delete_child"}
)
"""Methods fuzzed with refused params only (module docstring)."""

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=SEED is None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


TIME_LIMIT: Final = BUDGET + 60
"""pytest-timeout's limit for a fuzzing test: its budget, plus room for the example under way."""


def fuzzing(test: Callable[..., None]) -> Callable[..., None]:
    """``FUZZ``, plus the seed from ``ARBORD_FUZZ_SEED`` when one is given."""
    test = FUZZ(test)
    return seed(int(SEED))(test) if SEED is not None else test


@pytest.fixture(scope="module")
def method_table(shared_daemon: RunningDaemon) -> dict[str, dict[str, Any]]:
    """``methods``, by name: what the daemon says it serves, params schemas included."""
    with Wire(shared_daemon.control_socket) as wire:
        reply = wire.call("methods")
    return {method["name"]: method for method in reply["result"]}


# --- frames --------------------------------------------------------------------------------------

_IDS = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63),
    st.integers(min_value=-(10**200), max_value=10**200),
    st.text(max_size=300),
    st.none(),
    st.booleans(),
    st.floats(),
)


def _json_text(value: Any) -> bytes:
    """``value`` as one JSON line; NaN and infinities as Python writes them (``NaN``, ``Infinity``)."""
    return json.dumps(value, allow_nan=True).encode("utf-8", errors="surrogatepass") + b"\n"


def _nested(depth: int, opener: bytes, closer: bytes) -> bytes:
    return b'{"id": 1, "method": "ping", "params": {"a": ' + opener * depth + closer * depth + b"}}\n"


RAW_FRAMES = st.one_of(
    st.binary(max_size=2000).map(lambda data: data.replace(b"\n", b"") + b"\n"),
    st.text(max_size=200).map(lambda text: text.replace("\n", "").encode("utf-8", "surrogatepass") + b"\n"),
    # Nesting: balanced arrays, and openers never closed (both past the parser's recursion limit).
    st.builds(_nested, st.integers(1, 200_000), st.just(b"["), st.just(b"]")),
    st.builds(_nested, st.integers(1, 150_000), st.sampled_from([b"[", b'{"a":']), st.just(b"")),
    st.builds(lambda value: _json_text({"id": 1, "method": "ping", "params": value}), any_json()),
    st.builds(lambda request_id: _json_text({"id": request_id, "method": "ping"}), _IDS),
    st.sampled_from(
        [
            b'{"id": NaN, "method": "ping"}\n',
            b'{"id": 1e999, "method": "ping"}\n',
            b'{"id": ' + b"9" * 5000 + b', "method": "ping"}\n',
            b'{"id": 1, "method": "cache.put", "params": {"key": "k", "value": ' + b"7" * 4301 + b"}}\n",
            b'{"id": 1, "method": "p\xffing"}\n',
            b'{"id": 1, "method": "ping"} trailing\n',
            b"\x00\n",
            b"  \t \n",
        ]
    ),
)


def _answered_once(wire: Wire, frame: bytes, request_id: Any) -> list[dict[str, Any]] | None:
    """Send ``frame`` (one line) and read its answer; then check nothing else was queued for it: the
    next ``ping`` is answered next. ``None``: the daemon closed the connection (allowed)."""
    wire.send(frame)
    blank = not frame.strip()
    frames = [] if blank else wire.answer()
    if frames is None:
        return None
    if frames:
        final = frames[-1]
        assert ("result" in final) != ("error" in final), final
        if request_id is not ...:
            assert final["id"] == request_id or final["id"] is None, (final, request_id)
    try:
        wire.send(b'{"id": "after", "method": "ping"}\n')
    except OSError:
        return None  # closed after the answer (frame_too_large, busy)
    after = wire.answer()
    if after is not None:
        assert after == [{"id": "after", "result": {"pong": True}}], (
            f"a second reply to {frame[:200]!r}: {after}"
        )
    return frames


@pytest.fixture
def check_after(shared_daemon: RunningDaemon) -> Callable[[], None]:
    """Call after each example: ``ping`` still answered, nothing logged at error level."""
    cursor = LogCursor(shared_daemon)

    def check() -> None:
        assert shared_daemon.process.poll() is None, shared_daemon.stderr()
        assert ping_answers(shared_daemon), shared_daemon.stderr()[-4000:]
        assert cursor.new_errors() == []

    return check


def _within(started: float) -> bool:
    return time.monotonic() - started < BUDGET


@pytest.mark.timeout(TIME_LIMIT)
def test_raw_frames_get_one_reply_or_a_close(
    shared_daemon: RunningDaemon, check_after: Callable[[], None]
) -> None:
    started = time.monotonic()

    @fuzzing
    @given(frame=RAW_FRAMES)
    def run(frame: bytes) -> None:
        if not _within(started):
            return
        with Wire(shared_daemon.control_socket) as wire:
            _answered_once(wire, frame, ...)
        check_after()

    run()


@pytest.mark.timeout(TIME_LIMIT)
def test_random_method_names_are_not_found(
    shared_daemon: RunningDaemon, check_after: Callable[[], None]
) -> None:
    started = time.monotonic()

    @fuzzing
    @given(name=st.text(max_size=300), params=st.dictionaries(st.text(max_size=10), any_json(4), max_size=3))
    def run(name: str, params: dict[str, Any]) -> None:
        if not _within(started):
            return
        with Wire(shared_daemon.control_socket) as wire:
            known = wire.call("hello")["result"]["methods"]
            frames = _answered_once(wire, _json_text({"id": 7, "method": name, "params": params}), 7)
        assert frames is not None
        if name not in known:
            assert frames[-1]["error"]["code"] == "method_not_found", frames
        check_after()

    run()


@pytest.mark.timeout(TIME_LIMIT)
def test_every_method_with_fuzzed_params(
    shared_daemon: RunningDaemon,
    method_table: dict[str, dict[str, Any]],
    check_after: Callable[[], None],
) -> None:
    started = time.monotonic()
    names = sorted(method_table)

    @st.composite
    def requests(draw: st.DrawFn) -> tuple[str, dict[str, Any], bool]:
        """(method, params, refused): params of the schema's shape, or anything; ``refused`` when
        validation must refuse them (an unknown key)."""
        name = draw(st.sampled_from(names))
        schema = method_table[name]["params"]
        if name in LIFECYCLE or draw(st.booleans()):
            params = draw(valid_shaped(schema))
            if name in LIFECYCLE or draw(st.booleans()):
                params[draw(st.sampled_from(["__fuzz__", "extra", ""]))] = draw(any_json(4))
                return name, params, True
            return name, params, False
        return name, draw(st.dictionaries(st.text(max_size=10), any_json(6), max_size=4)), False

    @fuzzing
    @given(request=requests(), request_id=st.integers(min_value=-(10**30), max_value=10**30))
    def run(request: tuple[str, dict[str, Any], bool], request_id: int) -> None:
        if not _within(started):
            return
        name, params, refused = request
        with Wire(shared_daemon.control_socket) as wire:
            frames = _answered_once(
                wire, _json_text({"id": request_id, "method": name, "params": params}), request_id
            )
        assert frames is not None, f"{name} {params!r}: the connection was closed"
        final = frames[-1]
        event(f"{name}: {final['error']['code'] if 'error' in final else 'result'}")
        if refused:
            assert final.get("error", {}).get("code") == "invalid_params", (name, params, final)
        if not method_table[name]["streamed"]:
            assert len(frames) == 1, frames
        check_after()

    run()
