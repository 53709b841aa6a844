"""Which casemanagers are online, and what the bot may offer the citizen (live chat or callback)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import User, utcnow
from ..settings import OfficeHours
from ..uow import UnitOfWork


@dataclass(frozen=True)
class Availability:
    open: bool
    online_casemanagers: int

    @property
    def offer(self) -> str:
        return "live" if self.open and self.online_casemanagers > 0 else "callback"


async def online_casemanagers(
    session: AsyncSession, timeout_seconds: int, now: dt.datetime | None = None
) -> int:
    cutoff = (now or utcnow()) - dt.timedelta(seconds=timeout_seconds)
    count = await session.scalar(
        select(func.count()).select_from(User).where(User.online.is_(True), User.last_seen_at >= cutoff)
    )
    return int(count or 0)


async def availability(
    session: AsyncSession, office_hours: OfficeHours, timeout_seconds: int, now: dt.datetime | None = None
) -> Availability:
    now = now or utcnow()
    return Availability(
        open=office_hours.is_open(now),
        online_casemanagers=await online_casemanagers(session, timeout_seconds, now),
    )


async def touch_presence(uow: UnitOfWork, user_id: int, *, online: bool | None = None) -> None:
    values: dict[str, Any] = {"last_seen_at": utcnow()}
    if online is not None:
        values["online"] = online
    await uow.session.execute(update(User).where(User.id == user_id).values(**values))
