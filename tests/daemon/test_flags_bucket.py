"""The percentage of actors: Unleash's normalized value (murmur3 32-bit, seed 0, of
``"{group_id}:{actor}"``, % 100 + 1), checked against Unleash's published client specification, and
its properties: deterministic across processes, independent between flags, monotonic."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.flags.bucket import in_rollout, normalized

ROOT = Path(__file__).resolve().parents[2]

# Transcribed from Unleash's client specification (github.com/Unleash/client-specification):
# specifications/03-gradual-rollout-user-id-strategy.json (gradualRolloutUserId, groupId "AB12A") and
# specifications/10-flexible-rollout-strategy.json (flexibleRollout, groupId = the toggle's name).
# (group id, user id, rollout percentage, expected result)
SPEC_CASES = [
    ("AB12A", "123", 100, True),  # 03: Feature.A3 enabled for 100%
    ("AB12A", "122", 50, True),  # 03: Feature.B3 enabled for userId=122
    ("AB12A", "155", 50, False),  # 03: Feature.B3 disabled for userId=155
    ("AB12A", "122", 0, False),  # 03: Feature.C3 (0%) disabled
    ("Feature.flexibleRollout.10", "174", 10, True),  # 10: enabled for userId=174
    ("Feature.flexibleRollout.10", "499", 10, False),  # 10: disabled for userId=499
    ("Feature.flexibleRollout.userId.55", "25", 55, True),  # 10: enabled for userId=25
    ("Feature.flexibleRollout.sessionId.42", "147", 42, True),  # 10: enabled for sessionId=147
]


@pytest.mark.parametrize(("group_id", "actor", "percentage", "expected"), SPEC_CASES)
def test_the_rollout_cases_of_unleash_client_specification(
    group_id: str, actor: str, percentage: int, expected: bool
) -> None:
    assert in_rollout(group_id, actor, percentage) is expected


def test_the_spec_cases_on_the_boundary_are_inclusive() -> None:
    # Three of the spec's cases sit exactly on their percentage: "enabled iff bucket <= percentage".
    assert normalized("Feature.flexibleRollout.10", "174") == 10
    assert normalized("Feature.flexibleRollout.userId.55", "25") == 55
    assert normalized("Feature.flexibleRollout.sessionId.42", "147") == 42


actors = st.text(min_size=1, max_size=40)


@settings(max_examples=300)
@given(st.text(max_size=40), actors)
def test_the_bucket_is_in_1_to_100(group_id: str, actor: str) -> None:
    assert 1 <= normalized(group_id, actor) <= 100


@settings(max_examples=300)
@given(st.text(max_size=40), actors, st.floats(0, 100), st.floats(0, 100))
def test_raising_the_percentage_never_turns_an_enabled_actor_off(
    group_id: str, actor: str, low: float, high: float
) -> None:
    low, high = sorted((low, high))
    if in_rollout(group_id, actor, low):
        assert in_rollout(group_id, actor, high)


@given(st.text(max_size=20), actors)
def test_0_percent_includes_nobody_and_100_everybody(group_id: str, actor: str) -> None:
    assert not in_rollout(group_id, actor, 0)
    assert in_rollout(group_id, actor, 100)


def test_flags_bucket_independently_and_a_rollout_is_near_its_share() -> None:
    users = [f"user-{i}" for i in range(4000)]
    a = {u for u in users if in_rollout("flag_a", u, 50)}
    b = {u for u in users if in_rollout("flag_b", u, 50)}
    # Each near 50 %, and the overlap near 25 %, as for independent draws (not the same half).
    assert 1800 < len(a) < 2200
    assert 1800 < len(b) < 2200
    assert 850 < len(a & b) < 1150


@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=20), actors), min_size=1, max_size=30))
def test_the_bucket_is_the_same_in_another_process(pairs: list[tuple[str, str]]) -> None:
    script = (
        "import json, sys\n"
        "from daemon.flags.bucket import normalized\n"
        "print(json.dumps([normalized(g, a) for g, a in json.load(sys.stdin)]))\n"
    )
    # Another interpreter, with another string-hash seed: Python's hash() would differ, ours not.
    result = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(pairs),
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "random", "PATH": ""},
        cwd=ROOT,
    )
    assert json.loads(result.stdout) == [normalized(g, a) for g, a in pairs]


@settings(max_examples=200)
@given(st.text(st.characters(exclude_categories=()), max_size=20))
def test_any_string_gets_a_bucket_lone_surrogates_included(actor: str) -> None:
    # mmh3 5.x crashes the process when its own encoder meets a lone surrogate: bucket.normalized
    # encodes first (surrogatepass), so a hostile actor id is just another bucket.
    assert 1 <= normalized("flag", actor) <= 100


def test_a_lone_surrogate_does_not_crash_and_valid_strings_hash_as_mmh3_would() -> None:
    import mmh3

    assert 1 <= normalized("flag", "\ud800") <= 100
    assert normalized("flag", "zoë") == mmh3.hash("flag:zoë".encode(), 0, False) % 100 + 1
