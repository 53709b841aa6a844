"""Erasure of a whole conversation: by a team leader (by reference, page or CLI) or by the
citizen from the chat (bot API).

In the handover database every case of the conversation (same channel + sender_id) goes,
with its messages, history, notes, follow-up tasks, appointments and outbox rows; the audit log keeps one
"erased" entry per reference. Erasure by reference also deletes the conversation in Rasa's
tracker store when ``HANDOVER_TRACKER_DB_URL`` is set, and says plainly when it is not: it
never reports an erasure that did not happen. (The citizen's own erasure comes from the bot,
which erases the tracker itself.)
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import audit, rasa_conversations
from .models import Appointment, AuditAction, Case, OutboxMessage, Status, User
from .services.cases import get_case
from .uow import UnitOfWork

log = logging.getLogger(__name__)


class TrackerOutcome(str, enum.Enum):
    ERASED = "verwijderd"
    NOT_CONFIGURED = "niet_ingesteld"


@dataclass
class ErasureResult:
    references: list[str] = field(default_factory=list)
    tracker: TrackerOutcome = TrackerOutcome.NOT_CONFIGURED
    tracker_events: int = 0

    @property
    def complete(self) -> bool:
        return self.tracker == TrackerOutcome.ERASED


class TrackerEraseFailed(Exception):
    """The tracker store could not be erased; nothing was deleted in the handover database."""


async def erase_conversation(
    uow: UnitOfWork,
    channel: str,
    sender_id: str,
    *,
    user: User | None = None,
    actor: str | None = None,
    detail: str,
) -> list[str]:
    """Delete every case of the conversation in the handover database; returns their references.

    Idempotent: a conversation without cases gives an empty list.
    """
    session = uow.session
    rows = (
        await session.execute(
            select(Case.id, Case.reference, Case.team, Case.status)
            .where(Case.channel == channel, Case.sender_id == sender_id)
            .order_by(Case.id)
            .with_for_update()
        )
    ).all()
    ids = [row.id for row in rows]
    # Outbox rows of this conversation, also those whose case is already gone (SET NULL).
    await session.execute(
        delete(OutboxMessage).where(
            or_(
                OutboxMessage.case_id.in_(ids),
                (OutboxMessage.channel == channel) & (OutboxMessage.sender_id == sender_id),
            )
        )
    )
    # The conversation's appointments (the checklist and outcomes with them); the slots stay.
    appointments = list(
        await session.scalars(
            delete(Appointment)
            .where(Appointment.channel == channel, Appointment.sender_id == sender_id)
            .returning(Appointment.reference)
        )
    )
    for reference in appointments:
        audit.record(session, AuditAction.ERASED, reference=reference, user=user, actor=actor, detail=detail)
    if ids:
        # Messages, history, notes and follow-up tasks go with the case (ON DELETE CASCADE).
        await session.execute(delete(Case).where(Case.id.in_(ids)))
    for row in rows:
        audit.record(
            session, AuditAction.ERASED, reference=row.reference, user=user, actor=actor, detail=detail
        )
        uow.publish({"type": "case_erased", "reference": row.reference, "team": row.team})
        if row.status == Status.WAITING:
            uow.queue_changed(row.team)
    if rows:
        log.info("erased %d cases of one conversation (%s)", len(rows), ", ".join(r.reference for r in rows))
    return [row.reference for row in rows]


async def conversation_of(session: AsyncSession, reference: str) -> tuple[str, str]:
    """(channel, sender_id) of the case; raises CaseNotFound."""
    case = await get_case(session, reference)
    return case.channel, case.sender_id


def _detail(result: ErasureResult, who: str) -> str:
    if result.tracker == TrackerOutcome.ERASED:
        tracker = f"chatbotgesprek verwijderd ({result.tracker_events} events)"
    else:
        tracker = "chatbotgesprek NIET verwijderd (HANDOVER_TRACKER_DB_URL niet ingesteld)"
    return f"{who}; {tracker}"


Transaction = Callable[[], AbstractAsyncContextManager[UnitOfWork]]


async def erase_by_reference(
    reference: str,
    *,
    transaction: Transaction,
    tracker_db_url: str | None,
    user: User | None = None,
    actor: str | None = None,
) -> ErasureResult:
    """Erase the conversation of ``reference`` in the tracker store (first) and the handover DB.

    The tracker goes first: if that fails nothing is deleted here and the same reference can
    be erased again later. ``transaction`` opens a unit of work (workflow.transaction in the
    service, so the workspace hears of it). Raises CaseNotFound, or TrackerEraseFailed.
    """
    async with transaction() as uow:
        channel, sender_id = await conversation_of(uow.session, reference)
    result = ErasureResult()
    if tracker_db_url:
        try:
            result.tracker_events = await rasa_conversations.delete_conversation(tracker_db_url, sender_id)
        except rasa_conversations.TrackerStoreError as e:
            log.error("erasure of %s stopped: %s", reference.upper(), e)
            raise TrackerEraseFailed(str(e)) from e
        result.tracker = TrackerOutcome.ERASED
    who = "door teamleider" if user is not None else "via de opdrachtregel"
    async with transaction() as uow:
        result.references = await erase_conversation(
            uow, channel, sender_id, user=user, actor=actor, detail=_detail(result, who)
        )
    return result
