"""The citizen wants a person: ask consent, then a live chat in the queue or a callback request.

Without a handover service (HANDOVER_URL unset) or when it is down, the bot says so honestly and
gives the municipality's own contact route.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.clients.handover import HandoverClient, HandoverUnavailable
from bot.actions.messages import intake, send, state_of
from bot.intake.contact import ContactDetails, find_contact
from bot.intake.engine import ASKING_CONSENT, ASKING_CONTACT, IntakeState, Reply, choice_payload
from bot.intake.transcript import transcript
from bot.settings import BotSettings

DEFAULT_CHANNEL = "rest"


def case_payload(
    tracker: Tracker, state: IntakeState, kind: str, contact: Optional[ContactDetails] = None
) -> Dict[str, Any]:
    """What the casemanager receives: the whole conversation (only with consent) and the intake."""
    consent = bool(state.toestemming)
    return {
        "channel": tracker.get_latest_input_channel() or DEFAULT_CHANNEL,
        "sender_id": tracker.sender_id,
        "kind": kind,
        "transcript": transcript(tracker.events) if consent else [],
        "summary": {
            "topic": state.onderwerp,
            "organisations": list(state.organisaties),
            "question_type": state.vraagtype,
            "urgent": state.urgent,
            "life_event": state.levensgebeurtenis,
            "summary_text": state.samenvatting or " ".join(state.verhaal) or None,
            "self_service": None,
        },
        "consent": consent,
        "contact": {
            k: v
            for k, v in {
                "phone": contact.phone if contact else None,
                "email": contact.email if contact else None,
                "moment": contact.moment if contact else None,
            }.items()
            if v
        },
    }


def contact_route(dispatcher: CollectingDispatcher, intro: str) -> None:
    """The municipality's own phone / website, after an intro sentence."""
    send(dispatcher, [Reply(response=intro), intake().contact("gemeente")])


async def offer_person(dispatcher: CollectingDispatcher, tracker: Tracker, state: IntakeState) -> List[EventType]:
    """Consent first; then the live queue when someone is available, else a callback request."""
    settings = BotSettings.from_env()
    if not settings.handover_url:
        contact_route(dispatcher, "utter_medewerker_contact")
        return []
    if tracker.get_slot("handover_actief"):
        dispatcher.utter_message(response="utter_al_in_gesprek", referentie=tracker.get_slot("handover_referentie"))
        return []
    if state.toestemming is None:
        summary = state.samenvatting or " ".join(state.verhaal) or "U wilt met een medewerker praten."
        dispatcher.utter_message(
            response="utter_vraag_toestemming",
            samenvatting=summary,
            buttons=[
                {"title": "Ja, dat mag", "payload": choice_payload("toestemming|ja")},
                {"title": "Nee, liever niet", "payload": choice_payload("toestemming|nee")},
            ],
        )
        return [SlotSet("intake_fase", ASKING_CONSENT)]
    client = HandoverClient(settings)
    try:
        offer = (await client.availability()).get("offer")
        if offer != "live":
            dispatcher.utter_message(response="utter_terugbellen_vraag_contact")
            return [SlotSet("intake_fase", ASKING_CONTACT)]
        case = await client.create_case(case_payload(tracker, state, "chat"))
    except HandoverUnavailable:
        contact_route(dispatcher, "utter_medewerker_niet_bereikbaar")
        return []
    dispatcher.utter_message(
        response="utter_in_wachtrij",
        referentie=case["reference"],
        positie=case.get("queue_position") or 1,
        wachttijd=case.get("expected_wait_minutes") or 5,
    )
    return [SlotSet("handover_actief", True), SlotSet("handover_referentie", case["reference"])]


async def request_callback(dispatcher: CollectingDispatcher, tracker: Tracker, state: IntakeState) -> List[EventType]:
    """Send a callback request with the contact details from the citizen's last message."""
    details = find_contact(tracker.latest_message.get("text") or "")
    settings = BotSettings.from_env()
    if not details.reachable or not settings.handover_url:
        dispatcher.utter_message(response="utter_vraag_contactgegevens_opnieuw")
        return [SlotSet("intake_fase", ASKING_CONTACT)]
    try:
        case = await HandoverClient(settings).create_case(case_payload(tracker, state, "callback", details))
    except HandoverUnavailable:
        contact_route(dispatcher, "utter_medewerker_niet_bereikbaar")
        return []
    dispatcher.utter_message(response="utter_terugbelverzoek_ontvangen", referentie=case["reference"])
    return [SlotSet("handover_referentie", case["reference"])]


class ActionMedewerker(Action):
    """The citizen asks for a person (or for erasure of their data)."""

    def name(self) -> str:
        return "action_medewerker"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Offer a person; an erasure request gets the municipality's contact route."""
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent == "verwijder_gegevens":
            contact_route(dispatcher, "utter_verwijder_gegevens")
            return []
        return await offer_person(dispatcher, tracker, state_of(tracker))
