"""Shared helpers for the bot tests."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Set

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_DIR = ROOT / "bot" / "domain"


@lru_cache(maxsize=1)
def domain() -> Dict[str, Any]:
    """The merged domain (every feature file), as plain data."""
    merged: Dict[str, Any] = {"intents": [], "responses": {}, "actions": [], "slots": {}, "entities": []}
    for path in sorted(DOMAIN_DIR.glob("*.yml")):
        part = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        merged["intents"] += part.get("intents") or []
        merged["actions"] += part.get("actions") or []
        merged["entities"] += part.get("entities") or []
        merged["responses"].update(part.get("responses") or {})
        merged["slots"].update(part.get("slots") or {})
    return merged


def domain_responses() -> Set[str]:
    """Names of all responses in the domain."""
    return set(domain()["responses"])
