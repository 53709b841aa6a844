"""The order of a team's queue: urgent cases first, then the longest-waiting."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Case, Status


def queue_order() -> tuple[Any, ...]:
    return (Case.urgent.desc(), Case.created_at, Case.id)


def waiting_in(team: str | None) -> list[Any]:
    conds: list[Any] = [Case.status == Status.WAITING]
    if team:
        conds.append(Case.team == team)
    return conds


async def queue_position(session: AsyncSession, case: Case) -> int | None:
    """1-based position within the case's team queue, or None when not waiting."""
    if case.status != Status.WAITING:
        return None
    earlier = or_(
        Case.created_at < case.created_at,
        (Case.created_at == case.created_at) & (Case.id < case.id),
    )
    # Urgent cases go first; within the same urgency the oldest goes first.
    ahead_cond = (Case.urgent.is_(True) & earlier) if case.urgent else or_(Case.urgent.is_(True), earlier)
    ahead = await session.scalar(
        select(func.count()).select_from(Case).where(*waiting_in(case.team), ahead_cond)
    )
    return int(ahead or 0) + 1
