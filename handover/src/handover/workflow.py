"""Runs a unit of work and, once committed, its side effects (positions, outbox, events)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from . import services
from .background import wait_or_stop
from .keys import hub_key, outbox_wakeup_key, sessionmaker_key, settings_key
from .uow import Effects, UnitOfWork

log = logging.getLogger(__name__)


@asynccontextmanager
async def transaction(app: web.Application) -> AsyncIterator[UnitOfWork]:
    uow = UnitOfWork(app[sessionmaker_key])
    async with uow:
        yield uow
    await apply_effects(app, uow.effects)


def _push_interval(app: web.Application) -> dt.timedelta:
    return dt.timedelta(seconds=app[settings_key].position_push_seconds)


async def refresh_positions(app: web.Application, team: str | None) -> bool:
    """Push due queue positions for ``team`` (None: every team); True if any were queued.

    Separate transaction: it must see the change that was just committed.
    """
    async with UnitOfWork(app[sessionmaker_key]) as refresh:
        await services.refresh_queue_positions(refresh, team, min_interval=_push_interval(app))
    return refresh.effects.outbox


async def apply_effects(app: web.Application, effects: Effects) -> None:
    outbox = effects.outbox
    for team in sorted(effects.queue_teams):
        try:
            outbox |= await refresh_positions(app, team)
        except Exception:  # the change itself is committed; a later change or the sweep retries
            log.exception("queue position refresh failed for team %s", team)
    if outbox and outbox_wakeup_key in app:
        app[outbox_wakeup_key].set()
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
            if await refresh_positions(app, None) and outbox_wakeup_key in app:
                app[outbox_wakeup_key].set()
        except Exception:
            log.exception("queue position sweep failed")
