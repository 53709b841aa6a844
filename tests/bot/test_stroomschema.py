"""The stroomschema is a sound decision tree: every node reachable, no dead ends or cycles, every
catalogue topic and life event has an entry that leads to an outcome about it."""

from typing import Dict, List, Set

import pytest

from bot.intake.knowledge import knowledge
from bot.intake.schema import CONTINUE, URGENCY_NODE, Schema, SchemaError, load_schema, schema


@pytest.fixture(scope="module")
def tree() -> Schema:
    return schema()


def _edges(tree: Schema) -> Dict[str, List[str]]:
    return {
        node.id: [o.naar for o in node.opties if o.naar != CONTINUE]
        for node in tree.nodes.values()
    }


def _reachable(tree: Schema, start: str) -> Set[str]:
    edges, seen, todo = _edges(tree), set(), [start]
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(edges[node])
    return seen


def test_every_catalogue_topic_and_life_event_has_an_entry(tree: Schema) -> None:
    kb = knowledge()
    assert sorted(set(kb.topics) - set(tree.topic_entries)) == []
    assert sorted(set(kb.life_events) - set(tree.event_entries)) == []


def test_every_node_is_reachable_from_an_entry(tree: Schema) -> None:
    starts = set(tree.topic_entries.values()) | set(tree.event_entries.values())
    if tree.urgent_themes:
        starts.add(URGENCY_NODE)
    reachable: Set[str] = set()
    for start in starts:
        reachable |= _reachable(tree, start)
    assert sorted(set(tree.nodes) - reachable) == []


def test_no_cycles_so_every_path_ends_in_an_outcome(tree: Schema) -> None:
    edges = _edges(tree)
    state: Dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node: str, path: List[str]) -> None:
        state[node] = 1
        for nxt in edges[node]:
            assert state.get(nxt) != 1, f"cyclus: {' -> '.join([*path, nxt])}"
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in tree.nodes:
        if node not in state:
            visit(node, [node])
    for node in tree.nodes.values():
        assert node.is_outcome or node.opties, f"{node.id} is een doodlopende knoop"


def test_each_topic_entry_leads_to_an_outcome_about_that_topic(tree: Schema) -> None:
    missing = []
    for topic, entry in tree.topic_entries.items():
        outcomes = [tree.nodes[n].uitkomst for n in _reachable(tree, entry) if tree.nodes[n].is_outcome]
        if not any(o.onderwerp == topic for o in outcomes):
            missing.append(topic)
    assert missing == []


def test_each_life_event_entry_leads_to_a_checklist_for_that_event(tree: Schema) -> None:
    missing = []
    for event, entry in tree.event_entries.items():
        outcomes = [tree.nodes[n].uitkomst for n in _reachable(tree, entry) if tree.nodes[n].is_outcome]
        if not any(o.levensgebeurtenis == event for o in outcomes):
            missing.append(event)
    assert missing == []


def test_the_urgency_check_returns_to_the_route_on_every_answer(tree: Schema) -> None:
    node = tree.nodes[URGENCY_NODE]
    assert node.opties and all(o.naar == CONTINUE for o in node.opties)


def test_a_broken_tree_is_rejected_with_every_problem(tmp_path) -> None:
    (tmp_path / "x.yml").write_text(
        "thema: x\n"
        "knopen:\n"
        "  x.start:\n"
        "    vraag: Waar gaat het over?\n"
        "    opties:\n"
        "      - {label: Een veel te lange knoptekst hier, naar: x.nergens}\n"
        "  y.fout:\n"
        "    uitkomst: {onderwerp: bestaat.niet, samenvatting: S, stappen: [a]}\n",
        encoding="utf-8",
    )
    with pytest.raises(SchemaError) as err:
        load_schema(tmp_path)
    text = str(err.value)
    assert "x.nergens" in text
    assert "langer dan 20" in text
    assert "bestaat.niet" in text
    assert "begint niet met het thema" in text
