"""The teamleider's overview: per team, who handles which case now and how long each citizen
has waited (for a reply, or in the queue), with warning thresholds."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Case, Status, User
from .inbox import ChatSummary, chat_summary
from .queue_order import queue_order

# Minutes after which a wait is shown as "let op" and as "te lang".
REPLY_WARNING, REPLY_ALARM = 5, 15
QUEUE_WARNING, QUEUE_ALARM = 10, 30


@dataclass(frozen=True)
class Handled:
    chat: ChatSummary
    handler: str


@dataclass
class TeamOverview:
    team: str
    handled: list[Handled] = field(default_factory=list)
    waiting: list[Case] = field(default_factory=list)


def level(since: dt.datetime | None, now: dt.datetime, warning: int, alarm: int) -> str:
    """ "" (fine), "let-op" or "te-lang"."""
    if since is None:
        return ""
    minutes = (now - since).total_seconds() / 60
    return "te-lang" if minutes >= alarm else "let-op" if minutes >= warning else ""


async def team_overview(session: AsyncSession, team_order: list[str]) -> list[TeamOverview]:
    """Every team with open cases (in ``team_order`` first), cases in progress by waiting time."""
    teams: dict[str, TeamOverview] = {}

    def of(team: str) -> TeamOverview:
        return teams.setdefault(team, TeamOverview(team))

    rows = await session.execute(
        select(Case, User.display_name)
        .join(User, User.id == Case.claimed_by_id)
        .where(Case.status == Status.IN_PROGRESS)
        .order_by(Case.claimed_at)
    )
    for case, handler in rows.tuples():
        of(case.team).handled.append(Handled(await chat_summary(session, case), handler))
    for case in await session.scalars(
        select(Case).where(Case.status == Status.WAITING).order_by(*queue_order())
    ):
        of(case.team).waiting.append(case)
    far = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    for overview in teams.values():
        overview.handled.sort(key=lambda h: (not h.chat.case.urgent, h.chat.waiting_since or far))
    rank = {team: i for i, team in enumerate(team_order)}
    return sorted(teams.values(), key=lambda t: (rank.get(t.team, len(rank)), t.team))
