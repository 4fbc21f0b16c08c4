"""The hot paths of tables (supervisor/_speedups.c, or its Python twin) and ``GuardedGetter``.

This suite runs on the core the interpreter uses (``make test`` runs it on both, the second time
with ``ARBORD_NO_EXTENSIONS=1``); the few tests of what only the C module has say so and skip
under the twin. The rest of the table suites run every operation through these paths already;
this file pins what is particular to them: each call shape that leaves the C fast path for the
Python one gives the same answer or error, the store stays a dict, nothing leaks on the fast or the
error paths, the garbage collector sees through the C fields, and the owner check works with any
mapping of running tasks (the form later Pythons need).
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import tracemalloc
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import pytest

from supervisor.errors import AccessDenied, TableError
from supervisor.lowlevel import GuardedGetter
from supervisor.tables import Access, Table, TableType
from supervisor.tables._core import IMPLEMENTATION, TableCore
from supervisor.tables._running import RUNNING_TASKS
from supervisor.tables._set import OrderedSetTable, PublicOrderedSetTable, PublicSetTable, SetTable
from tests.supervisor.test_table_support import run_in_task

c_only = pytest.mark.skipif(IMPLEMENTATION != "c", reason="a property of the C module, not of the twin")


def _use_running_tasks(mapping: Any) -> None:
    from supervisor._speedups import use_running_tasks

    use_running_tasks(mapping)


class Pair(NamedTuple):
    key: Any
    value: Any


SETS = [
    pytest.param((TableType.SET, Access.PROTECTED), id="set"),
    pytest.param((TableType.SET, Access.PUBLIC), id="public-set"),
    pytest.param((TableType.SET, Access.PRIVATE), id="private-set"),
    pytest.param((TableType.ORDERED_SET, Access.PROTECTED), id="ordered_set"),
    pytest.param((TableType.ORDERED_SET, Access.PUBLIC), id="public-ordered_set"),
]


@pytest.fixture(params=SETS)
def kind(request: pytest.FixtureRequest) -> tuple[TableType, Access]:
    """A set type and access; the test makes the table, so that its own task owns it."""
    kind: tuple[TableType, Access] = request.param
    return kind


def make(kind: tuple[TableType, Access]) -> Table:
    return Table("speedups", type=kind[0], access=kind[1])


# --- the fast paths and the calls they hand to Python ---------------------------------------------


async def test_every_table_is_a_table_core(kind: tuple[TableType, Access]) -> None:
    table = make(kind)
    assert isinstance(table, TableCore)
    assert type(table._rows) is dict


async def test_lookup_and_get_hit_miss_and_unhashable(kind: tuple[TableType, Access]) -> None:
    table = make(kind)
    table.insert(("a", 1))
    assert table.lookup("a") == [("a", 1)]
    assert table.lookup("b") == []
    assert table.lookup(["unhashable"]) == []
    assert table.get("a") == ("a", 1)
    assert table.get("b") is None
    assert table.get("b", 7) == 7
    assert table.get("b", default=8) == 8  # by name: the Python path
    assert table.get(["unhashable"], 9) == 9
    assert table.get(["unhashable"], default=9) == 9


async def test_get_and_lookup_wrong_calls_raise_type_error(kind: tuple[TableType, Access]) -> None:
    table = make(kind)
    with pytest.raises(TypeError):
        table.get()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        table.get("a", 1, 2)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        table.get("a", fallback=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        table.lookup()  # type: ignore[call-arg]


async def test_insert_fast_and_slow_shapes_store_the_same(kind: tuple[TableType, Access]) -> None:
    table = make(kind)
    table.insert(("t", 1))  # a plain tuple: C
    table.insert(Pair("n", 2))  # a named tuple: Python
    table.insert([("l1", 3), ("l2", 4)])  # a list: Python
    assert sorted(table.tab2list()) == [("l1", 3), ("l2", 4), ("n", 2), ("t", 1)]
    assert type(table.get("n")) is Pair


@pytest.mark.parametrize("row", [(), ([1], 2), "not a row", 5])
async def test_insert_bad_rows_raise_the_tables_error(kind: tuple[TableType, Access], row: Any) -> None:
    table = make(kind)
    with pytest.raises(TableError, match="speedups"):
        table.insert(row)
    assert len(table) == 0


async def test_insert_with_keypos_past_the_row_is_refused() -> None:
    table = Table("keypos", keypos=2)
    table.insert(("x", "y", "k"))
    assert table.lookup("k") == [("x", "y", "k")]
    with pytest.raises(TableError):
        table.insert(("x", "y"))


async def test_a_key_whose_hash_raises_something_else_propagates(kind: tuple[TableType, Access]) -> None:
    table = make(kind)

    class Boom:
        def __hash__(self) -> int:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        table.insert((Boom(), 1))
    with pytest.raises(RuntimeError, match="boom"):
        table.lookup(Boom())
    with pytest.raises(RuntimeError, match="boom"):
        table.get(Boom())
    with pytest.raises(RuntimeError, match="boom"):
        table.update_counter(Boom(), 1)


async def test_update_counter_fast_path(kind: tuple[TableType, Access]) -> None:
    table = make(kind)
    table.insert(("c", 10))
    assert table.update_counter("c", 5) == 15
    assert table.update_counter("c", -20) == -5
    assert table.get("c") == ("c", -5)
    big = 2**70
    assert table.update_counter("c", big) == big - 5


async def test_update_counter_shapes_the_c_code_hands_to_python(kind: tuple[TableType, Access]) -> None:
    table = make(kind)
    table.insert([("c", 1), ("wide", 1, 2), ("float", 1.5)])
    table.insert(Pair("named", 1))
    assert table.update_counter("c", (1, 2)) == 3  # a (pos, incr) op
    assert table.update_counter("c", [(1, 1), (1, 1)]) == [4, 5]  # a list of ops
    assert table.update_counter("wide", 1) == 2  # a row of three
    assert table.update_counter("named", 1) == 2  # a named tuple keeps its class
    assert type(table.get("named")) is Pair
    assert table.update_counter("new", 3, ("new", 100)) == 103  # absent: the default row
    assert table.update_counter("newer", 3, default=("newer", 0)) == 3  # by name
    with pytest.raises(TableError, match="not an int"):
        table.update_counter("float", 1)
    with pytest.raises(TableError, match="no default"):
        table.update_counter("absent", 1)
    with pytest.raises(TableError, match="not hashable"):
        table.update_counter(["unhashable"], 1)
    with pytest.raises(TableError):
        table.update_counter("c", 1.5)
    with pytest.raises(TypeError):
        table.update_counter("c")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        table.update_counter("c", 1, None, None)  # type: ignore[call-arg]


async def test_update_counter_keypos_1_goes_through_python() -> None:
    table = Table("keypos1", keypos=1)
    table.insert((5, "k"))
    with pytest.raises(TableError, match="out of range"):
        table.update_counter("k", 1)  # the element after the key is past the row
    table.insert((5, "k", 1))
    assert table.update_counter("k", 1) == 2


@c_only
async def test_the_store_must_be_a_dict(kind: tuple[TableType, Access]) -> None:
    table = make(kind)
    with pytest.raises(TypeError, match="dict"):
        table._rows = [("a", 1)]  # type: ignore[assignment]
    assert table._rows == {}


async def test_an_uninitialised_core_raises_attribute_error() -> None:
    core = TableCore()
    with pytest.raises(AttributeError):
        core._set_lookup("a")
    with pytest.raises(AttributeError):
        core._rows  # noqa: B018
    assert core._caller_is_owner() is False  # no loop: nobody owns it


# --- the owner check --------------------------------------------------------------------------


@pytest.mark.parametrize("write", ["insert", "update_counter", "update_counter default="])
async def test_a_stranger_is_denied_before_anything_is_stored(write: str) -> None:
    table = Table("guarded")
    table.insert(("c", 1))
    calls: dict[str, Callable[[], object]] = {
        "insert": lambda: table.insert(("c", 99)),
        "update_counter": lambda: table.update_counter("c", 1),
        "update_counter default=": lambda: table.update_counter("c", 1, default=("c", 0)),
    }
    with pytest.raises(AccessDenied, match=r"update_counter|insert"):
        await run_in_task(calls[write])
    assert table.get("c") == ("c", 1)


async def test_the_owner_check_with_no_task_running_denies() -> None:
    table = Table("no-task")
    loop = asyncio.get_running_loop()
    # A callback run by the loop itself runs outside any task.
    outcome: asyncio.Future[BaseException | None] = loop.create_future()

    def from_a_callback() -> None:
        try:
            table.insert(("k", 1))
        except AccessDenied as error:
            outcome.set_result(error)
        else:
            outcome.set_result(None)

    loop.call_soon(from_a_callback)
    assert isinstance(await outcome, AccessDenied)
    assert table._caller_is_owner()


class _Mapping(Mapping[Any, Any]):
    """A non-dict view of the running tasks, as Python 3.14's layout needs."""

    def __init__(self, inner: Mapping[Any, Any]) -> None:
        self.inner = inner
        self.reads = 0

    def __getitem__(self, loop: Any) -> Any:
        self.reads += 1
        return self.inner[loop]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.inner)

    def __len__(self) -> int:
        return len(self.inner)


@c_only
async def test_the_owner_check_reads_any_mapping() -> None:
    table = Table("mapping")
    view = _Mapping(RUNNING_TASKS)
    _use_running_tasks(view)
    try:
        table.insert(("a", 1))
        with pytest.raises(AccessDenied):
            await run_in_task(lambda: table.insert(("b", 1)))
        assert view.reads >= 2
    finally:
        _use_running_tasks(RUNNING_TASKS)
    assert table.lookup("b") == []


@c_only
def test_use_running_tasks_wants_a_mapping() -> None:
    with pytest.raises(TypeError, match="mapping"):
        _use_running_tasks(5)


# --- memory -------------------------------------------------------------------------------------


def _growth(operation: Callable[[], object], rounds: int = 5_000) -> int:
    """Bytes still allocated after ``rounds`` more calls than a warm-up: a leak shows as rounds x."""
    for _ in range(500):
        operation()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(rounds):
            operation()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def _raises(operation: Callable[[], object]) -> Callable[[], None]:
    def call() -> None:
        try:
            operation()
        except (TableError, TypeError, RuntimeError):
            pass

    return call


async def test_no_path_leaks(kind: tuple[TableType, Access]) -> None:
    table = make(kind)
    table.insert([("hit", 1), ("n", 1, 2)])
    counter = iter(range(10**9))
    operations: dict[str, Callable[[], object]] = {
        "lookup hit": lambda: table.lookup("hit"),
        "lookup miss": lambda: table.lookup("miss"),
        "lookup unhashable": lambda: table.lookup([]),
        "get hit": lambda: table.get("hit"),
        "get default=": lambda: table.get("miss", default=1),
        "insert": lambda: table.insert(("hit", next(counter))),
        "insert bad": _raises(lambda: table.insert(([], 1))),
        "update_counter": lambda: table.update_counter("hit", 1),
        "update_counter slow": lambda: table.update_counter("n", 1),
        "update_counter error": _raises(lambda: table.update_counter("absent", 1)),
    }
    for name, operation in operations.items():
        assert _growth(operation) < 20_000, name  # a leaked object a call would be > 140 kB


# --- the garbage collector ------------------------------------------------------------------------


async def test_a_cycle_through_the_store_is_collected() -> None:
    table = Table("cycle")
    table.insert(("self", table))  # table -> _rows -> row -> table
    alive = weakref.ref(table)
    table.delete_table()
    del table
    gc.collect()
    assert alive() is None


# --- GuardedGetter ------------------------------------------------------------------------------


def test_guarded_getter_returns_rows_not_rejected() -> None:
    store = {"live": ("live", False), "dead": ("dead", True)}
    misses: list[object] = []
    read = GuardedGetter(store.get, bool, 1, misses.append)
    assert read("live") == ("live", False)
    assert read("dead") is None
    assert read("absent") is None
    assert misses == ["dead", "absent"]
    assert read.position == 1


def test_guarded_getter_without_on_reject_and_with_any_verdict() -> None:
    store = {"a": ("a", 0), "b": ("b", 2), "c": ["c", ""]}
    read = GuardedGetter(store.get, lambda value: value, 1)  # truthiness, not just bools
    assert read("a") == ("a", 0)
    assert read("b") is None
    assert read("c") == ["c", ""]  # a row that is a sequence, not a tuple


def test_guarded_getter_passes_errors_through() -> None:
    def broken_get(key: object) -> object:
        raise LookupError(key)

    def broken_reject(value: object) -> bool:
        raise ValueError(value)

    class BadBool:
        def __bool__(self) -> bool:
            raise ArithmeticError("no truth")

    store = {"a": ("a", 1), "short": ("short",)}
    with pytest.raises(LookupError):
        GuardedGetter(broken_get, bool, 1)("a")
    with pytest.raises(ValueError, match="1"):
        GuardedGetter(store.get, broken_reject, 1)("a")
    with pytest.raises(ArithmeticError):
        GuardedGetter(store.get, lambda _: BadBool(), 1)("a")
    with pytest.raises(IndexError):
        GuardedGetter(store.get, bool, 1)("short")
    with pytest.raises(KeyError):
        GuardedGetter(store.get, bool, 1, lambda key: {}[key])("absent")


def test_guarded_getter_call_and_construction_errors() -> None:
    read = GuardedGetter({}.get, bool, 0)
    with pytest.raises(TypeError, match="one argument"):
        read()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="one argument"):
        read("a", "b")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="one argument"):
        read(key="a")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="position"):
        GuardedGetter({}.get, bool, -1)
    with pytest.raises(TypeError, match="callables"):
        GuardedGetter(5, bool, 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callables"):
        GuardedGetter({}.get, bool, 0, 5)  # type: ignore[arg-type]


def test_guarded_getter_is_collected_in_a_cycle() -> None:
    class Holder:
        def __init__(self) -> None:
            self.rows: dict[str, Any] = {}

        def get(self, key: str) -> Any:
            return self.rows.get(key)

    holder = Holder()
    read = GuardedGetter(holder.get, bool, 0)
    holder.rows["read"] = (read,)  # read -> holder.get -> holder -> rows -> read
    alive = weakref.ref(holder)
    del read, holder
    gc.collect()
    assert alive() is None


async def test_guarded_getter_over_a_table_getter_finds_nothing_after_delete() -> None:
    table = Table("guarded-delete")
    table.insert(("a", False))
    read = GuardedGetter(table.getter(), bool, 1)
    assert read("a") == ("a", False)
    table.delete_table()
    assert read("a") is None


# --- introspection --------------------------------------------------------------------------------


@pytest.mark.skipif(IMPLEMENTATION != "c", reason="the twin takes *args to hand wrong calls on as the C does")
@pytest.mark.parametrize("name", ["lookup", "get", "insert", "update_counter"])
@pytest.mark.parametrize(
    "cls", [SetTable, PublicSetTable, OrderedSetTable, PublicOrderedSetTable], ids=lambda c: c.__name__
)
def test_the_c_methods_have_the_documented_signatures(cls: type[Table], name: str) -> None:
    documented = inspect.signature(getattr(Table, name))
    actual = inspect.signature(getattr(cls, name))
    # Without self, which a C method takes positionally only.
    assert [(p.name, p.kind, p.default) for p in list(actual.parameters.values())[1:]] == [
        (p.name, p.kind, p.default) for p in list(documented.parameters.values())[1:]
    ]
