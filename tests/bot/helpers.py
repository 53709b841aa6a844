"""Shared helpers for the bot tests."""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, List, Optional, Set

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


def external_message(intent: str, entities: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
    """The latest_message of an event the handover service sends through trigger_intent, made by
    Rasa itself (UserUttered.create_external, as Rasa's trigger_intent endpoint does)."""
    from rasa.shared.core.events import UserUttered

    return dict(UserUttered.create_external(intent, entities or [], "socketio").parse_data)


async def as_rasa_sends(messages: List[Dict[str, Any]], channel: str = "socketio") -> List[Any]:
    """What Rasa makes of an action's messages: the bot events (BotUttered), with the responses
    rendered from bot/domain by Rasa's own code (RemoteAction._utter_responses)."""
    from rasa.core.actions.action import RemoteAction
    from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
    from rasa.shared.core.trackers import DialogueStateTracker

    output = SimpleNamespace(name=lambda: channel)
    nlg = TemplatedNaturalLanguageGenerator(domain()["responses"])
    tracker = DialogueStateTracker("burger-42", slots=[])
    return await RemoteAction._utter_responses(copy.deepcopy(messages), output, nlg, tracker)  # type: ignore[arg-type]


def variation_text(variation: Dict[str, Any]) -> str:
    """What a citizen reads of a response variation: its text, or the text of its structured
    message (custom payload under "data", bot/payloads.py)."""
    custom = variation.get("custom")
    data = custom.get("data") if isinstance(custom, dict) else None
    structured = data.get("text") if isinstance(data, dict) else None
    return str(variation.get("text") or structured or "")
