"""Messages for a website conversation that no page was connected to receive.

Rasa's socket.io channel emits to the room of the conversation; with no widget in it (the citizen
closed the page, or reloads it), the message is gone. We keep it here instead and hand it out when
the widget rejoins that conversation (bot/channels/website/channel.py). Only as long as the widget
itself remembers the conversation (`hold_seconds`, its `data-session-minutes`): after that it starts
a new one and the message could never be shown, so it is not kept longer. Bounded per conversation.

The conversation id is stored as a hash (it is only compared); the message with its text, as it
must be shown later. SQLAlchemy 1.4 Core through bot/storage.py: a file path means SQLite (one
machine), a SQLAlchemy URL (postgresql://…) lets several Rasa instances share the messages.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, Callable, List

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, delete, insert, select
from sqlalchemy.engine import Connection

from bot.storage import LazyDatabase, database_url

MAX_PER_CONVERSATION = 50

metadata = MetaData()

pending_messages = Table(
    "website_pending_message",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_key", String(64), nullable=False, index=True),
    Column("data", Text, nullable=False),
    Column("created_at", Float, nullable=False, index=True),
)


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


class PendingMessages:
    """The waiting messages of all website conversations; safe to share between instances."""

    def __init__(self, url: str, hold_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self._db = LazyDatabase(url, metadata)
        self.hold_seconds = hold_seconds
        self.clock = clock

    @classmethod
    def from_setting(
        cls, setting: str, hold_seconds: float, clock: Callable[[], float] = time.time
    ) -> "PendingMessages":
        return cls(database_url(setting), hold_seconds, clock)

    def dispose(self) -> None:
        self._db.dispose()

    async def keep(self, session_id: str, data: Any) -> None:
        """Keep what the widget should have received (the `bot_uttered` data), oldest first."""
        now, key = self.clock(), _key(session_id)
        encoded = json.dumps(data, ensure_ascii=False)
        oldest = now - self.hold_seconds

        def work(connection: Connection) -> None:
            # Retention without a separate job: what can no longer be shown goes now.
            connection.execute(delete(pending_messages).where(pending_messages.c.created_at < oldest))
            connection.execute(
                insert(pending_messages).values(conversation_key=key, data=encoded, created_at=now)
            )
            newest = (
                select(pending_messages.c.id)
                .where(pending_messages.c.conversation_key == key)
                .order_by(pending_messages.c.id.desc())
                .limit(MAX_PER_CONVERSATION)
            )
            keep_ids = [row[0] for row in connection.execute(newest)]
            connection.execute(
                delete(pending_messages)
                .where(pending_messages.c.conversation_key == key)
                .where(pending_messages.c.id.not_in(keep_ids))
            )

        await self._db.run(work)

    async def take(self, session_id: str) -> List[Any]:
        """Remove and return the conversation's messages that can still be shown, oldest first.
        A row is only returned by the call that deleted it, so two instances never both send it."""
        key, oldest = _key(session_id), self.clock() - self.hold_seconds

        def work(connection: Connection) -> List[Any]:
            rows = connection.execute(
                select(pending_messages.c.id, pending_messages.c.data, pending_messages.c.created_at)
                .where(pending_messages.c.conversation_key == key)
                .order_by(pending_messages.c.id)
            ).all()
            taken = []
            for row_id, data, created_at in rows:
                gone = connection.execute(delete(pending_messages).where(pending_messages.c.id == row_id))
                if gone.rowcount == 1 and created_at >= oldest:
                    taken.append(json.loads(data))
            return taken

        return await self._db.run(work)

    async def forget(self, session_id: str) -> None:
        """Erase the conversation's waiting messages (the citizen's erasure request)."""
        key = _key(session_id)

        def work(connection: Connection) -> None:
            connection.execute(delete(pending_messages).where(pending_messages.c.conversation_key == key))

        await self._db.run(work)
