"""The knowledge files in `bot/knowledge/`, loaded once into typed objects.

Everything the bot says about organisations, topics and signals comes from these YAML files, so a
municipality can change wording and contact routes without touching code. Environment variables
override the demo municipality's contact details (see README, "Instellingen").
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import yaml

KNOWLEDGE_DIR = Path(__file__).resolve().parent.parent / "knowledge"


@dataclass(frozen=True)
class Organisation:
    """An organisation a citizen can be sent to, with its public contact route."""

    id: str
    naam: str
    wat: str
    website: str
    contact: str
    telefoon: Optional[str] = None
    bereikbaar: Optional[str] = None
    professionallijn: Optional[str] = None
    privacy: Optional[str] = None  # only the gemeente: where it explains what it stores and how long


@dataclass(frozen=True)
class Topic:
    """A catalogue topic (question type) with its plain-Dutch labels."""

    id: str
    organisations: Tuple[str, ...]
    label: str
    knop: str


@dataclass(frozen=True)
class LifeEvent:
    """A catalogue life event with its plain-Dutch labels and recognition patterns."""

    id: str
    organisations: Tuple[str, ...]
    label: str
    knop: str
    afhankelijk: bool
    patterns: Tuple[re.Pattern[str], ...] = ()
    topic: Optional[str] = None  # the topic that handles the event itself (schulden: schuldhulp)
    erkenning: Optional[str] = None  # said first, before any question ("Gecondoleerd …")
    # Signals that mean this event whatever the ranking says (schulden: a cut-off), and signals that
    # do so when the event's words occur too (schulden: an eviction).
    signals: Tuple[str, ...] = ()
    signals_with_words: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Signal:
    """An urgency or hidden-problem signal, recognised in the citizen's own words."""

    id: str
    label: str
    urgent: bool
    patterns: Tuple[re.Pattern[str], ...]  # the Dutch words (`woorden`), folded like the text
    # The words in English, Polish, Turkish, Arabic and Ukrainian (`talen`), folded the same way.
    other_language_patterns: Tuple[re.Pattern[str], ...] = ()
    # A crisis: the domain response with the help line the bot gives at once, before anything else.
    hulplijn: Optional[str] = None
    # The detector head (bot/knowledge/detectors.yml) that also finds this signal without its words.
    detector: Optional[str] = None
    threshold: float = 0.5  # the detector's score from which the signal holds
    # The same for a message clearly written in another language than Dutch; None: `threshold`.
    threshold_other_language: Optional[float] = None
    vandaag: Optional[str] = None  # an urgent signal: what the citizen can do today (B1)
    # Found by its words only: the detector heads do not learn urgency from its examples (`weak_labels`).
    words_only: bool = False
    # Organisations the signal itself brings in, whatever the topic (`organisaties`): the Juridisch
    # Loket for someone who can no longer act for themselves (labelling rule 11, `003:630`).
    organisations: Tuple[str, ...] = ()

    @property
    def crisis(self) -> bool:
        return self.hulplijn is not None


@dataclass(frozen=True)
class Creditor:
    """A kind of creditor a citizen can owe (schuldeisers.yml)."""

    id: str
    patterns: Tuple[re.Pattern[str], ...] = ()  # its words in every language, folded like the text
    organisation: Optional[str] = None  # a named organisation that is this creditor
    private: bool = False  # not a government body: its debt is the gemeente's schuldhulp
    part_of: Optional[str] = None  # the creditor that collects this debt (zorgverzekering: cak)
    # Collects for others (an incassobureau): with a government creditor named, it is that one's debt.
    collects_for_government: bool = False
    # Words that must occur too before this creditor counts (the UWV pays; it is owed only when it
    # wants money back).
    only_with: Tuple[re.Pattern[str], ...] = ()


@dataclass(frozen=True)
class Debts:
    """What says that a citizen owes money, and to whom (schuldeisers.yml)."""

    event: str  # the life event of debts; its topic (schuldhulp) coordinates the creditors
    signals: Tuple[str, ...]  # signals that say there is a debt or a payment problem
    several: str  # the signal for two or more creditors
    creditors: Tuple[Creditor, ...]


@dataclass(frozen=True)
class MenuGroup:
    """A group of topics for the "choose a subject" menu."""

    id: str
    knop: str
    items: Tuple[str, ...]  # "onderwerp:<topic id>" or "leven:<life event id>"


@dataclass(frozen=True)
class Knowledge:
    """All knowledge files together."""

    organisations: Mapping[str, Organisation]
    topics: Mapping[str, Topic]
    life_events: Mapping[str, LifeEvent]
    signals: Mapping[str, Signal]
    menu: Tuple[MenuGroup, ...]
    org_variants: Mapping[str, str]  # lowercase variant -> organisation id
    regeling_variants: Mapping[str, str]  # lowercase variant -> regeling id
    spelling: Mapping[str, str]
    debts: Debts
    jargon: Mapping[str, Tuple[str, ...]] = field(default_factory=dict)
    # Pairs of topic groups whose answers depend on each other (afhankelijkheden.yml).
    dependent_pairs: Tuple[Tuple[frozenset[str], frozenset[str]], ...] = ()
    # Phrases about the conversation itself (gesprek.yml): "wat bedoelt u", "klopt niet", …
    phrases: Mapping[str, Tuple[re.Pattern[str], ...]] = field(default_factory=dict)

    def says(self, kind: str, text: str) -> bool:
        """Whether the text is a phrase of this kind (a key of gesprek.yml)."""
        lowered = text.lower().strip()
        return any(p.search(lowered) for p in self.phrases[kind])

    def depend_on_each_other(self, topics: Sequence[str]) -> bool:
        """Whether two of these topics, at different organisations, depend on each other (type 3)."""
        for first, second in self.dependent_pairs:
            for a in topics:
                for b in topics:
                    if a != b and a in first and b in second and self._other_organisation(a, b):
                        return True
        return False

    def _other_organisation(self, a: str, b: str) -> bool:
        return set(self.topics[a].organisations) != set(self.topics[b].organisations)

    def topic_or_event_label(self, key: str) -> str:
        """Label for a candidate key: a topic id or `leven.<life event id>`."""
        if key.startswith("leven."):
            return self.life_events[key.removeprefix("leven.")].label
        return self.topics[key].label

    def topic_or_event_button(self, key: str) -> str:
        """Short button title for a candidate key."""
        if key.startswith("leven."):
            return self.life_events[key.removeprefix("leven.")].knop
        return self.topics[key].knop


def _read(name: str, directory: Path) -> Dict[str, Any]:
    return yaml.safe_load((directory / name).read_text(encoding="utf-8")) or {}


def _compile(patterns: List[str]) -> Tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


# Letters that do not fall apart into a base letter and a mark (Polish l with stroke, Turkish dotless
# i, o with stroke), Arabic letters that people write either way (teh marbuta / heh, alef maksura /
# yeh, the tatweel stretch), and the apostrophes of phone keyboards. Escapes: the letters look alike.
_FOLD_LETTERS = str.maketrans({
    "\u0142": "l", "\u0131": "i", "\u00f8": "o",
    "\u0629": "\u0647", "\u0649": "\u064a", "\u0640": None,
    "\u2019": "'", "\u02bc": "'", "\u2018": "'", "`": "'",
})


def fold(text: str) -> str:
    """Lower case without accents or vowel marks: "Nie chcę żyć" and "nie chce zyc" read the same,
    as do Arabic with and without harakat. Many citizens type without them on a phone."""
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(_FOLD_LETTERS))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_FOLD_LETTERS)


_ESCAPE = re.compile(r"(\\.)")


def fold_pattern(pattern: str) -> str:
    """A regular expression folded like the text (`fold`), its escapes left as written: lower case
    would turn \\W, \\S, \\D and \\B into their opposites."""
    return "".join(part if _ESCAPE.fullmatch(part) else fold(part) for part in _ESCAPE.split(pattern))


def _folded(words: Any) -> Tuple[re.Pattern[str], ...]:
    """Signal words compiled folded like the text they are matched on (`fold_pattern`)."""
    return _compile([fold_pattern(w) for w in words or ()])


def _gemeente_overrides(org: Dict[str, Any]) -> Dict[str, Any]:
    # The demo municipality ships in the knowledge file; an installation names its own.
    env = {
        "naam": os.environ.get("GEMEENTE_NAAM"),
        "telefoon": os.environ.get("GEMEENTE_TELEFOON"),
        "website": os.environ.get("GEMEENTE_WEBSITE"),
        "contact": os.environ.get("GEMEENTE_CONTACT_URL"),
        "bereikbaar": os.environ.get("GEMEENTE_BEREIKBAAR"),
        "privacy": os.environ.get("GEMEENTE_PRIVACY_URL"),
    }
    return {**org, **{k: v for k, v in env.items() if v}}


def load_knowledge(directory: Path = KNOWLEDGE_DIR) -> Knowledge:
    """Read every knowledge file from `directory`."""
    catalogue = _read("catalogus.yml", directory)
    labels = _read("onderwerpen.yml", directory)
    events_extra = _read("levensgebeurtenissen.yml", directory).get("levensgebeurtenissen", {})

    organisations: Dict[str, Organisation] = {}
    for org_id, raw in _read("organisaties.yml", directory)["organisaties"].items():
        if org_id == "gemeente":
            raw = _gemeente_overrides(raw)
        organisations[org_id] = Organisation(id=org_id, **raw)

    topics = {
        t["id"]: Topic(
            id=t["id"],
            organisations=tuple(t["organisations"]),
            label=labels["onderwerpen"][t["id"]]["label"],
            knop=labels["onderwerpen"][t["id"]]["knop"],
        )
        for t in catalogue["topics"]
    }
    life_events = {
        event_id: LifeEvent(
            id=event_id,
            organisations=tuple(raw["organisations"]),
            label=labels["levensgebeurtenissen"][event_id]["label"],
            knop=labels["levensgebeurtenissen"][event_id]["knop"],
            afhankelijk=bool(events_extra.get(event_id, {}).get("afhankelijk", False)),
            patterns=_compile(events_extra.get(event_id, {}).get("woorden", [])),
            topic=events_extra.get(event_id, {}).get("onderwerp"),
            erkenning=events_extra.get(event_id, {}).get("erkenning"),
            signals=tuple(events_extra.get(event_id, {}).get("signalen") or ()),
            signals_with_words=tuple(events_extra.get(event_id, {}).get("signalen_met_woorden") or ()),
        )
        for event_id, raw in catalogue["life_events"].items()
    }
    signals = {
        signal_id: Signal(
            id=signal_id,
            label=raw["label"],
            urgent=bool(raw.get("urgent", False)) or bool(raw.get("hulplijn")),
            patterns=_folded(raw.get("woorden")),
            other_language_patterns=_folded(w for ws in (raw.get("talen") or {}).values() for w in ws),
            hulplijn=raw.get("hulplijn") or None,
            detector=raw.get("detector") or None,
            threshold=float(raw.get("drempel", 0.5)),
            threshold_other_language=(
                float(raw["drempel_andere_taal"]) if raw.get("drempel_andere_taal") is not None else None),
            vandaag=raw.get("vandaag") or None,
            words_only=bool(raw.get("alleen_woorden", False)),
            organisations=tuple(raw.get("organisaties") or ()),
        )
        for signal_id, raw in _read("signalen.yml", directory)["signalen"].items()
    }
    menu = tuple(
        MenuGroup(id=raw["id"], knop=raw["knop"], items=tuple(raw["items"]))
        for raw in _read("menu.yml", directory)["groepen"]
    )
    lexicon = _read("lexicon.yml", directory)
    org_variants = {
        variant.lower(): org_id
        for org_id, variants in lexicon.get("organisaties", {}).items()
        for variant in variants
    }
    regeling_variants = {
        variant.lower(): regeling_id
        for regeling_id, variants in lexicon.get("regelingen", {}).items()
        for variant in variants
    }
    jargon = {
        term: tuple(explanations)
        for term, explanations in _read("taal.yml", directory).get("jargon", {}).items()
    }
    wrong = {e.topic for e in life_events.values() if e.topic and e.topic not in topics}
    if wrong:
        raise ValueError(f"levensgebeurtenissen.yml: onbekend onderwerp {sorted(wrong)}")
    debts = _debts(_read("schuldeisers.yml", directory), life_events, signals, organisations)
    dependencies = _read("afhankelijkheden.yml", directory)
    groups = {name: frozenset(ids) for name, ids in dependencies["groepen"].items()}
    unknown = {t for ids in groups.values() for t in ids} - set(topics)
    if unknown:
        raise ValueError(f"afhankelijkheden.yml noemt onbekende onderwerpen: {sorted(unknown)}")
    return Knowledge(
        organisations=organisations,
        topics=topics,
        life_events=life_events,
        signals=signals,
        menu=menu,
        org_variants=org_variants,
        regeling_variants=regeling_variants,
        spelling=dict(lexicon.get("spelling", {})),
        jargon=jargon,
        dependent_pairs=tuple((groups[a], groups[b]) for a, b in dependencies["paren"]),
        phrases={kind: _compile(p) for kind, p in _read("gesprek.yml", directory)["gesprek"].items()},
        debts=debts,
    )


def _debts(
    raw: Dict[str, Any], events: Mapping[str, LifeEvent], signals: Mapping[str, Signal],
    organisations: Mapping[str, Organisation],
) -> Debts:
    if not raw:
        raise ValueError("schuldeisers.yml is leeg")
    creditors = tuple(
        Creditor(
            id=kind,
            patterns=_folded(entry.get("woorden")),
            organisation=entry.get("organisatie"),
            private=bool(entry.get("prive", False)),
            part_of=entry.get("valt_onder"),
            collects_for_government=bool(entry.get("int_voor_overheid", False)),
            only_with=_folded(entry.get("alleen_met")),
        )
        for kind, entry in raw["soorten"].items()
    )
    debts = Debts(
        event=raw["levensgebeurtenis"],
        signals=tuple(raw["schuld"]),
        several=raw["meerdere"],
        creditors=creditors,
    )
    kinds = {c.id for c in creditors}
    wrong = (
        ({debts.event} - set(events))
        | (set(debts.signals) | {debts.several}) - set(signals)
        | {c.organisation for c in creditors if c.organisation} - set(organisations)
        | {c.part_of for c in creditors if c.part_of} - kinds
    )
    if wrong:
        raise ValueError(f"schuldeisers.yml: onbekend {sorted(wrong)}")
    return debts


@lru_cache(maxsize=1)
def knowledge() -> Knowledge:
    """The knowledge of this installation, read on first use (never at import)."""
    return load_knowledge()
