"""A message of a case that the bot could not deliver to the citizen (WhatsApp): recorded in the
case as a system message, so the casemanager sees it in the conversation.

The bot sends a notice when Meta refused or failed a casemanager's message for good ("failed"),
or when the message waits because the citizen has not written for more than 24 hours and only
the approved template could go out ("held": it arrives when the citizen answers the template);
then again when such a held message reached the citizen after all ("delivered").
The notice names the casemanager's message by a SHA-256 of its text, so the bot never sends the
text back; a notice is stored once per `client_id` (the bot may send it again after a lost answer).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Case, Message, Status, utcnow
from ..uow import UnitOfWork
from .errors import DomainError

log = logging.getLogger(__name__)

SYSTEM_ROLE = "system"
# "delivered": a message reported as held reached the citizen after all (they answered).
OUTCOMES = frozenset({"held", "failed", "delivered"})
# Which message it was, as the bot knows it: a casemanager's words, the closing of the case
# (its next steps), or another text sent on behalf of the case.
KINDS = frozenset({"staff_message", "mode", "text"})
CHANNEL_NAMES = {"whatsapp": "WhatsApp"}


class NoCaseForConversation(DomainError):
    def __init__(self) -> None:
        super().__init__("Er is geen zaak voor dit gesprek")


@dataclass(frozen=True)
class DeliveryFailure:
    client_id: str
    outcome: str  # "held" | "failed" | "delivered"
    code: int | None = None  # Meta's error code (131047: 24-hour window closed)
    kind: str = "text"
    text_sha256: str | None = None


async def _latest_case(session: AsyncSession, channel: str, sender_id: str) -> Case | None:
    """The open case of the conversation, else the one closed last (its closing message failed)."""
    found: Case | None = await session.scalar(
        select(Case)
        .where(Case.channel == channel, Case.sender_id == sender_id)
        .order_by((Case.status == Status.CLOSED).asc(), Case.created_at.desc(), Case.id.desc())
        .limit(1)
    )
    return found


async def _stored(session: AsyncSession, case_id: int, client_id: str) -> Message | None:
    found: Message | None = await session.scalar(
        select(Message).where(Message.case_id == case_id, Message.client_id == client_id)
    )
    return found


async def _named_message(session: AsyncSession, case: Case, text_sha256: str | None) -> Message | None:
    """The casemanager's message with this text (the latest, when the same text was sent twice)."""
    if not text_sha256:
        return None
    rows = await session.scalars(
        select(Message)
        .where(Message.case_id == case.id, Message.role == "casemanager")
        .order_by(Message.id.desc())
        .limit(200)
    )
    for message in rows:
        if hashlib.sha256(message.text.strip().encode("utf-8")).hexdigest() == text_sha256:
            return message
    return None


def describe(failure: DeliveryFailure, channel: str, named: Message | None, timezone: str) -> str:
    """What the casemanager reads in the conversation (Dutch, no personal data)."""
    via = CHANNEL_NAMES.get(channel, channel)
    if named is not None:
        when = named.created_at.astimezone(ZoneInfo(timezone)).strftime("%H.%M")
        what = f"Het bericht van {named.name or 'de medewerker'} van {when} uur"
    elif failure.kind == "mode":
        what = "Het bericht dat de zaak is afgesloten"
    elif failure.kind == "staff_message":
        what = "Een bericht van een medewerker"
    else:
        what = "Een bericht aan de inwoner"
    if failure.outcome == "delivered":
        return f"{what} is nu toch aangekomen bij de inwoner (via {via})."
    if failure.outcome == "held":
        return (
            f"{what} is nog niet aangekomen. De inwoner heeft langer dan 24 uur niets gestuurd. "
            f"{via} laat dan alleen een vaste melding toe; die is verstuurd. Het bericht komt aan "
            "als de inwoner daarop reageert. Is het dringend? Neem dan op een andere manier contact op."
        )
    code = f" (foutcode {failure.code})" if failure.code is not None else ""
    return (
        f"{what} is niet aangekomen{code}. {via} stuurt het niet opnieuw. "
        "Neem op een andere manier contact op met de inwoner."
    )


def _event(case: Case, msg: Message) -> dict[str, Any]:
    """The same realtime event as a chat message (services/chat_messages.py)."""
    return {
        "type": "message",
        "reference": case.reference,
        "role": msg.role,
        "text": msg.text,
        "name": msg.name,
        "timestamp": msg.created_at.isoformat(),
        "access": {"status": case.status, "team": case.team, "claimed_by_id": case.claimed_by_id},
    }


async def record_delivery_failure(
    uow: UnitOfWork, channel: str, sender_id: str, failure: DeliveryFailure, timezone: str
) -> tuple[Case, Message]:
    """Store the notice once in the conversation's case as a system message and push it live."""
    case = await _latest_case(uow.session, channel, sender_id)
    if case is None:
        raise NoCaseForConversation()
    existing = await _stored(uow.session, case.id, failure.client_id)
    if existing is not None:
        return case, existing
    named = await _named_message(uow.session, case, failure.text_sha256)
    msg = Message(
        case_id=case.id,
        role=SYSTEM_ROLE,
        name=CHANNEL_NAMES.get(channel, channel),
        text=describe(failure, channel, named, timezone),
        created_at=utcnow(),
        client_id=failure.client_id,
    )
    try:
        async with uow.session.begin_nested():
            uow.session.add(msg)
            await uow.session.flush()
    except IntegrityError:
        # A concurrent repeat with the same client_id won; the savepoint keeps the transaction usable.
        existing = await _stored(uow.session, case.id, failure.client_id)
        if existing is None:
            raise
        return case, existing
    log.info(
        "delivery failure (%s, code %s) recorded for case %s", failure.outcome, failure.code, case.reference
    )
    uow.publish(_event(case, msg))
    return case, msg
