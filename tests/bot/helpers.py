"""Shared helpers for the bot tests."""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, List, Optional, Set, Tuple

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


# --- one turn of action_turn (bot/actions/turn.py) on a Tracker made from a dict ------------------

SENDER = "burger-42"
CHANNEL = "socketio"
NOW = datetime(2025, 3, 4, 10, 30, tzinfo=timezone.utc)
# What the citizen and the bot said before the latest message (the case's transcript).
EARLIER = [
    {"event": "user", "text": "ik kan mijn boete niet betalen", "timestamp": 1, "input_channel": CHANNEL},
    {"event": "bot", "text": "Klopt dat?", "timestamp": 2},
]


def tracker(
    text: str,
    intent: str,
    slots: Optional[Dict[str, Any]] = None,
    entities: Optional[List[Dict[str, Any]]] = None,
    *,
    events: Optional[List[Dict[str, Any]]] = None,
    metadata: Optional[Dict[str, Any]] = None,
    confidence: float = 1.0,
    sender_id: str = SENDER,
) -> Any:
    """The tracker as the action server gets it after the citizen's message: its NLU parse decides."""
    from rasa_sdk import Tracker

    return Tracker.from_dict(
        {
            "sender_id": sender_id,
            "slots": slots or {},
            "latest_message": {
                "text": text,
                "intent": {"name": intent, "confidence": confidence},
                "intent_ranking": [{"name": intent, "confidence": confidence}],
                "entities": entities or [],
                "metadata": metadata or {},
            },
            "latest_input_channel": CHANNEL,
            "events": copy.deepcopy(EARLIER) if events is None else events,
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        }
    )


def click(choice: str, slots: Optional[Dict[str, Any]] = None) -> Any:
    """A button press: payload /kies{"keuze": choice}, intent kies."""
    from bot.intake.state import choice_payload

    return tracker(choice_payload(choice), "kies", slots, [{"entity": "keuze", "value": choice}])


def from_handover(
    intent: str, slots: Optional[Dict[str, Any]] = None, entities: Optional[List[Dict[str, Any]]] = None
) -> Any:
    """The tracker after the handover service's trigger_intent (the event as Rasa makes it)."""
    message = external_message(intent, entities)
    return tracker(message["text"], intent, slots, entities, metadata=message["metadata"])


async def take_turn(gateway: Any, latest: Any, clock: Any = None) -> Tuple[Any, List[Dict[str, Any]]]:
    """Run action_turn once on `latest` with `gateway`; the dispatcher and the events it returns."""
    from rasa_sdk.executor import CollectingDispatcher

    from bot.actions.turn import ActionTurn

    dispatcher = CollectingDispatcher()
    events = await ActionTurn(gateway=gateway, clock=clock or (lambda: NOW)).run(dispatcher, latest, {})
    return dispatcher, events


def responses_of(dispatcher: Any) -> List[Optional[str]]:
    """The response names the citizen got, in order (None for a knowledge text); a translated
    response (bot/i18n/) carries its name as `utter_action`, as Rasa records it."""
    return [m.get("response") or m.get("utter_action") for m in dispatcher.messages]


def apply(slots: Dict[str, Any], events: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The slots after the action's events (action_turn returns only SlotSet events)."""
    updated = dict(slots)
    for event in events:
        assert event["event"] == "slot", event
        updated[event["name"]] = event["value"]
    return updated


class Chat:
    """Runs action_turn turn by turn and keeps the slots as Rasa would."""

    def __init__(self, gateway: Any, slots: Optional[Dict[str, Any]] = None, clock: Any = None) -> None:
        self.gateway = gateway
        self.slots: Dict[str, Any] = dict(slots or {})
        self.clock = clock
        self.events: List[Dict[str, Any]] = []
        self.messages: List[Dict[str, Any]] = []

    @property
    def responses(self) -> List[Optional[str]]:
        return [m.get("response") or m.get("utter_action") for m in self.messages]

    async def send(self, latest: Any) -> Any:
        """One message (a tracker made by `tracker`, `click` or `from_handover`), with our slots."""
        from rasa_sdk import Tracker

        current = Tracker.from_dict({**latest.current_state(), "slots": dict(self.slots)})
        dispatcher, self.events = await take_turn(self.gateway, current, self.clock)
        self.slots = apply(self.slots, self.events)
        self.messages = list(dispatcher.messages)
        return dispatcher

    async def say(self, text: str, intent: str = "nlu_fallback", **kwargs: Any) -> Any:
        return await self.send(tracker(text, intent, **kwargs))

    async def press(self, choice: str) -> Any:
        return await self.send(click(choice))

    async def ask_person(self) -> Any:
        return await self.say("ik wil een mens spreken", "medewerker")
