"""Loading the evaluation set (eval/openings.yml, eval/stories.yml, eval/multilingual.yml) and the bot's
training examples.

Shared by `eval.check` (the set's own checks) and `eval.run` (scoring the bot on the set).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml

EVAL_DIR = Path(__file__).resolve().parent
REPO_ROOT = EVAL_DIR.parent
CATALOGUE = REPO_ROOT / "bot" / "knowledge" / "catalogus.yml"
TRAINING_DIR = REPO_ROOT / "bot" / "data" / "nlu"
DETECTORS_FILE = REPO_ROOT / "bot" / "knowledge" / "detectors.yml"  # the detector heads' examples
OPENINGS_FILE = EVAL_DIR / "openings.yml"
STORIES_FILE = EVAL_DIR / "stories.yml"
MULTILINGUAL_FILE = EVAL_DIR / "multilingual.yml"

LABEL_FIELDS = (
    "topics", "organisations", "question_type", "life_event", "urgent",
    "deadline_days", "crisis", "wants_person", "language",
)


@dataclass(frozen=True)
class Labels:
    """The gold labels of one opening message or one whole story."""

    topics: Tuple[str, ...]
    organisations: Tuple[str, ...]
    question_type: Optional[int]
    life_event: Optional[str]
    urgent: bool
    deadline_days: Optional[int]
    crisis: bool
    wants_person: bool
    language: str

    @property
    def main_topic(self) -> Optional[str]:
        return self.topics[0] if self.topics else None


@dataclass(frozen=True)
class Item:
    """One evaluation item: an opening message (one turn) or a story (several citizen turns)."""

    id: str
    part: str  # "openings" | "languages" | "stories" | "multilingual"
    turns: Tuple[str, ...]
    labels: Labels
    source: Optional[str] = None
    notes: Tuple[Optional[str], ...] = field(default=())
    raw: Dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def text(self) -> str:
        """All citizen turns as one message (what the bot would see if it read the whole story)."""
        return " ".join(t.strip() for t in self.turns)


@dataclass(frozen=True)
class Catalogue:
    """The fixed ids of shared/catalogue.yml (via its copy bot/knowledge/catalogus.yml)."""

    organisations: Tuple[str, ...]
    topics: Dict[str, Tuple[str, ...]]  # topic id -> organisations that handle it
    life_events: Dict[str, Tuple[str, ...]]  # life event id -> organisations


def load_catalogue(path: Path = CATALOGUE) -> Catalogue:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Catalogue(
        organisations=tuple(data["organisations"]),
        topics={t["id"]: tuple(t.get("organisations") or ()) for t in data["topics"]},
        life_events={k: tuple(v.get("organisations") or ()) for k, v in data["life_events"].items()},
    )


def _labels(record: Dict[str, Any]) -> Labels:
    missing = [f for f in LABEL_FIELDS if f not in record]
    if missing:
        raise ValueError(f"{record.get('id')}: missing label field(s) {', '.join(missing)}")
    return Labels(
        topics=tuple(record["topics"] or ()),
        organisations=tuple(record["organisations"] or ()),
        question_type=record["question_type"],
        life_event=record["life_event"],
        urgent=record["urgent"],
        deadline_days=record["deadline_days"],
        crisis=record["crisis"],
        wants_person=record["wants_person"],
        language=record["language"],
    )


def load_openings(path: Path = OPENINGS_FILE) -> Tuple[List[Item], List[Item]]:
    """(Dutch openings, messages in other languages)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    parts: Dict[str, List[Item]] = {"openings": [], "languages": []}
    for part in parts:
        for record in data.get(part) or []:
            text = str(record.get("text") or "")
            parts[part].append(Item(id=str(record.get("id")), part=part, turns=(text,),
                                    labels=_labels(record), raw=record))
    return parts["openings"], parts["languages"]


def load_stories(path: Path = STORIES_FILE) -> List[Item]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    items = []
    for record in data.get("stories") or []:
        turns = record.get("turns") or []
        items.append(Item(
            id=str(record.get("id")), part="stories",
            turns=tuple(str(t.get("text") or "") for t in turns),
            notes=tuple(t.get("note") for t in turns),
            source=record.get("source"), labels=_labels(record), raw=record,
        ))
    return items


def load_multilingual(path: Path = MULTILINGUAL_FILE) -> List[Item]:
    """The multilingual set (issue 15): first messages in six languages, each with its `language`."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [
        Item(id=str(record.get("id")), part="multilingual", turns=(str(record.get("text") or ""),),
             labels=_labels(record), raw=record)
        for record in data.get("multilingual") or []
    ]


def load_all() -> Dict[str, List[Item]]:
    openings, languages = load_openings()
    return {"openings": openings, "languages": languages, "stories": load_stories(),
            "multilingual": load_multilingual()}


# --- training data ---------------------------------------------------------------------------------

_ANNOTATION = re.compile(r"\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\{[^}]*\}")


def training_examples(
    directory: Path = TRAINING_DIR, detectors: Path = DETECTORS_FILE
) -> List[Tuple[str, str]]:
    """(file:intent, example text) for every example in bot/data/nlu/*.yml, entity markup removed,
    and (detectors.yml:name, text) for every example of the detector heads."""
    found: List[Tuple[str, str]] = []
    if detectors.is_file():
        raw = yaml.safe_load(detectors.read_text(encoding="utf-8")) or {}
        for name, spec in (raw.get("detectors") or {}).items():
            for side in ("positive", "negative"):
                found.extend((f"{detectors.name}:{name}", str(t)) for t in spec.get(side) or ())
    for path in sorted(directory.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu") or []:
            examples = block.get("examples")
            if not isinstance(examples, str):
                continue
            name = next((str(block[k]) for k in ("intent", "synonym", "lookup", "regex") if k in block), "?")
            for line in examples.splitlines():
                line = line.strip()
                if line.startswith("- "):
                    text = _ANNOTATION.sub(lambda m: m.group(1) or m.group(2) or "", line[2:])
                    found.append((f"{path.name}:{name}", text))
    return found


_PUNCT = re.compile(r"[^\w\s]|_", re.UNICODE)


def normalise(text: str) -> str:
    """Lowercase, punctuation and emoji stripped, whitespace collapsed."""
    return " ".join(_PUNCT.sub(" ", text.lower()).split())
