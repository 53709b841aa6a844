"""Runs a request's unit of work and, once committed, its side effects (positions, outbox, events)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from .background import wait_or_stop
from .db import request_session
from .keys import hub_key, openklant_wakeup_key, outbox_wakeup_key, sessionmaker_key, settings_key
from .services.positions import refresh_queue_positions
from .uow import Effects, UnitOfWork

log = logging.getLogger(__name__)


@asynccontextmanager
async def transaction(request: web.Request) -> AsyncIterator[UnitOfWork]:
    """A transaction on the request's session; after the commit, its side effects."""
    session = request_session(request)
    async with UnitOfWork(session=session) as uow:
        yield uow
    await apply_effects(request.app, uow.effects, session)


def _push_interval(app: web.Application) -> dt.timedelta:
    return dt.timedelta(seconds=app[settings_key].position_push_seconds)


async def refresh_positions(app: web.Application, session: AsyncSession, team: str | None) -> bool:
    """Push due queue positions for ``team`` (None: every team); True if any were queued.

    Separate transaction: it must see the change that was just committed.
    """
    async with UnitOfWork(session=session) as refresh:
        await refresh_queue_positions(refresh, team, min_interval=_push_interval(app))
    return refresh.effects.outbox


async def apply_effects(app: web.Application, effects: Effects, session: AsyncSession) -> None:
    outbox = effects.outbox
    for team in sorted(effects.queue_teams):
        try:
            outbox |= await refresh_positions(app, session, team)
        except Exception:  # the change itself is committed; a later change or the sweep retries
            log.exception("queue position refresh failed for team %s", team)
    if outbox and outbox_wakeup_key in app:
        app[outbox_wakeup_key].set()
    if effects.openklant and openklant_wakeup_key in app:
        app[openklant_wakeup_key].set()
    hub = app[hub_key]
    for event in effects.events:
        await hub.publish(event)
    if effects.queue_teams:
        await hub.publish({"type": "queue_changed", "teams": sorted(effects.queue_teams)})


def sweep_seconds(push_seconds: float) -> float:
    """How often the sweep runs: a held-back position goes out at most this late."""
    return min(max(push_seconds / 10, 0.1), 2.0)


async def position_loop(app: web.Application, stop: asyncio.Event) -> None:
    """Sends the positions that were held back by the per-citizen minimum interval.

    A change inside a citizen's interval is not queued anywhere; without a later change in
    that queue nobody would look again, so this sweep does, every ``sweep_seconds``.
    """
    push_seconds = app[settings_key].position_push_seconds
    if push_seconds <= 0:
        return  # every change is pushed at once: nothing is ever held back
    while not await wait_or_stop(stop, sweep_seconds(push_seconds)):
        try:
            async with app[sessionmaker_key]() as session:
                queued = await refresh_positions(app, session, None)
            if queued and outbox_wakeup_key in app:
                app[outbox_wakeup_key].set()
        except Exception:
            log.exception("queue position sweep failed")
