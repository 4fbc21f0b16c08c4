"""Each kind of hidden state is caught with its own code, at the right line and column; each idiomatic
form of constant, alias, record or field is not. Columns are 1-based, as printed."""

from __future__ import annotations

import pytest

from supervisor.lint import RULES, Config, check_source
from tests.lint.test_lint_support import codes

VIOLATIONS = {
    "module dict mutated by item assignment": (
        """\
        _cache = {}

        def remember(key, value):
            _cache[key] = value
        """,
        [("ARB001", 1, 1)],
    ),
    "module list mutated by a method": (
        """\
        pending: list[int] = []

        def push(item: int) -> None:
            pending.append(item)
        """,
        [("ARB001", 1, 1)],
    ),
    "defaultdict from an aliased import, mutated in place": (
        """\
        from collections import defaultdict as dd

        _counts = dd(int)

        def count(word):
            _counts[word] += 1
        """,
        [("ARB001", 3, 1)],
    ),
    "deque mutated by heapq": (
        """\
        import heapq

        _queue = []

        def schedule(at, job):
            heapq.heappush(_queue, (at, job))
        """,
        [("ARB001", 3, 1)],
    ),
    "itertools.count advanced by next": (
        """\
        import itertools

        _ids = itertools.count()

        def new_id():
            return next(_ids)
        """,
        [("ARB001", 3, 1)],
    ),
    "cachetools cache filled from a function": (
        """\
        import cachetools

        _sessions = cachetools.TTLCache(maxsize=128, ttl=60)

        def session(user):
            return _sessions.setdefault(user, object())
        """,
        [("ARB001", 3, 1)],
    ),
    "object attributes set from a function": (
        """\
        class Settings:
            debug = False

        settings = Settings()

        def enable_debug():
            settings.debug = True
        """,
        [("ARB001", 4, 1)],
    ),
    "UPPER_CASE does not make a mutated dict a constant": (
        """\
        REGISTRY: dict[str, type] = {}

        def register(cls):
            REGISTRY[cls.__name__] = cls
            return cls
        """,
        [("ARB001", 1, 1)],
    ),
    "Final does not make a mutated dict a constant": (
        """\
        from typing import Final

        _seen: Final = set()

        def mark(x):
            _seen.add(x)
        """,
        [("ARB001", 3, 1)],
    ),
    "global rebinding": (
        """\
        _count = 0

        def increment():
            global _count
            _count += 1
        """,
        [("ARB002", 4, 5)],
    ),
    "nonlocal in a returned closure": (
        """\
        def counter():
            n = 0

            def step():
                nonlocal n
                n += 1
                return n

            return step
        """,
        [("ARB003", 5, 9)],
    ),
    "nonlocal in a decorator's wrapper": (
        """\
        import functools

        def counted(f):
            calls = 0

            @functools.wraps(f)
            def wrapper(*args):
                nonlocal calls
                calls += 1
                return f(*args)

            return wrapper
        """,
        [("ARB003", 8, 9)],
    ),
    "nonlocal in a closure kept in a container": (
        """\
        def install(callbacks):
            hits = 0

            def on_event(event):
                nonlocal hits
                hits += 1

            callbacks.append(on_event)
        """,
        [("ARB003", 5, 9)],
    ),
    "threading.local": (
        """\
        import threading

        _local = threading.local()
        """,
        [("ARB004", 3, 10)],
    ),
    "threading.local imported by name, and subclassed": (
        """\
        from threading import local

        class Request(local):
            pass
        """,
        [("ARB004", 3, 15)],
    ),
    "ContextVar outside the context modules": (
        """\
        from contextvars import ContextVar

        request_id: ContextVar[str] = ContextVar("request_id")
        """,
        [("ARB005", 3, 31)],
    ),
    "function attribute used as a counter": (
        """\
        def handle():
            handle.calls += 1

        handle.calls = 0
        """,
        [("ARB006", 2, 5), ("ARB006", 4, 1)],
    ),
    "function attribute used as a cache, and set with setattr": (
        """\
        def lookup(key):
            lookup.memo[key] = key * 2
            setattr(lookup, "last", key)
        """,
        [("ARB006", 2, 5), ("ARB006", 3, 5)],
    ),
    "mutable default arguments": (
        """\
        def add(item, into=[], *, seen=set(), index={}):
            pass

        handler = lambda event, log=[]: log.append(event)
        """,
        [("ARB007", 1, 20), ("ARB007", 1, 32), ("ARB007", 1, 45), ("ARB007", 4, 29)],
    ),
    "class-level containers shared by all instances": (
        """\
        from typing import ClassVar

        class Plugin:
            registry = {}
            instances: ClassVar[list["Plugin"]] = []
            tags: list[str] = []
        """,
        [("ARB008", 4, 5), ("ARB008", 5, 5), ("ARB008", 6, 5)],
    ),
    "class-level UPPER_CASE container mutated through the class": (
        """\
        class Plugin:
            REGISTRY: dict[str, type] = {}

            def __init_subclass__(cls):
                cls.REGISTRY[cls.__name__] = cls
        """,
        [("ARB008", 2, 5)],
    ),
    "functools caches on module-level functions and methods": (
        """\
        import functools
        from functools import lru_cache

        @functools.cache
        def settings():
            return {}

        @lru_cache(maxsize=32)
        def fetch(url):
            return url

        class Client:
            @functools.lru_cache
            def get(self, key):
                return key

        fast_fetch = functools.lru_cache(maxsize=8)(fetch)
        """,
        [("ARB009", 4, 2), ("ARB009", 8, 2), ("ARB009", 13, 6), ("ARB009", 17, 14)],
    ),
    "a file that does not parse": ("def broken(:\n", [("ARB000", 1, 1)]),
}

ALLOWED = {
    "constants": """\
        from types import MappingProxyType
        from typing import Final

        __all__ = ["LIMITS"]
        MAX_SIZE = 10
        _NAMES = ("a", "b")
        _KINDS = frozenset({"x", "y"})
        DEFAULTS: Final = {"timeout": 5.0}
        LIMITS = MappingProxyType({"a": 1})
        _LOOKUP = {"a": 1}

        def limit(name):
            return LIMITS[name] + _LOOKUP.get(name, 0) + DEFAULTS["timeout"]
        """,
    "a table built at import time, read afterwards": """\
        _BY_NAME = {}
        for _name in ("a", "b"):
            _BY_NAME[_name] = len(_name)
        _BY_NAME.update(c=3)

        def size(name):
            return _BY_NAME[name]
        """,
    "loggers, type variables and type aliases": """\
        import logging
        from typing import TypeAlias, TypeVar

        log = logging.getLogger(__name__)
        T = TypeVar("T")
        Row: TypeAlias = tuple[int, ...]
        Table: TypeAlias = "dict[str, Row]"

        def quiet():
            log.disabled = True
        """,
    "locals that shadow module names": """\
        _cache = {}

        def build(_cache):
            _cache["x"] = 1

        def fresh():
            _cache = {}
            _cache["y"] = 2
            return _cache

        def each(items):
            return [_cache.append(i) for _cache in items]
        """,
    "a class rebound at module level, whose methods set instance attributes": """\
        class Future:
            def __init__(self) -> None:
                self._callbacks: list[object] = []
                self._callbacks.append(None)

        try:
            from _speedups import Future
        except ImportError:
            Future = Future
        """,
    "instance state set in __init__": """\
        class Counter:
            __slots__ = ("counts", "total")

            def __init__(self) -> None:
                self.counts: dict[str, int] = {}
                self.total = 0

            def add(self, key: str) -> None:
                self.counts[key] = self.counts.get(key, 0) + 1
                self.total += 1
        """,
    "dataclass, pydantic and NamedTuple fields": """\
        from dataclasses import dataclass, field
        from typing import ClassVar, NamedTuple

        from pydantic import BaseModel, ConfigDict

        @dataclass(frozen=True, slots=True)
        class Spec:
            args: tuple[int, ...] = ()
            kwargs: dict[str, int] = field(default_factory=dict)
            log_crashes: ClassVar[bool] = True

        class Settings(BaseModel):
            model_config = ConfigDict(frozen=True)
            paths: list[str] = []

        class Point(NamedTuple):
            x: int = 0
            tags: tuple[str, ...] = ()
        """,
    "enums and UPPER_CASE class constants that nothing mutates": """\
        import enum

        class Color(enum.Enum):
            RED = [255, 0, 0]
            GREEN = [0, 255, 0]

        class Codes:
            KNOWN = {"a": 1}
            __match_args__ = ("a",)

            def code(self, name):
                return self.KNOWN[name]
        """,
    "nonlocal inside one call": """\
        import asyncio

        async def run() -> int:
            moves = 0

            async def worker() -> None:
                nonlocal moves
                moves += 1

            await asyncio.gather(worker(), worker())
            return moves
        """,
    "global used only to read": """\
        LIMIT = 3

        def limit():
            global LIMIT
            return LIMIT
        """,
    "caches on nested functions and cached_property": """\
        import functools

        def make():
            @functools.cache
            def inner(x):
                return x

            return inner

        class Lazy:
            @functools.cached_property
            def value(self):
                return 1
        """,
    "docstrings and comments that describe hidden state": '''\
        """Never write `_cache = {}` then `_cache[k] = v`, `global x`, or `threading.local()`.

        # arbord: allow-state
        """

        # _seen = set(); _seen.add(x); global _seen
        ''',
    "immutable defaults and None": """\
        def f(a=(), b=None, c=frozenset(), *, d="x", e=0):
            return a, b, c, d, e
        """,
}


@pytest.mark.parametrize(("source", "expected"), VIOLATIONS.values(), ids=VIOLATIONS.keys())
def test_each_violation_is_caught_with_its_code_line_and_column(
    source: str, expected: list[tuple[str, int, int]]
) -> None:
    assert codes(source) == expected


@pytest.mark.parametrize("source", ALLOWED.values(), ids=ALLOWED.keys())
def test_idiomatic_code_is_not_flagged(source: str) -> None:
    assert codes(source) == []


def test_every_message_names_the_alternative() -> None:
    source = "import threading\n_local = threading.local()\n"
    (finding,) = check_source(source, "m.py")
    assert finding.message.endswith(RULES["ARB004"].advice)
    assert "server" in RULES["ARB001"].advice
    assert "owned table" in RULES["ARB001"].advice
    assert "explicit parameter" in RULES["ARB001"].advice
    assert "context" in RULES["ARB005"].advice


def test_context_modules_may_declare_context_variables(tmp_path_factory: pytest.TempPathFactory) -> None:
    source = "import contextvars\nrequest = contextvars.ContextVar('request')\n"
    root = tmp_path_factory.mktemp("ctx")
    (root / "ctx.py").write_text(source)
    allowed = Config(root=root, context=("ctx",))
    assert codes(source, config=Config(root=root)) == [("ARB005", 2, 11)]
    assert check_source(source, str(root / "ctx.py"), config=allowed) == []


def test_a_module_level_event_set_from_a_function_is_state() -> None:
    source = "import asyncio\n_stop = asyncio.Event()\n\ndef stop():\n    _stop.set()\n"
    assert codes(source) == [("ARB001", 2, 1)]


def test_context_variables_and_thread_locals_are_reported_once_by_their_own_rule() -> None:
    source = """\
        import contextvars, threading

        request = contextvars.ContextVar("request")
        _local = threading.local()

        def enter(r):
            request.set(r)
            _local.request = r
        """
    assert codes(source) == [("ARB005", 3, 11), ("ARB004", 4, 10)]
