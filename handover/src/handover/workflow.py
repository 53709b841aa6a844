"""Runs a unit of work and, once committed, its side effects (positions, outbox, events)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from . import services
from .keys import hub_key, outbox_wakeup_key, sessionmaker_key
from .uow import Effects, UnitOfWork

log = logging.getLogger(__name__)


@asynccontextmanager
async def transaction(app: web.Application) -> AsyncIterator[UnitOfWork]:
    uow = UnitOfWork(app[sessionmaker_key])
    async with uow:
        yield uow
    await apply_effects(app, uow.effects)


async def apply_effects(app: web.Application, effects: Effects) -> None:
    outbox = effects.outbox
    for team in sorted(effects.queue_teams):
        # Separate transaction: it must see the change that was just committed.
        try:
            async with UnitOfWork(app[sessionmaker_key]) as refresh:
                await services.refresh_queue_positions(refresh, team)
            outbox |= refresh.effects.outbox
        except Exception:  # the change itself is committed; a later change retries this
            log.exception("queue position refresh failed for team %s", team)
    if outbox and outbox_wakeup_key in app:
        app[outbox_wakeup_key].set()
    hub = app[hub_key]
    for event in effects.events:
        await hub.publish(event)
    if effects.queue_teams:
        await hub.publish({"type": "queue_changed", "teams": sorted(effects.queue_teams)})
