"""The citizen wants a person: ask consent, then a live chat in the queue or a callback request.

Without a handover service (HANDOVER_URL unset) or when it is down, the bot says so honestly and
gives the municipality's own contact route.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.clients.handover import HandoverClient, HandoverUnavailable
from bot.actions.clients.outbox import Sent, handover_outbox
from bot.actions.messages import intake, send, slot_changes, state_of
from bot.intake.consent import casemanager_summary
from bot.intake.contact import ContactDetails, find_contact
from bot.intake.engine import ASKING_CONTACT, DONE, IntakeState, Reply
from bot.intake.transcript import transcript
from bot.settings import BotSettings

DEFAULT_CHANNEL = "rest"


def case_payload(
    tracker: Tracker, state: IntakeState, kind: str, contact: Optional[ContactDetails] = None
) -> Dict[str, Any]:
    """What the casemanager receives. With consent: the conversation, the summary (with the citizen's
    correction), when they agreed and which organisations may be involved. Without consent (a callback
    request): only the contact details and the ids of the topic and organisations."""
    consent = state.toestemming is True
    summary: Dict[str, Any] = {"topic": state.onderwerp, "organisations": list(state.organisaties)}
    if consent:
        summary.update({
            "question_type": state.vraagtype,
            "urgent": state.urgent,
            "life_event": state.levensgebeurtenis,
            "summary_text": casemanager_summary(state),
            "self_service": None,
        })
    return {
        "channel": tracker.get_latest_input_channel() or DEFAULT_CHANNEL,
        "sender_id": tracker.sender_id,
        "kind": kind,
        "transcript": transcript(tracker.events) if consent else [],
        "summary": summary,
        "consent": consent,
        "consent_at": state.toestemming_tijd if consent else None,
        "consent_organisations": list(state.toestemming_organisaties) if consent else [],
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


async def offer_person(
    dispatcher: CollectingDispatcher, tracker: Tracker, state: IntakeState
) -> List[EventType]:
    """Consent first; then the live queue when someone is available, else a callback request."""
    settings = BotSettings.from_env()
    if not settings.handover_url:
        contact_route(dispatcher, "utter_medewerker_contact")
        return []
    if tracker.get_slot("handover_actief"):
        dispatcher.utter_message(
            response="utter_al_in_gesprek", referentie=tracker.get_slot("handover_referentie")
        )
        return []
    if state.toestemming is not True:
        # Nothing reaches the handover service before the citizen has seen what is shared and agreed.
        turn = intake().ask_consent(state)
        send(dispatcher, turn.replies)
        return slot_changes(state, turn.state)
    client = HandoverClient(settings)
    try:
        offer = (await client.availability()).get("offer")
        if offer != "live":
            dispatcher.utter_message(response="utter_terugbellen_vraag_contact")
            return [SlotSet("intake_fase", ASKING_CONTACT)]
        case = await client.create_case(case_payload(tracker, state, "chat"))
    except HandoverUnavailable:
        # Honest about it, the phone route now, and a callback request that waits in the outbox.
        contact_route(dispatcher, "utter_medewerker_niet_bereikbaar")
        dispatcher.utter_message(response="utter_terugbellen_aanbod")
        return [SlotSet("intake_fase", ASKING_CONTACT)]
    dispatcher.utter_message(
        response="utter_in_wachtrij",
        referentie=case["reference"],
        positie=case.get("queue_position") or 1,
        wachttijd=case.get("expected_wait_minutes") or 5,
    )
    return [SlotSet("handover_actief", True), SlotSet("handover_referentie", case["reference"])]


async def request_callback(
    dispatcher: CollectingDispatcher, tracker: Tracker, state: IntakeState
) -> List[EventType]:
    """Send a callback request with the contact details from the citizen's last message."""
    details = find_contact(tracker.latest_message.get("text") or "")
    settings = BotSettings.from_env()
    if not details.reachable or not settings.handover_url:
        dispatcher.utter_message(response="utter_vraag_contactgegevens_opnieuw")
        return [SlotSet("intake_fase", ASKING_CONTACT)]
    sent = await handover_outbox(settings).request_callback(case_payload(tracker, state, "callback", details))
    if sent.status is Sent.DELIVERED:
        reference = sent.answer["reference"]
        dispatcher.utter_message(response="utter_terugbelverzoek_ontvangen", referentie=reference)
        return [SlotSet("handover_referentie", reference)]
    if sent.status is Sent.QUEUED:  # the service is down: the request goes out when it is back
        dispatcher.utter_message(response="utter_terugbelverzoek_bewaard")
        return []
    contact_route(dispatcher, "utter_medewerker_niet_bereikbaar")
    return []


class ActionMedewerker(Action):
    """The citizen asks for a person (erasure requests: bot/actions/privacy.py)."""

    def name(self) -> str:
        return "action_medewerker"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Offer a person."""
        state = state_of(tracker)
        # "Bel mij op 06 …" reads as asking for a person, but while the bot waits for contact details
        # it answers that question: take the callback request instead of offering a person again.
        text = tracker.latest_message.get("text") or ""
        if state.intake_fase == ASKING_CONTACT and find_contact(text).reachable:
            done = replace(state, intake_fase=DONE)
            return [SlotSet("intake_fase", DONE), *await request_callback(dispatcher, tracker, done)]
        return await offer_person(dispatcher, tracker, state)
