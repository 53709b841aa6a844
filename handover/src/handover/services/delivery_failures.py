"""A message of a case that the bot could not deliver to the citizen (WhatsApp): recorded in the
case as a system message, so the casemanager sees it in the conversation.

The bot sends a notice when Meta refused or failed a casemanager's message for good ("failed"),
or when the message waits because the citizen has not written for more than 24 hours and only
the approved template could go out ("held": it arrives when the citizen answers the template);
then again when such a held message reached the citizen after all ("delivered"), or when the
template itself failed for good, so the citizen does not know a message waits and must be called
back or reached otherwise ("unreachable", with Meta's error code).
The notice names the casemanager's message by a SHA-256 of its text, so the bot never sends the
text back; a notice is stored once per `client_id` (the bot may send it again after a lost answer).

What the casemanager reads is in templates/bezorgmeldingen.yml (plain Dutch), not in this code.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Case, Message, Status, utcnow
from ..settings import HANDOVER_ROOT
from ..uow import UnitOfWork
from .errors import DomainError

log = logging.getLogger(__name__)

SYSTEM_ROLE = "system"
# "delivered": a message reported as held reached the citizen after all (they answered);
# "unreachable": it was held and the template that asks the citizen to write failed for good.
OUTCOMES = frozenset({"held", "failed", "delivered", "unreachable"})
TEXTS_FILE = HANDOVER_ROOT / "templates" / "bezorgmeldingen.yml"


def load_texts(path: Path = TEXTS_FILE) -> dict[str, dict[str, str]]:
    """The sentences of templates/bezorgmeldingen.yml; fails at start when one is missing."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    texts: dict[str, dict[str, str]] = {}
    for part, keys in (
        ("bericht", ("genoemd", "naamloos", "afsluiting", "medewerker", "anders")),
        ("extra", ("foutcode",)),
        ("uitkomst", tuple(sorted(OUTCOMES))),
    ):
        section = data.get(part) if isinstance(data, dict) else None
        if not isinstance(section, dict):
            raise ValueError(f"{path}: '{part}' ontbreekt")
        for key in keys:
            if not isinstance(section.get(key), str) or not section[key].strip():
                raise ValueError(f"{path}: '{part}.{key}' ontbreekt")
        texts[part] = {key: str(section[key]) for key in keys}
    return texts


TEXTS = load_texts()

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
    outcome: str  # "held" | "failed" | "delivered" | "unreachable"
    code: int | None = None  # Meta's error code (131047: 24-hour window closed; 132001: no template)
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
    words = TEXTS["bericht"]
    via = CHANNEL_NAMES.get(channel, channel)
    if named is not None:
        when = named.created_at.astimezone(ZoneInfo(timezone)).strftime("%H.%M")
        what = words["genoemd"].format(naam=named.name or words["naamloos"], tijd=when)
    elif failure.kind == "mode":
        what = words["afsluiting"]
    elif failure.kind == "staff_message":
        what = words["medewerker"]
    else:
        what = words["anders"]
    code = TEXTS["extra"]["foutcode"].format(code=failure.code) if failure.code is not None else ""
    return TEXTS["uitkomst"][failure.outcome].format(wat=what, via=via, foutcode=code)


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
