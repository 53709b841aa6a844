"""The queue: what waits and for how long, claiming (a named case or the next one), giving a
case back, and transferring it to a colleague or another team."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .. import audit
from ..models import AuditAction, Case, Note, Status, User, utcnow
from ..teams import TeamMapping
from ..uow import UnitOfWork
from .cases import MAX_TEXT, get_case, record_status_change
from .errors import AlreadyClaimed, InvalidTransition, NotYourTeam, QueueEmpty, UnknownTeam, UnknownUser
from .permissions import authorize, require_owner, works_in
from .presence import online_casemanagers
from .queue_order import queue_order, queue_position, waiting_in
from .rasa_calls import enqueue_rasa

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueInfo:
    position: int | None
    expected_wait_minutes: int | None


@dataclass
class QueuePage:
    cases: list[Case]
    total: int
    positions: dict[int, int] = field(default_factory=dict)


# --- what waits ---------------------------------------------------------------------------


def expected_wait_minutes(position: int | None, online: int, minutes_per_case: int) -> int | None:
    if position is None:
        return None
    # Everyone ahead of you and you yourself are served by the casemanagers online.
    return math.ceil(position * minutes_per_case / max(online, 1))


async def queue_info(
    session: AsyncSession, case: Case, *, minutes_per_case: int, timeout_seconds: int
) -> QueueInfo:
    position = await queue_position(session, case)
    online = await online_casemanagers(session, timeout_seconds) if position else 0
    return QueueInfo(position, expected_wait_minutes(position, online, minutes_per_case))


async def list_queue(session: AsyncSession, team: str | None = None, limit: int = 100) -> QueuePage:
    conds = waiting_in(team)
    total = await session.scalar(select(func.count()).select_from(Case).where(*conds))
    cases = list(await session.scalars(select(Case).where(*conds).order_by(*queue_order()).limit(limit)))
    page = QueuePage(cases=cases, total=int(total or 0))
    if team:
        page.positions = {c.id: i for i, c in enumerate(cases, start=1)}
    return page


async def my_cases(session: AsyncSession, user: User) -> list[Case]:
    return list(
        await session.scalars(
            select(Case)
            .where(Case.claimed_by_id == user.id, Case.status == Status.IN_PROGRESS)
            .order_by(Case.claimed_at)
        )
    )


# --- claiming ---------------------------------------------------------------------------


def _claimed_event(case: Case, user: User) -> dict[str, Any]:
    return {
        "type": "case_claimed",
        "reference": case.reference,
        "team": case.team,
        "by": user.display_name,
        "by_id": user.id,
    }


async def claim(uow: UnitOfWork, reference: str, user: User) -> Case:
    """Take a waiting case. The conditional UPDATE makes two claimers race safely."""
    session = uow.session
    case = await get_case(session, reference)
    if case.status == Status.IN_PROGRESS:
        raise AlreadyClaimed(case.reference)
    if case.status == Status.CLOSED:
        raise InvalidTransition(case.reference, case.status, "in behandeling nemen")
    authorize(session, case, user, "in behandeling nemen")
    claimed_id = await session.scalar(
        update(Case)
        .where(
            Case.id == case.id,
            Case.status == Status.WAITING,
            Case.claimed_by_id.is_(None),
            # Checked above for this team: a transfer in between puts it in another queue.
            Case.team == case.team,
        )
        .values(status=Status.IN_PROGRESS, claimed_by_id=user.id, claimed_at=utcnow())
        .returning(Case.id)
    )
    if claimed_id is None:
        raise AlreadyClaimed(case.reference)
    return await _after_claim(uow, claimed_id, user)


async def claim_next(uow: UnitOfWork, user: User, teams: Sequence[str] | None = None) -> Case:
    """Claim the first case in the queue of ``teams``; by default the user's own teams (none: all).

    A casemanager may only ask for their own teams; a teamleider for any team (audited).
    """
    session = uow.session
    if not teams:
        teams = user.teams or None
    elif not user.is_teamleader and (other := next((t for t in teams if not works_in(user.teams, t)), None)):
        raise NotYourTeam(other)
    for _attempt in range(20):
        stmt = select(Case).where(Case.status == Status.WAITING, Case.claimed_by_id.is_(None))
        if teams:
            stmt = stmt.where(Case.team.in_(list(teams)))
        # SKIP LOCKED lets concurrent claimers on PostgreSQL each take a different case
        # instead of queueing on the head row; SQLite ignores it (it has one writer).
        stmt = stmt.order_by(*queue_order()).limit(1).with_for_update(skip_locked=True)
        case = await session.scalar(stmt)
        if case is None:
            raise QueueEmpty()
        authorize(session, case, user, "volgende zaak in behandeling nemen")
        claimed_id = await session.scalar(
            update(Case)
            .where(Case.id == case.id, Case.status == Status.WAITING, Case.claimed_by_id.is_(None))
            .values(status=Status.IN_PROGRESS, claimed_by_id=user.id, claimed_at=utcnow())
            .returning(Case.id)
        )
        if claimed_id is not None:
            return await _after_claim(uow, claimed_id, user)
    raise QueueEmpty()


async def _after_claim(uow: UnitOfWork, case_id: int, user: User) -> Case:
    session = uow.session
    case = await session.get_one(Case, case_id, populate_existing=True)
    case.read_message_id = None  # unread counts from the claim on
    record_status_change(uow, case, Status.WAITING, Status.IN_PROGRESS, user, "in behandeling genomen")
    audit.record(session, AuditAction.CLAIMED, reference=case.reference, user=user, detail="opgepakt")
    enqueue_rasa(uow, case, "medewerker_gekoppeld", {"naam": user.first_name})
    log.info("case %s claimed by user %s", case.reference, user.id)
    uow.publish(_claimed_event(case, user))
    uow.queue_changed(case.team)
    return case


async def unclaim(uow: UnitOfWork, reference: str, user: User) -> Case:
    """Put the case back in the queue; it keeps its original place (created_at)."""
    case = await get_case(uow.session, reference, for_update=True)
    require_owner(uow.session, case, user, "vrijgeven")
    previous = case.claimed_by_id
    case.status = Status.WAITING
    case.claimed_by_id = None
    case.claimed_at = None
    case.read_message_id = None
    record_status_change(uow, case, Status.IN_PROGRESS, Status.WAITING, user, "vrijgegeven")
    detail = "vrijgegeven" if previous == user.id else "vrijgegeven (zaak van een collega)"
    audit.record(uow.session, AuditAction.RELEASED, reference=case.reference, user=user, detail=detail)
    log.info("case %s unclaimed by user %s", case.reference, user.id)
    uow.publish(
        {
            "type": "case_returned",
            "reference": case.reference,
            "team": case.team,
            "by_id": user.id,
            "from_id": previous,
        }
    )
    uow.queue_changed(case.team)
    return case


# --- transfer ---------------------------------------------------------------------------


async def get_user(session: AsyncSession, username: str) -> User:
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        raise UnknownUser(username)
    return user


async def colleagues(session: AsyncSession, user: User) -> list[User]:
    """Whom ``user`` can hand a case to."""
    return list(await session.scalars(select(User).where(User.id != user.id).order_by(User.display_name)))


def _transfer_note(uow: UnitOfWork, case: Case, user: User, to: str, reason: str) -> None:
    """The reason of a transfer, as a note of whoever transferred: the receiver reads it in the
    case, with its author and time (redacted at closing like every note)."""
    reason = reason.strip()
    if reason:
        text = f"Reden van overdracht aan {to}: {reason}"[:MAX_TEXT]
        uow.session.add(Note(case_id=case.id, author_id=user.id, text=text, created_at=utcnow()))


async def transfer_to_user(
    uow: UnitOfWork, reference: str, user: User, target_username: str, reason: str = ""
) -> Case:
    session = uow.session
    case = await get_case(session, reference, for_update=True)
    require_owner(session, case, user, "overdragen aan een collega")
    target = await get_user(session, target_username)
    _transfer_note(uow, case, user, target.display_name, reason)
    previous = case.claimed_by_id
    case.claimed_by_id = target.id
    case.claimed_at = utcnow()
    case.read_message_id = None
    record_status_change(
        uow,
        case,
        Status.IN_PROGRESS,
        Status.IN_PROGRESS,
        user,
        f"overgedragen aan {target.username}",
    )
    enqueue_rasa(uow, case, "medewerker_gekoppeld", {"naam": target.first_name})
    detail = f"overgedragen aan {target.username}"
    audit.record(session, AuditAction.TRANSFERRED, reference=case.reference, user=user, detail=detail)
    log.info("case %s transferred from user %s to user %s", case.reference, user.id, target.id)
    uow.publish(
        _claimed_event(case, target) | {"type": "case_transferred", "from_id": previous, "actor_id": user.id}
    )
    return case


async def transfer_to_team(
    uow: UnitOfWork, reference: str, user: User, team: str, teams: TeamMapping, reason: str = ""
) -> Case:
    if team not in teams.teams:
        raise UnknownTeam(team)
    case = await get_case(uow.session, reference, for_update=True)
    require_owner(uow.session, case, user, "overdragen aan een team")
    _transfer_note(uow, case, user, f"team {teams.label(team)}", reason)
    into_team_queue(uow, case, user, team, why=f"overgedragen aan team {team}")
    return case


def into_team_queue(uow: UnitOfWork, case: Case, user: User, team: str, *, why: str, cause: str = "") -> None:
    """A case in progress goes, unclaimed, to the queue of ``team`` (a transfer to a team, or a
    corrected topic of another team): in the history and the audit log as ``why``; the team's
    pages get ``case_new`` (with ``cause``, e.g. "onderwerp"), the handler's page its signal."""
    old_team = case.team
    previous = case.claimed_by_id
    case.team = team
    case.status = Status.WAITING
    case.claimed_by_id = None
    case.claimed_at = None
    case.read_message_id = None
    # A new queue: tell the citizen their new place right away.
    case.notified_position = None
    case.position_pushed_at = None
    record_status_change(uow, case, Status.IN_PROGRESS, Status.WAITING, user, why[:128])
    audit.record(uow.session, AuditAction.TRANSFERRED, reference=case.reference, user=user, detail=why)
    log.info("case %s moved by user %s to the queue of team %s", case.reference, user.id, team)
    uow.publish(
        {
            "type": "case_new",
            "reference": case.reference,
            "team": team,
            "old_team": old_team,
            "urgent": case.urgent,
            "from_id": previous,
            "actor_id": user.id,
        }
        | ({"cause": cause} if cause else {})
    )
    uow.queue_changed(old_team)
    uow.queue_changed(team)
