"""Unit of work: one database transaction plus the side effects to run after it commits.

Services record what happened (events for the workspace, queues whose positions changed,
new outbox rows); they never publish before the data is committed, so a casemanager never
sees a case that a rolled-back transaction would remove again.

``UnitOfWork(sessionmaker)`` opens and closes a session of its own (background loops, the
command line). ``UnitOfWork(session=...)`` runs its transaction on a session that outlives it:
the one session of an HTTP request (db.request_session), used for several transactions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


@dataclass
class Effects:
    events: list[dict[str, Any]] = field(default_factory=list)
    queue_teams: set[str] = field(default_factory=set)
    outbox: bool = False
    openklant: bool = False  # an Open Klant registration has work (openklant.py)


class UnitOfWork:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession] | None = None,
        *,
        session: AsyncSession | None = None,
    ) -> None:
        if (sessionmaker is None) == (session is None):
            raise TypeError("UnitOfWork needs either a sessionmaker or a session")
        self._sessionmaker = sessionmaker
        self._shared = session
        self.effects = Effects()

    async def __aenter__(self) -> UnitOfWork:
        if self._shared is not None:
            self.session = self._shared
        else:
            assert self._sessionmaker is not None
            self.session = self._sessionmaker()
        await self.session.begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                await self.session.commit()
            else:
                await self.session.rollback()
                self.effects = Effects()
        finally:
            if self._shared is None:
                await self.session.close()
            else:
                if self.session.in_transaction():  # the commit failed: leave the session usable
                    await self.session.rollback()
                # What this transaction loaded stays readable (loaded, detached), as with a
                # session of its own; and the next transaction on the shared session reads
                # fresh rows: a WebSocket's session must not keep serving a user's old role
                # or teams from its identity map.
                self.session.expunge_all()

    def publish(self, event: dict[str, Any]) -> None:
        self.effects.events.append(event)

    def queue_changed(self, team: str) -> None:
        self.effects.queue_teams.add(team)
