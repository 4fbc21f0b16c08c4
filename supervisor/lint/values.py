"""What a value is, read from the AST alone: mutable containers, and the names the check knows by heart.

The check never imports the code it checks, so "is this a dict?" is answered from the expression that
built the value: a literal, a comprehension, or a call to a constructor known to build a mutable
container or cache (resolved through the module's imports, so ``from collections import deque as dq``
still counts). Anything else (tuples, frozensets, ``MappingProxyType``, strings, numbers, loggers,
``TypeVar``, instances of your own classes) is not a known container.

>>> import ast
>>> def mutable(src: str) -> bool:
...     return is_mutable_value(ast.parse(src, mode="eval").body, lambda name: "builtins." + name)
>>> [mutable(s) for s in ("{}", "[0] * 8", "dict(a=1)", "(1, 2)", "frozenset()", "None")]
[True, True, True, False, False, False]
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Final

__all__ = [
    "CACHE_DECORATORS",
    "CONTEXT_VARIABLE",
    "EXEMPT_FACTORIES",
    "MUTABLE_FACTORIES",
    "MUTATING_FUNCTIONS",
    "MUTATOR_METHODS",
    "THREAD_LOCAL",
    "Qualifier",
    "is_dunder",
    "is_mutable_value",
    "is_upper_case",
    "qualified",
]

Qualifier = Callable[[str], "str | None"]
"""Maps a bare name to its fully qualified name (``defaultdict`` -> ``collections.defaultdict``)."""

MUTABLE_FACTORIES: Final = frozenset(
    {
        "builtins.dict",
        "builtins.list",
        "builtins.set",
        "builtins.bytearray",
        "collections.defaultdict",
        "collections.OrderedDict",
        "collections.Counter",
        "collections.deque",
        "collections.ChainMap",
        "weakref.WeakValueDictionary",
        "weakref.WeakKeyDictionary",
        "weakref.WeakSet",
        "queue.Queue",
        "queue.LifoQueue",
        "queue.PriorityQueue",
        "queue.SimpleQueue",
        "asyncio.Queue",
        "asyncio.LifoQueue",
        "asyncio.PriorityQueue",
        "array.array",
        "itertools.count",
        "types.SimpleNamespace",
        "sortedcontainers.SortedList",
        "sortedcontainers.SortedKeyList",
        "sortedcontainers.SortedDict",
        "sortedcontainers.SortedSet",
        "cachetools.Cache",
        "cachetools.LRUCache",
        "cachetools.LFUCache",
        "cachetools.TTLCache",
        "cachetools.TLRUCache",
        "cachetools.FIFOCache",
        "cachetools.RRCache",
        "cachetools.MRUCache",
    }
)

# In-place mutators of the standard containers and queues. ``get`` is not here: it only reads a dict.
MUTATOR_METHODS: Final = frozenset(
    {
        "append",
        "appendleft",
        "extend",
        "extendleft",
        "insert",
        "remove",
        "pop",
        "popleft",
        "popitem",
        "clear",
        "update",
        "setdefault",
        "add",
        "discard",
        "difference_update",
        "intersection_update",
        "symmetric_difference_update",
        "rotate",
        "sort",
        "reverse",
        "move_to_end",
        "subtract",
        "put",
        "put_nowait",
        "set",
        "__setitem__",
        "__delitem__",
    }
)

# Functions that mutate their first argument in place.
MUTATING_FUNCTIONS: Final = frozenset(
    {
        "heapq.heappush",
        "heapq.heappop",
        "heapq.heapify",
        "heapq.heapreplace",
        "heapq.heappushpop",
        "bisect.insort",
        "bisect.insort_left",
        "bisect.insort_right",
        "random.shuffle",
        "builtins.next",
    }
)

# Module-level values that ARB001 leaves alone: never state, or flagged by their own rule (a
# ContextVar's `.set()` is the point of a module allowed to hold context).
EXEMPT_FACTORIES: Final = frozenset(
    {
        "contextvars.ContextVar",
        "threading.local",
        "_threading_local.local",
        "logging.getLogger",
        "structlog.get_logger",
        "structlog.getLogger",
        "typing.TypeVar",
        "typing.ParamSpec",
        "typing.TypeVarTuple",
        "typing.NewType",
        "typing_extensions.TypeVar",
        "typing_extensions.ParamSpec",
        "typing_extensions.TypeVarTuple",
        "collections.namedtuple",
        "typing.NamedTuple",
        "typing.TypedDict",
    }
)

CACHE_DECORATORS: Final = frozenset(
    {
        "functools.lru_cache",
        "functools.cache",
        "cachetools.cached",
        "cachetools.func.fifo_cache",
        "cachetools.func.lfu_cache",
        "cachetools.func.lru_cache",
        "cachetools.func.mru_cache",
        "cachetools.func.rr_cache",
        "cachetools.func.ttl_cache",
        "cachetools.func.tlru_cache",
        "async_lru.alru_cache",
    }
)

THREAD_LOCAL: Final = frozenset({"threading.local", "_threading_local.local"})
CONTEXT_VARIABLE: Final = frozenset({"contextvars.ContextVar"})


def is_dunder(name: str) -> bool:
    """``__all__``, ``__slots__``, ``__version__``...: Python's own protocol names, never state."""
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def is_upper_case(name: str) -> bool:
    """A constant's name by convention: ``MAX_SIZE``, ``_DEFAULTS`` (at least one letter, no lower)."""
    stripped = name.lstrip("_")
    return any(c.isalpha() for c in stripped) and stripped.upper() == stripped


def qualified(node: ast.expr, qualify: Qualifier) -> str | None:
    """The dotted name an expression refers to (``collections.defaultdict``), or None if it is not a
    plain name or attribute chain. ``ContextVar[int]`` is qualified as ``ContextVar``."""
    if isinstance(node, ast.Subscript):
        return qualified(node.value, qualify)
    if isinstance(node, ast.Name):
        return qualify(node.id)
    if isinstance(node, ast.Attribute):
        base = qualified(node.value, qualify)
        return None if base is None else f"{base}.{node.attr}"
    return None


def is_mutable_value(node: ast.expr, qualify: Qualifier) -> bool:
    """Whether ``node`` builds a known mutable container, cache or namespace."""
    if isinstance(node, ast.List | ast.Dict | ast.Set | ast.ListComp | ast.DictComp | ast.SetComp):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult | ast.Add | ast.BitOr):
        return is_mutable_value(node.left, qualify) or is_mutable_value(node.right, qualify)
    if isinstance(node, ast.Call):
        return qualified(node.func, qualify) in MUTABLE_FACTORIES
    return False
