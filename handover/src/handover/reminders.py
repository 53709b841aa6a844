"""The appointment reminder the day before: a background loop on every instance.

Each round queues the reminders that are due (services/appointments.queue_due_reminders) in the
outbox, in the same transaction that marks them; rasa_delivery.py delivers them to the
citizen's own channel like every other message. Instances race harmlessly: the conditional
UPDATE lets one of them queue a reminder, the others skip it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from aiohttp import web
from sqlalchemy.exc import OperationalError

from .background import wait_or_stop
from .keys import outbox_wakeup_key, sessionmaker_key, settings_key
from .services.appointments import queue_due_reminders
from .uow import UnitOfWork

log = logging.getLogger(__name__)


async def run_reminders(app: web.Application, now: dt.datetime | None = None) -> int:
    settings = app[settings_key]
    async with UnitOfWork(app[sessionmaker_key]) as uow:
        queued = await queue_due_reminders(
            uow,
            lead=dt.timedelta(hours=settings.appointment_reminder_hours),
            timezone=settings.office_hours.timezone,
            now=now,
        )
    if queued and outbox_wakeup_key in app:
        app[outbox_wakeup_key].set()
    return queued


async def reminder_loop(app: web.Application, stop: asyncio.Event) -> None:
    interval = app[settings_key].appointment_poll_seconds
    while not await wait_or_stop(stop, interval):
        try:
            await run_reminders(app)
        except OperationalError as e:
            # The database busy or away for a moment (SQLite locked by another instance's round, a
            # PostgreSQL failover): the next round does the work. No traceback: it is expected.
            log.warning(
                "appointment reminders: database not available (%s); retrying at the next interval",
                type(e.orig).__name__,
            )
        except Exception:
            log.exception("appointment reminders failed; retrying at the next interval")
