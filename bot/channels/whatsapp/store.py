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
# A notice for the handover service that could not be delivered in this time is dropped (logged).
NOTICE_RETENTION = DAY

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
# After the send: accepted (Meta's API answered with a message id), then Meta's status callbacks
# sent, delivered, read. Until delivered the text is kept: a later `failed` callback (e.g. 131047,
# window closed) must be able to hold the message or send it again.
#
# Order per contact: a message goes out only when every earlier message of the contact is settled.
# Not settled: queued (also while it waits for its retry), sending, unconfirmed, and accepted until
# Meta's "sent" callback came (`next_at` of an accepted message: until when it waits for that
# callback; after it the next message goes anyway, so lost callbacks cannot stop a contact). A
# message Meta reports `failed` for a passing reason is queued again and so holds the later ones
# back; one that failed for good (or was held for the template) is closed and lets them go.
OUT_ACCEPTED, OUT_DELIVERED, OUT_READ = "accepted", "delivered", "read"
OUT_OPEN = (OUT_QUEUED, OUT_SENDING, OUT_UNCONFIRMED)
# Meta took the message, but it can still be reported as failed.
OUT_TAKEN = (OUT_ACCEPTED, OUT_SENT)
# Status callbacks only move a message forward (Meta does not promise their order).
_PROGRESS = {
    OUT_QUEUED: 0,
    OUT_SENDING: 0,
    OUT_UNCONFIRMED: 0,
    OUT_ACCEPTED: 1,
    OUT_SENT: 2,
    OUT_DELIVERED: 3,
    OUT_READ: 4,
}
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

# What the handover service must be told about a message of a case (a casemanager's message) that
# could not be delivered: kept until the service took it (its `client_id` makes a repeat harmless).
case_notices = Table(
    "whatsapp_case_notice",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("contact_key", String(64), nullable=False, index=True),
    Column("recipient", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_at", Float, nullable=False, index=True),
    Column("created_at", Float, nullable=False),
)

# When the channel last said one of its own notes to a contact (e.g. "I cannot read photos"), so
# several photos sent at once get the note once.
contact_notes = Table(
    "whatsapp_contact_note",
    metadata,
    Column("contact_key", String(64), primary_key=True),
    Column("note", String(32), primary_key=True),
    Column("said_at", Float, nullable=False, index=True),
)

PAYLOAD_TOKEN_PREFIX = "~wa:"
# The key of a stored outgoing body that holds the channel's own facts about it (delivery.META).
META_KEY = "_wa"


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
class CaseNotice:
    id: int
    key: str
    recipient: str
    body: Dict[str, Any]
    attempts: int
    created_at: float


@dataclass(frozen=True)
class FailedRow:
    """An outgoing message Meta reported as failed, with what is needed to send or hold it again."""

    key: str
    contact_key: str
    recipient: Optional[str]
    body: Optional[Dict[str, Any]]
    attempts: int
    status: str


@dataclass(frozen=True)
class OutboxRow:
    id: int
    key: str
    contact_key: str
    recipient: str
    body: Dict[str, Any]
    attempts: int
    created_at: float


def _blocking(table: Any, now: float) -> Any:
    """A message of the contact that the next one must wait for (see "Order per contact")."""
    return or_(
        table.c.status.in_(OUT_OPEN),
        and_(table.c.status == OUT_ACCEPTED, table.c.next_at > now),
    )


def _outbox_due(now: float) -> Any:
    """Outgoing messages that may go now: queued, due, nothing earlier of the contact unsettled; and
    sends whose lease ran out (their sender stopped: claim_outbound_head marks them unconfirmed)."""
    earlier = outbox.alias("earlier")
    waits = (
        select(earlier.c.id)
        .where(earlier.c.contact_key == outbox.c.contact_key)
        .where(earlier.c.id < outbox.c.id)
        .where(_blocking(earlier, now))
        .exists()
    )
    return or_(
        and_(outbox.c.status == OUT_QUEUED, outbox.c.next_at <= now, ~waits),
        and_(outbox.c.status == OUT_SENDING, outbox.c.next_at <= now),
    )


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


def _claim_template(connection: Connection, contact_key: str, now: float, pause: float) -> bool:
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
        .where(contacts.c.template_sent_at.is_(None) if sent is None else contacts.c.template_sent_at == sent)
        .values(template_sent_at=now, updated_at=now)
    )
    return bool(result.rowcount == 1)


def _hold(connection: Connection, contact_key: str, encoded: str, max_per_contact: int, now: float) -> None:
    connection.execute(insert(held_messages).values(contact_key=contact_key, body=encoded, created_at=now))
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


def _claim_note(connection: Connection, contact_key: str, note: str, pause: float, now: float) -> bool:
    if _insert_if_absent(
        connection, contact_notes, {"contact_key": contact_key, "note": note, "said_at": now}
    ):
        return True
    result = connection.execute(
        update(contact_notes)
        .where(contact_notes.c.contact_key == contact_key)
        .where(contact_notes.c.note == note)
        .where(contact_notes.c.said_at <= now - pause)
        .values(said_at=now)
    )
    return bool(result.rowcount == 1)


def _add_notice(
    connection: Connection, contact_key: str, recipient: str, body: Dict[str, Any], now: float
) -> None:
    connection.execute(
        insert(case_notices).values(
            key=uuid.uuid4().hex,
            contact_key=contact_key,
            recipient=recipient,
            body=json.dumps(body, ensure_ascii=False),
            attempts=0,
            next_at=now,
            created_at=now,
        )
    )


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

    async def renew_inbox_lease(self, row_id: int, owner: str, lease: float) -> bool:
        """Extend this owner's lease on an inbox message it is still handling."""
        now = self.now()

        def work(connection: Connection) -> bool:
            renewed = connection.execute(
                update(inbox)
                .where(inbox.c.id == row_id, inbox.c.lease_owner == owner)
                .values(lease_until=now + lease)
            )
            return bool(renewed.rowcount)

        return await self._run(work)

    async def finish_inbound(
        self,
        row_id: int,
        contact_key: str,
        recipient: str,
        bodies: Sequence[Dict[str, Any]],
        notes: Optional[Dict[int, Tuple[str, float]]] = None,
    ) -> Optional[List[str]]:
        """The turn is done: its replies go into the outbox and the message leaves the inbox, in
        one transaction (a crash leaves either both or neither). `notes`: reply index → (note,
        pause): that reply is one of the channel's notes, left out when it was said to this
        contact in the last `pause` seconds (several photos sent at once get it once).

        Only the first run of a turn to finish writes its replies: a turn whose lease ran out while
        it was still busy (a slow database, a paused process) can have been run again elsewhere, and
        the later of the two finds its message gone and returns None."""
        now = self.now()

        def work(connection: Connection) -> Optional[List[str]]:
            if connection.execute(delete(inbox).where(inbox.c.id == row_id)).rowcount != 1:
                return None
            said: Dict[str, bool] = {}
            kept = []
            for index, body in enumerate(bodies):
                note = (notes or {}).get(index)
                if note is not None:
                    name, pause = note
                    if name not in said:
                        said[name] = _claim_note(connection, contact_key, name, pause, now)
                    if not said[name]:
                        continue
                kept.append(body)
            return _outbox_rows(connection, contact_key, recipient, kept, now)

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

    async def put_outbound_once(
        self, message_id: str, contact_key: str, recipient: str, bodies: Sequence[Dict[str, Any]]
    ) -> bool:
        """`put_outbound` for a message that can arrive more than once (a casemanager's message, by
        the service's id): claimed and queued in one transaction, so a process killed (or a call
        cancelled) between the two can neither lose it (claimed, never queued) nor queue it twice.
        False for a repeat."""
        now = self.now()

        seen = {"id_hash": _hash(message_id), "seen_at": now}

        def work(connection: Connection) -> bool:
            if not _insert_if_absent(connection, seen_messages, seen):
                return False
            _outbox_rows(connection, contact_key, recipient, bodies, now)
            return True

        queued = await self._run(work)
        await self._purge_if_due()
        return queued

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
        """Contacts with an outgoing message that may go now (or whose sender stopped mid-send); not
        a contact whose next message waits for an earlier one (its retry, Meta's "sent")."""
        now = self.now()

        def work(connection: Connection) -> List[str]:
            rows = connection.execute(
                select(outbox.c.contact_key, func.min(outbox.c.id).label("first"))
                .where(_outbox_due(now))
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
        every earlier message of the contact is settled ("Order per contact"): messages reach the
        citizen in the order they were queued, also when one waits for a retry and also from
        several instances (one transaction; the conditional update lets one caller win). A message
        whose sender stopped mid-send (lease over) may have reached Meta: it waits for Meta's status
        callback (unconfirmed) instead of being sent again at once, and the later ones wait too."""
        now = self.now()

        def work(connection: Connection) -> Optional[OutboxRow]:
            row = connection.execute(
                select(outbox)
                .where(outbox.c.contact_key == contact_key)
                .where(_blocking(outbox, now))
                .order_by(outbox.c.id)
                .limit(1)
            ).first()
            if row is None or row.status != OUT_QUEUED or row.next_at > now:
                if row is not None and row.status == OUT_SENDING and row.next_at <= now:
                    connection.execute(
                        update(outbox)
                        .where(outbox.c.id == row.id)
                        .where(outbox.c.status == OUT_SENDING)
                        .values(status=OUT_UNCONFIRMED, next_at=now + confirm_wait, updated_at=now)
                    )
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

    async def outbound_accepted(self, key: str, order_wait: float = 0.0) -> bool:
        """Meta's API took the message (answered with a message id). The text stays until Meta
        reports it delivered: a later `failed` callback may need it (held or sent again). The
        contact's next message waits for Meta's "sent" callback, at most `order_wait` seconds.
        Only from sending or unconfirmed: a message that a `failed` callback queued again while
        its request was under way (Meta's callbacks do not wait for the answer) stays queued."""
        return await self._set_outbound(
            key,
            (OUT_SENDING, OUT_UNCONFIRMED),
            status=OUT_ACCEPTED,
            next_at=self.now() + order_wait,
            lease_owner=None,
        )

    async def record_statuses(
        self,
        reports: Sequence[Tuple[str, str]],
        arrived: Optional[Callable[[Dict[str, Any]], Optional[Dict[str, Any]]]] = None,
    ) -> int:
        """Meta's status callbacks (key, sent | delivered | read): recorded, only forward (Meta does
        not promise their order). Delivered or read: the text and the recipient are dropped; when
        `arrived` makes a notice of the message (a casemanager's message that was held), it is
        stored for the handover service in the same transaction."""
        now = self.now()

        def work(connection: Connection) -> int:
            changed = 0
            for key, status in reports:
                if arrived is not None and status in (OUT_DELIVERED, OUT_READ):
                    row = connection.execute(
                        select(outbox.c.contact_key, outbox.c.recipient, outbox.c.body)
                        .where(outbox.c.key == key)
                        .where(outbox.c.status.in_(OUT_OPEN + OUT_TAKEN))
                    ).first()
                    notice = None if row is None or row.body is None else arrived(json.loads(row.body))
                    if notice is not None and row is not None and row.recipient is not None:
                        _add_notice(connection, str(row.contact_key), str(row.recipient), notice, now)
                rank = _PROGRESS.get(status)
                if rank is None:
                    continue
                values: Dict[str, Any] = {"status": status, "updated_at": now, "lease_owner": None}
                if status in (OUT_DELIVERED, OUT_READ):
                    values.update(body=None, recipient=None)
                earlier = [s for s, r in _PROGRESS.items() if r < rank]
                if status == OUT_SENT:
                    # A queued message waits to be sent again (after a `failed`): a late "sent"
                    # of the earlier attempt does not close it; "delivered" and "read" do.
                    earlier.remove(OUT_QUEUED)
                result = connection.execute(
                    update(outbox)
                    .where(outbox.c.key == key)
                    .where(outbox.c.status.in_(earlier))
                    .values(**values)
                )
                changed += int(result.rowcount)
            return changed

        return await self._run(work)

    async def failed_outbound(self, keys: Sequence[str]) -> List[FailedRow]:
        """The messages of these keys that Meta reported as failed and that are not closed yet."""
        if not keys:
            return []

        def work(connection: Connection) -> List[FailedRow]:
            rows = connection.execute(
                select(outbox)
                .where(outbox.c.key.in_(list(keys)))
                .where(outbox.c.status.in_(OUT_OPEN + OUT_TAKEN))
                .order_by(outbox.c.id)
            ).all()
            return [
                FailedRow(
                    str(r.key),
                    str(r.contact_key),
                    None if r.recipient is None else str(r.recipient),
                    None if r.body is None else json.loads(r.body),
                    int(r.attempts),
                    str(r.status),
                )
                for r in rows
            ]

        return await self._run(work)

    async def requeue_failed(self, key: str, delay: float) -> bool:
        """A message Meta reported as failed for a passing reason: sent again after `delay`."""
        return await self._set_outbound(
            key,
            OUT_OPEN + OUT_TAKEN,
            status=OUT_QUEUED,
            next_at=self.now() + delay,
            attempts=outbox.c.attempts + 1,
            lease_owner=None,
        )

    async def fail_outbound(self, key: str, notice: Optional[Dict[str, Any]] = None) -> bool:
        """Failed for good: only the record of the key stays. With `notice`, the handover service
        is told (in the same transaction, so it is told once and never forgotten)."""
        now = self.now()

        def work(connection: Connection) -> bool:
            row = connection.execute(
                select(outbox.c.contact_key, outbox.c.recipient).where(outbox.c.key == key)
            ).first()
            result = connection.execute(
                update(outbox)
                .where(outbox.c.key == key)
                .where(outbox.c.status.in_(OUT_OPEN + OUT_TAKEN))
                .values(status=OUT_FAILED, body=None, recipient=None, updated_at=now, lease_owner=None)
            )
            if result.rowcount != 1:
                return False
            if notice is not None and row is not None and row.recipient is not None:
                _add_notice(connection, str(row.contact_key), str(row.recipient), notice, now)
            return True

        return await self._run(work)

    async def fail_template(
        self,
        key: str,
        contact_key: str,
        notice_for: Callable[[Dict[str, Any]], Optional[Dict[str, Any]]],
    ) -> Optional[int]:
        """The template (outbox row `key`) failed for good, so the contact's held messages cannot
        reach the citizen now. In one transaction: the template is closed as failed, its claim is
        given back (a later message may try it again), and for each held message that `notice_for`
        makes a notice of (a message of a case) and that was not reported so before, the notice for
        the handover service is stored and the held message marked as reported. The messages stay
        held: when the citizen writes after all, they are delivered. The number of notices; None
        when the template was closed already (another instance, a repeated callback)."""
        now = self.now()

        def work(connection: Connection) -> Optional[int]:
            recipient = connection.execute(select(outbox.c.recipient).where(outbox.c.key == key)).scalar()
            closed = connection.execute(
                update(outbox)
                .where(outbox.c.key == key)
                .where(outbox.c.status.in_(OUT_OPEN + OUT_TAKEN))
                .values(status=OUT_FAILED, body=None, recipient=None, updated_at=now, lease_owner=None)
            )
            if closed.rowcount != 1:
                return None
            connection.execute(
                update(contacts).where(contacts.c.contact_key == contact_key).values(template_sent_at=None)
            )
            if recipient is None:
                return 0
            held = connection.execute(
                select(held_messages.c.id, held_messages.c.body)
                .where(held_messages.c.contact_key == contact_key)
                .order_by(held_messages.c.id)
            ).all()
            told = 0
            for row_id, encoded in held:
                body = json.loads(encoded)
                meta = body.get(META_KEY) if isinstance(body.get(META_KEY), dict) else {}
                if meta.get("unreachable"):
                    continue
                notice = notice_for(body)
                if notice is None:
                    continue
                _add_notice(connection, contact_key, str(recipient), notice, now)
                marked = {**body, META_KEY: {**meta, "unreachable": True}}
                connection.execute(
                    update(held_messages)
                    .where(held_messages.c.id == row_id)
                    .values(body=json.dumps(marked, ensure_ascii=False))
                )
                told += 1
            return told

        return await self._run(work)

    async def hold_for_template(
        self,
        contact_key: str,
        recipient: str,
        body: Dict[str, Any],
        *,
        max_held: int,
        hold: bool,
        template: Optional[Dict[str, Any]],
        pause: float,
        from_key: Optional[str] = None,
        notice: Optional[Dict[str, Any]] = None,
        window_closed: bool = False,
    ) -> Tuple[bool, bool]:
        """The 24-hour window is closed: in one transaction the message (the outbox row `from_key`,
        if given) is closed as held, kept in the held messages (if `hold`), the template is queued
        in the outbox when it may go now (not again within `pause` unless the contact wrote), and
        the handover service's notice stored. `window_closed`: Meta said so (131047), which counts
        over our own clock. (done, template queued); not done when another instance had it."""
        now = self.now()
        # Marked as held (delivery.META), so its arrival later can be reported too; held anew, a
        # failing template is reported anew (fail_template).
        known = body.get(META_KEY)
        meta = {k: v for k, v in (known if isinstance(known, dict) else {}).items() if k != "unreachable"}
        held = {**body, META_KEY: {**meta, "held": True}}
        held_encoded = json.dumps(held, ensure_ascii=False)

        def work(connection: Connection) -> Tuple[bool, bool]:
            if from_key is not None:
                closed = connection.execute(
                    update(outbox)
                    .where(outbox.c.key == from_key)
                    .where(outbox.c.status.in_(OUT_OPEN + OUT_TAKEN))
                    .values(status=OUT_HELD, body=None, recipient=None, updated_at=now, lease_owner=None)
                )
                if closed.rowcount != 1:
                    return False, False
            if hold:
                _hold(connection, contact_key, held_encoded, max_held, now)
            if window_closed:
                connection.execute(
                    update(contacts)
                    .where(contacts.c.contact_key == contact_key)
                    .where(contacts.c.last_inbound_at > now - DAY)
                    .values(last_inbound_at=now - DAY, updated_at=now)
                )
            queued = template is not None and _claim_template(connection, contact_key, now, pause)
            if queued and template is not None:
                _outbox_rows(connection, contact_key, recipient, [template], now)
            if notice is not None:
                _add_notice(connection, contact_key, recipient, notice, now)
            return True, queued

        return await self._run(work)

    async def outbound_status(self, key: str) -> Optional[Tuple[str, bool]]:
        """(status, whether its text is still kept) of one outgoing message, None when unknown."""

        def work(connection: Connection) -> Optional[Tuple[str, bool]]:
            row = connection.execute(
                select(outbox.c.status, outbox.c.body).where(outbox.c.key == key)
            ).first()
            return None if row is None else (str(row.status), row.body is not None)

        return await self._run(work)

    async def held_count(self, contact_key: str) -> int:
        def work(connection: Connection) -> int:
            count = connection.execute(
                select(func.count())
                .select_from(held_messages)
                .where(held_messages.c.contact_key == contact_key)
            ).scalar()
            return int(count or 0)

        return await self._run(work)

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
            notices = connection.execute(select(func.count()).select_from(case_notices)).scalar() or 0
            return int(incoming) + int(outgoing) + int(notices)

        return await self._run(work)

    async def next_due(self) -> Optional[float]:
        """The earliest moment something in the inbox or outbox is due (or a lease ends)."""
        now = self.now()

        def work(connection: Connection) -> Optional[float]:
            moments = [
                connection.execute(select(func.min(inbox.c.next_at))).scalar(),
                connection.execute(select(func.min(inbox.c.lease_until))).scalar(),
                # What may go now, and when a wait ends (a retry, a lease, a confirmation, Meta's
                # "sent" for an accepted message). A message waiting behind an earlier one is no
                # moment of its own: it is due when that one is settled.
                connection.execute(select(func.min(outbox.c.next_at)).where(_outbox_due(now))).scalar(),
                connection.execute(
                    select(func.min(outbox.c.next_at))
                    .where(outbox.c.status.in_((*OUT_OPEN, OUT_ACCEPTED)))
                    .where(outbox.c.next_at > now)
                ).scalar(),
                connection.execute(select(func.min(case_notices.c.next_at))).scalar(),
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
        return await self._run(lambda connection: _claim_template(connection, contact_key, now, pause))

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
        await self._run(lambda connection: _hold(connection, contact_key, encoded, max_per_contact, now))

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

    # -- notices for the handover service ---------------------------------------------------------

    async def take_notices(self, lease: float, limit: int = 20) -> List[CaseNotice]:
        """Due notices, each leased for `lease` seconds to this caller (atomic, across instances)."""
        now = self.now()

        def work(connection: Connection) -> List[CaseNotice]:
            rows = connection.execute(
                select(case_notices)
                .where(case_notices.c.next_at <= now)
                .order_by(case_notices.c.id)
                .limit(limit)
            ).all()
            taken = []
            for row in rows:
                claimed = connection.execute(
                    update(case_notices)
                    .where(case_notices.c.id == row.id)
                    .where(case_notices.c.next_at == row.next_at)
                    .values(next_at=now + lease)
                )
                if claimed.rowcount == 1:
                    taken.append(
                        CaseNotice(
                            int(row.id),
                            str(row.key),
                            str(row.recipient),
                            json.loads(row.body),
                            int(row.attempts),
                            float(row.created_at),
                        )
                    )
            return taken

        return await self._run(work)

    async def notice_done(self, notice_id: int) -> None:
        await self._run(
            lambda connection: connection.execute(delete(case_notices).where(case_notices.c.id == notice_id))
        )

    async def notice_retry(self, notice_id: int, delay: float) -> None:
        now = self.now()
        await self._run(
            lambda connection: connection.execute(
                update(case_notices)
                .where(case_notices.c.id == notice_id)
                .values(next_at=now + delay, attempts=case_notices.c.attempts + 1)
            )
        )

    # -- the channel's own notes --------------------------------------------------------------------

    async def claim_note(self, contact_key: str, note: str, pause: float) -> bool:
        """True when the note may be said now (not said to this contact in the last `pause`
        seconds); marks it said in the same transaction, so two instances never both say it."""
        now = self.now()
        return await self._run(lambda connection: _claim_note(connection, contact_key, note, pause, now))

    # -- erasure and retention --------------------------------------------------------------------

    async def forget(self, contact_key: str) -> None:
        """Erase everything stored about one contact (a citizen's erasure request)."""

        def work(connection: Connection) -> None:
            connection.execute(delete(contacts).where(contacts.c.contact_key == contact_key))
            connection.execute(delete(held_messages).where(held_messages.c.contact_key == contact_key))
            connection.execute(delete(inbox).where(inbox.c.contact_key == contact_key))
            connection.execute(delete(outbox).where(outbox.c.contact_key == contact_key))
            connection.execute(delete(case_notices).where(case_notices.c.contact_key == contact_key))
            connection.execute(delete(contact_notes).where(contact_notes.c.contact_key == contact_key))

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
            # A text Meta took but never reported delivered is not kept longer than a held message.
            connection.execute(
                update(outbox)
                .where(outbox.c.status.in_(OUT_TAKEN))
                .where(outbox.c.updated_at < now - held_max_age)
                .values(body=None, recipient=None)
            )
            connection.execute(
                delete(outbox)
                .where(outbox.c.status.in_((OUT_FAILED, OUT_HELD, OUT_DELIVERED, OUT_READ)))
                .where(outbox.c.updated_at < now - OUTBOX_RECORD_RETENTION)
            )
            connection.execute(
                delete(outbox)
                .where(outbox.c.status.in_(OUT_TAKEN))
                .where(outbox.c.updated_at < now - max(OUTBOX_RECORD_RETENTION, held_max_age))
            )
            connection.execute(delete(contact_notes).where(contact_notes.c.said_at < now - DAY))
            connection.execute(delete(case_notices).where(case_notices.c.created_at < now - NOTICE_RETENTION))

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
