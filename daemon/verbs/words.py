"""``arborctl``'s generic mapping from words on the command line to a method and its params.

The verb is the longest run of leading words that, joined with ``.``, names a method the daemon has
(``registry lookup k`` → ``registry.lookup``), after a few aliases (``children`` → ``which_children``;
``arborctl restart`` is its own verb: terminate, then start again).

The remaining words are ``key=value`` pairs or positional values. Positional values bind to the
params in the order ``arborctl methods`` lists them (the order the params model declares them: what
is acted on first, e.g. ``start PATH SPEC``, ``cache get CACHE KEY``), skipping those already given
as ``key=value`` or in ``--params``. An optional param takes a word only when there are words to
spare for it: with fewer words than params, the required ones are served first, so ``cache get k1``
is the key ``k1`` of the default cache and ``cache get default k1`` the same key named in full (as
an optional positional before a required one in ``argparse``). Values parse as JSON when they can
(``limit=10``, ``tags='["a"]'``) and stay strings otherwise, or always for string-only params.
One param given twice (a word and ``--params``, or ``key=value`` twice) is a usage error; so is a
word that would skip a param given in ``--params`` to land on an optional one after it (``start
root/servers SPEC --params '{"spec": ...}'``: the word was meant for ``spec``).

>>> schema = {"properties": {"name": {"type": "string"}, "limit": {"type": "integer"}}, "required": ["name"]}
>>> resolve_method(["tables", "dump", "agents", "limit=5"], {"tables.dump"})
('tables.dump', ['agents', 'limit=5'])
>>> build_params(["agents", "limit=5"], schema)
{'limit': 5, 'name': 'agents'}
>>> start = {"properties": {"path": {"type": "string"}, "spec": {}}, "required": ["spec"]}
>>> build_params(["root/servers", '{"id": "w"}'], start)
{'path': 'root/servers', 'spec': {'id': 'w'}}
>>> build_params(["root/servers"], start, {"spec": {"id": "w"}})
{'path': 'root/servers', 'spec': {'id': 'w'}}
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from types import MappingProxyType

# Names for annotations only: importing ``typing`` would cost ``arborctl`` a share of its start-up
# (bench/bench_arborctl.py); mypy reads this block, the interpreter skips it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = ["ALIASES", "UsageError", "build_params", "param_options", "resolve_method"]

ALIASES: Final = MappingProxyType(
    {
        "children": "which_children",
        "count": "count_children",
        "start": "start_child",
        "stop": "terminate_child",
        "terminate": "terminate_child",
        "delete": "delete_child",
        "spans": "spans.list",
    }
)


def param_options(command_line: Sequence[str], known: Collection[str]) -> list[str]:
    """``--name VALUE`` and ``--name=VALUE`` that are not the caller's own options (``known``), as the
    param words ``name=VALUE`` (``flags wait --revision 42``, ``spans --older-than 5``); the rest is
    left as it is. ``arborctl`` and the console share it, so both accept the same options.

    >>> param_options(["--trace", "abc", "--older-than=5", "limit=3", "--json"], {"--json"})
    ['trace=abc', 'older_than=5', 'limit=3', '--json']
    """
    words: list[str] = []
    rest = iter(command_line)
    for word in rest:
        name, has_value, value = word.partition("=")
        if not word.startswith("--") or word == "--" or name in known:
            words.append(word)
            continue
        if not has_value:
            value = next(rest, "")
        words.append(f"{name[2:].replace('-', '_')}={value}")
    return words


class UsageError(Exception):
    """The command line does not name a method or does not fit its params (exit 2)."""


def resolve_method(words: Sequence[str], known: Collection[str]) -> tuple[str, list[str]]:
    """The method the leading words name, and the words left for its params.

    Words that name no method but begin a family of them (``cache fetch``) are answered with that
    family's methods, not with "no method 'cache'".
    """
    for count in range(len(words), 0, -1):
        name = ".".join(words[:count])
        name = ALIASES.get(name, name)
        if name in known:
            return name, list(words[count:])
    for count in range(len(words) - 1, 0, -1):
        family = ".".join(words[:count]) + "."
        members = sorted(m[len(family) :] for m in known if m.startswith(family))
        if members:
            wanted = ".".join(words[: count + 1])
            raise UsageError(
                f"no method {wanted!r}; the {family[:-1]} methods are: {', '.join(members)}"
                " (arborctl methods lists them all)"
            )
    raise UsageError(f"no method {words[0]!r} (arborctl methods lists them)")


def _string_only(schema: Mapping[str, Any]) -> bool:
    if schema.get("type") == "string":
        return True
    options = schema.get("anyOf")
    return isinstance(options, list) and {o.get("type") for o in options} <= {"string", "null"}


def _value(text: str, schema: Mapping[str, Any]) -> Any:
    if _string_only(schema):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _bound_order(order: Sequence[str], required: Collection[str], count: int) -> list[str]:
    """The params ``count`` positional words bind to, in ``order``: every required one, and as many
    optional ones as there are words to spare, from the front."""
    spare = count - sum(1 for name in order if name in required)
    bound: list[str] = []
    for name in order:
        if name in required:
            bound.append(name)
        elif spare > 0:
            bound.append(name)
            spare -= 1
    return bound


def build_params(
    args: Sequence[str], schema: Mapping[str, Any], extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Params for a method with JSON ``schema`` from ``args`` and ``extra`` (``--params``); a param
    given by both is a ``UsageError``."""
    properties: Mapping[str, Any] = schema.get("properties", {})
    order = list(properties)
    required = {p for p in schema.get("required", []) if p in properties}
    given = dict(extra or {})
    params: dict[str, Any] = {}
    positional: list[str] = []
    for arg in args:
        key, sep, text = arg.partition("=")
        if sep and key in properties:
            if key in params or key in given:
                raise UsageError(f"{key!r} is given twice (as {key}= and {_source(key, params)})")
            params[key] = _value(text, properties[key])
        else:
            positional.append(arg)
    free = [p for p in order if p not in params and p not in given]
    if len(positional) > len(free):
        unexpected = positional[len(free) :]
        if any(p in given for p in order):
            raise UsageError(f"{_clash(order, given)!r} is given twice (as a word and in --params)")
        raise UsageError(f"unexpected argument(s) {unexpected}; the params are {order or 'none'}")
    for name, text in zip(_bound_order(free, required, len(positional)), positional, strict=False):
        if name not in required and any(p in given for p in order[: order.index(name)]):
            # A word that skips a --params param to land on an optional one was meant for it.
            raise UsageError(f"{_clash(order, given, name)!r} is given twice (as a word and in --params)")
        params[name] = _value(text, properties[name])
    params.update(given)
    return params


def _clash(order: Sequence[str], given: Mapping[str, Any], before: str | None = None) -> str:
    """The --params param a stray word was meant for: the last one (before ``before``)."""
    end = len(order) if before is None else order.index(before)
    return [p for p in order[:end] if p in given][-1]


def _source(key: str, params: Mapping[str, Any]) -> str:
    return f"{key}= again" if key in params else "in --params"
