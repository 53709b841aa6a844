"""Rasa's event stream into the insight counts, without personal data.

Rasa's SQL event broker (bot/event_broker.py) writes every tracker event, text included, as a row
of its table ``events``. Each round this module reads the rows after its cursor (by id), turns
them into counts (facts.py: structured fields only) and moves the cursor in the same transaction
of the service's database, then deletes the rows up to the cursor from the broker's database
(the last one stays, emptied of sender id and data), so no text piles up there. A crash between
the two repeats no row (the cursor already moved) and leaves at most one round of rows to be
deleted the next time. The cursor row is locked for the
round (FOR UPDATE on PostgreSQL), so several service instances never count a row twice.

Conversations are told apart by a keyed hash of the sender id (HMAC-SHA256) whose key is made for
each day and deleted, with the day's hashes, when the day is over: afterwards nobody can link a
count to a conversation, not even with the sender id in hand. A message from RabbitMQ
(amqp.py) is recorded as such a keyed hash of its body too, deleted with the same key, so
that a redelivered message is not counted twice. Counts are per day (the office hours' time zone)
and are deleted after HANDOVER_RETENTION_CASE_DAYS.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from ..models import InsightConversation, InsightCount, InsightCursor, InsightKey, InsightMessage
from ..rasa_conversations import TrackerStoreError, async_url
from .facts import Observation, observe

log = logging.getLogger(__name__)

SQL_SOURCE = "sql"
BATCH = 500
# Rasa's SQL broker table (rasa.core.brokers.sql); Rasa creates and owns it.
_events = sa.table(
    "events", sa.column("id", sa.Integer), sa.column("sender_id", sa.String), sa.column("data", sa.Text)
)


class InsightSettingError(ValueError):
    """HANDOVER_EVENTS_URL cannot be used."""


def events_engine(url: str) -> AsyncEngine:
    try:
        target = async_url(url)
    except TrackerStoreError as e:
        raise InsightSettingError("HANDOVER_EVENTS_URL is geen bruikbare database-URL") from e
    return create_async_engine(target, poolclass=NullPool)


@dataclass(frozen=True)
class Clock:
    """Days in the municipality's time zone; ``idle``: when a quiet conversation counts as ended."""

    zone: ZoneInfo
    idle: dt.timedelta

    def day(self, at: dt.datetime) -> dt.date:
        return at.astimezone(self.zone).date()


async def _add(session: AsyncSession, day: dt.date, mark: str, n: int = 1) -> None:
    measure, _, value = mark.partition(":")
    row = await session.get(InsightCount, (day, measure, value))
    if row is None:
        session.add(InsightCount(day=day, measure=measure, value=value, count=n))
    else:
        row.count += n


async def _key(session: AsyncSession, day: dt.date) -> bytes:
    row = await session.get(InsightKey, day)
    if row is None:
        row = InsightKey(day=day, key=secrets.token_hex(32))
        session.add(row)
        await session.flush()
    return bytes.fromhex(row.key)


async def _digest(session: AsyncSession, day: dt.date, data: bytes) -> str:
    """HMAC-SHA256 of ``data`` under the day's key: unlinkable to ``data`` once the key is gone."""
    return hmac.new(await _key(session, day), data, hashlib.sha256).hexdigest()


def _ending(row: InsightConversation) -> list[str]:
    """The marks a conversation adds when it ends: its outcome, language and where it was left."""
    marks = set(row.marks)
    if "overgedragen:" in marks:
        outcome = "overgedragen"
    elif "advies:" in marks:
        outcome = "opgelost"
    else:
        outcome = "afgebroken"
    ending = [f"uitkomst:{outcome}", f"taal:{row.language}"]
    if outcome == "afgebroken" and row.node:
        ending.append(f"verlaten:{row.node}")
    return ending


async def _apply(session: AsyncSession, clock: Clock, seen: Observation) -> None:
    day = clock.day(seen.at)
    conversation = await _digest(session, day, seen.sender_id.encode())
    row = await session.get(InsightConversation, (day, conversation))
    if row is None:
        row = InsightConversation(
            day=day,
            conversation=conversation,
            last_event_at=seen.at,
            marks=[],
            misunderstood=0,
            language="nl",
        )
        session.add(row)
    if row.ended_as is not None:  # it went on after all: its ending is counted again later
        for mark in json.loads(row.ended_as):
            await _add(session, day, mark, -1)
        row.ended_as = None
    row.last_event_at = max(row.last_event_at, seen.at)
    marks = list(seen.marks)
    if seen.node is not None:
        row.node = seen.node
    if seen.doesnt_fit and row.node:
        marks.append(f"past_niet:{row.node}")
    if seen.language is not None:
        row.language = seen.language
    if seen.message:
        await _add(session, day, "berichten:")
    if seen.misunderstood is not None:
        if seen.misunderstood > row.misunderstood:
            await _add(session, day, "niet_begrepen:", seen.misunderstood - row.misunderstood)
        row.misunderstood = seen.misunderstood
    new = [m for m in dict.fromkeys(marks) if m not in row.marks]
    for mark in new:
        await _add(session, day, mark)
    if new:
        row.marks = [*row.marks, *new]


async def close_quiet_conversations(session: AsyncSession, clock: Clock, now: dt.datetime) -> None:
    """Count the ending of conversations quiet for ``clock.idle``; forget past days (rows and key)."""
    today = clock.day(now)
    rows = await session.scalars(
        select(InsightConversation).where(
            InsightConversation.ended_as.is_(None), InsightConversation.last_event_at <= now - clock.idle
        )
    )
    for row in rows:
        ending = _ending(row)
        for mark in ending:
            await _add(session, row.day, mark)
        row.ended_as = json.dumps(ending)
    for row in await session.scalars(
        select(InsightConversation).where(
            InsightConversation.day < today, InsightConversation.ended_as.is_(None)
        )
    ):  # a day is over: what is still open ends now, or it would never be counted
        for mark in _ending(row):
            await _add(session, row.day, mark)
    await session.execute(delete(InsightConversation).where(InsightConversation.day < today))
    await session.execute(delete(InsightMessage).where(InsightMessage.day < today))
    await session.execute(delete(InsightKey).where(InsightKey.day < today))


async def housekeeping(session: AsyncSession, clock: Clock, now: dt.datetime, retention_days: int) -> None:
    """Endings of quiet conversations, past days forgotten, counts past the retention deleted."""
    await close_quiet_conversations(session, clock, now)
    await session.execute(
        delete(InsightCount).where(InsightCount.day < clock.day(now) - dt.timedelta(days=retention_days))
    )


def _observe(raw: str | bytes) -> Observation | None:
    try:
        event = json.loads(raw)
    except ValueError:
        return None  # not JSON: nothing to count, and nothing of it is logged
    return observe(event) if isinstance(event, dict) else None


async def apply_events(session: AsyncSession, clock: Clock, events: Iterable[str]) -> int:
    """Count a batch of events (JSON as Rasa publishes them); returns how many told something."""
    counted = 0
    for raw in events:
        seen = _observe(raw)
        if seen is not None:
            await _apply(session, clock, seen)
            counted += 1
    return counted


async def apply_once(session: AsyncSession, clock: Clock, body: bytes) -> bool:
    """Count one delivered message (RabbitMQ) unless it was counted before; True when counted now.

    The message's keyed digest is recorded in this transaction, with its counts: a redelivery
    (the consumer died after the commit, before the acknowledgement) finds it and adds nothing.
    The digest is of the whole body, so the same words in another conversation, or at another
    moment, are another message."""
    seen = _observe(body)
    if seen is None:
        return False
    # The event's own day, as for its conversation's hash: the digest lives exactly as long as
    # the day's key. A redelivery after its day was closed (a crash just before midnight) is
    # counted again, as any late event of a closed day is: its conversation's hash is gone too.
    day = clock.day(seen.at)
    digest = await _digest(session, day, body)
    if await session.get(InsightMessage, (day, digest)) is not None:
        return False
    session.add(InsightMessage(day=day, digest=digest))
    await _apply(session, clock, seen)
    return True


async def lock_counts(session: AsyncSession, source: str) -> InsightCursor:
    """The source's cursor row, locked for the transaction (PostgreSQL): one instance counts at a time."""
    stmt = select(InsightCursor).where(InsightCursor.source == source).with_for_update()
    cursor = await session.scalar(stmt)
    if cursor is None:
        session.add(InsightCursor(source=source, last_id=0))
        await session.flush()
        cursor = await session.scalar(stmt)
        assert cursor is not None
    return cursor


async def consume_sql_round(
    sessionmaker: async_sessionmaker[AsyncSession],
    events: AsyncEngine,
    clock: Clock,
    now: dt.datetime,
    retention_days: int,
) -> int:
    """One round: read new broker rows, count them, move the cursor, delete what was read."""
    read = 0
    async with sessionmaker() as session, session.begin():
        cursor = await lock_counts(session, SQL_SOURCE)
        try:
            async with events.connect() as conn:
                rows = (
                    await conn.execute(
                        select(_events.c.id, _events.c.data)
                        .where(_events.c.id > cursor.last_id)
                        .order_by(_events.c.id)
                        .limit(BATCH)
                    )
                ).all()
        except sa.exc.OperationalError:
            rows = []  # no table yet: Rasa creates it at its start
        if rows:
            await apply_events(session, clock, (str(r.data) for r in rows))
            cursor.last_id = int(rows[-1].id)
            read = len(rows)
        await housekeeping(session, clock, now, retention_days)
        last_id = cursor.last_id
    if last_id:
        try:
            async with events.begin() as conn:
                await conn.execute(delete(_events).where(_events.c.id < last_id))
                # The last row read stays, emptied: SQLite gives a new row max(id) + 1, so with
                # every row gone it would reuse ids the cursor has passed, and those would be skipped.
                await conn.execute(
                    sa.update(_events).where(_events.c.id == last_id).values(sender_id=None, data=None)
                )
        except sa.exc.OperationalError:
            log.warning("insight: could not delete read events from the broker table; next round")
    return read
