"""Insight: counts without personal data from Rasa's event stream and the service's own tables."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.engine import make_url

from ..background import wait_or_stop
from ..keys import sessionmaker_key, settings_key
from ..models import utcnow
from .ingest import Clock, consume_sql_round, events_engine, housekeeping, lock_counts

log = logging.getLogger(__name__)


def is_amqp(url: str) -> bool:
    return url.startswith(("amqp://", "amqps://"))


async def _sql_loop(app: web.Application, url: str, clock: Clock, stop: asyncio.Event) -> None:
    """Read Rasa's SQL event broker every HANDOVER_INSIGHT_POLL_SECONDS."""
    settings = app[settings_key]
    engine = events_engine(url)
    database = make_url(url).database
    try:
        while True:
            # A SQLite file that does not exist yet is Rasa's to create (mode 0600): never an empty one here.
            sqlite = url.startswith("sqlite")
            if not sqlite or (database and await asyncio.to_thread(Path(database).is_file)):
                try:
                    await consume_sql_round(
                        app[sessionmaker_key], engine, clock, utcnow(), settings.retention_case_days
                    )
                except Exception:
                    log.exception("insight: reading the event stream failed; retrying")
            if await wait_or_stop(stop, settings.insight_poll_seconds):
                return
    finally:
        await engine.dispose()


async def _amqp_loop(app: web.Application, url: str, clock: Clock, stop: asyncio.Event) -> None:
    """Consume RabbitMQ; meanwhile end quiet conversations every HANDOVER_INSIGHT_POLL_SECONDS."""
    from .amqp import AMQP_SOURCE, consume_amqp  # aio-pika only when RabbitMQ is configured

    settings = app[settings_key]
    sessionmaker = app[sessionmaker_key]

    async def consume() -> None:
        while not stop.is_set():
            try:
                await consume_amqp(sessionmaker, url, settings.events_queue, clock, stop)
            except Exception:
                log.exception("insight: RabbitMQ consumer failed; retrying")
                await wait_or_stop(stop, settings.insight_poll_seconds)

    consumer = asyncio.create_task(consume(), name="insight-amqp")
    try:
        while not await wait_or_stop(stop, settings.insight_poll_seconds):
            try:
                async with sessionmaker() as session, session.begin():
                    await lock_counts(session, AMQP_SOURCE)
                    await housekeeping(session, clock, utcnow(), settings.retention_case_days)
            except Exception:
                log.exception("insight: ending quiet conversations failed; retrying")
    finally:
        done, _ = await asyncio.wait({consumer}, timeout=10)
        if not done:
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer


async def insight_loop(app: web.Application, stop: asyncio.Event) -> None:
    """Count Rasa's event stream (HANDOVER_EVENTS_URL: its SQL broker's database, or RabbitMQ)."""
    settings = app[settings_key]
    if not settings.events_url:
        return
    clock = Clock(
        ZoneInfo(settings.office_hours.timezone), dt.timedelta(minutes=settings.insight_idle_minutes)
    )
    if is_amqp(settings.events_url):
        await _amqp_loop(app, settings.events_url, clock, stop)
    else:
        await _sql_loop(app, settings.events_url, clock, stop)
