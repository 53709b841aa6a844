"""Audit log: who viewed, claimed, exported, erased or redacted a case, and retention runs.

An entry keeps the case reference as plain text (no foreign key), so it survives erasure
and retention. ``detail`` is written by this code only and never holds personal data:
no names, contact details or message text.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import AuditAction, AuditEntry, User, utcnow

# Actor labels for entries without a staff user.
SYSTEM = "systeem"
CITIZEN = "inwoner"
CLI = "beheerder (opdrachtregel)"

# A case page is reloaded after every action; one "viewed" entry per person per window is enough.
VIEW_DEDUP_WINDOW = dt.timedelta(minutes=5)


def record(
    session: AsyncSession,
    action: AuditAction,
    *,
    reference: str | None,
    user: User | None = None,
    actor: str | None = None,
    detail: str | None = None,
    at: dt.datetime | None = None,
) -> AuditEntry:
    """Add an entry to the current transaction (it is kept only if that commits)."""
    entry = AuditEntry(
        at=at or utcnow(),
        actor_id=user.id if user else None,
        actor=actor or (user.username if user else SYSTEM),
        action=action,
        reference=reference,
        detail=detail[:255] if detail else None,
    )
    session.add(entry)
    return entry


async def record_view(session: AsyncSession, user: User, reference: str, *, detail: str) -> None:
    """A "viewed" entry, unless this user viewed this case within ``VIEW_DEDUP_WINDOW``."""
    now = utcnow()
    recent = await session.scalar(
        select(AuditEntry.id)
        .where(
            AuditEntry.reference == reference,
            AuditEntry.actor_id == user.id,
            AuditEntry.action == AuditAction.VIEWED,
            AuditEntry.at > now - VIEW_DEDUP_WINDOW,
        )
        .limit(1)
    )
    if recent is None:
        record(session, AuditAction.VIEWED, reference=reference, user=user, detail=detail, at=now)


async def latest(
    session: AsyncSession, *, reference: str | None = None, limit: int = 200
) -> list[AuditEntry]:
    """Newest first; only the entries of ``reference`` when given."""
    stmt = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    if reference:
        stmt = stmt.where(AuditEntry.reference == reference.strip().upper())
    return list(await session.scalars(stmt))
