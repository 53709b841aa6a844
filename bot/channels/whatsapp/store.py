"""What the WhatsApp channel must remember between requests and restarts.

- message ids already handled (Meta retries webhooks, so the same message can arrive twice);
- per contact: when they last wrote (the 24-hour window) and when we last sent the template;
- button payloads longer than WhatsApp allows as an id;
- messages held while the 24-hour window is closed, delivered when the citizen writes again;
- the inbox: each incoming message from the webhook's 200 until its Rasa turn is done;
- the outbox: each outgoing message with its idempotency key, from before it is sent until Meta
  confirmed it (the row without its text stays as the record that it went out).

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
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    insert,
    or_,
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
# How long the record of a sent message (its key, no text) is kept: longer than any retry by a caller.
OUTBOX_RECORD_RETENTION = 2 * DAY

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

# Incoming messages, from the 200 to the end of their Rasa turn. The message is stored with its
# text and the sender's WhatsApp id (needed for the turn) and deleted when the turn is done.
inbox = Table(
    "whatsapp_inbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("contact_key", String(64), nullable=False, index=True),
    Column("message", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_at", Float, nullable=False, index=True),
    Column("lease_until", Float, nullable=True),
    Column("lease_owner", String(32), nullable=True),
    Column("created_at", Float, nullable=False),
)

# Outgoing messages. `key` is the idempotency key, sent along as biz_opaque_callback_data so Meta's
# status callback names it. Status: queued (to send, at next_at), sending (leased until next_at),
# unconfirmed (the request may have reached Meta: wait for its status callback until next_at), and
# the closed ones sent, failed, held (moved to the held messages: 24-hour window closed), kept
# without body or recipient as the record that the key is done.
OUT_QUEUED, OUT_SENDING, OUT_UNCONFIRMED, OUT_SENT, OUT_FAILED, OUT_HELD = (
    "queued",
    "sending",
    "unconfirmed",
    "sent",
    "failed",
    "held",
)
OUT_OPEN = (OUT_QUEUED, OUT_SENDING, OUT_UNCONFIRMED)
outbox = Table(
    "whatsapp_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("contact_key", String(64), nullable=False, index=True),
    Column("recipient", String(64), nullable=True),
    Column("body", Text, nullable=True),
    Column("status", String(16), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_at", Float, nullable=False),
    Column("lease_owner", String(32), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False, index=True),
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


@dataclass(frozen=True)
class InboxRow:
    id: int
    contact_key: str
    message: Dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class OutboxRow:
    id: int
    key: str
    contact_key: str
    recipient: str
    body: Dict[str, Any]
    attempts: int
    created_at: float


def _outbox_rows(
    connection: Connection, contact_key: str, recipient: str, bodies: Sequence[Dict[str, Any]], now: float
) -> List[str]:
    keys = []
    for body in bodies:
        key = uuid.uuid4().hex
        connection.execute(
            insert(outbox).values(
                key=key,
                contact_key=contact_key,
                recipient=recipient,
                body=json.dumps(body, ensure_ascii=False),
                status=OUT_QUEUED,
                attempts=0,
                next_at=now,
                created_at=now,
                updated_at=now,
            )
        )
        keys.append(key)
    return keys


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

    # -- inbox ----------------------------------------------------------------------------------

    async def enqueue_inbound(self, items: Sequence[Tuple[str, str, Optional[Dict[str, Any]]]]) -> int:
        """Claim each (message id, contact key, message) and store the new ones with a message in
        the inbox, all in one transaction; the number stored. A message id seen before (Meta's
        retry, also after a restart) is not stored again; a message of None is only claimed."""
        now = self.now()

        def work(connection: Connection) -> int:
            stored = 0
            for message_id, contact_key, message in items:
                seen = {"id_hash": _hash(message_id), "seen_at": now}
                if not _insert_if_absent(connection, seen_messages, seen) or message is None:
                    continue
                connection.execute(
                    insert(inbox).values(
                        contact_key=contact_key,
                        message=json.dumps(message, ensure_ascii=False),
                        attempts=0,
                        next_at=now,
                        created_at=now,
                    )
                )
                stored += 1
            return stored

        stored = await self._run(work)
        await self._purge_if_due()
        return stored

    async def inbox_due_contacts(self, limit: int) -> List[str]:
        """Contacts with an inbox message that may be handled now, oldest first."""
        now = self.now()

        def work(connection: Connection) -> List[str]:
            rows = connection.execute(
                select(inbox.c.contact_key, func.min(inbox.c.id).label("first"))
                .where(inbox.c.next_at <= now)
                .where(or_(inbox.c.lease_until.is_(None), inbox.c.lease_until <= now))
                .group_by(inbox.c.contact_key)
                .order_by("first")
                .limit(limit)
            ).all()
            return [str(r[0]) for r in rows]

        return await self._run(work)

    async def claim_inbox_head(self, contact_key: str, lease: float, owner: str = "") -> Optional[InboxRow]:
        """The contact's oldest inbox message, leased to this caller, when it is due and nobody
        else holds it. Only the oldest: so a contact's messages are handled in order, also by
        several instances."""
        now = self.now()

        def work(connection: Connection) -> Optional[InboxRow]:
            row = connection.execute(
                select(inbox.c.id, inbox.c.message, inbox.c.attempts, inbox.c.next_at, inbox.c.lease_until)
                .where(inbox.c.contact_key == contact_key)
                .order_by(inbox.c.id)
                .limit(1)
            ).first()
            if row is None or row.next_at > now or (row.lease_until is not None and row.lease_until > now):
                return None
            taken = connection.execute(
                update(inbox)
                .where(inbox.c.id == row.id)
                .where(or_(inbox.c.lease_until.is_(None), inbox.c.lease_until <= now))
                .values(lease_until=now + lease, lease_owner=owner)
            )
            if taken.rowcount != 1:
                return None
            return InboxRow(row.id, contact_key, json.loads(row.message), int(row.attempts))

        return await self._run(work)

    async def finish_inbound(
        self, row_id: int, contact_key: str, recipient: str, bodies: Sequence[Dict[str, Any]]
    ) -> List[str]:
        """The turn is done: its replies go into the outbox and the message leaves the inbox, in
        one transaction (a crash leaves either both or neither)."""
        now = self.now()

        def work(connection: Connection) -> List[str]:
            keys = _outbox_rows(connection, contact_key, recipient, bodies, now)
            connection.execute(delete(inbox).where(inbox.c.id == row_id))
            return keys

        return await self._run(work)

    async def retry_inbound(self, row_id: int, delay: float, count: bool = True) -> int:
        """Handle the message again after `delay`; the attempts so far."""
        now = self.now()

        def work(connection: Connection) -> int:
            values: Dict[str, Any] = {"next_at": now + delay, "lease_until": None}
            if count:
                values["attempts"] = inbox.c.attempts + 1
            connection.execute(update(inbox).where(inbox.c.id == row_id).values(**values))
            attempts = connection.execute(select(inbox.c.attempts).where(inbox.c.id == row_id)).scalar()
            return int(attempts or 0)

        return await self._run(work)

    async def drop_inbound(self, row_id: int) -> None:
        def work(connection: Connection) -> None:
            connection.execute(delete(inbox).where(inbox.c.id == row_id))

        await self._run(work)

    # -- outbox ---------------------------------------------------------------------------------

    async def put_outbound(
        self, contact_key: str, recipient: str, bodies: Sequence[Dict[str, Any]]
    ) -> List[str]:
        """Queue messages for one contact, in order; their idempotency keys."""
        now = self.now()

        def work(connection: Connection) -> List[str]:
            return _outbox_rows(connection, contact_key, recipient, bodies, now)

        return await self._run(work)

    async def release_held(self, contact_key: str, recipient: str) -> int:
        """Move the contact's held messages (not too old) into the outbox, in order, in one
        transaction; the number moved. Two instances never move the same message."""
        now = self.now()
        oldest = now - self.held_max_age

        def work(connection: Connection) -> int:
            rows = connection.execute(
                select(held_messages.c.id, held_messages.c.body, held_messages.c.created_at)
                .where(held_messages.c.contact_key == contact_key)
                .order_by(held_messages.c.id)
            ).all()
            bodies = []
            for row_id, body, created_at in rows:
                gone = connection.execute(delete(held_messages).where(held_messages.c.id == row_id))
                if gone.rowcount == 1 and created_at >= oldest:
                    bodies.append(json.loads(body))
            _outbox_rows(connection, contact_key, recipient, bodies, now)
            return len(bodies)

        return await self._run(work)

    async def outbox_due_contacts(self, limit: int) -> List[str]:
        """Contacts with an outgoing message that may go now (or whose sender stopped mid-send)."""
        now = self.now()

        def work(connection: Connection) -> List[str]:
            due = or_(
                and_(outbox.c.status == OUT_QUEUED, outbox.c.next_at <= now),
                and_(outbox.c.status == OUT_SENDING, outbox.c.next_at <= now),
            )
            rows = connection.execute(
                select(outbox.c.contact_key, func.min(outbox.c.id).label("first"))
                .where(due)
                .group_by(outbox.c.contact_key)
                .order_by("first")
                .limit(limit)
            ).all()
            return [str(r[0]) for r in rows]

        return await self._run(work)

    async def claim_outbound_head(
        self, contact_key: str, lease: float, confirm_wait: float, owner: str = ""
    ) -> Optional[OutboxRow]:
        """The contact's oldest message still to send, leased to this caller, when it is due and
        nobody is sending it: messages go out in order, also from several instances. A message
        whose sender stopped mid-send (lease over) may have reached Meta: it waits for Meta's
        status callback (unconfirmed) instead of being sent again at once."""
        now = self.now()

        def work(connection: Connection) -> Optional[OutboxRow]:
            rows = connection.execute(
                select(outbox)
                .where(outbox.c.contact_key == contact_key)
                .where(outbox.c.status.in_((OUT_QUEUED, OUT_SENDING)))
                .order_by(outbox.c.id)
            ).all()
            for row in rows:
                if row.status == OUT_SENDING:
                    if row.next_at > now:
                        return None
                    connection.execute(
                        update(outbox)
                        .where(outbox.c.id == row.id)
                        .where(outbox.c.status == OUT_SENDING)
                        .values(status=OUT_UNCONFIRMED, next_at=now + confirm_wait, updated_at=now)
                    )
                    continue
                if row.next_at > now:
                    return None
                taken = connection.execute(
                    update(outbox)
                    .where(outbox.c.id == row.id)
                    .where(outbox.c.status == OUT_QUEUED)
                    .values(status=OUT_SENDING, next_at=now + lease, lease_owner=owner, updated_at=now)
                )
                if taken.rowcount != 1:
                    return None
                return OutboxRow(
                    row.id,
                    row.key,
                    contact_key,
                    str(row.recipient),
                    json.loads(row.body),
                    int(row.attempts),
                    float(row.created_at),
                )
            return None

        return await self._run(work)

    async def _set_outbound(self, key: str, from_status: Sequence[str], **values: Any) -> bool:
        now = self.now()

        def work(connection: Connection) -> bool:
            result = connection.execute(
                update(outbox)
                .where(outbox.c.key == key)
                .where(outbox.c.status.in_(tuple(from_status)))
                .values(updated_at=now, **values)
            )
            return bool(result.rowcount == 1)

        return await self._run(work)

    async def outbound_done(self, key: str, status: str = OUT_SENT) -> bool:
        """Sent (or failed for good): only the record of the key stays, without text or recipient."""
        return await self._set_outbound(key, OUT_OPEN, status=status, body=None, recipient=None)

    async def outbound_unconfirmed(self, key: str, wait: float) -> bool:
        """The request may have reached Meta (timeout): wait `wait` seconds for its status callback."""
        return await self._set_outbound(
            key, (OUT_SENDING,), status=OUT_UNCONFIRMED, next_at=self.now() + wait
        )

    async def outbound_retry(self, key: str, delay: float) -> bool:
        return await self._set_outbound(
            key,
            (OUT_SENDING,),
            status=OUT_QUEUED,
            next_at=self.now() + delay,
            attempts=outbox.c.attempts + 1,
        )

    async def confirm_outbound(self, keys: Sequence[str]) -> int:
        """Meta's status callback named these keys (sent, delivered or read): they went out."""
        if not keys:
            return 0
        now = self.now()

        def work(connection: Connection) -> int:
            result = connection.execute(
                update(outbox)
                .where(outbox.c.key.in_(list(keys)))
                .where(outbox.c.status.in_(OUT_OPEN))
                .values(status=OUT_SENT, body=None, recipient=None, updated_at=now)
            )
            return int(result.rowcount)

        return await self._run(work)

    async def requeue_unconfirmed(self) -> int:
        """Unconfirmed messages whose wait is over: no status callback came, so Meta most likely
        never took them; they are sent again."""
        now = self.now()

        def work(connection: Connection) -> int:
            result = connection.execute(
                update(outbox)
                .where(outbox.c.status == OUT_UNCONFIRMED)
                .where(outbox.c.next_at <= now)
                .values(status=OUT_QUEUED, next_at=now, updated_at=now)
            )
            return int(result.rowcount)

        return await self._run(work)

    async def release_leases(self, owner: str, confirm_wait: float) -> None:
        """A stopping instance gives back what it holds: its messages in the inbox can be handled
        at once by the next start; its sends in flight may have reached Meta (unconfirmed)."""
        now = self.now()

        def work(connection: Connection) -> None:
            connection.execute(
                update(inbox).where(inbox.c.lease_owner == owner).values(lease_until=None, lease_owner=None)
            )
            connection.execute(
                update(outbox)
                .where(outbox.c.lease_owner == owner)
                .where(outbox.c.status == OUT_SENDING)
                .values(status=OUT_UNCONFIRMED, next_at=now + confirm_wait, updated_at=now)
            )

        await self._run(work)

    async def pending(self) -> int:
        """Incoming messages not yet handled plus outgoing messages not yet confirmed."""

        def work(connection: Connection) -> int:
            incoming = connection.execute(select(func.count()).select_from(inbox)).scalar() or 0
            outgoing = (
                connection.execute(
                    select(func.count()).select_from(outbox).where(outbox.c.status.in_(OUT_OPEN))
                ).scalar()
                or 0
            )
            return int(incoming) + int(outgoing)

        return await self._run(work)

    async def next_due(self) -> Optional[float]:
        """The earliest moment something in the inbox or outbox is due (or a lease ends)."""

        def work(connection: Connection) -> Optional[float]:
            moments = [
                connection.execute(select(func.min(inbox.c.next_at))).scalar(),
                connection.execute(select(func.min(inbox.c.lease_until))).scalar(),
                connection.execute(
                    select(func.min(outbox.c.next_at)).where(outbox.c.status.in_(OUT_OPEN))
                ).scalar(),
            ]
            known = [float(m) for m in moments if m is not None]
            return min(known) if known else None

        return await self._run(work)

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
            connection.execute(delete(inbox).where(inbox.c.contact_key == contact_key))
            connection.execute(delete(outbox).where(outbox.c.contact_key == contact_key))

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
            connection.execute(
                delete(outbox)
                .where(outbox.c.status.in_((OUT_SENT, OUT_FAILED, OUT_HELD)))
                .where(outbox.c.updated_at < now - OUTBOX_RECORD_RETENTION)
            )

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
