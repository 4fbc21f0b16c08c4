"""One walk over one module: the findings that need only this module, and the facts ARB001 needs.

Module-level mutable state (ARB001) is a property of the package, not of one file: a dict defined in
``a.py`` may be mutated from ``b.py``. So the walk records *bindings* (module-level names, and
UPPER_CASE class-level containers, that could be state) and *evidence* (each in-place mutation or
attribute assignment, under the dotted name of what it mutates); ``index`` joins the two across the
package. Every other rule is decided here, from this module alone.

>>> import ast
>>> source = "_seen = set()\\ndef remember(x):\\n    _seen.add(x)\\n"
>>> facts = collect(ast.parse(source), path=Path("m.py"), module="m")
>>> [(b.key, b.line) for b in facts.bindings], [(e.target, e.how, e.line) for e in facts.evidence]
([('m._seen', 1)], [('m._seen', '`.add()`', 3)])
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from supervisor.lint.rules import RULES, Finding
from supervisor.lint.scopes import Scope, ScopeKind, bind_scope
from supervisor.lint.values import (
    CACHE_DECORATORS,
    CONTEXT_VARIABLE,
    EXEMPT_FACTORIES,
    MUTATING_FUNCTIONS,
    MUTATOR_METHODS,
    THREAD_LOCAL,
    is_dunder,
    is_mutable_value,
    is_upper_case,
    qualified,
)

__all__ = ["Binding", "Evidence", "ModuleFacts", "collect"]

_BUILTINS: Final = frozenset(dir(builtins))
_ENUM_BASES: Final = frozenset({"Enum", "IntEnum", "StrEnum", "Flag", "IntFlag", "ReprEnum"})
# Bases whose class-level defaults are shared by every instance (no dataclass-style copying).
_PLAIN_BASES: Final = frozenset(
    {
        "builtins.object",
        "abc.ABC",
        "typing.Generic",
        "typing.Protocol",
        "typing_extensions.Protocol",
        "typing.NamedTuple",
    }
)
_SHARED_ANNOTATIONS: Final = frozenset(
    {"typing.ClassVar", "typing.Final", "typing_extensions.ClassVar", "typing_extensions.Final"}
)
_TYPE_ALIAS: Final = frozenset({"typing.TypeAlias", "typing_extensions.TypeAlias"})
_PYDANTIC_CONFIG: Final = "model_config"  # pydantic's per-class settings, read once at class creation
_Function = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True, slots=True)
class Binding:
    """A name that is state if anything mutates it: ``key`` is its dotted name (``pkg.mod.name``, or
    ``pkg.mod.Class.NAME`` for a class-level UPPER_CASE container, ``in_class``)."""

    key: str
    name: str
    line: int
    col: int
    in_class: bool = False


@dataclass(frozen=True, slots=True)
class Evidence:
    """A mutation of ``target`` (a dotted name), described by ``how``, in ``module`` at ``path``.
    ``in_place`` is False for an attribute assignment or deletion; ``in_function`` is False for code
    that runs at import time; ``through_instance`` says it reached the target through a method's
    ``self`` or ``cls`` (it can only mutate a class attribute, never a module-level name)."""

    target: str
    how: str
    in_place: bool
    module: str
    path: str
    line: int
    col: int
    in_function: bool
    through_instance: bool = False


@dataclass(slots=True)
class ModuleFacts:
    """What one walk over one module found."""

    path: Path
    display: str
    module: str
    bindings: list[Binding] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _ClassInfo:
    key: str | None
    name: str
    is_enum: bool
    is_plain: bool


class _Walker(ast.NodeVisitor):
    """Visits a module with a stack of scopes, so every name can be resolved as Python would."""

    def __init__(self, facts: ModuleFacts, *, is_package: bool, context_allowed: bool) -> None:
        self.facts = facts
        self.module = facts.module
        self.is_package = is_package
        self.context_allowed = context_allowed
        self.scopes: list[Scope] = []
        self.classes: list[_ClassInfo] = []
        self.flagged_attributes: set[tuple[int, int]] = set()

    # --- names ------------------------------------------------------------------------------------

    def _lookup(self, name: str) -> tuple[Scope | None, str | None]:
        """The scope that binds ``name`` and its dotted name (None for a plain local)."""
        innermost = True
        for scope in reversed(self.scopes):
            if scope.kind == "module":
                break
            if scope.kind == "class" and not innermost:
                continue  # a class body's names are not visible in its methods
            innermost = False
            if name in scope.globals:
                break
            if name in scope.nonlocals or name not in scope.locals:
                continue
            imported = scope.locals[name]
            if imported is not None:
                return scope, imported
            if scope.self_class is not None and scope.self_class[0] == name:
                return scope, scope.self_class[1]
            return scope, None
        module = self.scopes[0]
        if name in module.locals:
            return module, module.locals[name] or f"{self.module}.{name}"
        if name in _BUILTINS:
            return None, f"builtins.{name}"
        return None, f"{self.module}.{name}"

    def _qualify(self, name: str) -> str | None:
        return self._lookup(name)[1]

    def _chain(self, node: ast.expr) -> str | None:
        """The dotted name of what ``node`` reaches into: ``mod._cache[k].x`` is ``pkg.mod._cache.x``."""
        if isinstance(node, ast.Name):
            return self._qualify(node.id)
        if isinstance(node, ast.Attribute):
            base = self._chain(node.value)
            return None if base is None else f"{base}.{node.attr}"
        if isinstance(node, ast.Subscript):
            return self._chain(node.value)
        return None

    def _in_function(self) -> bool:
        return any(scope.kind == "function" for scope in self.scopes)

    def _push(self, node: ast.AST, kind: ScopeKind, self_class: tuple[str, str] | None = None) -> None:
        self.scopes.append(
            bind_scope(node, kind, self.module, is_package=self.is_package, self_class=self_class)
        )

    # --- reporting --------------------------------------------------------------------------------

    def _report(self, node: ast.AST, code: str, detail: str) -> None:
        line, col = getattr(node, "lineno", 1), getattr(node, "col_offset", 0)
        self.facts.findings.append(Finding(self.facts.display, line, col, code, RULES[code].message(detail)))

    def _evidence(self, node: ast.expr, how: str, *, in_place: bool, at: ast.AST) -> None:
        self._check_function_attribute(node)
        target = self._chain(node)
        if target is not None and not target.startswith("builtins."):
            self.facts.evidence.append(
                Evidence(
                    target,
                    how,
                    in_place,
                    self.module,
                    self.facts.display,
                    getattr(at, "lineno", 1),
                    getattr(at, "col_offset", 0),
                    self._in_function(),
                    self._through_instance(node),
                )
            )

    def _through_instance(self, node: ast.expr) -> bool:
        while isinstance(node, ast.Attribute | ast.Subscript):
            node = node.value
        if not isinstance(node, ast.Name):
            return False
        scope, _ = self._lookup(node.id)
        return scope is not None and scope.self_class is not None and scope.self_class[0] == node.id

    def _check_function_attribute(self, node: ast.expr) -> None:
        """ARB006: ``f.calls += 1``, ``f.cache[k] = v``, ``f.seen.add(x)`` where ``f`` is a ``def``."""
        parent: ast.expr | None = None
        while isinstance(node, ast.Attribute | ast.Subscript):
            parent, node = node, node.value
        if not (isinstance(node, ast.Name) and isinstance(parent, ast.Attribute)) or is_dunder(parent.attr):
            return
        scope, _ = self._lookup(node.id)
        position = (parent.lineno, parent.col_offset)
        if scope is not None and node.id in scope.defs and position not in self.flagged_attributes:
            self.flagged_attributes.add(position)
            self._report(parent, "ARB006", f"`{node.id}.{parent.attr}` keeps state on a function object")

    def _store(self, target: ast.expr, *, deleting: bool = False, augmented: bool = False) -> None:
        verb = "deletion" if deleting else "augmented assignment" if augmented else "assignment"
        if isinstance(target, ast.Subscript):
            self._evidence(target.value, f"item {verb}", in_place=True, at=target)
        elif isinstance(target, ast.Attribute):
            self._evidence(target, f"attribute {verb}", in_place=False, at=target)
        elif isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                self._store(element, deleting=deleting)
        elif isinstance(target, ast.Starred):
            self._store(target.value, deleting=deleting)

    # --- scopes -----------------------------------------------------------------------------------

    def visit_Module(self, node: ast.Module) -> None:
        self._push(node, "module")
        self.generic_visit(node)
        self.scopes.pop()

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._check_cache_decorators(node)
        self._check_defaults(node.args, node.name)
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._visit_defaults(node.args)
        self_class = None
        owner = self.scopes[-1]
        is_static = any(qualified(d, self._qualify) == "builtins.staticmethod" for d in node.decorator_list)
        positional = [*node.args.posonlyargs, *node.args.args]
        if owner.kind == "class" and self.classes and self.classes[-1].key and positional and not is_static:
            self_class = (positional[0].arg, self.classes[-1].key)
        self._push(node, "function", self_class)
        for statement in node.body:
            self.visit(statement)
        self.scopes.pop()

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._check_defaults(node.args, "lambda")
        self._visit_defaults(node.args)
        self._push(node, "function")
        self.visit(node.body)
        self.scopes.pop()

    def _visit_defaults(self, arguments: ast.arguments) -> None:
        for default in (*arguments.defaults, *arguments.kw_defaults):
            if default is not None:
                self.visit(default)

    def _visit_comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp
    ) -> None:
        self._push(node, "comprehension")
        self.generic_visit(node)
        self.scopes.pop()

    visit_ListComp = _visit_comprehension
    visit_SetComp = _visit_comprehension
    visit_DictComp = _visit_comprehension
    visit_GeneratorExp = _visit_comprehension

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for child in (*node.decorator_list, *node.bases, *node.keywords):
            self.visit(child)
        bases = [qualified(base, self._qualify) or "" for base in node.bases]
        for base, name in zip(node.bases, bases, strict=True):
            if name in THREAD_LOCAL:
                self._report(
                    base, "ARB004", f"`{node.name}` subclasses `threading.local`, hidden per-thread state"
                )
        nested_in_function = any(scope.kind != "class" and scope.kind != "module" for scope in self.scopes)
        parent_key = self.classes[-1].key if self.classes and self.scopes[-1].kind == "class" else self.module
        info = _ClassInfo(
            key=None if nested_in_function or parent_key is None else f"{parent_key}.{node.name}",
            name=node.name,
            is_enum=any(name.rpartition(".")[2] in _ENUM_BASES for name in bases),
            is_plain=not node.decorator_list and all(name in _PLAIN_BASES for name in bases),
        )
        self._push(node, "class")
        self.classes.append(info)
        for statement in node.body:
            self.visit(statement)
        self.classes.pop()
        self.scopes.pop()

    # --- statements -------------------------------------------------------------------------------

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._store(target)
            self._declare(target, node.value, None)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self._store(node.target)
            self._declare(node.target, node.value, node.annotation)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._store(node.target, augmented=True)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._store(target, deleting=True)
        self.generic_visit(node)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self._store(node.target)
        self.generic_visit(node)

    visit_AsyncFor = visit_For

    def visit_Global(self, node: ast.Global) -> None:
        scope = self.scopes[-1]
        rebound = [name for name in node.names if name in scope.stored]
        if scope.kind == "function" and rebound:
            self._report(node, "ARB002", f"`global {', '.join(rebound)}` rebinds module state across calls")

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        scope = self.scopes[-1]
        rebound = [name for name in node.names if name in scope.stored]
        if rebound and self._closure_escapes(rebound):
            detail = f"`nonlocal {', '.join(rebound)}` keeps state in a closure that outlives the call"
            self._report(node, "ARB003", detail)

    def _closure_escapes(self, names: list[str]) -> bool:
        """Whether the innermost function, or a function between it and the one that owns ``names``,
        is returned, yielded, stored or decorated: then its closure keeps the state across calls."""
        stack = self.scopes
        for index in range(len(stack) - 1, 0, -1):
            inner, outer = stack[index], stack[index - 1]
            if inner.kind != "function":
                continue
            if inner.decorated or inner.name in outer.escaping or outer.kind == "class":
                return True
            if outer.kind == "function" and any(name in outer.locals for name in names):
                return False
        return False

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in MUTATOR_METHODS:
            self._evidence(func.value, f"`.{func.attr}()`", in_place=True, at=node)
        name = qualified(func, self._qualify)
        if name in MUTATING_FUNCTIONS and node.args:
            self._evidence(node.args[0], f"`{name.removeprefix('builtins.')}()`", in_place=True, at=node)
        elif name in ("builtins.setattr", "builtins.delattr") and len(node.args) >= 2:
            attribute = node.args[1]
            if isinstance(attribute, ast.Constant) and isinstance(attribute.value, str):
                target = ast.copy_location(ast.Attribute(node.args[0], attribute.value, ast.Store()), node)
                self._evidence(target, f"`{name.removeprefix('builtins.')}()`", in_place=False, at=node)
        elif name in THREAD_LOCAL:
            self._report(node, "ARB004", "`threading.local()` is hidden per-thread state")
        elif name in CONTEXT_VARIABLE and not self.context_allowed:
            self._report(node, "ARB005", "`ContextVar` is hidden per-task state")
        self.generic_visit(node)

    # --- declarations -----------------------------------------------------------------------------

    def _declare(self, target: ast.expr, value: ast.expr, annotation: ast.expr | None) -> None:
        kind = self.scopes[-1].kind
        if kind == "module":
            self._declare_module_name(target, value, annotation)
        elif kind == "class" and isinstance(target, ast.Name):
            self._check_class_attribute(target, value, annotation)

    def _declare_module_name(self, target: ast.expr, value: ast.expr, annotation: ast.expr | None) -> None:
        if isinstance(target, ast.Tuple | ast.List):
            values = value.elts if isinstance(value, ast.Tuple | ast.List) else None
            for index, element in enumerate(target.elts):
                paired = values[index] if values is not None and len(values) == len(target.elts) else None
                self._declare_module_name(element, paired or ast.Constant(None), None)
            return
        if not isinstance(target, ast.Name) or is_dunder(target.id):
            return
        if annotation is not None and qualified(annotation, self._qualify) in _TYPE_ALIAS:
            return
        if isinstance(value, ast.Call) and qualified(value.func, self._qualify) in EXEMPT_FACTORIES:
            return
        self._check_cache_call(target.id, value)
        key = f"{self.module}.{target.id}"
        if all(binding.key != key for binding in self.facts.bindings):
            self.facts.bindings.append(Binding(key, target.id, target.lineno, target.col_offset))

    def _check_class_attribute(self, target: ast.Name, value: ast.expr, annotation: ast.expr | None) -> None:
        """ARB008: a mutable value bound in a class body is one object shared by every instance."""
        info = self.classes[-1]
        name = target.id
        if info.is_enum or is_dunder(name) or name == _PYDANTIC_CONFIG:
            return
        if not is_mutable_value(value, self._qualify):
            return
        shared = annotation is None or info.is_plain or self._is_class_variable(annotation)
        if not shared:
            return  # a field default of a dataclass, attrs or pydantic model: copied or refused per instance
        if is_upper_case(name) and info.key is not None:
            self.facts.bindings.append(
                Binding(f"{info.key}.{name}", f"{info.name}.{name}", target.lineno, target.col_offset, True)
            )
            return
        self._report(target, "ARB008", f"`{info.name}.{name}` is one mutable object shared by all instances")

    def _is_class_variable(self, annotation: ast.expr) -> bool:
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            head = annotation.value.partition("[")[0].strip().rpartition(".")[2]
            return head in ("ClassVar", "Final")
        return qualified(annotation, self._qualify) in _SHARED_ANNOTATIONS

    # --- decorators and defaults ------------------------------------------------------------------

    def _check_cache_decorators(self, node: _Function) -> None:
        """ARB009: a functools cache on a function that lives as long as the module."""
        if self._in_function():
            return  # a cache on a nested function dies with the call that made it
        for decorator in node.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            name = qualified(target, self._qualify)
            if name in CACHE_DECORATORS:
                self._report(decorator, "ARB009", f"`@{name}` on `{node.name}` is a hidden global cache")

    def _check_cache_call(self, name: str, value: ast.expr) -> None:
        """ARB009 without the decorator syntax: ``fetch = functools.lru_cache(maxsize=64)(_fetch)``."""
        if isinstance(value, ast.Call):
            callee = value.func.func if isinstance(value.func, ast.Call) else value.func
            decorator = qualified(callee, self._qualify)
            if decorator in CACHE_DECORATORS:
                self._report(value, "ARB009", f"`{decorator}` makes `{name}` a hidden global cache")

    def _check_defaults(self, arguments: ast.arguments, function: str) -> None:
        """ARB007: a default is evaluated once, so a mutable one is shared by every call."""
        positional = [*arguments.posonlyargs, *arguments.args]
        pairs = [
            *zip(positional[len(positional) - len(arguments.defaults) :], arguments.defaults, strict=True),
            *zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True),
        ]
        for parameter, default in pairs:
            if default is not None and is_mutable_value(default, self._qualify):
                name = f"`{parameter.arg}` in `{function}`"
                self._report(default, "ARB007", f"the default of {name} is one object shared by every call")


def collect(
    tree: ast.Module,
    *,
    path: Path,
    module: str,
    display: str | None = None,
    is_package: bool = False,
    context_allowed: bool = False,
) -> ModuleFacts:
    """Walk one parsed module. ``display`` is the path printed in findings (default: ``path``);
    ``is_package`` says the file is an ``__init__.py`` (for relative imports); ``context_allowed``
    that the configuration lets this module declare ``ContextVar``s."""
    facts = ModuleFacts(path=path, display=str(path) if display is None else display, module=module)
    _Walker(facts, is_package=is_package, context_allowed=context_allowed).visit(tree)
    return facts
