"""Build the Dutch spaCy pipeline that Rasa's SpacyNLP component loads.

`nl_core_news_sm` cannot be downloaded on our machines (it is not on PyPI), so the default pipeline
is complete without it: a blank Dutch tokenizer, spelling fixes as lemmas, the lookup lemmatizer
from spacy-lookups-data (its tables are stored inside the pipeline, so the runtime does not need
the package), and an entity ruler for organisations, regelingen and amounts. When
`nl_core_news_sm` is installed, it is used as the base instead and the same rules are added.

Usage: python -m bot.nlp.build OUTPUT_DIR [--base nl_core_news_sm|blank]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import logging
from pathlib import Path
from typing import Dict, List, Optional

import spacy
import yaml
from spacy.language import Language

from bot.intake.knowledge import KNOWLEDGE_DIR

logger = logging.getLogger(__name__)

BASE_MODEL = "nl_core_news_sm"
LEXICON = KNOWLEDGE_DIR / "lexicon.yml"

# Amounts as citizens write them: "€ 250", "€250,50", "250 euro", "1.200 eur".
AMOUNT_PATTERNS: List[Dict] = [
    {"label": "bedrag", "pattern": [{"ORTH": "€"}, {"LIKE_NUM": True}]},
    {"label": "bedrag", "pattern": [{"TEXT": {"REGEX": r"^€\d[\d.,]*$"}}]},
    {"label": "bedrag", "pattern": [{"LIKE_NUM": True}, {"LOWER": {"IN": ["euro", "eur", "euries"]}}]},
]


def entity_patterns(lexicon: dict) -> List[Dict]:
    """Entity ruler patterns: organisation and regeling variants (by lowercase text) and amounts."""
    patterns: List[Dict] = []
    for label, section in (("organisatie", "organisaties"), ("regeling", "regelingen")):
        for entity_id, variants in (lexicon.get(section) or {}).items():
            for variant in variants:
                patterns.append({"label": label, "pattern": variant.lower(), "id": entity_id})
    return patterns + AMOUNT_PATTERNS


def spelling_rules(lexicon: dict) -> List[Dict]:
    """Attribute-ruler rules that give frequent misspellings the lemma of the right word."""
    return [
        {"patterns": [[{"LOWER": wrong.lower()}]], "attrs": {"LEMMA": right.lower(), "NORM": right.lower()}}
        for wrong, right in (lexicon.get("spelling") or {}).items()
        if " " not in wrong
    ]


def base_available() -> bool:
    """Whether the optional trained Dutch spaCy model is installed."""
    return importlib.util.find_spec(BASE_MODEL) is not None


def build_pipeline(lexicon: dict, base: Optional[str] = None) -> Language:
    """Create the pipeline in memory."""
    if base == BASE_MODEL:
        nlp = spacy.load(BASE_MODEL, exclude=["parser"])
    else:
        nlp = spacy.blank("nl")
    before = {"before": "ner"} if "ner" in nlp.pipe_names else {}
    ruler = nlp.add_pipe("attribute_ruler", name="spelling", **before)
    ruler.add_patterns(spelling_rules(lexicon))
    if "lemmatizer" not in nlp.pipe_names:
        # Lookup mode: the rule mode needs part-of-speech tags that the blank pipeline lacks.
        nlp.add_pipe("lemmatizer", config={"mode": "lookup"}, **before)
        nlp.get_pipe("lemmatizer").initialize()
    entities = nlp.add_pipe(
        "entity_ruler", config={"phrase_matcher_attr": "LOWER", "overwrite_ents": True}, **before
    )
    entities.add_patterns(entity_patterns(lexicon))
    return nlp


def fingerprint(lexicon_text: str, base: Optional[str]) -> str:
    """Identifies what the pipeline was built from (lexicon, builder code, base model)."""
    code = Path(__file__).read_bytes()
    return hashlib.sha256(lexicon_text.encode() + code + str(base).encode()).hexdigest()[:16]


def main(argv: Optional[List[str]] = None) -> None:
    """Build the pipeline into OUTPUT_DIR unless an identical one is already there."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--base", choices=[BASE_MODEL, "blank", "auto"], default="auto")
    args = parser.parse_args(argv)
    base = BASE_MODEL if args.base == BASE_MODEL or (args.base == "auto" and base_available()) else None
    lexicon_text = LEXICON.read_text(encoding="utf-8")
    stamp = args.output / "intake_fingerprint.json"
    wanted = fingerprint(lexicon_text, base)
    if stamp.exists() and json.loads(stamp.read_text())["fingerprint"] == wanted:
        print(f"spaCy-pipeline is up to date: {args.output}")
        return
    nlp = build_pipeline(yaml.safe_load(lexicon_text) or {}, base)
    nlp.meta["name"] = "intake"
    nlp.meta["description"] = f"Dutch intake pipeline on {base or 'spacy.blank(nl)'}"
    nlp.to_disk(args.output)
    stamp.write_text(json.dumps({"fingerprint": wanted, "base": base or "blank"}))
    print(f"spaCy-pipeline built ({base or 'blank nl'}, {nlp.pipe_names}): {args.output}")


if __name__ == "__main__":
    main()
