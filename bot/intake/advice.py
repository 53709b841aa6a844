"""Replies about organisations that several parts give: how to reach one, the steps, the privacy page."""

from __future__ import annotations

from typing import Sequence, Tuple

from bot.intake.knowledge import Knowledge
from bot.intake.state import Reply

GEMEENTE = "gemeente"


def numbered(steps: Sequence[str], start: int = 1) -> str:
    """Steps as a numbered list, one per line."""
    return "\n".join(f"{i}. {step}" for i, step in enumerate(steps, start=start))


def privacy_note(kb: Knowledge) -> Tuple[Reply, ...]:
    """Where the gemeente explains what it stores and how long (sources L-11); nothing without a page."""
    page = kb.organisations[GEMEENTE].privacy
    return (Reply(response="utter_privacy_bewaren", variables={"privacy_url": page}),) if page else ()


def contact(kb: Knowledge, org_id: str) -> Reply:
    """How to reach an organisation: its website, and its phone number when we know it for sure."""
    org = kb.organisations[org_id]
    variables = {"naam": org.naam, "wat": org.wat, "contact": org.contact}
    if org.telefoon:
        hours = f" ({org.bereikbaar})" if org.bereikbaar else ""
        phone = org.telefoon + hours
        return Reply(response="utter_contact_telefoon", variables={**variables, "telefoon": phone})
    return Reply(response="utter_contact_website", variables=variables)
