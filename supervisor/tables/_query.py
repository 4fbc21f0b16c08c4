"""The table pattern language: ETS match specs for Python, compiled to one comprehension per query.

A *clause* is ``(head, guard, result)``, as in ETS's ``[{Head, Guards, Result}]``:

- **head**: a tuple pattern matched against each row. An element is ``ANY`` (ETS ``'_'``,
  matches anything), a ``Var`` (ETS ``'$N'``, binds the element; the same name twice must be
  equal), a nested tuple pattern, or any other value, matched with ``==``. The whole head may be
  ``ANY`` (every row) or a ``Var`` (binds the whole row). A tuple head only matches rows of the
  same length.
- **guard**: ``None``, a guard *expression* built from variables with ``< <= > >= == !=``,
  ``+ - * / // %``, ``&`` (and), ``|`` (or), ``~`` (not), ``.is_in(c)`` and ``.is_instance(t)``,
  or a *callable* that receives the bound values positionally, in order of first appearance in the
  head. Either way a row passes only if the guard gives exactly ``True`` (ETS: exactly ``true``).
  An exception raised by a guard propagates (an Erlang guard would just fail) and the query
  changes nothing.
- **result**: ``WHOLE`` (ETS ``'$_'``, the row, the default), ``BINDINGS`` (ETS ``'$$'``, a tuple of
  the bound values), a ``Var``, an expression, a tuple template of those, a callable called with the
  bindings, or a constant.

>>> name, price = Var("name"), Var("price")
>>> spec = MatchSpec(Clause(("fruit", name, price), price < 2, (name, price * 100)))
>>> spec.run([("fruit", "apple", 1.5), ("fruit", "kiwi", 3.0), ("veg", "leek", 1.0)])
[('apple', 150.0)]

Clauses are tried in order and the first that matches gives the result (a failing guard moves on
to the next clause). A query is compiled to Python source once per ``MatchSpec`` (a few tens of
microseconds), so build the spec once and reuse it on hot paths; expression guards are compiled
inline, callable guards cost one Python call per candidate row. Literals never enter the generated
source: they are passed in as constants, and variable names are only used for messages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from supervisor.errors import TableError

__all__ = ["ANY", "BINDINGS", "WHOLE", "Clause", "Expr", "MatchSpec", "Var"]


class _Token:
    """A named singleton of the pattern language (``ANY``, ``WHOLE``, ``BINDINGS``)."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


ANY: Final[Any] = _Token("ANY")
"""The wildcard: matches any element (ETS ``'_'``)."""

WHOLE: Final[Any] = _Token("WHOLE")
"""As a result: the whole matched row (ETS ``'$_'``)."""

BINDINGS: Final[Any] = _Token("BINDINGS")
"""As a result: the tuple of bound values, in order of first appearance in the head (``'$$'``)."""

_COMPARE: Final = frozenset({"<", "<=", ">", ">=", "==", "!="})
_ARITHMETIC: Final = frozenset({"+", "-", "*", "/", "//", "%"})


class Expr:
    """A guard or result expression over variables, built with Python operators.

    ``and``/``or``/``not`` cannot be overloaded, so use ``&``/``|``/``~`` (and parenthesise:
    ``(x > 1) & (x < 5)``). An expression has no truth value: ``if expr:`` and ``1 < x < 5`` raise
    ``TypeError`` rather than silently meaning something else.
    """

    __slots__ = ("_args", "_op")

    def __init__(self, op: str, *args: object) -> None:
        self._op = op
        self._args = args

    # Comparisons build expressions; hashing stays by identity so expressions can sit in sets.
    __hash__ = object.__hash__

    def __lt__(self, other: object) -> Expr:
        return Expr("<", self, other)

    def __le__(self, other: object) -> Expr:
        return Expr("<=", self, other)

    def __gt__(self, other: object) -> Expr:
        return Expr(">", self, other)

    def __ge__(self, other: object) -> Expr:
        return Expr(">=", self, other)

    def __eq__(self, other: object) -> Expr:  # type: ignore[override]
        return Expr("==", self, other)

    def __ne__(self, other: object) -> Expr:  # type: ignore[override]
        return Expr("!=", self, other)

    def __add__(self, other: object) -> Expr:
        return Expr("+", self, other)

    def __radd__(self, other: object) -> Expr:
        return Expr("+", other, self)

    def __sub__(self, other: object) -> Expr:
        return Expr("-", self, other)

    def __rsub__(self, other: object) -> Expr:
        return Expr("-", other, self)

    def __mul__(self, other: object) -> Expr:
        return Expr("*", self, other)

    def __rmul__(self, other: object) -> Expr:
        return Expr("*", other, self)

    def __truediv__(self, other: object) -> Expr:
        return Expr("/", self, other)

    def __rtruediv__(self, other: object) -> Expr:
        return Expr("/", other, self)

    def __floordiv__(self, other: object) -> Expr:
        return Expr("//", self, other)

    def __rfloordiv__(self, other: object) -> Expr:
        return Expr("//", other, self)

    def __mod__(self, other: object) -> Expr:
        return Expr("%", self, other)

    def __rmod__(self, other: object) -> Expr:
        return Expr("%", other, self)

    def __neg__(self) -> Expr:
        return Expr("neg", self)

    def __and__(self, other: object) -> Expr:
        return Expr("and", self, other)

    def __rand__(self, other: object) -> Expr:
        return Expr("and", other, self)

    def __or__(self, other: object) -> Expr:
        return Expr("or", self, other)

    def __ror__(self, other: object) -> Expr:
        return Expr("or", other, self)

    def __invert__(self) -> Expr:
        return Expr("not", self)

    def is_in(self, container: object) -> Expr:
        """True when the value is ``in`` ``container`` (a set, tuple, range...)."""
        return Expr("in", self, container)

    def is_instance(self, types: type | tuple[type, ...]) -> Expr:
        """True when the value is an instance of ``types`` (Erlang's ``is_integer`` and friends)."""
        return Expr("isinstance", self, types)

    def __bool__(self) -> bool:
        raise TypeError(
            f"{self!r} is a guard expression and has no truth value: combine expressions with "
            "& | ~ (not and/or/not, nor chained comparisons) and pass the result as guard="
        )

    def __repr__(self) -> str:
        op, args = self._op, self._args
        if op == "neg":
            return f"-{args[0]!r}"
        if op == "not":
            return f"~({args[0]!r})"
        if op == "in":
            return f"{args[0]!r}.is_in({args[1]!r})"
        if op == "isinstance":
            return f"{args[0]!r}.is_instance({args[1]!r})"
        symbol = {"and": "&", "or": "|"}.get(op, op)
        return f"({args[0]!r} {symbol} {args[1]!r})"


class Var(Expr):
    """A pattern variable (ETS ``'$N'``). Variables are identified by name within a clause."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        super().__init__("var")
        if not isinstance(name, str) or not name:
            raise TableError(f"a Var needs a non-empty string name, not {name!r}")
        self.name = name

    def __repr__(self) -> str:
        return f"Var({self.name!r})"


class Clause:
    """One ``(head, guard, result)`` of a match spec; see the module docstring for each part."""

    __slots__ = ("guard", "head", "result")

    def __init__(self, head: object, guard: object = None, result: object = WHOLE) -> None:
        self.head = head
        self.guard = guard
        self.result = result

    def bound_key(self, keypos: int) -> tuple[bool, object]:
        """``(True, key)`` when the head fixes the key completely, so the query is a lookup."""
        head = self.head
        if type(head) is tuple and len(head) > keypos and _ground(head[keypos]):
            return True, head[keypos]
        return False, None

    def __repr__(self) -> str:
        return f"Clause({self.head!r}, {self.guard!r}, {self.result!r})"


def _ground(pattern: object) -> bool:
    """True when ``pattern`` holds no variable, wildcard or expression (it is a plain value)."""
    if pattern is ANY or isinstance(pattern, Expr):
        return False
    if type(pattern) is tuple:
        return all(_ground(element) for element in pattern)
    return True


class _Compiled:
    """The functions generated for one spec; each takes an iterable of rows.

    ``select``: the results; ``pairs``: ``(row, result)``; ``rows``: the matching rows; ``count``.
    """

    __slots__ = ("count", "pairs", "rows", "select")

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.select: Callable[[Iterable[tuple[Any, ...]]], list[Any]] = namespace["_select"]
        self.rows: Callable[[Iterable[tuple[Any, ...]]], list[tuple[Any, ...]]] = namespace["_rows"]
        self.count: Callable[[Iterable[tuple[Any, ...]]], int] = namespace["_count"]
        self.pairs: Callable[[Iterable[tuple[Any, ...]]], list[tuple[Any, Any]]] = namespace["_pairs"]


class MatchSpec:
    """A list of clauses, compiled on first use and then reused: build it once for hot queries.

    ``MatchSpec(Clause(...), Clause(...))``; ``MatchSpec.of(head, guard, result)`` for one clause.
    """

    __slots__ = ("_compiled", "clauses")

    def __init__(self, *clauses: Clause) -> None:
        if not clauses:
            raise TableError("a match spec needs at least one clause")
        for clause in clauses:
            if not isinstance(clause, Clause):
                raise TableError(f"a match spec holds Clause objects, not {clause!r}")
        self.clauses: tuple[Clause, ...] = clauses
        self._compiled: _Compiled | None = None

    @classmethod
    def of(cls, head: object, guard: object = None, result: object = WHOLE) -> MatchSpec:
        """A one-clause spec."""
        return cls(Clause(head, guard, result))

    @property
    def compiled(self) -> _Compiled:
        """The generated functions (compiled on first access)."""
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = _compile(self.clauses)
        return compiled

    def bound_keys(self, keypos: int) -> list[object] | None:
        """The keys to look up when every clause fixes the key; None when a scan is needed."""
        keys: list[object] = []
        for clause in self.clauses:
            bound, key = clause.bound_key(keypos)
            if not bound:
                return None
            if not any(key == seen for seen in keys):
                keys.append(key)
        return keys

    def run(self, rows: Iterable[tuple[Any, ...]]) -> list[Any]:
        """Apply the spec to ``rows`` (any iterable of tuples): the results, in row order."""
        return self.compiled.select(rows)

    def __repr__(self) -> str:
        return f"MatchSpec{self.clauses!r}"


def as_spec(pattern: object, guard: object = None, result: object = WHOLE) -> MatchSpec:
    """Accept a ``MatchSpec``, a ``Clause`` or a head (with ``guard``/``result``) as a spec."""
    if isinstance(pattern, MatchSpec | Clause):
        if guard is not None or result is not WHOLE:
            raise TableError("give guard= and result= inside the Clause/MatchSpec, not beside it")
        return pattern if isinstance(pattern, MatchSpec) else MatchSpec(pattern)
    return MatchSpec(Clause(pattern, guard, result))


# --- the compiler ---------------------------------------------------------------------------------


class _ClauseCompiler:
    """Turns one clause into a condition and a result, as Python source over the row ``r``."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self._namespace = namespace
        self.paths: dict[str, str] = {}  # variable name -> source of its first position
        self.conditions: list[str] = []

    def constant(self, value: object, prefix: str = "_c") -> str:
        name = f"{prefix}{len(self._namespace)}"
        self._namespace[name] = value
        return name

    def head(self, pattern: object, path: str, top: bool) -> None:
        if pattern is ANY:
            return
        if isinstance(pattern, Var):
            first = self.paths.setdefault(pattern.name, path)
            if first != path:
                self.conditions.append(f"{path} == {first}")
            return
        if isinstance(pattern, Expr) or pattern is WHOLE or pattern is BINDINGS:
            raise TableError(
                f"a head holds values, tuples, Var and ANY only; {pattern!r} belongs in guard= or result="
            )
        if type(pattern) is tuple:
            if top:
                self.conditions.append(f"len({path}) == {len(pattern)}")
            else:
                self.conditions.append(f"isinstance({path}, tuple) and len({path}) == {len(pattern)}")
            for index, element in enumerate(pattern):
                self.head(element, f"{path}[{index}]", False)
            return
        if top:
            raise TableError(f"a head is a tuple pattern, a Var or ANY, not {pattern!r}")
        self.conditions.append(f"{path} == {self.constant(pattern)}")

    def bindings(self) -> str:
        paths = list(self.paths.values())
        return "(" + "".join(f"{p}, " for p in paths) + ")"

    def expression(self, node: object, where: str) -> str:
        if isinstance(node, Var):
            path = self.paths.get(node.name)
            if path is None:
                raise TableError(f"{where} uses {node!r}, which the head does not bind")
            return path
        if isinstance(node, Expr):
            op, args = node._op, node._args
            if op in _COMPARE or op in _ARITHMETIC:
                left = self.expression(args[0], where)
                right = self.expression(args[1], where)
                return f"({left} {op} {right})"
            if op == "neg":
                return f"(-{self.expression(args[0], where)})"
            if op == "and" or op == "or" or op == "not":
                return self.condition(node, where)
            if op == "in":
                return f"({self.expression(args[0], where)} in {self.constant(args[1])})"
            if op == "isinstance":
                value = self.expression(args[0], where)
                return f"isinstance({value}, {self.constant(args[1])})"
            raise TableError(f"unknown expression {node!r}")  # pragma: no cover - Expr builds none
        if node is ANY or node is WHOLE or node is BINDINGS:
            raise TableError(f"{node!r} cannot be used inside an expression in {where}")
        return self.constant(node)

    def condition(self, node: object, where: str) -> str:
        """Source that holds exactly when ``node`` does, as a guard.

        Comparisons, ``is_in`` and ``is_instance`` are used as they are (for ordinary values they
        give True or False, and a ``... is True`` around them would cost a third of a scan);
        ``& | ~`` combine conditions; anything else must give exactly ``True``.
        """
        if isinstance(node, Expr) and not isinstance(node, Var):
            op, args = node._op, node._args
            if op in _COMPARE or op == "in" or op == "isinstance":
                return self.expression(node, where)
            if op == "and" or op == "or":
                left = self.condition(args[0], where)
                return f"({left} {op} {self.condition(args[1], where)})"
            if op == "not":
                return f"(not {self.condition(args[0], where)})"
        return f"({self.expression(node, where)}) is True"

    def guard(self, guard: object) -> None:
        if guard is None:
            return
        if isinstance(guard, Expr):
            self.conditions.append(self.condition(guard, "guard"))
        elif callable(guard):
            args = ", ".join(self.paths.values())
            self.conditions.append(f"{self.constant(guard, '_g')}({args}) is True")
        else:
            raise TableError(f"a guard is None, an expression or a callable, not {guard!r}")

    def result(self, result: object) -> str:
        if result is WHOLE:
            return "r"
        if result is BINDINGS:
            return self.bindings()
        if isinstance(result, Expr):
            return self.expression(result, "result")
        if type(result) is tuple:
            return "(" + "".join(f"{self.result(element)}, " for element in result) + ")"
        if result is ANY:
            raise TableError("ANY is not a result; use WHOLE, BINDINGS, a Var or a template")
        if callable(result):
            return f"{self.constant(result, '_f')}({', '.join(self.paths.values())})"
        return self.constant(result)


def _collect(name: str, compiled: list[tuple[str, str]], wrap: str) -> list[str]:
    """Source of ``name(rows)``: ``wrap`` (with ``{}`` for the result) for each matching row."""
    if len(compiled) == 1:
        condition, result = compiled[0]
        return [
            f"def {name}(rows):",
            f"    return [{wrap.format(result)} for r in rows if {condition}]",
        ]
    lines = [f"def {name}(rows):", "    out = []", "    append = out.append", "    for r in rows:"]
    for index, (condition, result) in enumerate(compiled):
        keyword = "if" if index == 0 else "elif"
        lines += [f"        {keyword} {condition}:", f"            append({wrap.format(result)})"]
    return [*lines, "    return out"]


def _compile(clauses: Sequence[Clause]) -> _Compiled:
    namespace: dict[str, Any] = {}
    compiled: list[tuple[str, str]] = []
    for clause in clauses:
        unit = _ClauseCompiler(namespace)
        unit.head(clause.head, "r", True)
        unit.guard(clause.guard)
        condition = " and ".join(unit.conditions) or "True"
        compiled.append((condition, unit.result(clause.result)))
    any_clause = " or ".join(f"({c})" for c, _ in compiled)
    lines = [
        *_collect("_select", compiled, "{}"),
        *_collect("_pairs", compiled, "(r, {})"),
        "def _rows(rows):",
        f"    return [r for r in rows if {any_clause}]",
        "def _count(rows):",
        f"    return len([None for r in rows if {any_clause}])",
    ]
    exec(compile("\n".join(lines), "<arbord match spec>", "exec"), namespace)
    return _Compiled(namespace)
