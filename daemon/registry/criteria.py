"""Registry queries: criteria over nested metadata paths, all of them ANDed (Foundation's ``query/2``).

A criterion is ``(path, op, value)``: ``path`` names a value inside the metadata, walking nested
mappings (``"a.b"`` or ``("a", "b")``); a missing step, or a step into something that is not a
mapping, yields ``None``. ``op`` is one of ``eq neq gt lt gte lte in not_in``. An ordering
comparison between values that do not compare (``"x" > 1``, ``None < 3``) is simply not a match:
a query never raises because of what someone else registered.

>>> criteria = parse_criteria([("node", "eq", "a"), ("load.cpu", "lt", 0.5)])
>>> matches({"node": "a", "load": {"cpu": 0.2}}, criteria)
True
>>> matches({"node": "a", "load": {"cpu": "high"}}, criteria)
False
>>> matches({"node": "a"}, parse_criteria([("load.cpu", "eq", None)]))
True

``matcher`` compiles criteria once for many entries: the values of an ``in``/``not_in`` become a
hashed set, so a test costs the size of the entry's value, not the length of the list (a query with
an ``in`` of 20,000 values over 100,000 entries is linear in both, not their product):

>>> match = matcher(parse_criteria([("node", "in", [f"n{i}" for i in range(20_000)])]))
>>> match({"node": "n19999"}), match({"node": "x"}), match({"node": ["unhashable"]})
(True, False, False)
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final, NamedTuple

__all__ = ["Criterion", "Op", "matcher", "matches", "parse_criteria", "value_at"]


class Op(enum.Enum):
    """The comparison of a criterion: the metadata value on the left, the criterion's on the right."""

    EQ = "eq"
    NEQ = "neq"
    GT = "gt"
    LT = "lt"
    GTE = "gte"
    LTE = "lte"
    IN = "in"
    NOT_IN = "not_in"


def _is_in(left: Any, right: Any) -> bool:
    return left in right


def _not_in(left: Any, right: Any) -> bool:
    return left not in right


_TESTS: Final[Mapping[Op, Callable[[Any, Any], Any]]] = MappingProxyType(
    {
        Op.EQ: operator.eq,
        Op.NEQ: operator.ne,
        Op.GT: operator.gt,
        Op.LT: operator.lt,
        Op.GTE: operator.ge,
        Op.LTE: operator.le,
        Op.IN: _is_in,
        Op.NOT_IN: _not_in,
    }
)


class _Tag:
    """Marks a frozen container (``_freeze``): no value a client sends can be equal to one."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


_LIST: Final = _Tag("list")
_TUPLE: Final = _Tag("tuple")
_SET: Final = _Tag("set")
_MAPPING: Final = _Tag("mapping")
_PLAIN: Final = frozenset({str, int, float, bool, type(None)})


def _freeze(value: Any) -> Any:
    """A hashable stand-in for ``value`` that is equal to another's exactly when the values are
    equal (a list never equals a tuple, a set equals a frozenset, a dict any equal mapping), with
    the same hash for equal values. ``TypeError`` for an unhashable value of another kind."""
    if type(value) in _PLAIN:
        return value
    if isinstance(value, list):
        return (_LIST, tuple(map(_freeze, value)))
    if isinstance(value, tuple):
        return (_TUPLE, tuple(map(_freeze, value)))
    if isinstance(value, set | frozenset):
        return (_SET, frozenset(map(_freeze, value)))
    if isinstance(value, Mapping):
        return (_MAPPING, frozenset((key, _freeze(item)) for key, item in value.items()))
    hash(value)
    return value


class _Members:
    """The values of an ``in``/``not_in`` criterion as a set of frozen values: ``x in members`` is
    what ``x in values`` is (equality), in the time it takes to freeze ``x`` rather than a walk of
    the values. A value that cannot be frozen (an unhashable object of an unknown kind) is looked
    for by that walk, the rare and slow path."""

    __slots__ = ("_frozen", "_values")

    def __init__(self, values: Collection[Any]) -> None:
        self._values = tuple(values)
        frozen: set[Any] = set()
        loose: list[Any] = []
        for value in self._values:
            try:
                frozen.add(_freeze(value))
            except TypeError:
                loose.append(value)
        self._frozen = frozen if not loose else None  # one value we cannot freeze: walk them all

    def __contains__(self, item: object) -> bool:
        if self._frozen is not None:
            try:
                return _freeze(item) in self._frozen
            except TypeError:
                pass
        return item in self._values


class Criterion(NamedTuple):
    """One test: the value at ``path`` in the metadata, compared by ``op`` with ``value``."""

    path: tuple[str, ...]
    op: Op
    value: Any


def _path(path: object) -> tuple[str, ...]:
    if isinstance(path, str):
        parts = tuple(path.split("."))
    elif isinstance(path, list | tuple) and all(isinstance(p, str) for p in path):
        parts = tuple(path)
    else:
        raise ValueError(f"a criterion path is 'a.b' or a list of strings, not {path!r}")
    if not parts or any(not p for p in parts):
        raise ValueError(f"a criterion path has no empty steps: {path!r}")
    return parts


def _criterion(item: object) -> Criterion:
    if isinstance(item, Criterion):
        path, op, value = item
    elif isinstance(item, Mapping):
        unknown = set(item) - {"path", "op", "value"}
        if unknown or "path" not in item or "op" not in item:
            raise ValueError(f"a criterion is {{'path', 'op', 'value'}}, not {dict(item)!r}")
        path, op, value = item["path"], item["op"], item.get("value")
    elif isinstance(item, tuple | list) and len(item) == 3:
        path, op, value = item
    else:
        raise ValueError(f"a criterion is (path, op, value), not {item!r}")
    try:
        op = Op(op.value if isinstance(op, Op) else op)
    except ValueError:
        names = " ".join(o.value for o in Op)
        raise ValueError(f"a criterion op is one of {names}, not {op!r}") from None
    if op in (Op.IN, Op.NOT_IN) and (
        isinstance(value, str | bytes | Mapping) or not isinstance(value, Collection)
    ):
        raise ValueError(f"'{op.value}' needs a list of values, not {value!r}")
    if op in (Op.IN, Op.NOT_IN) and isinstance(value, list):
        value = tuple(value)
    return Criterion(_path(path), op, value)


def parse_criteria(items: Iterable[object]) -> tuple[Criterion, ...]:
    """Validate criteria given as ``Criterion``, ``(path, op, value)`` or ``{"path", "op", "value"}``.

    Raises ``ValueError`` naming the first bad one.
    """
    if isinstance(items, str | bytes | Mapping):
        raise ValueError(f"criteria are a list of (path, op, value), not {items!r}")
    return tuple(_criterion(item) for item in items)


def value_at(metadata: Mapping[str, Any], path: Sequence[str]) -> Any:
    """The value at ``path`` inside nested mappings, or None when a step is missing."""
    current: Any = metadata
    for step in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(step)
    return current


def matches(metadata: Mapping[str, Any], criteria: Sequence[Criterion]) -> bool:
    """True when every criterion holds (an empty list matches everything). For one entry: to test
    many, compile the criteria once with ``matcher``."""
    for path, op, value in criteria:
        try:
            if not _TESTS[op](value_at(metadata, path), value):
                return False
        except TypeError:  # values that do not compare, or `in` over something odd: no match
            return False
    return True


def matcher(criteria: Sequence[Criterion]) -> Callable[[Mapping[str, Any]], bool]:
    """``matches`` with ``criteria`` compiled once: the values of each ``in``/``not_in`` are hashed
    (``_Members``), so testing one entry costs the size of its values whatever the lists' lengths."""
    compiled = tuple(
        (path, _TESTS[op], _Members(value) if op in (Op.IN, Op.NOT_IN) else value)
        for path, op, value in criteria
    )

    def match(metadata: Mapping[str, Any]) -> bool:
        for path, test, value in compiled:
            try:
                if not test(value_at(metadata, path), value):
                    return False
            except TypeError:  # values that do not compare: no match (as in ``matches``)
                return False
        return True

    return match
