"""Messages for a website conversation that no page was connected to receive.

Rasa's socket.io channel emits to the room of the conversation; with no widget in it (the citizen
closed the page, or reloads it), the message is gone. We keep it here instead and hand it out when
the widget rejoins that conversation (bot/channels/website/channel.py). Only as long as the widget
itself remembers the conversation (`hold_seconds`, its `data-session-minutes`): after that it starts
a new one and the message could never be shown, so it is not kept longer. Bounded per conversation.

Every message to a widget is kept until the widget acknowledges it (`bot_uttered_ack` with the
message's `mid`): a message emitted to a socket that was just dying (a Rasa instance killed, a
network switch) is sent again when the widget rejoins, one whose emit got lost while the widget
stayed connected is sent again after a while (channel.py, `redeliver`), and the widget drops a
`mid` it has shown.

The conversation id is stored as a hash (it is only compared); the message with its text, as it
must be shown later. SQLAlchemy 1.4 Core through bot/storage.py: a file path means SQLite (one
machine), a SQLAlchemy URL (postgresql://…) lets several Rasa instances share the messages.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, Callable, Dict, Iterable, List, Tuple

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, delete, insert, select
from sqlalchemy.engine import Connection

from bot.storage import LazyDatabase, database_url

MAX_PER_CONVERSATION = 50
# Conversations per query of `unacknowledged_in` (SQLite's limit on bound parameters is far above).
ROOMS_PER_QUERY = 500

metadata = MetaData()

pending_messages = Table(
    "website_message",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_key", String(64), nullable=False, index=True),
    Column("data", Text, nullable=False),
    Column("created_at", Float, nullable=False, index=True),
    # The id is the message's `mid` for the widget: SQLite must never hand out a deleted one again.
    sqlite_autoincrement=True,
)
# Before acknowledgements (its ids could come back): dropped when the store opens.
OBSOLETE_TABLES = ("website_pending_message",)


def _mid(row_id: int) -> str:
    return str(row_id)


def conversation_key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


class PendingMessages:
    """The waiting messages of all website conversations; safe to share between instances."""

    def __init__(self, url: str, hold_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self._db = LazyDatabase(url, metadata, obsolete=OBSOLETE_TABLES)
        self.hold_seconds = hold_seconds
        self.clock = clock

    @classmethod
    def from_setting(
        cls, setting: str, hold_seconds: float, clock: Callable[[], float] = time.time
    ) -> "PendingMessages":
        return cls(database_url(setting), hold_seconds, clock)

    def dispose(self) -> None:
        self._db.dispose()

    async def keep(self, session_id: str, data: Any) -> str:
        """Keep what the widget should receive (the `bot_uttered` data) until it acknowledges it;
        returns the message's `mid` for the widget."""
        now, key = self.clock(), conversation_key(session_id)
        encoded = json.dumps(data, ensure_ascii=False)
        oldest = now - self.hold_seconds

        def work(connection: Connection) -> str:
            # Retention without a separate job: what can no longer be shown goes now.
            connection.execute(delete(pending_messages).where(pending_messages.c.created_at < oldest))
            row_id = connection.execute(
                insert(pending_messages).values(conversation_key=key, data=encoded, created_at=now)
            ).inserted_primary_key[0]
            newest = (
                select(pending_messages.c.id)
                .where(pending_messages.c.conversation_key == key)
                .order_by(pending_messages.c.id.desc())
                .limit(MAX_PER_CONVERSATION)
            )
            keep_ids = [r[0] for r in connection.execute(newest)]
            connection.execute(
                delete(pending_messages)
                .where(pending_messages.c.conversation_key == key)
                .where(pending_messages.c.id.not_in(keep_ids))
            )
            return _mid(int(row_id))

        return await self._db.run(work)

    async def unacknowledged(self, session_id: str) -> List[Tuple[str, Any]]:
        """The conversation's messages that can still be shown and were not acknowledged, oldest
        first, with their `mid`. They stay until acknowledged: sent again at the next rejoin."""
        key, oldest = conversation_key(session_id), self.clock() - self.hold_seconds

        def work(connection: Connection) -> List[Tuple[str, Any]]:
            rows = connection.execute(
                select(pending_messages.c.id, pending_messages.c.data)
                .where(pending_messages.c.conversation_key == key, pending_messages.c.created_at >= oldest)
                .order_by(pending_messages.c.id)
            ).all()
            return [(_mid(int(row_id)), json.loads(data)) for row_id, data in rows]

        return await self._db.run(work)

    async def unacknowledged_in(
        self, session_ids: Iterable[str], older_than: float
    ) -> Dict[str, List[Tuple[str, Any]]]:
        """Of these conversations, the messages kept at least `older_than` seconds ago (and still
        showable) that no widget acknowledged, oldest first, per conversation."""
        by_key = {conversation_key(session_id): session_id for session_id in session_ids}
        now = self.clock()
        newest, oldest = now - older_than, now - self.hold_seconds
        keys = sorted(by_key)

        t = pending_messages

        def work(connection: Connection) -> Dict[str, List[Tuple[str, Any]]]:
            found: Dict[str, List[Tuple[str, Any]]] = {}
            for start in range(0, len(keys), ROOMS_PER_QUERY):
                rows = connection.execute(
                    select(t.c.id, t.c.conversation_key, t.c.data)
                    .where(
                        t.c.conversation_key.in_(keys[start : start + ROOMS_PER_QUERY]),
                        t.c.created_at <= newest,
                        t.c.created_at >= oldest,
                    )
                    .order_by(t.c.id)
                ).all()
                for row_id, key, data in rows:
                    found.setdefault(by_key[key], []).append((_mid(int(row_id)), json.loads(data)))
            return found

        if not keys:
            return {}
        return await self._db.run(work)

    async def acknowledge(self, session_id: str, mid: str) -> bool:
        """The widget of this conversation has shown message `mid`: it is not kept any longer.
        Anything that is not a `mid` of this conversation changes nothing."""
        key = conversation_key(session_id)
        if not (mid.isdigit() and len(mid) <= 18):
            return False

        def work(connection: Connection) -> bool:
            gone = connection.execute(
                delete(pending_messages).where(
                    pending_messages.c.id == int(mid), pending_messages.c.conversation_key == key
                )
            )
            return bool(gone.rowcount)

        return await self._db.run(work)

    async def take(self, session_id: str) -> List[Any]:
        """Remove and return the conversation's messages that can still be shown, oldest first.
        A row is only returned by the call that deleted it, so two instances never both send it."""
        key, oldest = conversation_key(session_id), self.clock() - self.hold_seconds

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
        key = conversation_key(session_id)

        def work(connection: Connection) -> None:
            connection.execute(delete(pending_messages).where(pending_messages.c.conversation_key == key))

        await self._db.run(work)
