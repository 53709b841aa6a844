"""What the WhatsApp channel must remember between requests and restarts.

- message ids already handled (Meta retries webhooks, so the same message can arrive twice);
- per contact: when they last wrote (the 24-hour window) and when we last sent the template;
- button payloads longer than WhatsApp allows as an id;
- messages held while the 24-hour window is closed, delivered when the citizen writes again.

Contacts are stored under a keyed hash of their WhatsApp id, never the phone number itself.
Message ids are stored hashed too: they are only compared, never read back.

SQLAlchemy 1.4 Core, synchronous (the version Rasa 3.6 pins); every call runs in a worker thread so
a slow shared database never blocks Rasa's event loop. A file path means SQLite (one instance, or
several on the same machine); a SQLAlchemy URL (postgresql://…) lets several instances share it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any, Callable, Dict, List, Optional, TypeVar

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from bot.storage import LazyDatabase, database_url

log = logging.getLogger(__name__)

T = TypeVar("T")

DAY = 24 * 3600.0
# Meta retries an unacknowledged webhook for up to 7 days; remember ids a week longer.
SEEN_RETENTION = 14 * DAY
PAYLOAD_RETENTION = 30 * DAY
# A contact row only matters while its window or its template pause can still be open.
CONTACT_RETENTION = 2 * DAY
PURGE_EVERY = 3600.0

metadata = MetaData()

seen_messages = Table(
    "whatsapp_seen_message",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("seen_at", Float, nullable=False, index=True),
)

contacts = Table(
    "whatsapp_contact",
    metadata,
    Column("contact_key", String(64), primary_key=True),
    Column("last_inbound_at", Float, nullable=True),
    Column("template_sent_at", Float, nullable=True),
    Column("updated_at", Float, nullable=False, index=True),
)

long_payloads = Table(
    "whatsapp_payload",
    metadata,
    Column("token", String(64), primary_key=True),
    Column("payload", Text, nullable=False),
    Column("created_at", Float, nullable=False, index=True),
)

held_messages = Table(
    "whatsapp_held_message",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("contact_key", String(64), nullable=False, index=True),
    Column("body", Text, nullable=False),
    Column("created_at", Float, nullable=False, index=True),
)

PAYLOAD_TOKEN_PREFIX = "~wa:"


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _insert_if_absent(connection: Connection, table: Table, values: Dict[str, Any]) -> bool:
    """Insert unless the primary key exists; True when this call inserted the row.

    ON CONFLICT DO NOTHING on SQLite and PostgreSQL: atomic, and it leaves the transaction usable
    (a failed plain INSERT would abort a PostgreSQL transaction, and pysqlite's savepoints are
    unreliable). Other databases fall back to a savepoint."""
    dialect = connection.dialect.name
    if dialect in ("sqlite", "postgresql"):
        module = sqlite if dialect == "sqlite" else postgresql
        statement = module.insert(table).values(**values).on_conflict_do_nothing()
        return bool(connection.execute(statement).rowcount == 1)
    try:
        with connection.begin_nested():
            connection.execute(insert(table).values(**values))
    except IntegrityError:
        return False
    return True


class WhatsAppState:
    """Persistent state of the WhatsApp channel; safe to share between instances."""

    def __init__(
        self, url: str, clock: Callable[[], float] = time.time, held_max_age: float = 7 * DAY
    ) -> None:
        self._url = url
        self._clock = clock
        self.held_max_age = held_max_age
        self._db = LazyDatabase(url, metadata)
        self._last_purge = 0.0

    @classmethod
    def from_setting(
        cls, setting: str, clock: Callable[[], float] = time.time, held_max_age: float = 7 * DAY
    ) -> "WhatsAppState":
        return cls(database_url(setting), clock, held_max_age)

    def now(self) -> float:
        return self._clock()

    # -- plumbing ---------------------------------------------------------------------------------

    async def _run(self, work: Callable[[Connection], T]) -> T:
        return await self._db.run(work)

    def dispose(self) -> None:
        self._db.dispose()

    # -- duplicate messages -----------------------------------------------------------------------

    async def claim(self, message_id: str) -> bool:
        """True the first time a message id is seen, False for a repeat (also across instances:
        the primary key makes the insert atomic)."""
        now = self.now()

        def work(connection: Connection) -> bool:
            return _insert_if_absent(
                connection, seen_messages, {"id_hash": _hash(message_id), "seen_at": now}
            )

        claimed = await self._run(work)
        await self._purge_if_due()
        return claimed

    # -- 24-hour window ---------------------------------------------------------------------------

    async def record_inbound(self, contact_key: str, at: float) -> None:
        """Remember the latest moment the contact wrote (never moves backwards)."""
        now = self.now()

        def work(connection: Connection) -> None:
            row = {"contact_key": contact_key, "last_inbound_at": at, "updated_at": now}
            if _insert_if_absent(connection, contacts, row):
                return
            connection.execute(
                update(contacts)
                .where(contacts.c.contact_key == contact_key)
                .where((contacts.c.last_inbound_at.is_(None)) | (contacts.c.last_inbound_at < at))
                .values(last_inbound_at=at, updated_at=now)
            )

        await self._run(work)

    async def last_inbound(self, contact_key: str) -> Optional[float]:
        def work(connection: Connection) -> Optional[float]:
            at = connection.execute(
                select(contacts.c.last_inbound_at).where(contacts.c.contact_key == contact_key)
            ).scalar()
            return None if at is None else float(at)

        return await self._run(work)

    async def claim_template(self, contact_key: str, pause: float) -> bool:
        """True when the template may go out now: none was sent since the contact last wrote, or
        the last one is older than `pause`. Marks it as sent in the same transaction, so two
        instances never both send it."""
        now = self.now()

        def work(connection: Connection) -> bool:
            row = connection.execute(
                select(contacts.c.last_inbound_at, contacts.c.template_sent_at).where(
                    contacts.c.contact_key == contact_key
                )
            ).first()
            if row is None:
                new = {"contact_key": contact_key, "template_sent_at": now, "updated_at": now}
                return _insert_if_absent(connection, contacts, new)
            last_in, sent = row
            if sent is not None and (last_in is None or sent >= last_in) and now - sent < pause:
                return False
            result = connection.execute(
                update(contacts)
                .where(contacts.c.contact_key == contact_key)
                .where(
                    contacts.c.template_sent_at.is_(None)
                    if sent is None
                    else contacts.c.template_sent_at == sent
                )
                .values(template_sent_at=now, updated_at=now)
            )
            return bool(result.rowcount == 1)

        return await self._run(work)

    async def release_template(self, contact_key: str) -> None:
        """The template could not be sent: allow the next message to try again."""

        def work(connection: Connection) -> None:
            connection.execute(
                update(contacts).where(contacts.c.contact_key == contact_key).values(template_sent_at=None)
            )

        await self._run(work)

    # -- long payloads ----------------------------------------------------------------------------

    async def token_for_payload(self, payload: str) -> str:
        """A short id that stands for a payload too long for a WhatsApp button or row id."""
        token = PAYLOAD_TOKEN_PREFIX + _hash(payload)[:40]
        now = self.now()

        def work(connection: Connection) -> None:
            row = {"token": token, "payload": payload, "created_at": now}
            if not _insert_if_absent(connection, long_payloads, row):
                # Same token, same payload: only keep it alive for as long as buttons may be tapped.
                connection.execute(
                    update(long_payloads).where(long_payloads.c.token == token).values(created_at=now)
                )

        await self._run(work)
        return token

    async def payload_for_token(self, token: str) -> Optional[str]:
        def work(connection: Connection) -> Optional[str]:
            payload = connection.execute(
                select(long_payloads.c.payload).where(long_payloads.c.token == token)
            ).scalar()
            return None if payload is None else str(payload)

        return await self._run(work)

    # -- held messages ----------------------------------------------------------------------------

    async def hold(self, contact_key: str, body: Dict[str, Any], max_per_contact: int) -> None:
        """Keep a message (without recipient) until the contact opens a new window."""
        now = self.now()
        encoded = json.dumps(body, ensure_ascii=False)

        def work(connection: Connection) -> None:
            connection.execute(
                insert(held_messages).values(contact_key=contact_key, body=encoded, created_at=now)
            )
            # Bounded per contact: the oldest go first, a flood can never grow the table unbounded.
            keep = (
                select(held_messages.c.id)
                .where(held_messages.c.contact_key == contact_key)
                .order_by(held_messages.c.id.desc())
                .limit(max_per_contact)
            )
            keep_ids = [r[0] for r in connection.execute(keep)]
            connection.execute(
                delete(held_messages)
                .where(held_messages.c.contact_key == contact_key)
                .where(held_messages.c.id.not_in(keep_ids))
            )

        await self._run(work)

    async def take_held(self, contact_key: str) -> List[Dict[str, Any]]:
        """Remove and return the contact's held messages that are not too old, oldest first.
        Each row is deleted one by one and only returned when this call deleted it, so two
        instances never deliver the same message."""
        oldest = self.now() - self.held_max_age

        def work(connection: Connection) -> List[Dict[str, Any]]:
            rows = connection.execute(
                select(held_messages.c.id, held_messages.c.body, held_messages.c.created_at)
                .where(held_messages.c.contact_key == contact_key)
                .order_by(held_messages.c.id)
            ).all()
            taken = []
            for row_id, body, created_at in rows:
                gone = connection.execute(delete(held_messages).where(held_messages.c.id == row_id))
                if gone.rowcount == 1 and created_at >= oldest:
                    taken.append(json.loads(body))
            return taken

        return await self._run(work)

    # -- erasure and retention --------------------------------------------------------------------

    async def forget(self, contact_key: str) -> None:
        """Erase everything stored about one contact (a citizen's erasure request)."""

        def work(connection: Connection) -> None:
            connection.execute(delete(contacts).where(contacts.c.contact_key == contact_key))
            connection.execute(delete(held_messages).where(held_messages.c.contact_key == contact_key))

        await self._run(work)

    async def purge(self) -> None:
        """Delete what is no longer needed."""
        now = self.now()
        held_max_age = self.held_max_age

        def work(connection: Connection) -> None:
            connection.execute(delete(seen_messages).where(seen_messages.c.seen_at < now - SEEN_RETENTION))
            connection.execute(
                delete(long_payloads).where(long_payloads.c.created_at < now - PAYLOAD_RETENTION)
            )
            connection.execute(delete(contacts).where(contacts.c.updated_at < now - CONTACT_RETENTION))
            connection.execute(delete(held_messages).where(held_messages.c.created_at < now - held_max_age))

        await self._run(work)

    async def _purge_if_due(self) -> None:
        """Retention without a separate job: at most once an hour per process."""
        if self.now() - self._last_purge < PURGE_EVERY:
            return
        self._last_purge = self.now()
        try:
            await self.purge()
        except Exception as e:  # retention must never break message handling
            log.warning("whatsapp state purge failed: %s", type(e).__name__)
