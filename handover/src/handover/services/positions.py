"""Queue positions pushed to waiting chat citizens (``wachtrij_update``), without a pile-up."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, or_, select, text, update

from ..models import Case, Kind, OutboxMessage, OutboxStatus, utcnow
from ..uow import UnitOfWork
from .queue_order import queue_order, waiting_in


async def refresh_queue_positions(
    uow: UnitOfWork,
    team: str | None,
    *,
    min_interval: dt.timedelta = dt.timedelta(0),
    now: dt.datetime | None = None,
) -> int:
    """Tell waiting chat citizens their new place; returns how many were told.

    A citizen is told only when their position differs from the one they were last told,
    and at most once per ``min_interval`` (``HANDOVER_POSITION_PUSH_SECONDS``). A change
    inside the interval is not written anywhere: the first refresh after the interval (the
    next queue change, or the periodic sweep in ``workflow.position_loop``) pushes the
    position of that moment, so the newest position wins and the ones in between are never
    sent. That keeps the work per claim small on long queues: one ranking query, and writes
    only for the citizens who are due. ``team=None`` refreshes every team (the sweep).

    Runs in its own transaction after the change that moved the queue. Refreshes are
    serialised (an advisory lock on PostgreSQL, the single connection on SQLite), so the
    last one sees every committed change and each position is pushed only once.
    """
    session = uow.session
    now = now or utcnow()
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(727001)"))
    waiting = waiting_in(team)
    if team is None:  # the sweep: only teams where someone waits in a live chat
        waiting.append(Case.team.in_(select(Case.team).where(*waiting_in(None), Case.kind == Kind.CHAT)))
    position = func.row_number().over(partition_by=Case.team, order_by=queue_order())
    ranked = (
        select(
            Case.id,
            Case.kind,
            Case.channel,
            Case.sender_id,
            Case.notified_position,
            Case.position_pushed_at,
            position.label("position"),
        )
        .where(*waiting)
        .subquery()
    )
    rows = (
        await session.execute(
            select(ranked.c.id, ranked.c.channel, ranked.c.sender_id, ranked.c.position)
            .where(
                ranked.c.kind == Kind.CHAT,  # callback requests have no chat to push to
                or_(ranked.c.notified_position.is_(None), ranked.c.notified_position != ranked.c.position),
                or_(
                    ranked.c.position_pushed_at.is_(None),
                    ranked.c.position_pushed_at <= now - min_interval,
                ),
            )
            .order_by(ranked.c.position, ranked.c.id)
        )
    ).all()
    if not rows:
        return 0
    # One executemany instead of a statement per case: a claim can make many citizens due.
    await session.execute(
        update(Case),
        [{"id": row.id, "notified_position": row.position, "position_pushed_at": now} for row in rows],
    )
    # Only the newest position matters: drop undelivered older ones (Rasa slow or down) so
    # they do not build a backlog in front of the casemanagers' chat messages.
    # SKIP LOCKED: rows the drainer holds are being delivered anyway, and never waiting on
    # them rules out a lock-order deadlock with the drainer.
    stale = list(
        await session.scalars(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.case_id.in_([row.id for row in rows]),
                OutboxMessage.intent == "wachtrij_update",
                OutboxMessage.status == OutboxStatus.PENDING,
            )
            .order_by(OutboxMessage.id)
            .with_for_update(skip_locked=True)
        )
    )
    if stale:
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(stale)).values(status=OutboxStatus.SUPERSEDED)
        )
    session.add_all(
        OutboxMessage(
            case_id=row.id,
            channel=row.channel,
            sender_id=row.sender_id,
            intent="wachtrij_update",
            entities={"positie": row.position},
        )
        for row in rows
    )
    uow.effects.outbox = True
    return len(rows)
