"""Erasing conversations in Rasa's tracker store: one by reference (erasure.py), and every
conversation past its retention period (``expire_conversations``, run by retention.py).

Rasa 3.6's SQLTrackerStore keeps every event of a conversation as a row of the table
``events``, keyed by the column ``sender_id``, with ``timestamp`` in epoch seconds
(rasa/core/tracker_store.py, ``SQLEvent``). Deleting those rows erases the conversation; the
next message from that sender starts an empty one. ``HANDOVER_TRACKER_DB_URL`` is the URL Rasa
itself uses (``TRACKER_DB_URL``); it is turned into the matching async driver here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, delete, func, insert, or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from . import audit
from .models import AuditAction, Case, Status
from .uow import UnitOfWork

# Only the columns this module touches; Rasa creates and owns the table.
_events = Table(
    "events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False),
    Column("timestamp", Float),
    Column("type_name", String(255)),
    Column("action_name", String(255)),
)

# The tombstones of erased conversations, shared with the bot's tracker store
# (bot/tracker_store.py, TOMBSTONES: keep both in step). A copy of the conversation that another
# writer still holds contains one of these session start times and is then never written back.
# Only 4 hex digits of SHA-256(sender id) are kept: they point at nobody.
_tombstones = Table(
    "erased_conversations",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_bucket", String(4), nullable=False, index=True),
    Column("session_start", Float, nullable=False),
    Column("erased_at", Float, nullable=False),
)


def sender_bucket(sender_id: str) -> str:
    return hashlib.sha256(sender_id.encode("utf-8")).hexdigest()[:4]


# Sender ids per statement: far below the bound-parameter limits of SQLite and asyncpg, and
# small enough that a batch holds the handover connection (one, on SQLite) only briefly.
BATCH = 500

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}


class TrackerStoreError(Exception):
    """The tracker database could not be reached or changed (the message holds no personal data)."""


def async_url(url: str) -> str:
    """``sqlite:///x.db`` -> ``sqlite+aiosqlite:///x.db``; ``postgresql://`` (any driver) -> asyncpg."""
    try:
        parsed = make_url(url)
    except Exception as e:  # sqlalchemy raises ArgumentError, and ValueError for a bad port
        raise TrackerStoreError("HANDOVER_TRACKER_DB_URL is geen geldige database-URL") from e
    backend = parsed.get_backend_name()
    if backend == "postgres":
        backend = "postgresql"
    driver = _ASYNC_DRIVERS.get(backend)
    if driver is None:
        raise TrackerStoreError(f"HANDOVER_TRACKER_DB_URL: database {backend!r} wordt niet ondersteund")
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


async def _engine(url: str) -> AsyncEngine:
    target = async_url(url)
    database = make_url(target).database
    if target.startswith("sqlite") and database and not await asyncio.to_thread(Path(database).is_file):
        # aiosqlite would create an empty file and report 0 deleted rows: that is no erasure.
        raise TrackerStoreError("het SQLite-bestand van HANDOVER_TRACKER_DB_URL bestaat niet (pad absoluut?)")
    return create_async_engine(target, poolclass=NullPool)


@contextmanager
def _tracker_errors() -> Iterator[None]:
    """Turn a failure of the tracker database into a TrackerStoreError without personal data."""
    try:
        yield
    except TrackerStoreError:
        raise
    except Exception as e:
        # The driver's message may quote the query parameters (sender ids): keep only the type.
        raise TrackerStoreError(
            f"tracker-database niet bereikbaar of niet te wijzigen ({type(e).__name__})"
        ) from e


async def delete_conversation(url: str, sender_id: str) -> int:
    """Delete every stored event of ``sender_id`` and leave its tombstone; returns how many rows
    were deleted.

    Idempotent: a second call deletes nothing and returns 0.
    """
    engine = await _engine(url)
    try:
        with _tracker_errors():
            async with engine.begin() as conn:
                await conn.run_sync(_tombstones.metadata.create_all)
                first = select(func.min(_events.c.timestamp)).where(_events.c.sender_id == sender_id)
                starts = await conn.scalars(
                    select(_events.c.timestamp).where(
                        _events.c.sender_id == sender_id,
                        or_(
                            _events.c.type_name == "session_started",
                            _events.c.action_name == "action_session_start",
                            _events.c.timestamp == first.scalar_subquery(),
                        ),
                    )
                )
                marks = sorted({float(t) for t in starts if t is not None})
                result = await conn.execute(delete(_events).where(_events.c.sender_id == sender_id))
                if marks:
                    now = time.time()
                    bucket = sender_bucket(sender_id)
                    await conn.execute(
                        insert(_tombstones),
                        [{"sender_bucket": bucket, "session_start": m, "erased_at": now} for m in marks],
                    )
                return int(result.rowcount or 0)
    finally:
        await engine.dispose()


# --- retention ------------------------------------------------------------------------------


@dataclass
class ExpiredConversations:
    """What the retention of chatbot conversations did (a dry run: would do). Counts only."""

    conversations: int = 0
    events: int = 0
    kept_for_case: int = 0  # past the period, but kept: a case is open or closed less long ago
    skipped: bool = False  # another instance held the retention lock


# Takes the retention lock in the given handover transaction (retention._locked).
Guard = Callable[[AsyncSession], Awaitable[bool]]


async def _idle_senders(engine: AsyncEngine, cutoff: float) -> dict[str, int]:
    """{sender_id: number of events} of the conversations whose last event is before ``cutoff``."""
    stmt = (
        select(_events.c.sender_id, func.count())
        .group_by(_events.c.sender_id)
        .having(func.max(_events.c.timestamp) < cutoff)
        .order_by(_events.c.sender_id)
    )
    async with engine.connect() as conn:
        return {sender: int(n) for sender, n in (await conn.execute(stmt)).all()}


async def _with_case(session: AsyncSession, senders: Sequence[str], cutoff: dt.datetime) -> set[str]:
    """The senders that still have a case that is open, or was closed after ``cutoff``.

    Matched on sender_id alone, whatever the case's channel: Rasa keys a conversation by
    sender_id only, so that is the conversation the case came from (and at worst we keep more).
    """
    rows = await session.scalars(
        select(Case.sender_id)
        .distinct()
        .where(
            Case.sender_id.in_(senders),
            or_(Case.status != Status.CLOSED, Case.closed_at.is_(None), Case.closed_at > cutoff),
        )
    )
    return set(rows)


async def _delete_idle(engine: AsyncEngine, senders: Sequence[str], cutoff: float) -> tuple[int, int]:
    """Delete the conversations of ``senders`` that are still idle; (conversations, events)."""
    # Checked again in the same statement: a citizen who wrote again since the selection keeps
    # their conversation.
    active = select(_events.c.sender_id).where(
        _events.c.sender_id.in_(senders), _events.c.timestamp >= cutoff
    )
    stmt = (
        delete(_events)
        .where(_events.c.sender_id.in_(senders), _events.c.sender_id.not_in(active))
        .returning(_events.c.sender_id)
    )
    async with engine.begin() as conn:
        deleted = list((await conn.execute(stmt)).scalars())
    return len(set(deleted)), len(deleted)


async def expire_conversations(
    url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    days: int,
    now: dt.datetime,
    guard: Guard | None = None,
    dry_run: bool = False,
) -> ExpiredConversations:
    """Delete every conversation whose last event is more than ``days`` days before ``now``.

    Kept are conversations with a case (``sessionmaker``: the handover database) that is still
    open, or was closed less than ``days`` days ago: the casemanager may still need the chat,
    and the period then runs from closing. In batches; each batch runs in its own handover
    transaction, holds the retention lock there (``guard``; None: no lock) and records a
    "retention" audit entry with counts only. ``dry_run`` only counts. Raises TrackerStoreError.
    """
    if days <= 0:
        raise ValueError("days must be more than 0 (0 switches this retention off)")
    cutoff = now - dt.timedelta(days=days)
    result = ExpiredConversations()
    engine = await _engine(url)
    try:
        with _tracker_errors():
            idle = await _idle_senders(engine, cutoff.timestamp())
        senders = list(idle)
        for start in range(0, len(senders), BATCH):
            batch = senders[start : start + BATCH]
            async with UnitOfWork(sessionmaker) as uow:
                if guard is not None and not dry_run and not await guard(uow.session):
                    result.skipped = True
                    return result
                needed = await _with_case(uow.session, batch, cutoff)
                expired = [sender for sender in batch if sender not in needed]
                result.kept_for_case += len(needed)
                if dry_run:
                    result.conversations += len(expired)
                    result.events += sum(idle[sender] for sender in expired)
                    continue
                if not expired:
                    continue
                with _tracker_errors():
                    conversations, events = await _delete_idle(engine, expired, cutoff.timestamp())
                result.conversations += conversations
                result.events += events
                if conversations:  # counts only: no sender ids in the audit log
                    detail = (
                        f"chatbotgesprekken verwijderd: {conversations} gesprekken ({events} gebeurtenissen),"
                        f" {days} dagen na het laatste bericht"
                    )
                    audit.record(uow.session, AuditAction.RETENTION, reference=None, detail=detail)
    finally:
        await engine.dispose()
    return result
