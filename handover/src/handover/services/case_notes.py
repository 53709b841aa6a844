"""What a casemanager writes down on a case in progress: private notes and follow-up tasks
(nazorg) with a due date."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import audit
from ..models import AuditAction, Case, FollowUp, Note, User, utcnow
from ..uow import UnitOfWork
from .cases import clean_text, get_case
from .errors import FollowUpNotFound, NotClaimedByYou
from .permissions import require_owner
from .registration import registration_changed


def _updated(case: Case, user: User, change: str) -> dict[str, Any]:
    """A workspace event without content: open pages of the case load it again."""
    return {
        "type": "case_updated",
        "reference": case.reference,
        "team": case.team,
        "change": change,
        "by_id": user.id,
    }


async def notes(session: AsyncSession, case: Case) -> list[Note]:
    return list(await session.scalars(case.notes.select()))


async def follow_ups(session: AsyncSession, case: Case) -> list[FollowUp]:
    return list(await session.scalars(case.follow_ups.select()))


async def open_follow_ups_for(session: AsyncSession, user: User) -> list[tuple[FollowUp, str]]:
    rows = await session.execute(
        select(FollowUp, Case.reference)
        .join(Case, Case.id == FollowUp.case_id)
        .where(FollowUp.assignee_id == user.id, FollowUp.done.is_(False))
        .order_by(FollowUp.due_date)
    )
    return [(f, ref) for f, ref in rows.tuples()]


async def add_note(uow: UnitOfWork, reference: str, user: User, text: str) -> Note:
    case = await get_case(uow.session, reference)
    require_owner(uow.session, case, user, "notitie toevoegen")
    note = Note(case_id=case.id, author_id=user.id, text=clean_text(text), created_at=utcnow())
    uow.session.add(note)
    audit.record(
        uow.session, AuditAction.NOTE, reference=case.reference, user=user, detail="notitie toegevoegd"
    )
    uow.publish(_updated(case, user, "notitie"))
    for mentioned in await _mentioned(uow.session, note.text, user):
        # A signal on the colleague's open pages; the text stays in the case.
        uow.publish(
            {
                "type": "case_mention",
                "reference": case.reference,
                "team": case.team,
                "user_id": mentioned,
                "by_id": user.id,
            }
        )
    return note


MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9][\w.-]{0,63})")


async def _mentioned(session: AsyncSession, text: str, author: User) -> list[int]:
    """The colleagues named with @username in a note (not the author, unknown names ignored)."""
    names = {m.rstrip(".-") for m in MENTION.findall(text)}
    if not names:
        return []
    ids = await session.scalars(select(User.id).where(User.username.in_(sorted(names)), User.id != author.id))
    return sorted(ids)


async def add_follow_up(
    uow: UnitOfWork, reference: str, user: User, due_date: dt.date, description: str
) -> FollowUp:
    case = await get_case(uow.session, reference)
    require_owner(uow.session, case, user, "nazorgtaak toevoegen")
    task = FollowUp(
        case_id=case.id, assignee_id=user.id, due_date=due_date, description=clean_text(description)
    )
    uow.session.add(task)
    detail = f"nazorgtaak toegevoegd (datum {due_date.isoformat()})"
    audit.record(uow.session, AuditAction.FOLLOW_UP, reference=case.reference, user=user, detail=detail)
    uow.publish(_updated(case, user, "nazorg"))
    return task


async def complete_follow_up(uow: UnitOfWork, follow_up_id: int, user: User) -> FollowUp:
    task = await uow.session.get(FollowUp, follow_up_id)
    if task is None:
        raise FollowUpNotFound(follow_up_id)
    if task.assignee_id != user.id and not user.is_teamleader:
        raise NotClaimedByYou(str(follow_up_id))
    task.done = True
    # Its interne taak in Open Klant, if the case was registered, is marked "verwerkt" too.
    await registration_changed(uow, task.case_id)
    return task
