"""A durable outbox for the calls to the handover service that must not be lost.

While the handover service is down, a citizen's messages to the casemanager and their callback
requests wait here, on disk, and go out when it is back:

- **In order per stream.** A stream is one case (messages) or one conversation (a callback
  request). Only the oldest item of a stream can be sent, so a message waiting for a retry holds
  back the later ones.
- **Once.** Sending an item first takes a lease on it with a conditional UPDATE, which is atomic
  on SQLite and PostgreSQL, so two action servers draining one outbox never both send it. Each
  message carries its item key as `client_id`; the service stores a message once per key, so even
  a send repeated after an expired lease does not show twice.
- **After a restart.** Items live in a database (SQLite file by default, `BOT_OUTBOX_DB_URL`), so
  a restarted action server sends what an earlier one could not.
- **Retries.** Backoff 1, 2, 4 … s, capped at `MAX_BACKOFF`. Items older than the hold time
  (`BOT_OUTBOX_HOLD_HOURS`) are dropped: a message from days ago no longer helps anybody, and the
  outbox must not keep personal data longer than needed. A delivered item is deleted at once.

Every action call sends its own stream at once; a background task (started by the first call, or
at server start by `rasa_sdk_plugins`) retries the rest. SQLAlchemy 1.4 Core (the version Rasa 3.6
pins), synchronous, every call in a worker thread so the action server's event loop never waits
for the database. Logs carry item ids and error classes, never texts or contact details.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import json
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple, Type, TypeVar

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    case,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection

from bot.handover_gateway.client import (
    CaseClosed,
    HandoverClient,
    HandoverRejected,
    NoSuchCase,
)
from bot.settings import BotSettings
from bot.storage import LazyDatabase, database_url

log = logging.getLogger(__name__)

T = TypeVar("T")

MESSAGE = "bericht"  # a citizen message for the casemanager: POST /api/cases/{ref}/messages
CALLBACK = "terugbelverzoek"  # a new case: POST /api/cases

MAX_BACKOFF = 30.0  # seconds; short, because a citizen may be waiting for a casemanager
POLL_SECONDS = 5.0  # the background task also looks for items added by other instances
PURGE_EVERY = 60.0
# Longer than any single call (HANDOVER_TIMEOUT), so a live sender never loses its lease.
MIN_LEASE_SECONDS = 30.0

# The service said no for good: sending again cannot help.
PERMANENT_ERRORS: Tuple[Type[Exception], ...] = (CaseClosed, NoSuchCase, HandoverRejected)

metadata = MetaData()

outbox_items = Table(
    "bot_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_key", String(36), nullable=False, unique=True),  # idempotency key for the service
    Column("stream", String(400), nullable=False),
    Column("sender_id", String(255), nullable=False, index=True),  # for erasure of one citizen's items
    Column("kind", String(32), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", Float, nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("lease_owner", String(80), nullable=True),
    Column("lease_until", Float, nullable=True),
    Index("ix_bot_outbox_stream_id", "stream", "id"),
)


def _is_head() -> Any:
    """The item is the oldest of its stream: only that one may be sent (order per stream)."""
    older = outbox_items.alias("older")
    return ~exists().where(older.c.stream == outbox_items.c.stream).where(older.c.id < outbox_items.c.id)


def backoff(attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failed try: 1, 2, 4 … up to MAX_BACKOFF."""
    return float(min(MAX_BACKOFF, 2 ** max(attempts - 1, 0)))


@dataclass(frozen=True)
class Item:
    """One call waiting to be made."""

    id: int
    key: str
    stream: str
    sender_id: str
    kind: str
    payload: Dict[str, Any]
    attempts: int
    created_at: float


class Result(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"  # not reachable now; stays in the outbox
    REJECTED = "rejected"  # refused for good; removed


@dataclass(frozen=True)
class Attempt:
    """What happened to one item in a drain."""

    item: Item
    result: Result
    answer: Dict[str, Any] = field(default_factory=dict)  # the service's answer when delivered
    error: Optional[BaseException] = None


Deliver = Callable[[Item], Awaitable[Dict[str, Any]]]


class Outbox:
    """The stored items; safe to share between processes (one SQLite file or PostgreSQL)."""

    def __init__(
        self, url: str, clock: Callable[[], float] = time.time, hold_seconds: float = 72 * 3600.0
    ) -> None:
        self.url = url
        self.clock = clock
        self.hold_seconds = hold_seconds
        self._db = LazyDatabase(url, metadata)

    # -- plumbing ---------------------------------------------------------------------------------

    async def _run(self, work: Callable[[Connection], T]) -> T:
        return await self._db.run(work)

    def dispose(self) -> None:
        self._db.dispose()

    @staticmethod
    def _item(row: Any) -> Item:
        return Item(
            id=row.id,
            key=row.item_key,
            stream=row.stream,
            sender_id=row.sender_id,
            kind=row.kind,
            payload=json.loads(row.payload),
            attempts=row.attempts,
            created_at=row.created_at,
        )

    # -- items ------------------------------------------------------------------------------------

    async def add(
        self,
        stream: str,
        sender_id: str,
        kind: str,
        payload: Dict[str, Any],
        lease: Optional[Tuple[str, float]] = None,
        key: Optional[str] = None,
    ) -> Tuple[Optional[Item], int]:
        """Append an item to its stream; also returns how many items of the stream were waiting.

        With `lease` (owner, seconds) an item that is alone in its stream is stored already leased
        to that owner, so the caller can send it at once without racing a background drainer.
        `key` (the idempotency key the service sees) defaults to a new one; an item whose key is
        already waiting is not added again: (None, waiting)."""
        now = self.clock()
        key = key or uuid.uuid4().hex
        encoded = json.dumps(payload, ensure_ascii=False)

        def work(connection: Connection) -> Tuple[Optional[Item], int]:
            if connection.execute(select(outbox_items.c.id).where(outbox_items.c.item_key == key)).first():
                return None, 0
            waiting = int(
                connection.execute(
                    select(func.count()).select_from(outbox_items).where(outbox_items.c.stream == stream)
                ).scalar_one()
            )
            owner, until = (lease[0], now + lease[1]) if lease and waiting == 0 else (None, None)
            new_id = connection.execute(
                insert(outbox_items).values(
                    item_key=key,
                    stream=stream,
                    sender_id=sender_id,
                    kind=kind,
                    payload=encoded,
                    created_at=now,
                    attempts=0,
                    next_attempt_at=now,
                    lease_owner=owner,
                    lease_until=until,
                )
            ).inserted_primary_key[0]
            return Item(new_id, key, stream, sender_id, kind, payload, 0, now), waiting

        return await self._run(work)

    async def waiting(self, stream: Optional[str] = None) -> int:
        """How many items wait (in one stream, or in all)."""

        def work(connection: Connection) -> int:
            query = select(func.count()).select_from(outbox_items)
            if stream is not None:
                query = query.where(outbox_items.c.stream == stream)
            return int(connection.execute(query).scalar_one())

        return await self._run(work)

    async def claim(
        self,
        owner: str,
        lease_seconds: float,
        *,
        stream: Optional[str] = None,
        ignore_backoff: bool = False,
        limit: int = 20,
    ) -> List[Item]:
        """Lease the oldest item of each stream that is due (of one stream, or of up to `limit`).

        The UPDATE only succeeds while nobody else holds the item and it is still the oldest of
        its stream, so of several drainers exactly one gets it, and never out of order."""
        now = self.clock()
        t = outbox_items
        is_head = _is_head()
        free = or_(t.c.lease_until.is_(None), t.c.lease_until < now)

        def work(connection: Connection) -> List[Item]:
            query = select(t).where(is_head).where(free).order_by(t.c.id).limit(limit)
            if stream is not None:
                query = query.where(t.c.stream == stream)
            if not ignore_backoff:
                query = query.where(t.c.next_attempt_at <= now)
            claimed: List[Item] = []
            for row in connection.execute(query).all():
                won = connection.execute(
                    update(t)
                    .where(t.c.id == row.id)
                    .where(free)
                    .where(is_head)
                    .values(lease_owner=owner, lease_until=now + lease_seconds)
                ).rowcount
                if won == 1:
                    claimed.append(self._item(row))
            return claimed

        # One transaction per claim: short, so a second drainer waits at most a moment.
        return await self._run(work)

    async def remove(self, item: Item) -> None:
        """Delivered or refused for good: the item (and its personal data) goes."""

        def work(connection: Connection) -> None:
            connection.execute(delete(outbox_items).where(outbox_items.c.id == item.id))

        await self._run(work)

    async def retry_later(self, item: Item) -> float:
        """Release the lease and schedule the next try; returns the delay."""
        delay = backoff(item.attempts + 1)
        due = self.clock() + delay

        def work(connection: Connection) -> None:
            connection.execute(
                update(outbox_items)
                .where(outbox_items.c.id == item.id)
                .values(attempts=item.attempts + 1, next_attempt_at=due, lease_owner=None, lease_until=None)
            )

        await self._run(work)
        return delay

    async def release(self, items: List[Item]) -> None:
        """Give back leases that were not used, so the items can be claimed again at once."""
        if not items:
            return

        def work(connection: Connection) -> None:
            connection.execute(
                update(outbox_items)
                .where(outbox_items.c.id.in_([i.id for i in items]))
                .values(lease_owner=None, lease_until=None)
            )

        await self._run(work)

    async def seconds_until_due(self, ceiling: float) -> float:
        """How long the background task may sleep: until the next item can be claimed, at most `ceiling`.

        Only the oldest item of each stream counts (the ones behind it wait for it), and a leased one
        counts from the end of its lease: no busy polling while something else is being sent."""
        now = self.clock()
        t = outbox_items
        ready_at = case((t.c.lease_until > now, t.c.lease_until), else_=t.c.next_attempt_at)

        def work(connection: Connection) -> Optional[float]:
            at = connection.execute(select(func.min(ready_at)).where(_is_head())).scalar()
            return None if at is None else float(at)

        due = await self._run(work)
        if due is None:
            return ceiling
        return max(0.05, min(ceiling, due - self.clock()))

    async def purge(self) -> int:
        """Drop items older than the hold time; returns how many."""
        oldest = self.clock() - self.hold_seconds

        def work(connection: Connection) -> int:
            gone = connection.execute(delete(outbox_items).where(outbox_items.c.created_at < oldest))
            return int(gone.rowcount)

        dropped = await self._run(work)
        if dropped:
            log.warning("outbox: %d item(s) older than the hold time dropped undelivered", dropped)
        return dropped

    async def forget(self, sender_id: str) -> int:
        """Erase every waiting item of one citizen (their erasure request)."""

        def work(connection: Connection) -> int:
            gone = connection.execute(delete(outbox_items).where(outbox_items.c.sender_id == sender_id))
            return int(gone.rowcount)

        return await self._run(work)


async def drain(
    outbox: Outbox,
    deliver: Deliver,
    owner: str,
    lease_seconds: float,
    *,
    stream: Optional[str] = None,
    ignore_backoff: bool = False,
) -> List[Attempt]:
    """Send what is due, oldest first per stream, until nothing more can go now.

    Stops at the first item that has to be retried: the service is most likely down, and waiting
    for a timeout per stream could outlast the leases of the items still in hand. Those are given
    back; the items behind the retried one in its stream wait for it (order)."""
    attempts: List[Attempt] = []
    while True:
        items = await outbox.claim(owner, lease_seconds, stream=stream, ignore_backoff=ignore_backoff)
        if not items:
            return attempts
        for n, item in enumerate(items):
            attempt = await _send(outbox, deliver, item)
            attempts.append(attempt)
            if attempt.result is Result.RETRY:
                await outbox.release(items[n + 1 :])
                return attempts


async def _send(outbox: Outbox, deliver: Deliver, item: Item) -> Attempt:
    try:
        answer = await deliver(item)
    except PERMANENT_ERRORS as e:
        await outbox.remove(item)
        log.warning("outbox: %s item %d refused (%s), dropped", item.kind, item.id, type(e).__name__)
        return Attempt(item, Result.REJECTED, error=e)
    except Exception as e:  # unreachable, 5xx, timeouts, anything unexpected: try again later
        delay = await outbox.retry_later(item)
        log.info(
            "outbox: %s item %d not sent (%s), retry in %.0f s", item.kind, item.id, type(e).__name__, delay
        )
        return Attempt(item, Result.RETRY, error=e)
    await outbox.remove(item)
    return Attempt(item, Result.DELIVERED, answer=answer)


def handover_delivery(client: HandoverClient) -> Deliver:
    """How each kind of item is sent to the handover service."""

    async def deliver(item: Item) -> Dict[str, Any]:
        if item.kind == MESSAGE:
            p = item.payload
            await client.forward(p["reference"], p["sender_id"], p["text"], client_id=item.key)
            return {}
        if item.kind == CALLBACK:
            # The service keeps one open case per conversation and answers a repeat with that
            # case, so sending the request again after a lost answer creates no second case.
            return await client.create_case(item.payload)
        raise HandoverRejected(f"unknown outbox item kind {item.kind}")

    return deliver


class Drainer:
    """The background task of one process: retries until the outbox is empty."""

    def __init__(self, outbox: Outbox, deliver: Deliver, owner: str, lease_seconds: float) -> None:
        self.outbox = outbox
        self.deliver = deliver
        self.owner = owner
        self.lease_seconds = lease_seconds
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: Optional["asyncio.Task[None]"] = None
        self._last_purge = 0.0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="bot-outbox")

    def wake(self) -> None:
        self._wake.set()

    def signal_stop(self) -> None:
        """Ask the task to end after its current round (from code that cannot wait for it)."""
        self._stopping = True
        self._wake.set()

    async def stop(self) -> None:
        """Finish the current send (never cut off mid-call), then end."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=10)
            except asyncio.TimeoutError:
                self._task.cancel()
            self._task = None

    async def run_once(self) -> List[Attempt]:
        if self.outbox.clock() - self._last_purge >= PURGE_EVERY:
            self._last_purge = self.outbox.clock()
            await self.outbox.purge()
        return await drain(self.outbox, self.deliver, self.owner, self.lease_seconds)

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                await self.run_once()
                delay = await self.outbox.seconds_until_due(POLL_SECONDS)
            except Exception as e:  # a database hiccup must not end the task
                log.warning("outbox: drain failed (%s)", type(e).__name__)
                delay = POLL_SECONDS
            if self._stopping:
                return
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()


# -- what the actions use ----------------------------------------------------------------------


class Sent(enum.Enum):
    DELIVERED = "delivered"
    QUEUED = "queued"  # waits in the outbox; goes out when the service is back
    REFUSED = "refused"  # the service said no for good (closed case, unknown case, bad request)


@dataclass(frozen=True)
class Sending:
    """The outcome of one call through the outbox, for the action to tell the citizen."""

    status: Sent
    already_waiting: int = 0  # items of the same stream that were already waiting
    answer: Dict[str, Any] = field(default_factory=dict)
    error: Optional[BaseException] = None


class HandoverOutbox:
    """The outbox of this action-server process, with its background task."""

    def __init__(self, settings: BotSettings, outbox: Optional[Outbox] = None) -> None:
        self.settings = settings
        self.outbox = outbox or Outbox(
            database_url(settings.outbox_db), hold_seconds=settings.outbox_hold_hours * 3600
        )
        self.owner = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.lease_seconds = max(MIN_LEASE_SECONDS, 4 * settings.handover_timeout)
        self.deliver = handover_delivery(HandoverClient(settings))
        self.drainer = Drainer(self.outbox, self.deliver, self.owner, self.lease_seconds)
        self.loop: Optional[asyncio.AbstractEventLoop] = None

    async def send_message(self, reference: str, sender_id: str, text: str, message_id: str = "") -> Sending:
        """A citizen message for the casemanager of case `reference`. `message_id` (the widget's id
        of the message) makes a repeat of the same message (sent again after a reconnect) one
        message at the service."""
        payload = {"reference": reference, "sender_id": sender_id, "text": text}
        return await self._send(
            f"zaak:{reference}", sender_id, MESSAGE, payload, message_key(sender_id, message_id)
        )

    async def request_callback(self, case: Dict[str, Any]) -> Sending:
        """A callback request (a new case of kind `callback`)."""
        stream = f"gesprek:{case.get('channel')}:{case.get('sender_id')}"
        return await self._send(stream, str(case.get("sender_id")), CALLBACK, case)

    async def _send(
        self, stream: str, sender_id: str, kind: str, payload: Dict[str, Any], key: Optional[str] = None
    ) -> Sending:
        # Always through the outbox, also when the service is up: one path, and the item is on
        # disk before the call, so not even a crash of this process mid-call loses it.
        lease = (self.owner, self.lease_seconds)
        item, waiting = await self.outbox.add(stream, sender_id, kind, payload, lease=lease, key=key)
        if item is None:  # the same message is already on its way
            return Sending(Sent.QUEUED, waiting)
        if waiting == 0:  # alone in its stream, and leased to us: send it now
            mine: Optional[Attempt] = await _send(self.outbox, self.deliver, item)
        else:  # behind older items: send the stream in order, as far as it goes now
            attempts = await drain(
                self.outbox, self.deliver, self.owner, self.lease_seconds, stream=stream, ignore_backoff=True
            )
            mine = next((a for a in attempts if a.item.id == item.id), None)
        if mine is not None and mine.result is Result.DELIVERED:
            return Sending(Sent.DELIVERED, waiting, mine.answer)
        if mine is not None and mine.result is Result.REJECTED:
            return Sending(Sent.REFUSED, waiting, error=mine.error)
        self.drainer.wake()
        return Sending(Sent.QUEUED, waiting)


_current: Optional[HandoverOutbox] = None


def message_key(sender_id: str, message_id: str) -> Optional[str]:
    """The idempotency key of a citizen's message with the widget's `message_id`: bound to the
    conversation (one conversation cannot take another's key), None without a usable id."""
    if not (isinstance(message_id, str) and 8 <= len(message_id) <= 128 and message_id.isprintable()):
        return None
    return hashlib.sha256(f"{sender_id}\x00{message_id}".encode("utf-8")).hexdigest()[:32]


def handover_outbox(settings: BotSettings) -> HandoverOutbox:
    """The outbox for these settings, its background task running on the current event loop.

    Built on first use, never at import (the action server imports every action module)."""
    global _current
    loop = asyncio.get_running_loop()
    if _current is None or _current.settings != settings or _current.loop is not loop:
        if _current is not None:
            _current.drainer.signal_stop()
        _current = HandoverOutbox(settings)
        _current.loop = loop
        _current.drainer.start()
    return _current


async def erase_citizen(settings: BotSettings, sender_id: str) -> int:
    """Delete everything of one citizen that still waits in the outbox ("verwijder mijn gegevens")."""
    outbox = Outbox(database_url(settings.outbox_db))
    try:
        return await outbox.forget(sender_id)
    finally:
        outbox.dispose()


def forget_current() -> None:
    """Let go of this process's outbox without waiting (tests whose event loop is ending)."""
    global _current
    current, _current = _current, None
    if current is not None:
        task = current.drainer._task
        if task is not None and not task.get_loop().is_closed():
            current.drainer.signal_stop()
            task.cancel()
        current.outbox.dispose()


async def shutdown() -> None:
    """Stop the background task of this process (server stop, end of a test)."""
    global _current
    current, _current = _current, None
    if current is not None:
        if current.loop is asyncio.get_running_loop():
            await current.drainer.stop()
        current.outbox.dispose()
