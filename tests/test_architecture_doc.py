"""docs/architecture.md's tree diagram is the tree the daemon builds: it cannot drift.

The diagram is the Mermaid block marked ``%% tree``. Its nodes read ``id["child id<br/>registered
name"]``; a solid edge (``-->``) is a child of the tree planned from the default settings, in start
order; a dotted one (``-.->``) a child that only some settings add. The expected tree is planned the
way ``Daemon.run`` plans it (``plan_tree`` over ``COMPONENTS``), one level into the supervisors the
plan starts (the registry's, the caches', the user servers').
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from daemon.component import ComponentContext
from daemon.settings import Settings, SettingsBase
from daemon.tree import COMPONENTS, ROOT_NAME, plan_tree
from daemon.verbs.method import VerbTable
from supervisor import ChildSpec, Supervisor

DOC = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"

Node = tuple[str, str]
"""A node as the diagram labels it: (child id, registered name)."""
Edge = tuple[Node, Node]

ROOT: Node = ("root", ROOT_NAME)

# Every child some setting adds to the default tree (dotted in the diagram).
OPTIONAL_SETTINGS: dict[str, Any] = {
    "telemetry": {"prometheus": {"listen": "127.0.0.1:9464"}},
    "console": {"enabled": True},
}

_NODE = re.compile(r'^(\w+)\["([^"]*)"\]$')
_EDGE = re.compile(r"^(\w+) (-->|-\.->) (\w+)$")


@dataclass(frozen=True)
class Diagram:
    solid: list[Edge]
    dotted: list[Edge]


def tree_block(text: str) -> list[str]:
    """The lines of the Mermaid block marked ``%% tree``."""
    for block in re.findall(r"```mermaid\n(.*?)```", text, flags=re.DOTALL):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if any(line.startswith("%% tree") for line in lines):
            return lines
    raise AssertionError(f"{DOC}: no ```mermaid block marked '%% tree'")


def parse(lines: list[str]) -> Diagram:
    """The diagram's edges between labelled nodes; any other line is an error (nothing unchecked)."""
    nodes: dict[str, Node] = {}
    edges: list[tuple[str, str, str]] = []
    for line in lines:
        if line.startswith(("flowchart", "%%")):
            continue
        if node := _NODE.match(line):
            child_id, _, name = node.group(2).partition("<br/>")
            assert node.group(1) not in nodes, f"node {node.group(1)} declared twice"
            nodes[node.group(1)] = (child_id, name)
        elif edge := _EDGE.match(line):
            edges.append((edge.group(1), edge.group(2), edge.group(3)))
        else:
            raise AssertionError(f"a line of the tree diagram this test cannot check: {line!r}")
    unused = set(nodes) - {end for a, _, b in edges for end in (a, b)}
    assert not unused, f"nodes on no edge: {sorted(unused)}"
    solid = [(nodes[a], nodes[b]) for a, arrow, b in edges if arrow == "-->"]
    dotted = [(nodes[a], nodes[b]) for a, arrow, b in edges if arrow == "-.->"]
    return Diagram(solid, dotted)


def _children(spec: ChildSpec) -> list[ChildSpec]:
    """The children a supervisor's spec starts it with (none for a server's)."""
    is_supervisor = isinstance(spec.start, type) and issubclass(spec.start, Supervisor)
    return list(spec.args[0]) if is_supervisor and spec.args else []


def planned_edges(settings: SettingsBase) -> list[Edge]:
    """The tree the daemon plans from ``settings``, as edges in start order."""
    context = ComponentContext(object(), Path("/nonexistent"), VerbTable({}))  # type: ignore[arg-type]
    edges: list[Edge] = []
    for planned in plan_tree(settings, context, COMPONENTS):
        node = (planned.spec.id, planned.spec.name or "")
        edges.append((ROOT, node))
        edges.extend((node, (child.id, child.name or "")) for child in _children(planned.spec))
    return edges


@pytest.fixture(scope="module")
def diagram() -> Diagram:
    return parse(tree_block(DOC.read_text(encoding="utf-8")))


def test_the_solid_edges_are_the_default_tree_in_start_order(diagram: Diagram) -> None:
    assert diagram.solid == planned_edges(Settings())


def test_the_dotted_edges_are_the_children_optional_settings_add(diagram: Diagram) -> None:
    default = planned_edges(Settings())
    every = planned_edges(Settings.model_validate(OPTIONAL_SETTINGS))
    added = [edge for edge in every if edge not in default]
    assert added, "the optional settings add no child: OPTIONAL_SETTINGS is stale"
    assert diagram.dotted == added
    # Solid and dotted together, in diagram order, are the fullest tree's start order.
    assert sorted(diagram.solid + diagram.dotted, key=every.index) == every


def test_every_component_with_children_appears_in_the_diagram(diagram: Diagram) -> None:
    drawn = {child for _, child in diagram.solid + diagram.dotted}
    every = Settings.model_validate(OPTIONAL_SETTINGS)
    context = ComponentContext(object(), Path("/nonexistent"), VerbTable({}))  # type: ignore[arg-type]
    for planned in plan_tree(every, context, COMPONENTS):
        assert (planned.spec.id, planned.spec.name) in drawn, planned.component


def test_a_drifted_diagram_is_caught() -> None:
    """The check itself: a diagram missing a child, or with two swapped, fails the comparison."""
    lines = tree_block(DOC.read_text(encoding="utf-8"))
    dropped = [line for line in lines if line != "root --> crashes"]
    with pytest.raises(AssertionError, match="nodes on no edge"):
        parse(dropped)
    dropped = [line for line in dropped if not line.startswith("crashes[")]
    assert parse(dropped).solid != planned_edges(Settings())
    at, to = lines.index("root --> spans"), lines.index("root --> crashes")
    swapped = list(lines)
    swapped[at], swapped[to] = swapped[to], swapped[at]
    assert parse(swapped).solid != planned_edges(Settings())
    with pytest.raises(AssertionError, match="cannot check"):
        parse([*lines, "root --- control"])
