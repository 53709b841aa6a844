"""History: closed cases, found by reference, closing date, topic and outcome label. The list
holds no personal data (reference, dates, topic, label, team); opening a case shows it as the
redaction rules say (access.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Case, Status
from .errors import InvalidInput

# The outcome label chosen at closing (optional): what became of the question.
OUTCOME_LABELS: dict[str, str] = {
    "opgelost": "Opgelost",
    "doorverwezen": "Doorverwezen naar een organisatie",
    "terugbellen": "Terugbelafspraak gemaakt",
    "geen_contact": "Geen contact gekregen",
    "anders": "Anders",
}
MAX_RESULTS = 100


def check_outcome_label(label: str | None) -> str | None:
    label = (label or "").strip() or None
    if label is not None and label not in OUTCOME_LABELS:
        raise InvalidInput(f"Onbekend uitkomstlabel {label!r}")
    return label


@dataclass(frozen=True)
class Search:
    reference: str = ""
    closed_from: dt.datetime | None = None  # inclusive
    closed_before: dt.datetime | None = None  # exclusive
    topic: str = ""
    outcome_label: str = ""

    @property
    def empty(self) -> bool:
        return not (
            self.reference or self.closed_from or self.closed_before or self.topic or self.outcome_label
        )


async def search_closed(session: AsyncSession, search: Search) -> list[Case]:
    """Closed cases that match every filter given, newest first (at most ``MAX_RESULTS``)."""
    stmt = select(Case).where(Case.status == Status.CLOSED)
    if search.reference:
        stmt = stmt.where(Case.reference.contains(search.reference.strip().upper(), autoescape=True))
    if search.closed_from:
        stmt = stmt.where(Case.closed_at >= search.closed_from)
    if search.closed_before:
        stmt = stmt.where(Case.closed_at < search.closed_before)
    if search.topic:
        stmt = stmt.where(Case.topic == search.topic)
    if search.outcome_label:
        stmt = stmt.where(Case.outcome_label == search.outcome_label)
    return list(
        await session.scalars(stmt.order_by(Case.closed_at.desc(), Case.id.desc()).limit(MAX_RESULTS))
    )
