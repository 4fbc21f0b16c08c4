"""How ``arborctl``'s words become a method and its params (issue 11, items 1 and 10): positional
words bind in the order ``arborctl methods`` lists the params, an optional one only when there are
words to spare; a param given twice is a usage error; words that start a family of methods but name
none are told that family's methods."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from daemon.verbs.words import UsageError, build_params, resolve_method
from supervisor import whereis
from tests.daemon.test_arborctl import arborctl
from tests.daemon.test_control_helpers import running_control

# The shapes of the daemon's own params models, in their declaration order.
CACHE_GET: dict[str, Any] = {
    "properties": {"cache": {"type": "string"}, "key": {"type": "string"}},
    "required": ["key"],
}
CACHE_PUT: dict[str, Any] = {
    "properties": {
        "cache": {"type": "string"},
        "key": {"type": "string"},
        "value": {},
        "ttl": {"anyOf": [{"type": "number"}, {"type": "null"}]},
        "owned": {"type": "boolean"},
    },
    "required": ["key", "value"],
}
START_CHILD: dict[str, Any] = {
    "properties": {"path": {"type": "string"}, "spec": {}, "force": {"type": "boolean"}},
    "required": ["spec"],
}
ECHO = {"id": "w", "start": "tests.daemon.test_control_helpers:Echo", "name": "test.words.w"}


@pytest.mark.parametrize(
    ("schema", "args", "expected"),
    [
        (CACHE_GET, ["k1"], {"key": "k1"}),
        (CACHE_GET, ["default", "k1"], {"cache": "default", "key": "k1"}),  # not the cache 'k1'
        (CACHE_PUT, ["k", "1"], {"key": "k", "value": 1}),
        (CACHE_PUT, ["c", "k", "null"], {"cache": "c", "key": "k", "value": None}),
        (CACHE_PUT, ["c", "k", "1", "30"], {"cache": "c", "key": "k", "value": 1, "ttl": 30}),
        (START_CHILD, ['{"id": "w"}'], {"spec": {"id": "w"}}),
        (START_CHILD, ["root/servers", '{"id": "w"}'], {"path": "root/servers", "spec": {"id": "w"}}),
        (START_CHILD, ["spec={}", "root/x"], {"spec": {}, "path": "root/x"}),
    ],
)
def test_words_bind_in_the_order_methods_lists_the_params(
    schema: dict[str, Any], args: Sequence[str], expected: dict[str, Any]
) -> None:
    assert build_params(args, schema) == expected


def test_a_params_json_param_is_skipped_by_the_words() -> None:
    # `arborctl start PATH --params '{"spec": ...}'`, the form --help shows: PATH is the path.
    assert build_params(["root/servers"], START_CHILD, {"spec": {"id": "w"}}) == {
        "path": "root/servers",
        "spec": {"id": "w"},
    }


@pytest.mark.parametrize(
    ("args", "extra", "message"),
    [
        (["root/servers", '{"id": "w"}'], {"spec": {}}, "'spec' is given twice (as a word and in --params)"),
        (["spec={}"], {"spec": {}}, "'spec' is given twice (as spec= and in --params)"),
        (["path=a", "path=b", "{}"], None, "'path' is given twice (as path= and path= again)"),
    ],
)
def test_a_param_given_twice_is_a_usage_error(
    args: Sequence[str], extra: dict[str, Any] | None, message: str
) -> None:
    with pytest.raises(UsageError) as raised:
        build_params(args, START_CHILD, extra)
    assert str(raised.value) == message


def test_words_naming_no_method_of_a_family_name_the_family() -> None:
    known = {"cache.get", "cache.put", "registry.lookup", "ping"}
    with pytest.raises(UsageError) as raised:
        resolve_method(["cache", "fetch", "k"], known)
    assert str(raised.value).startswith("no method 'cache.fetch'; the cache methods are: get, put")


# --- against a control server ------------------------------------------------------------------------


async def test_start_binds_path_then_spec_and_refuses_a_clash() -> None:
    async with running_control() as h:
        spec = json.dumps(ECHO)
        code, out, err = await arborctl("--socket", h.path, "--json", "start", "root/core", spec)
        assert (code, err) == (0, "")
        assert json.loads(out)["path"] == "root/core/w"
        assert whereis("test.words.w") is not None
        assert (await arborctl("--socket", h.path, "stop", "root/core/w"))[0] == 0
        assert (await arborctl("--socket", h.path, "delete", "root/core/w"))[0] == 0

        # The --help form: the path as a word, the spec in --params.
        code, out, err = await arborctl(
            "--socket", h.path, "--json", "start", "root/core", "--params", json.dumps({"spec": ECHO})
        )
        assert (code, json.loads(out)["path"]) == (0, "root/core/w")

        code, out, err = await arborctl(
            "--socket", h.path, "start", "root/core", spec, "--params", json.dumps({"spec": ECHO})
        )
        assert (code, out) == (2, "")
        assert err == "arborctl: 'spec' is given twice (as a word and in --params)\n"


async def test_start_under_the_root_is_refused_unless_forced() -> None:
    spec = json.dumps({**ECHO, "id": "r", "name": "test.words.r"})
    async with running_control() as h:
        code, out, err = await arborctl("--socket", h.path, "start", spec)  # path: the root
        assert (code, out) == (2, "")
        assert "start_child under root itself is refused" in err
        assert "force=true" in err
        assert whereis("test.words.r") is None
        code, out, err = await arborctl("--socket", h.path, "--json", "--force", "start", "root", spec)
        assert (code, err) == (0, "")
        assert json.loads(out) == {"path": "root/r", "started": True, "name": "test.words.r"}
        code, _, err = await arborctl("--socket", h.path, "--force", "--params", "[1]", "start", spec)
        assert (code, err) == (2, "arborctl: --params must be a JSON object\n")


async def test_a_misspelt_verb_of_a_family_names_its_methods() -> None:
    async with running_control() as h:
        code, out, err = await arborctl("--socket", h.path, "tables", "fetch")
        assert (code, out) == (2, "")
        assert err.startswith("arborctl: no method 'tables.fetch'; the tables methods are: dump, info, list")
