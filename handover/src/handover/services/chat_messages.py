"""The live chat: a citizen's message from the bot, and a casemanager's message to the citizen."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Case, Kind, Message, Status, User, utcnow
from ..uow import UnitOfWork
from .cases import clean_text, get_case
from .errors import InvalidTransition, NotAChat, SenderMismatch
from .permissions import require_owner
from .rasa_calls import enqueue_rasa

log = logging.getLogger(__name__)


def _message_event(case: Case, msg: Message) -> dict[str, Any]:
    return {
        "type": "message",
        "reference": case.reference,
        "id": msg.id,
        "role": msg.role,
        "text": msg.text,
        "name": msg.name,
        "timestamp": msg.created_at.isoformat(),
        # Whoever handles the case: only their page raises a notification (werkplek.js).
        "handler_id": case.claimed_by_id,
        # Who may read the full text (access.redaction_reason); the hub strips it before sending.
        "access": {"status": case.status, "team": case.team, "claimed_by_id": case.claimed_by_id},
    }


async def _message_by_client_id(session: AsyncSession, case_id: int, client_id: str) -> Message | None:
    found: Message | None = await session.scalar(
        select(Message).where(Message.case_id == case_id, Message.client_id == client_id)
    )
    return found


async def add_citizen_message(
    uow: UnitOfWork, reference: str, sender_id: str, text: str, client_id: str | None = None
) -> Message:
    """Store a citizen message. A repeat with the same `client_id` (the bot's outbox retrying
    after a lost answer) returns the stored message instead of adding it twice."""
    case = await get_case(uow.session, reference)
    if case.sender_id != sender_id:
        raise SenderMismatch(case.reference)
    if client_id is not None:
        # Checked before the closed state: a message stored before closing is still "accepted".
        existing = await _message_by_client_id(uow.session, case.id, client_id)
        if existing is not None:
            return existing
    if case.status == Status.CLOSED:
        raise InvalidTransition(case.reference, case.status, "een bericht toevoegen")
    msg = Message(
        case_id=case.id, role="citizen", text=clean_text(text), created_at=utcnow(), client_id=client_id
    )
    try:
        async with uow.session.begin_nested():
            uow.session.add(msg)
            await uow.session.flush()
    except IntegrityError:
        # A concurrent repeat with the same client_id won; the savepoint keeps the transaction usable.
        existing = await _message_by_client_id(uow.session, case.id, client_id) if client_id else None
        if existing is None:
            raise
        return existing
    log.info("citizen message %s stored for case %s", msg.id, case.reference)
    uow.publish(_message_event(case, msg))
    return msg


def casemanager_key(user: User, client_id: object) -> str | None:
    """The stored idempotency key of a casemanager's message: the page's own id, bound to the
    casemanager (and apart from the bot's keys for citizen messages); None without a usable id."""
    if isinstance(client_id, int) and not isinstance(client_id, bool):
        client_id = str(client_id)
    if not isinstance(client_id, str) or not 1 <= len(client_id) <= 40 or not client_id.isprintable():
        return None
    return f"cm:{user.id}:{client_id}"


async def send_casemanager_message(
    uow: UnitOfWork, reference: str, user: User, text: str, client_id: object = None
) -> Message:
    """Store and send a casemanager's message. The same `client_id` from the same casemanager (the
    page sending again after its connection dropped) is one message, sent once."""
    case = await get_case(uow.session, reference)
    if case.kind != Kind.CHAT:
        raise NotAChat(case.reference)
    key = casemanager_key(user, client_id)
    if key is not None:
        existing = await _message_by_client_id(uow.session, case.id, key)
        if existing is not None:
            return existing
    require_owner(uow.session, case, user, "bericht sturen")
    msg = Message(
        case_id=case.id,
        role="casemanager",
        text=clean_text(text),
        name=user.first_name,
        created_at=utcnow(),
        client_id=key,
    )
    try:
        async with uow.session.begin_nested():
            uow.session.add(msg)
            await uow.session.flush()
    except IntegrityError:
        # The same message from a second connection won; the savepoint keeps the transaction usable.
        existing = await _message_by_client_id(uow.session, case.id, key) if key else None
        if existing is None:
            raise
        return existing
    # bericht_id: the widget shows this message once, even when Rasa handled the call twice (an
    # instance that died after sending it, before answering: the outbox then sends it again).
    enqueue_rasa(
        uow,
        case,
        "medewerker_bericht",
        {"tekst": msg.text, "naam": user.first_name, "bericht_id": str(msg.id)},
    )
    log.info("casemanager message %s queued for case %s", msg.id, case.reference)
    uow.publish(_message_event(case, msg))
    return msg
