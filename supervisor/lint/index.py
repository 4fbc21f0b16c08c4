"""ARB001 and the class-constant half of ARB008: joining bindings with the mutations that make them state.

A module-level name is state when something mutates it or rebinds it from outside: inside a function
of its own module, or anywhere in another module of the same top-level package. Mutations at the top
level of the module that defines the name run once, at import time: they build a constant, they do not
keep state. A class-level UPPER_CASE container is a constant until a function mutates it in place.

>>> import ast
>>> from pathlib import Path
>>> from supervisor.lint.facts import collect
>>> a = collect(ast.parse("REGISTRY = {}\\nREGISTRY['x'] = 1\\n"), path=Path("a.py"), module="pkg.a")
>>> b = collect(ast.parse("from pkg.a import REGISTRY\\ndef f():\\n    REGISTRY.clear()\\n"),
...             path=Path("b.py"), module="pkg.b")
>>> for finding in state_findings(a, StateIndex([a, b])):
...     print(finding.format())
a.py:1:1 ARB001 `REGISTRY` is module-level state (`.clear()` in b.py:3): keep it in a server's state ...
"""

from __future__ import annotations

from collections.abc import Iterable

from supervisor.lint.facts import Binding, Evidence, ModuleFacts
from supervisor.lint.rules import RULES, Finding

__all__ = ["StateIndex", "state_findings"]


class StateIndex:
    """Every piece of evidence in a set of modules, keyed by the dotted name it mutates and by every
    prefix of that name (mutating ``mod._cache.x`` mutates ``mod._cache``)."""

    __slots__ = ("_by_target",)

    def __init__(self, modules: Iterable[ModuleFacts]) -> None:
        self._by_target: dict[str, list[Evidence]] = {}
        for facts in modules:
            for evidence in facts.evidence:
                target = evidence.target
                while True:
                    self._by_target.setdefault(target, []).append(evidence)
                    target, dot, _ = target.rpartition(".")
                    if not dot:
                        break

    def proof(self, binding: Binding, facts: ModuleFacts) -> Evidence | None:
        """The first mutation that makes ``binding`` (defined in ``facts``) state, or None: one in a
        function of the same module, or anywhere in another module of the same top-level package
        (tests that poke at a library's constants are not the library's state)."""
        package = facts.module.partition(".")[0]
        for evidence in self._by_target.get(binding.key, ()):
            if binding.in_class and not evidence.in_place:
                continue  # `self.NAME = ...` shadows the class constant on the instance
            if not binding.in_class and evidence.through_instance:
                continue  # `self.x = ...` in class `C` is not a mutation of a module-level `C`
            if evidence.path == facts.display:
                if evidence.in_function:
                    return evidence
            elif evidence.module.partition(".")[0] == package:
                return evidence
        return None


def state_findings(facts: ModuleFacts, index: StateIndex) -> list[Finding]:
    """ARB001 for each module-level binding of ``facts`` that ``index`` proves mutated, and ARB008 for
    each mutated class-level UPPER_CASE container."""
    findings: list[Finding] = []
    for binding in facts.bindings:
        evidence = index.proof(binding, facts)
        if evidence is None:
            continue
        same_file = evidence.path == facts.display
        where = f"at line {evidence.line}" if same_file else f"in {evidence.path}:{evidence.line}"
        if binding.in_class:
            code, detail = "ARB008", f"`{binding.name}` is one mutable object shared by all instances"
        else:
            code, detail = "ARB001", f"`{binding.name}` is module-level state"
        message = RULES[code].message(f"{detail} ({evidence.how} {where})")
        findings.append(Finding(facts.display, binding.line, binding.col, code, message))
    return findings
