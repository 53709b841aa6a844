"""Units of work on a shared session (the one session of a request, db.request_session)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handover.models import Role, User
from handover.uow import UnitOfWork
from tests.conftest import add_user

SM = async_sessionmaker[AsyncSession]


def _user(username: str) -> User:
    return User(username=username, display_name="X", first_name="X", password_hash="x", teams=[])


async def test_a_failed_commit_leaves_the_shared_session_usable(sessionmaker: SM) -> None:
    async with sessionmaker() as session:
        with pytest.raises(IntegrityError):
            async with UnitOfWork(session=session) as uow:
                uow.session.add_all([_user("dubbel"), _user("dubbel")])  # fails at the commit's flush
        async with UnitOfWork(session=session) as uow:
            uow.session.add(_user("daarna"))
        async with UnitOfWork(session=session) as uow:
            count = await uow.session.scalar(select(func.count()).select_from(User))
    assert count == 1


async def test_each_unit_of_work_on_the_shared_session_reads_fresh_rows(sessionmaker: SM) -> None:
    """A WebSocket's session lives long: it must see a role changed elsewhere."""
    anna = await add_user(sessionmaker, "anna", role=Role.TEAMLEIDER)
    async with sessionmaker() as session:
        async with UnitOfWork(session=session) as uow:
            seen = await uow.session.get_one(User, anna.id)
        assert seen.role == Role.TEAMLEIDER  # still readable after its unit of work
        async with UnitOfWork(sessionmaker) as elsewhere:
            await elsewhere.session.execute(update(User).values(role=Role.CASEMANAGER))
        async with UnitOfWork(session=session) as uow:
            again = await uow.session.get_one(User, anna.id)
    assert again.role == Role.CASEMANAGER
