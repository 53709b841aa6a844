"""The citizen's satisfaction after closing (issue 14, item 9, the handover side): the bot asks
one short question (1-5 and optional words) and sends the answer here; per case and per team.

Only the copy without personal data of the citizen's words is kept: the case is closed, and
staff see only redacted texts of closed cases anyway (access.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Case, Status, utcnow
from ..redaction import Redactor
from ..uow import UnitOfWork
from .cases import get_case
from .errors import InvalidInput, InvalidTransition, SenderMismatch

SCORES = (1, 2, 3, 4, 5)
MAX_WORDS = 1000


async def record_satisfaction(
    uow: UnitOfWork, reference: str, sender_id: str, score: int, words: str | None, redactor: Redactor
) -> Case:
    """The citizen's answer for a closed case of their conversation; a later answer replaces it
    (so a resend by the bot changes nothing)."""
    if score not in SCORES:
        raise InvalidInput("score moet 1, 2, 3, 4 of 5 zijn")
    case = await get_case(uow.session, reference, for_update=True)
    if case.sender_id != sender_id:
        raise SenderMismatch(case.reference)
    if case.status != Status.CLOSED:
        raise InvalidTransition(case.reference, case.status, "tevredenheid vastleggen")
    words = (words or "").strip()[:MAX_WORDS] or None
    case.satisfaction_score = score
    case.satisfaction_text = (await redactor.aredact_texts([words]))[0] if words else None
    case.satisfaction_at = utcnow()
    uow.publish(
        {"type": "case_updated", "reference": case.reference, "team": case.team, "change": "tevredenheid"}
    )
    return case


@dataclass
class TeamSatisfaction:
    team: str
    count: int = 0
    total: int = 0
    per_score: dict[int, int] = field(default_factory=lambda: dict.fromkeys(SCORES, 0))

    @property
    def average(self) -> float | None:
        return self.total / self.count if self.count else None


async def satisfaction_per_team(session: AsyncSession, since: dt.datetime) -> list[TeamSatisfaction]:
    """Answers given since ``since``, per team (for the insight issue: counts only)."""
    rows = await session.execute(
        select(Case.team, Case.satisfaction_score, func.count())
        .where(Case.satisfaction_score.is_not(None), Case.satisfaction_at >= since)
        .group_by(Case.team, Case.satisfaction_score)
    )
    teams: dict[str, TeamSatisfaction] = {}
    for team, score, count in rows.tuples():
        summary = teams.setdefault(team, TeamSatisfaction(team))
        summary.count += count
        summary.total += int(score or 0) * count
        summary.per_score[int(score or 0)] = summary.per_score.get(int(score or 0), 0) + count
    return sorted(teams.values(), key=lambda t: t.team)
