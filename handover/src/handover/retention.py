"""What is kept after a case closes, and for how long.

- At closing (``store_redacted_copies``, called by services.close): a copy without personal
  data of every text of the case is stored next to the original, and the contact details
  are deleted: they were only needed to reach the citizen while the case was open.
- ``HANDOVER_RETENTION_FULL_DAYS`` (30) after closing: the full texts are replaced by those
  copies (messages, summary, notes, follow-up tasks, outcome).
- ``HANDOVER_RETENTION_CASE_DAYS`` (365) after closing: the whole case is deleted, with its
  messages, history, notes, follow-up tasks and outbox rows. Audit entries stay.
- ``HANDOVER_RETENTION_CONVERSATION_DAYS`` (30; 0 = off) after its last event: the chatbot
  conversation in Rasa's tracker store (``HANDOVER_TRACKER_DB_URL``) is deleted, unless a case
  of it is open or was closed less long ago (rasa_conversations.expire_conversations).

Only closed cases are touched: a waiting or claimed case (also a callback request that was
never handled) stays until someone closes it, so no request silently disappears.

``run_retention`` is idempotent: each step selects only what is still due, so a repeated or
concurrent run does nothing twice. On PostgreSQL a transaction-level advisory lock also keeps
two instances from doing the same batch at the same time; the second one skips that round.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass, field

from aiohttp import web
from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from . import audit, rasa_conversations
from .background import wait_or_stop
from .keys import redactor_key, sessionmaker_key, settings_key
from .models import (
    Appointment,
    AppointmentSlot,
    AuditAction,
    Case,
    FollowUp,
    Message,
    Note,
    OutboxMessage,
    Status,
    utcnow,
)
from .redaction import Redactor
from .staff_names import STAFF_MESSAGE_ROLES, staff_names
from .uow import UnitOfWork

log = logging.getLogger(__name__)

BATCH = 100
_ADVISORY_LOCK = 727002  # 727001 serialises queue-position refreshes (services/positions.py)


# Not services.transcript & co.: services.close calls into this module.
async def _texts(session: AsyncSession, case: Case) -> tuple[list[Message], list[Note], list[FollowUp]]:
    return (
        list(await session.scalars(case.messages.select())),
        list(await session.scalars(case.notes.select())),
        list(await session.scalars(case.follow_ups.select())),
    )


async def store_redacted_copies(
    session: AsyncSession, case: Case, redactor: Redactor, now: dt.datetime
) -> None:
    """Store the redacted copy of every text of ``case`` and delete its contact details."""
    messages, note_rows, tasks = await _texts(session, case)
    head: list[str | None] = [case.summary_text, case.self_service, case.outcome, case.next_steps]
    texts = [
        *head,
        *(m.text for m in messages),
        *(n.text for n in note_rows),
        *(f.description for f in tasks),
    ]
    # Staff names stay readable in what staff wrote: outcome, next steps, their messages, notes, tasks.
    staff_texts = {2, 3} | {4 + i for i, m in enumerate(messages) if m.role in STAFF_MESSAGE_ROLES}
    staff_texts |= set(range(4 + len(messages), len(texts)))
    redacted = await redactor.aredact_texts(texts, keep=await staff_names(session), staff_texts=staff_texts)
    case.summary_redacted, case.self_service_redacted, case.outcome_redacted, case.next_steps_redacted = (
        redacted[:4]
    )
    rest = iter(redacted[4:])
    for row in messages:
        row.text_redacted = next(rest) or ""
    for note in note_rows:
        note.text_redacted = next(rest) or ""
    for task in tasks:
        task.description_redacted = next(rest) or ""
    session.add_all([*messages, *note_rows, *tasks])
    case.contact_phone = case.contact_email = case.contact_moment = None
    case.redacted_at = now


async def delete_full_texts(session: AsyncSession, case: Case, redactor: Redactor, now: dt.datetime) -> None:
    """Replace every full text of ``case`` by its redacted copy."""
    # Made afresh: a note or follow-up task may have been added after closing, and cases
    # closed before redaction existed have no copy at all.
    await store_redacted_copies(session, case, redactor, now)
    case.summary_text = case.summary_redacted
    case.self_service = case.self_service_redacted
    case.outcome = case.outcome_redacted
    case.next_steps = case.next_steps_redacted
    messages, note_rows, tasks = await _texts(session, case)
    for row in messages:
        row.text = row.text_redacted or ""
        session.add(row)
    for note in note_rows:
        note.text = note.text_redacted or ""
        session.add(note)
    for task in tasks:
        task.description = task.description_redacted or ""
        session.add(task)
    case.contact_phone = case.contact_email = case.contact_moment = None
    case.full_text_deleted_at = now


@dataclass
class RetentionResult:
    full_texts_deleted: list[str] = field(default_factory=list)
    cases_deleted: list[str] = field(default_factory=list)
    appointments_deleted: list[str] = field(default_factory=list)
    skipped: bool = False  # another instance held the lock
    # Chatbot conversations; None when not run (no HANDOVER_TRACKER_DB_URL, or switched off).
    conversations: rasa_conversations.ExpiredConversations | None = None
    tracker_error: str | None = None  # the tracker store failed (message without personal data)


def _due_for_deletion(cutoff: dt.datetime) -> list[ColumnElement[bool]]:
    return [Case.status == Status.CLOSED, Case.closed_at <= cutoff]


def _due_for_full_text(cutoff: dt.datetime) -> list[ColumnElement[bool]]:
    return [Case.status == Status.CLOSED, Case.closed_at <= cutoff, Case.full_text_deleted_at.is_(None)]


async def _locked(session: AsyncSession) -> bool:
    """Take the retention lock for this transaction (PostgreSQL); SQLite has one writer anyway."""
    if session.bind.dialect.name != "postgresql":
        return True
    return bool(await session.scalar(text(f"SELECT pg_try_advisory_xact_lock({_ADVISORY_LOCK})")))


async def count_due(
    sessionmaker: async_sessionmaker[AsyncSession], *, full_days: int, case_days: int, now: dt.datetime
) -> tuple[int, int]:
    """(cases whose full text is due for deletion, cases due for deletion), for --dry-run."""
    delete_cutoff = now - dt.timedelta(days=case_days)
    full_cutoff = now - dt.timedelta(days=full_days)
    async with sessionmaker() as session:
        to_delete = await session.scalar(
            select(func.count()).select_from(Case).where(*_due_for_deletion(delete_cutoff))
        )
        to_purge = await session.scalar(
            select(func.count())
            .select_from(Case)
            .where(*_due_for_full_text(full_cutoff), Case.closed_at > delete_cutoff)
        )
    return int(to_purge or 0), int(to_delete or 0)


async def run_retention(
    sessionmaker: async_sessionmaker[AsyncSession],
    redactor: Redactor,
    *,
    full_days: int,
    case_days: int,
    now: dt.datetime | None = None,
    conversation_days: int = 0,
    tracker_db_url: str | None = None,
) -> RetentionResult:
    """Delete expired cases, then the full texts that are due, then expired chatbot conversations
    (when ``tracker_db_url`` is set and ``conversation_days`` > 0); in batches, each its own
    transaction. A failing tracker store is reported in the result, after the cases are done."""
    now = now or utcnow()
    result = RetentionResult()
    delete_cutoff = now - dt.timedelta(days=case_days)
    full_cutoff = now - dt.timedelta(days=full_days)
    detail_delete = f"zaak verwijderd: {case_days} dagen na afronden"
    detail_full = f"volledige tekst verwijderd: {full_days} dagen na afronden"
    while True:  # deletion first: no point redacting what is deleted anyway
        async with UnitOfWork(sessionmaker) as uow:
            if not await _locked(uow.session):
                result.skipped = True
                return result
            rows = (
                await uow.session.execute(
                    select(Case.id, Case.reference).where(*_due_for_deletion(delete_cutoff)).limit(BATCH)
                )
            ).all()
            if rows:
                ids = [row.id for row in rows]
                await uow.session.execute(delete(OutboxMessage).where(OutboxMessage.case_id.in_(ids)))
                # Messages, history, notes and follow-ups go with the case (ON DELETE CASCADE).
                await uow.session.execute(delete(Case).where(Case.id.in_(ids)))
                for row in rows:
                    audit.record(
                        uow.session, AuditAction.RETENTION, reference=row.reference, detail=detail_delete
                    )
                result.cases_deleted += [row.reference for row in rows]
        if len(rows) < BATCH:
            break
    # Appointments (the checklist and outcomes with them) as long as cases: after the slot's end.
    async with UnitOfWork(sessionmaker) as uow:
        if not await _locked(uow.session):
            result.skipped = True
            return result
        old_slots = select(AppointmentSlot.id).where(AppointmentSlot.ends_at <= delete_cutoff)
        references = list(
            await uow.session.scalars(
                delete(Appointment).where(Appointment.slot_id.in_(old_slots)).returning(Appointment.reference)
            )
        )
        await uow.session.execute(delete(AppointmentSlot).where(AppointmentSlot.ends_at <= delete_cutoff))
        detail_appointment = f"afspraak verwijderd: {case_days} dagen na het tijdslot"
        for reference in references:
            audit.record(uow.session, AuditAction.RETENTION, reference=reference, detail=detail_appointment)
        result.appointments_deleted = references
    while True:
        async with UnitOfWork(sessionmaker) as uow:
            if not await _locked(uow.session):
                result.skipped = True
                return result
            cases = list(
                await uow.session.scalars(select(Case).where(*_due_for_full_text(full_cutoff)).limit(BATCH))
            )
            for case in cases:
                await delete_full_texts(uow.session, case, redactor, now)
                audit.record(uow.session, AuditAction.RETENTION, reference=case.reference, detail=detail_full)
            result.full_texts_deleted += [case.reference for case in cases]
        if len(cases) < BATCH:
            break
    if tracker_db_url and conversation_days > 0:
        try:
            result.conversations = await rasa_conversations.expire_conversations(
                tracker_db_url, sessionmaker, days=conversation_days, now=now, guard=_locked
            )
        except rasa_conversations.TrackerStoreError as e:
            log.error("retention of chatbot conversations failed: %s", e)
            result.tracker_error = str(e)
        else:
            result.skipped = result.conversations.skipped
            if result.conversations.conversations:
                log.info(
                    "retention: %d chatbot conversations deleted (%d events)",
                    result.conversations.conversations,
                    result.conversations.events,
                )
    if result.cases_deleted or result.full_texts_deleted:
        log.info(
            "retention: %d cases deleted, full text deleted of %d cases",
            len(result.cases_deleted),
            len(result.full_texts_deleted),
        )
    return result


async def retention_loop(app: web.Application, stop: asyncio.Event) -> None:
    """Run retention every ``HANDOVER_RETENTION_INTERVAL_SECONDS`` (first run soon after start)."""
    settings = app[settings_key]
    interval = settings.retention_interval_seconds
    # Not right at start-up: let the instance settle (and tests finish) first.
    delay = min(interval, 60.0)
    if not settings.tracker_db_url or not settings.retention_conversation_days:
        # Said once at start-up, so an operator sees that this part of the retention is not done.
        log.warning(
            "retention: chatbot conversations are not covered "
            "(HANDOVER_TRACKER_DB_URL not set, or HANDOVER_RETENTION_CONVERSATION_DAYS=0)"
        )
    while not await wait_or_stop(stop, delay):
        delay = interval
        try:
            await run_retention(
                app[sessionmaker_key],
                app[redactor_key],
                full_days=settings.retention_full_days,
                case_days=settings.retention_case_days,
                conversation_days=settings.retention_conversation_days,
                tracker_db_url=settings.tracker_db_url,
            )
        except Exception:
            log.exception("retention run failed; retrying at the next interval")
