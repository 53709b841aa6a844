"""What the handover service receives when a case is opened or a callback is requested."""

from __future__ import annotations

from typing import Any, Dict, Optional

from rasa_sdk import Tracker

from bot.intake.consent import casemanager_summary
from bot.intake.contact import ContactDetails
from bot.intake.state import IntakeState
from bot.intake.transcript import language_of, transcript

DEFAULT_CHANNEL = "rest"


def channel_of(tracker: Tracker) -> str:
    return tracker.get_latest_input_channel() or DEFAULT_CHANNEL


def case_payload(
    tracker: Tracker, state: IntakeState, kind: str, contact: Optional[ContactDetails] = None
) -> Dict[str, Any]:
    """With consent: the conversation, the summary (with the citizen's correction), when they agreed
    and which organisations may be involved. Without consent (a callback request): only the contact
    details and the ids of the topic and organisations."""
    consent = state.toestemming is True
    language = language_of(tracker.events)
    summary: Dict[str, Any] = {"topic": state.onderwerp, "organisations": list(state.organisaties)}
    if consent:
        summary.update({
            "question_type": state.vraagtype,
            "urgent": state.urgent,
            "life_event": state.levensgebeurtenis,
            "summary_text": casemanager_summary(state, language.dutch_name),
            "self_service": None,
        })
    details = {
        "phone": contact.phone if contact else None,
        "email": contact.email if contact else None,
        "moment": contact.moment if contact else None,
    }
    return {
        "channel": channel_of(tracker),
        "sender_id": tracker.sender_id,
        "kind": kind,
        "transcript": transcript(tracker.events) if consent else [],
        "summary": summary,
        "consent": consent,
        "consent_at": state.toestemming_tijd if consent else None,
        "consent_organisations": list(state.toestemming_organisaties) if consent else [],
        # Asked after consent only where the municipality registers contacts (Open Klant).
        "consent_registration": consent and state.toestemming_register is True,
        # The conversation language (ISO 639-1): the casemanager's interpreter hint, Open Klant's taal.
        "language": language.code,
        "contact": {k: v for k, v in details.items() if v},
    }
