"""Which casemanagers are online, and what the bot may offer the citizen (live chat or callback)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..dutch_dates import WEEKDAYS
from ..models import User, utcnow
from ..settings import END_OF_DAY, OfficeHours
from ..uow import UnitOfWork

# The bot shows these words to citizens: plain Dutch (B1).


@dataclass(frozen=True)
class Availability:
    open: bool
    online_casemanagers: int
    # When the office hours open next (their timezone); None while open or when they never do.
    next_open: dt.datetime | None = None
    hours: str = ""  # the office hours in plain Dutch, see office_hours_in_words
    # The same as data (office_hours_as_data): the bot words them in the conversation's language.
    hours_data: tuple[dict[str, Any], ...] = ()

    @property
    def offer(self) -> str:
        return "live" if self.open and self.online_casemanagers > 0 else "callback"


def _clock(time: dt.time) -> str:
    return "24.00" if time == END_OF_DAY else f"{time.hour}.{time.minute:02d}"


def _days(first: int, last: int) -> str:
    if first == last:
        return WEEKDAYS[first]
    if (first, last) == (0, 6):
        return "elke dag"
    joiner = " en " if last == first + 1 else " tot en met "
    return WEEKDAYS[first] + joiner + WEEKDAYS[last]


def _groups(hours: OfficeHours) -> list[tuple[int, int, tuple[dt.time, dt.time]]]:
    """Consecutive days with the same hours, as (first day, last day, (opens, closes))."""
    groups: list[tuple[int, int, tuple[dt.time, dt.time]]] = []
    for day in sorted(hours.windows):
        window = hours.windows[day]
        if groups and groups[-1][1] == day - 1 and groups[-1][2] == window:
            groups[-1] = (groups[-1][0], day, window)
        else:
            groups.append((day, day, window))
    return groups


def office_hours_in_words(hours: OfficeHours) -> str:
    """E.g. "maandag tot en met vrijdag van 9.00 tot 17.00 uur"; consecutive days with the same
    hours are one group ("… en vrijdag van 9.00 tot 12.00 uur"). Empty without office hours."""
    parts = [
        f"{_days(first, last)} van {_clock(start)} tot {_clock(end)} uur"
        for first, last, (start, end) in _groups(hours)
    ]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " en " + parts[-1]


def office_hours_as_data(hours: OfficeHours) -> list[dict[str, Any]]:
    """The same groups as data, for the bot, which words them in the citizen's language:
    `{"first_day": 0, "last_day": 4, "opens": "09:00", "closes": "17:00"}` (0 = Monday; "24:00" is
    the end of the day)."""
    return [
        {
            "first_day": first,
            "last_day": last,
            "opens": start.strftime("%H:%M"),
            "closes": "24:00" if end == END_OF_DAY else end.strftime("%H:%M"),
        }
        for first, last, (start, end) in _groups(hours)
    ]


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
        next_open=office_hours.next_open(now),
        hours=office_hours_in_words(office_hours),
        hours_data=tuple(office_hours_as_data(office_hours)),
    )


async def touch_presence(uow: UnitOfWork, user_id: int, *, online: bool | None = None) -> None:
    values: dict[str, Any] = {"last_seen_at": utcnow()}
    if online is not None:
        values["online"] = online
    await uow.session.execute(update(User).where(User.id == user_id).values(**values))
