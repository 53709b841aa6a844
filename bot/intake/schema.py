"""The stroomschema (decision tree) files in `bot/stroomschema/`, loaded and validated.

The format is described in docs/stroomschema.md. `load_schema` raises `SchemaError` with every
problem it finds, so a broken tree never reaches a citizen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterator, List, Mapping, Optional, Set, Tuple

import yaml

from bot.intake.knowledge import Knowledge, knowledge

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "stroomschema"
CONTINUE = "verder"  # option target: continue where the citizen was going (after the urgency check)
URGENCY_NODE = "urgentie.check"
MAX_LABEL = 20
MAX_OPTIONS = 6
FACT_KEYS = {"urgent", "signalen", "organisaties", "levensgebeurtenis", "afhankelijk", "onderwerpen"}


class SchemaError(Exception):
    """The stroomschema files are not a sound decision tree."""

    def __init__(self, problems: List[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Facts:
    """Facts an answer adds to the intake."""

    urgent: bool = False
    signalen: Tuple[str, ...] = ()
    organisaties: Tuple[str, ...] = ()
    levensgebeurtenis: Optional[str] = None
    afhankelijk: bool = False
    onderwerpen: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Option:
    """One answer to a question node.

    `herken`: patterns (re.search on the citizen's words in lower case) that mean this answer, in
    a typed answer or already in the story; `uit_verhaal`: what the bot says when it took the answer
    from the story ("U schreef dat u de boete niet kunt betalen."), so the citizen can correct it;
    `herken_signalen`: signals (signalen.yml, in every language) that, found in the story, mean
    this answer too (debts at two or more creditors: bot/knowledge/schuldeisers.yml).
    """

    label: str
    naar: str
    zet: Facts = field(default_factory=Facts)
    herken: Tuple[re.Pattern[str], ...] = ()
    uit_verhaal: Optional[str] = None
    herken_signalen: Tuple[str, ...] = ()

    def recognised_in(self, text: str) -> bool:
        lowered = text.lower()
        return any(p.search(lowered) for p in self.herken)


@dataclass(frozen=True)
class Outcome:
    """The end of a route: what the question is about and what to do."""

    onderwerp: str
    samenvatting: str
    stappen: Tuple[str, ...]
    organisaties: Optional[Tuple[str, ...]] = None
    levensgebeurtenis: Optional[str] = None
    afhankelijk: bool = False


@dataclass(frozen=True)
class Node:
    """A question (with options) or an outcome."""

    id: str
    thema: str
    vraag: Optional[str] = None
    uitleg: Optional[str] = None
    anders_gezegd: Optional[str] = None  # the question in other words, for "wat bedoelt u?"
    opties: Tuple[Option, ...] = ()
    uitkomst: Optional[Outcome] = None

    @property
    def is_outcome(self) -> bool:
        """True for a leaf."""
        return self.uitkomst is not None


@dataclass(frozen=True)
class Schema:
    """The whole tree: nodes, entry points per topic and life event, themes with urgency check."""

    nodes: Mapping[str, Node]
    topic_entries: Mapping[str, str]
    event_entries: Mapping[str, str]
    urgent_themes: FrozenSet[str]

    def entry_for(self, key: str) -> str:
        """Entry node for a candidate key (a topic id or `leven.<life event id>`)."""
        if key.startswith("leven."):
            return self.event_entries[key.removeprefix("leven.")]
        return self.topic_entries[key]

    def needs_urgency_check(self, node_id: str) -> bool:
        """Whether entering at this node should ask the urgency question first."""
        return self.nodes[node_id].thema in self.urgent_themes

    def texts(self) -> Iterator[Tuple[str, str]]:
        """Every text a citizen can read in the tree, as (where, text)."""
        for node in self.nodes.values():
            if node.vraag:
                yield f"{node.id}.vraag", node.vraag
            if node.uitleg:
                yield f"{node.id}.uitleg", node.uitleg
            if node.anders_gezegd:
                yield f"{node.id}.anders_gezegd", node.anders_gezegd
            for i, option in enumerate(node.opties):
                yield f"{node.id}.opties[{i}]", option.label
                if option.uit_verhaal:
                    yield f"{node.id}.uit_verhaal[{i}]", option.uit_verhaal
            if node.uitkomst:
                yield f"{node.id}.samenvatting", node.uitkomst.samenvatting
                for i, step in enumerate(node.uitkomst.stappen):
                    yield f"{node.id}.stappen[{i}]", step


def _facts(raw: Dict[str, Any]) -> Facts:
    return Facts(
        urgent=bool(raw.get("urgent", False)),
        signalen=tuple(raw.get("signalen", ())),
        organisaties=tuple(raw.get("organisaties", ())),
        levensgebeurtenis=raw.get("levensgebeurtenis"),
        afhankelijk=bool(raw.get("afhankelijk", False)),
        onderwerpen=tuple(raw.get("onderwerpen", ())),
    )


def _parse_file(path: Path, problems: List[str]) -> Tuple[str, Dict[str, Any], Dict[str, Any], bool]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    thema = raw.get("thema")
    if not thema:
        problems.append(f"{path.name}: 'thema' ontbreekt")
    return (
        thema or path.stem,
        raw.get("knopen") or {},
        raw.get("ingangen") or {},
        bool(raw.get("urgentiecheck")),
    )


def _parse_node(node_id: str, thema: str, raw: Dict[str, Any], problems: List[str]) -> Node:
    where = f"{node_id}"
    if not node_id.startswith(f"{thema}."):
        problems.append(f"{where}: id begint niet met het thema '{thema}.'")
    if ("vraag" in raw) == ("uitkomst" in raw):
        problems.append(f"{where}: een knoop heeft óf 'vraag' + 'opties', óf 'uitkomst'")
    if "uitkomst" in raw:
        u = raw["uitkomst"] or {}
        for key in ("onderwerp", "samenvatting", "stappen"):
            if not u.get(key):
                problems.append(f"{where}: uitkomst mist '{key}'")
        orgs = u.get("organisaties")
        return Node(
            id=node_id,
            thema=thema,
            uitkomst=Outcome(
                onderwerp=u.get("onderwerp", ""),
                samenvatting=u.get("samenvatting", ""),
                stappen=tuple(u.get("stappen") or ()),
                organisaties=tuple(orgs) if orgs is not None else None,
                levensgebeurtenis=u.get("levensgebeurtenis"),
                afhankelijk=bool(u.get("afhankelijk", False)),
            ),
        )
    options = []
    for i, o in enumerate(raw.get("opties") or ()):
        unknown = set((o.get("zet") or {})) - FACT_KEYS
        if unknown:
            problems.append(f"{where}.opties[{i}]: onbekende 'zet'-sleutels {sorted(unknown)}")
        if not o.get("label") or not o.get("naar"):
            problems.append(f"{where}.opties[{i}]: 'label' en 'naar' zijn verplicht")
            continue
        options.append(
            Option(
                label=str(o["label"]),
                naar=str(o["naar"]),
                zet=_facts(o.get("zet") or {}),
                herken=_patterns(f"{where}.opties[{i}]", o.get("herken") or (), problems),
                uit_verhaal=o.get("uit_verhaal"),
                herken_signalen=tuple(o.get("herken_signalen") or ()),
            )
        )
        if o.get("uit_verhaal") and not (o.get("herken") or o.get("herken_signalen")):
            problems.append(f"{where}.opties[{i}]: 'uit_verhaal' zonder 'herken' of 'herken_signalen'")
    if not options and "vraag" in raw:
        problems.append(f"{where}: vraag zonder opties")
    return Node(
        id=node_id,
        thema=thema,
        vraag=raw.get("vraag"),
        uitleg=raw.get("uitleg"),
        anders_gezegd=raw.get("anders_gezegd"),
        opties=tuple(options),
    )


def _patterns(where: str, raw: Any, problems: List[str]) -> Tuple[re.Pattern[str], ...]:
    compiled = []
    for pattern in raw:
        try:
            compiled.append(re.compile(str(pattern)))
        except re.error as e:
            problems.append(f"{where}: 'herken' is geen geldige regex ({e}): {pattern}")
    return tuple(compiled)


def _check(schema: Schema, kb: Knowledge, problems: List[str]) -> None:
    nodes = schema.nodes
    for node in nodes.values():
        for i, option in enumerate(node.opties):
            where = f"{node.id}.opties[{i}]"
            if option.naar != CONTINUE and option.naar not in nodes:
                problems.append(f"{where}: 'naar' verwijst naar onbekende knoop '{option.naar}'")
            if option.naar == CONTINUE and node.thema != "urgentie":
                problems.append(f"{where}: 'verder' mag alleen in de urgentiecheck")
            if len(option.label) > MAX_LABEL:
                problems.append(f"{where}: label langer dan {MAX_LABEL} tekens: '{option.label}'")
            _check_facts(where, option.zet, kb, problems)
        if len(node.opties) > MAX_OPTIONS:
            problems.append(f"{node.id}: meer dan {MAX_OPTIONS} opties")
        if node.uitkomst:
            u = node.uitkomst
            if u.onderwerp not in kb.topics:
                problems.append(f"{node.id}: onbekend onderwerp '{u.onderwerp}'")
            for org in u.organisaties or ():
                if org not in kb.organisations:
                    problems.append(f"{node.id}: onbekende organisatie '{org}'")
            if u.levensgebeurtenis and u.levensgebeurtenis not in kb.life_events:
                problems.append(f"{node.id}: onbekende levensgebeurtenis '{u.levensgebeurtenis}'")
    for topic, entry in schema.topic_entries.items():
        if topic not in kb.topics:
            problems.append(f"ingang voor onbekend onderwerp '{topic}'")
        if entry not in nodes:
            problems.append(f"ingang '{topic}' verwijst naar onbekende knoop '{entry}'")
    for event, entry in schema.event_entries.items():
        if event not in kb.life_events:
            problems.append(f"ingang voor onbekende levensgebeurtenis '{event}'")
        if entry not in nodes:
            problems.append(f"ingang '{event}' verwijst naar onbekende knoop '{entry}'")
    if schema.urgent_themes and URGENCY_NODE not in nodes:
        problems.append(f"urgentiecheck gevraagd maar knoop '{URGENCY_NODE}' ontbreekt")


def _check_facts(where: str, facts: Facts, kb: Knowledge, problems: List[str]) -> None:
    for signal in facts.signalen:
        if signal not in kb.signals:
            problems.append(f"{where}: onbekend signaal '{signal}'")
    for org in facts.organisaties:
        if org not in kb.organisations:
            problems.append(f"{where}: onbekende organisatie '{org}'")
    for topic in facts.onderwerpen:
        if topic not in kb.topics:
            problems.append(f"{where}: onbekend onderwerp '{topic}'")
    if facts.levensgebeurtenis and facts.levensgebeurtenis not in kb.life_events:
        problems.append(f"{where}: onbekende levensgebeurtenis '{facts.levensgebeurtenis}'")


def load_schema(directory: Path = SCHEMA_DIR, kb: Optional[Knowledge] = None) -> Schema:
    """Read and validate every stroomschema file in `directory`."""
    kb = kb or knowledge()
    problems: List[str] = []
    nodes: Dict[str, Node] = {}
    topic_entries: Dict[str, str] = {}
    event_entries: Dict[str, str] = {}
    urgent_themes: Set[str] = set()
    for path in sorted(directory.glob("*.yml")):
        thema, raw_nodes, entries, urgency = _parse_file(path, problems)
        if urgency:
            urgent_themes.add(thema)
        for node_id, raw in raw_nodes.items():
            if node_id in nodes:
                problems.append(f"{path.name}: knoop '{node_id}' bestaat al")
            nodes[node_id] = _parse_node(node_id, thema, raw or {}, problems)
        for target, key in ((topic_entries, "onderwerpen"), (event_entries, "levensgebeurtenissen")):
            for name, entry in (entries.get(key) or {}).items():
                if name in target:
                    problems.append(f"{path.name}: ingang '{name}' staat al in een ander bestand")
                target[name] = entry
    schema = Schema(nodes, topic_entries, event_entries, frozenset(urgent_themes))
    _check(schema, kb, problems)
    if problems:
        raise SchemaError(problems)
    return schema


@lru_cache(maxsize=1)
def schema() -> Schema:
    """The validated stroomschema of this installation, read on first use."""
    return load_schema()
