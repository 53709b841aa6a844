"""Insight: counts without personal data from Rasa's event stream and the service's own tables."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.engine import make_url

from ..background import wait_or_stop
from ..keys import sessionmaker_key, settings_key
from ..models import utcnow
from .ingest import Clock, consume_sql_round, events_engine

log = logging.getLogger(__name__)


async def insight_loop(app: web.Application, stop: asyncio.Event) -> None:
    """Read Rasa's SQL event broker every HANDOVER_INSIGHT_POLL_SECONDS (when configured)."""
    settings = app[settings_key]
    if not settings.events_url:
        return
    engine = events_engine(settings.events_url)
    database = make_url(settings.events_url).database
    clock = Clock(
        ZoneInfo(settings.office_hours.timezone), dt.timedelta(minutes=settings.insight_idle_minutes)
    )
    try:
        while True:
            # A SQLite file that does not exist yet is Rasa's to create (mode 0600): never an empty one here.
            sqlite = settings.events_url.startswith("sqlite")
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
