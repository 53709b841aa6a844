"""The live inbox of a casemanager: their chats in progress with the last message, how many
citizen messages they have not read, and since when the citizen waits for their reply."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Case, Message, Status, User
from ..uow import UnitOfWork
from .cases import get_case
from .queue import my_cases

# Roles whose message answers the citizen: after one, the citizen no longer waits.
STAFF_ROLES = ("casemanager",)
PREVIEW_CHARS = 90


@dataclass(frozen=True)
class ChatSummary:
    case: Case
    last_role: str | None
    last_text: str | None
    last_at: dt.datetime | None
    unread: int
    # The citizen's oldest message since the casemanager last wrote (the case's creation when
    # the casemanager has not written yet); None when the casemanager answered last.
    waiting_since: dt.datetime | None


def _preview(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1].rstrip() + "…"


def _unread_filter(case: Case) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [Message.case_id == case.id, Message.role == "citizen"]
    if case.read_message_id is not None:
        conds.append(Message.id > case.read_message_id)
    elif case.claimed_at is not None:
        conds.append(Message.created_at >= case.claimed_at)
    return conds


async def unread_count(session: AsyncSession, case: Case) -> int:
    """Citizen messages the casemanager handling ``case`` has not read."""
    count = await session.scalar(select(func.count()).select_from(Message).where(*_unread_filter(case)))
    return int(count or 0)


async def chat_summary(session: AsyncSession, case: Case) -> ChatSummary:
    last = await session.scalar(
        select(Message).where(Message.case_id == case.id).order_by(Message.id.desc()).limit(1)
    )
    last_staff_id = await session.scalar(
        select(func.max(Message.id)).where(Message.case_id == case.id, Message.role.in_(STAFF_ROLES))
    )
    if last_staff_id is None:
        waiting_since: dt.datetime | None = case.created_at
    else:
        waiting_since = await session.scalar(
            select(func.min(Message.created_at)).where(
                Message.case_id == case.id, Message.role == "citizen", Message.id > last_staff_id
            )
        )
    return ChatSummary(
        case=case,
        last_role=last.role if last else None,
        last_text=_preview(last.text) if last else None,
        last_at=last.created_at if last else None,
        unread=await unread_count(session, case),
        waiting_since=waiting_since,
    )


async def my_chats(session: AsyncSession, user: User) -> list[ChatSummary]:
    """The cases ``user`` handles now, urgent first, then the longest-waiting citizen."""
    chats = [await chat_summary(session, case) for case in await my_cases(session, user)]
    far = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    return sorted(chats, key=lambda c: (not c.case.urgent, c.waiting_since or far, c.case.id))


async def mark_read(uow: UnitOfWork, reference: str, user: User, message_id: int) -> int:
    """The casemanager handling the case has read up to ``message_id``; returns what is still
    unread. Only for whoever handles the case: a colleague or teamleider looking along reads
    nothing on their behalf. Never goes back, never past the newest message."""
    session = uow.session
    case = await get_case(session, reference, for_update=True)
    if case.status != Status.IN_PROGRESS or case.claimed_by_id != user.id:
        return 0
    newest = await session.scalar(select(func.max(Message.id)).where(Message.case_id == case.id))
    upto = min(message_id, newest or 0)
    if upto > (case.read_message_id or 0):
        case.read_message_id = upto
        uow.publish({"type": "case_read", "reference": case.reference, "team": case.team, "by_id": user.id})
    return await unread_count(session, case)
