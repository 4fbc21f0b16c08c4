"""Python's scoping rules, enough of them to tell a module-level name from a local one.

A mutation counts as hidden state only if the name it mutates is the module's, so every function,
class and comprehension gets a ``Scope`` listing what it binds. ``bind_scope`` walks one scope's body
without entering nested scopes (their names are theirs), the way the compiler's symbol table does.

>>> import ast
>>> tree = ast.parse("def f(a):\\n    global g\\n    g = a\\n    b = 1\\n    import os.path as p\\n")
>>> scope = bind_scope(tree.body[0], "function", "m", is_package=False)
>>> sorted(scope.locals.items()), sorted(scope.globals), sorted(scope.stored)
([('a', None), ('b', None), ('p', 'os.path')], ['g'], ['a', 'b', 'g', 'p'])
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Literal

from supervisor.lint.values import MUTATOR_METHODS

__all__ = ["Scope", "ScopeKind", "bind_scope", "resolve_import_from"]

ScopeKind = Literal["module", "class", "function", "comprehension"]

_Function = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
_Comprehension = ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp


@dataclass(slots=True)
class Scope:
    """What one scope binds. ``locals`` maps each local name to the dotted name it was imported as, or
    None; ``stored`` is every name the scope assigns or deletes (parameters and declared globals included);
    ``defs`` the names bound by ``def``; ``escaping`` the names that leave the scope (returned,
    yielded, stored in an attribute or a container); ``self_class`` is, for a method, its first
    parameter's name and the class's dotted name."""

    kind: ScopeKind
    name: str = ""
    locals: dict[str, str | None] = field(default_factory=dict)
    stored: set[str] = field(default_factory=set)
    defs: set[str] = field(default_factory=set)
    globals: set[str] = field(default_factory=set)
    nonlocals: set[str] = field(default_factory=set)
    escaping: set[str] = field(default_factory=set)
    decorated: bool = False
    self_class: tuple[str, str] | None = None


def resolve_import_from(node: ast.ImportFrom, module: str, *, is_package: bool) -> str | None:
    """The absolute module a ``from ... import`` reads from, resolving leading dots against ``module``."""
    if node.level == 0:
        return node.module
    parts = module.split(".") if is_package else module.split(".")[:-1]
    if node.level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (node.level - 1)]
    if node.module:
        base.append(node.module)
    return ".".join(base) or None


class _Binder(ast.NodeVisitor):
    """Collects one scope's bindings; stops at nested function, class and comprehension bodies."""

    def __init__(self, scope: Scope, module: str, *, is_package: bool) -> None:
        self.scope = scope
        self.module = module
        self.is_package = is_package

    def _bind(self, name: str, imported: str | None = None) -> None:
        self.scope.locals[name] = imported
        self.scope.stored.add(name)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store | ast.Del):
            self._bind(node.id)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self._bind(alias.asname, alias.name)
            else:
                top = alias.name.partition(".")[0]
                self._bind(top, top)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = resolve_import_from(node, self.module, is_package=self.is_package)
        for alias in node.names:
            if alias.name != "*":
                self._bind(alias.asname or alias.name, f"{base}.{alias.name}" if base else None)

    def visit_Global(self, node: ast.Global) -> None:
        self.scope.globals.update(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.scope.nonlocals.update(node.names)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self._bind(node.name)
        self.generic_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name:
            self._bind(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self._bind(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest:
            self._bind(node.rest)
        self.generic_visit(node)

    def _visit_definition(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        # Decorators, defaults, bases and annotations run in this scope; the body does not.
        for child in node.decorator_list:
            self.visit(child)
        if isinstance(node, ast.ClassDef):
            for base in (*node.bases, *node.keywords):
                self.visit(base)
        else:
            self.visit(node.args)
            self.scope.defs.add(node.name)
        self._bind(node.name)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._visit_definition(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._visit_definition(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._visit_definition(node)

    def visit_arguments(self, node: ast.arguments) -> None:
        for default in (*node.defaults, *node.kw_defaults):
            if default is not None:
                self.visit(default)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self.visit(node.args)

    def _visit_comprehension(self, node: _Comprehension) -> None:
        # Only the first iterable runs in this scope, and walrus targets bind here.
        self.visit(node.generators[0].iter)
        for child in ast.walk(node):
            if isinstance(child, ast.NamedExpr) and isinstance(child.target, ast.Name):
                self._bind(child.target.id)

    visit_ListComp = _visit_comprehension
    visit_SetComp = _visit_comprehension
    visit_DictComp = _visit_comprehension
    visit_GeneratorExp = _visit_comprehension

    def _escape(self, value: ast.expr | None) -> None:
        if value is not None:
            self.scope.escaping.update(n.id for n in ast.walk(value) if isinstance(n, ast.Name))

    def visit_Return(self, node: ast.Return) -> None:
        self._escape(node.value)
        self.generic_visit(node)

    def visit_Yield(self, node: ast.Yield) -> None:
        self._escape(node.value)
        self.generic_visit(node)

    def visit_YieldFrom(self, node: ast.YieldFrom) -> None:
        self._escape(node.value)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        if any(isinstance(t, ast.Attribute | ast.Subscript) for t in node.targets):
            self._escape(node.value)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        # `callbacks.append(inner)`: putting a closure in a container that outlives the call.
        if isinstance(node.func, ast.Attribute) and node.func.attr in MUTATOR_METHODS:
            self.scope.escaping.update(a.id for a in node.args if isinstance(a, ast.Name))
        self.generic_visit(node)


def bind_scope(
    node: ast.AST,
    kind: ScopeKind,
    module: str,
    *,
    is_package: bool,
    self_class: tuple[str, str] | None = None,
) -> Scope:
    """The bindings of the scope ``node`` opens (a module, class, function, lambda or comprehension)."""
    name = getattr(node, "name", "")
    scope = Scope(kind=kind, name=name, self_class=self_class)
    binder = _Binder(scope, module, is_package=is_package)
    if isinstance(node, _Function):
        arguments = node.args
        for argument in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs):
            binder._bind(argument.arg)
        for variadic in (arguments.vararg, arguments.kwarg):
            if variadic is not None:
                binder._bind(variadic.arg)
        if isinstance(node, ast.Lambda):
            binder.visit(node.body)
        else:
            scope.decorated = bool(node.decorator_list)
            for statement in node.body:
                binder.visit(statement)
    elif isinstance(node, _Comprehension):
        for generator in node.generators:
            for target in ast.walk(generator.target):
                if isinstance(target, ast.Name):
                    scope.locals[target.id] = None
    elif isinstance(node, ast.Module | ast.ClassDef):
        for statement in node.body:
            binder.visit(statement)
    # Declared globals and nonlocals are assigned here but live elsewhere.
    for name in scope.globals | scope.nonlocals:
        scope.locals.pop(name, None)
    return scope
