"""Delivers persisted Rasa calls, in order per conversation, with retry and backoff."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy import and_, case, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from .background import stop_gracefully
from .clients.rasa import RasaClient, RasaError
from .keys import background_tasks_key, outbox_wakeup_key, rasa_key, sessionmaker_key, settings_key
from .models import OutboxMessage, OutboxStatus, utcnow

log = logging.getLogger(__name__)

LEASE = dt.timedelta(seconds=30)
BATCH = 200
# Calls to Rasa at the same time: more only makes every turn slower on a busy Rasa (each turn
# waits for the others), and slow turns run into the timeout and are sent again.
CONCURRENT_CALLS = 16


def backoff(attempts: int) -> dt.timedelta:
    """1, 2, 4 ... seconds, capped at five minutes."""
    return dt.timedelta(seconds=min(2 ** max(attempts - 1, 0), 300))


async def _lease_batch(
    sessionmaker: async_sessionmaker[AsyncSession], limit: int = BATCH
) -> list[OutboxMessage]:
    """Lease the oldest undelivered message of each conversation that is due.

    Only the head of a conversation is eligible, so a message waiting for a retry (or still on its
    way) holds back the later ones: the citizen never receives messages out of order. SKIP LOCKED
    lets several instances drain side by side on PostgreSQL.
    """
    now = utcnow()
    earlier = aliased(OutboxMessage)
    async with sessionmaker() as session, session.begin():
        rows = list(
            await session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.status == OutboxStatus.PENDING,
                    OutboxMessage.next_attempt_at <= now,
                    (OutboxMessage.lease_until.is_(None)) | (OutboxMessage.lease_until < now),
                    ~select(earlier.id)
                    .where(
                        and_(
                            earlier.sender_id == OutboxMessage.sender_id,
                            earlier.channel == OutboxMessage.channel,
                            earlier.status == OutboxStatus.PENDING,
                            earlier.id < OutboxMessage.id,
                        )
                    )
                    .exists(),
                )
                .order_by(OutboxMessage.id)
                .limit(limit)
                .with_for_update(skip_locked=True, of=OutboxMessage)
            )
        )
        for row in rows:
            row.lease_until = now + LEASE
    return rows


async def _still_queued(
    sessionmaker: async_sessionmaker[AsyncSession], batch: list[OutboxMessage]
) -> list[OutboxMessage]:
    """The leased messages an erasure has not deleted since: never deliver those (the bot would
    start the erased conversation again)."""
    async with sessionmaker() as session:
        present = set(
            await session.scalars(select(OutboxMessage.id).where(OutboxMessage.id.in_([m.id for m in batch])))
        )
    return [m for m in batch if m.id in present]


async def _deliver(rasa: RasaClient, msg: OutboxMessage) -> str | None:
    try:
        await rasa.trigger_intent(msg.sender_id, msg.channel, msg.intent, msg.entities)
    except RasaError as e:
        return str(e)[:255]
    return None


async def _record(
    sessionmaker: async_sessionmaker[AsyncSession],
    results: list[tuple[OutboxMessage, str | None]],
    max_attempts: int,
) -> None:
    """Mark delivered messages sent; give failed ones a later attempt, or give up on them."""
    now = utcnow()
    sent = [m.id for m, error in results if error is None]
    async with sessionmaker() as session, session.begin():
        if sent:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(sent))
                .values(
                    status=case(
                        (OutboxMessage.status == OutboxStatus.PENDING, OutboxStatus.SENT),
                        else_=OutboxMessage.status,
                    ),
                    sent_at=now,
                    lease_until=None,
                    last_error=None,
                    attempts=OutboxMessage.attempts + 1,
                )
            )
        for msg, error in results:
            if error is None:
                continue
            row = await session.get(OutboxMessage, msg.id)
            if row is None:  # erased while it was being delivered
                continue
            row.lease_until = None
            row.attempts += 1
            row.last_error = error
            if row.attempts >= max_attempts:
                row.status = OutboxStatus.DEAD
                log.error("outbox %s (case %s, %s) gave up: %s", row.id, row.case_id, row.intent, error)
            else:
                row.next_attempt_at = now + backoff(row.attempts)
                log.warning(
                    "outbox %s (case %s, %s) attempt %s failed: %s",
                    row.id,
                    row.case_id,
                    row.intent,
                    row.attempts,
                    error,
                )


async def drain_once(
    sessionmaker: async_sessionmaker[AsyncSession], rasa: RasaClient, max_attempts: int
) -> int:
    """Deliver one round of leased messages; returns the number of messages attempted."""
    batch = await _lease_batch(sessionmaker)
    if not batch:
        return 0
    batch = await _still_queued(sessionmaker, batch)
    limit = asyncio.Semaphore(CONCURRENT_CALLS)

    async def deliver(msg: OutboxMessage) -> str | None:
        async with limit:
            return await _deliver(rasa, msg)

    errors = await asyncio.gather(*(deliver(m) for m in batch))
    await _record(sessionmaker, list(zip(batch, errors, strict=True)), max_attempts)
    return len(batch)


async def _deliver_one(
    sessionmaker: async_sessionmaker[AsyncSession], rasa: RasaClient, msg: OutboxMessage, max_attempts: int
) -> None:
    if await _still_queued(sessionmaker, [msg]):
        await _record(sessionmaker, [(msg, await _deliver(rasa, msg))], max_attempts)


async def run_drainer(app: web.Application, stop: asyncio.Event) -> None:
    """Deliver until ``stop`` is set, as a pipeline: up to CONCURRENT_CALLS messages on their way,
    and a free place is filled as soon as a delivery ends (a slow turn in one conversation does not
    hold back the others). A delivery that has started is always finished."""
    settings = app[settings_key]
    wakeup = app[outbox_wakeup_key]
    sessionmaker, rasa = app[sessionmaker_key], app[rasa_key]
    on_the_way: set[asyncio.Task[None]] = set()
    while not stop.is_set():
        wakeup.clear()  # a commit from now on wakes the wait below
        free = CONCURRENT_CALLS - len(on_the_way)
        if free > 0:
            try:
                for msg in await _lease_batch(sessionmaker, free):
                    on_the_way.add(
                        asyncio.create_task(
                            _deliver_one(sessionmaker, rasa, msg, settings.outbox_max_attempts)
                        )
                    )
            except Exception:
                log.exception("outbox lease failed")
        # Woken when a delivery ends, right after a commit that added messages (and at shutdown);
        # the poll catches retries and rows written by other instances.
        woken = asyncio.ensure_future(wakeup.wait())
        done, _ = await asyncio.wait(
            on_the_way | {woken}, timeout=settings.outbox_poll_seconds, return_when=asyncio.FIRST_COMPLETED
        )
        woken.cancel()
        for task in done - {woken}:
            on_the_way.discard(task)
            if not task.cancelled() and (error := task.exception()) is not None:
                log.error("outbox delivery failed", exc_info=error)
    if on_the_way:
        await asyncio.wait(on_the_way)


async def outbox_context(app: web.Application) -> AsyncIterator[None]:
    app[outbox_wakeup_key] = wakeup = asyncio.Event()
    stop = asyncio.Event()
    task = asyncio.create_task(run_drainer(app, stop), name="outbox-drainer")
    app[background_tasks_key].append(task)
    yield
    # Let running deliveries finish instead of cancelling them mid database call (see
    # background.py). A delivery is bounded by the Rasa timeout; leases cover the rest.
    stop.set()
    wakeup.set()
    await stop_gracefully(task, stop, app[settings_key].rasa_timeout_seconds + 5)
