"""Rasa's SQL tracker store, plus erasure of one whole conversation ("verwijder mijn gegevens") that
stays erased.

endpoints.yml:

    tracker_store:
      type: bot.tracker_store.ErasingSQLTrackerStore
      dialect: "sqlite"            # or "postgresql"
      url: ${TRACKER_DB_URL}

Rasa writes the tracker back after every turn, so an action cannot delete its own conversation:
the rows would be written again a moment later. The erasure action therefore only sets the slot
`gegevens_wissen`. When this store is asked to save a tracker with that slot set, it deletes every
stored event of the conversation (all sessions) and writes nothing. The bot's last message has
been sent by then; the citizen's next message starts a new, empty conversation.

Another writer (a second Rasa instance, a request that loaded the conversation just before the
erasure) can still hold a copy and save it afterwards; Rasa's store would then write the whole
copy back, because it stores every event it does not find. So the erasure leaves a tombstone in
the table `erased_conversations`: the start times of the erased conversation's sessions, with only
the first 4 hex digits of the SHA-256 of the sender id (one in 65,536 senders share them, so the
row points at nobody). A copy that contains such a start time is recognised on save (and on load)
and never written. The handover service's erasure by reference writes the same tombstone
(handover/src/handover/rasa_conversations.py). Tombstones go after TOMBSTONE_DAYS.

Rasa's event broker (bot/event_broker.py) has already published the events of an erased
conversation; the handover service reads them into counts without text or sender id and then
deletes them from the broker (README "Inzicht"). Until it has read them (seconds while it runs)
they are still there.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Set

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_SESSION_START_NAME
from rasa.shared.core.events import Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from bot.storage import create_tables, kept_sqlite_engine

logger = logging.getLogger(__name__)

# Set (to true) by action_verwijder_gegevens after the citizen confirmed.
ERASE_SLOT = "gegevens_wissen"

# Longer than any conversation is kept (HANDOVER_RETENTION_CONVERSATION_DAYS, 30 by default): after
# that no copy of an erased conversation can still be around. The rows hold no personal data.
TOMBSTONE_DAYS = 90
# Rasa's UserUttered.create_external: the text of an intent triggered from outside (handover service).
EXTERNAL_PREFIX = "EXTERNAL: "

# The contract with the handover service, which writes the same rows: keep both in step.
TOMBSTONES = sa.Table(
    "erased_conversations",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_bucket", sa.String(4), nullable=False, index=True),
    sa.Column("session_start", sa.Float, nullable=False),
    sa.Column("erased_at", sa.Float, nullable=False),
)

EraseHook = Callable[[str], Awaitable[None]]
_erase_hooks: List[EraseHook] = []


def on_erase(hook: EraseHook) -> None:
    """Also run `hook(sender_id)` when a conversation is erased (e.g. a channel's own state)."""
    if hook not in _erase_hooks:
        _erase_hooks.append(hook)


def forget_hook(hook: EraseHook) -> None:
    """Stop running `hook` (its owner is shutting down)."""
    if hook in _erase_hooks:
        _erase_hooks.remove(hook)


def wants_erasure(tracker: DialogueStateTracker) -> bool:
    """Whether the conversation asked to be erased. Read from the events, not the slot value, so
    it also works when the loaded domain does not know the slot."""
    return any(isinstance(e, SlotSet) and e.key == ERASE_SLOT and e.value is True for e in tracker.events)


def sender_bucket(sender_id: str) -> str:
    """First 4 hex digits of SHA-256(sender id): enough to keep tombstones apart, too few to name anyone."""
    return hashlib.sha256(sender_id.encode("utf-8")).hexdigest()[:4]


def _only_external(tracker: DialogueStateTracker) -> bool:
    """Nothing in the tracker came from the citizen: only intents triggered by another service."""
    said = [e for e in tracker.events if isinstance(e, UserUttered)]
    return bool(said) and all((e.text or "").startswith(EXTERNAL_PREFIX) for e in said)


class ErasingSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore (same settings) that erases a conversation instead of saving it when asked,
    and never writes back a copy of an erased conversation."""

    engine: sa.engine.Engine  # set by Rasa's __init__, replaced below for SQLite

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite":
            # Several sessions a turn (load, count, tombstones, insert): kept connections, one wait
            # for the disk per commit (bot/storage.py). A committed turn still survives a power cut.
            url = self.engine.url
            self.engine.dispose()
            self.engine = kept_sqlite_engine(url, synchronous="FULL")
            self.sessionmaker.configure(bind=self.engine)
        create_tables(self.engine, TOMBSTONES.metadata)  # also when a second instance starts at once

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Store the new events, or erase the whole conversation when it asked for that.

        Rasa's own save asks the database twice which events are new (once to publish them to the
        event broker, once to insert them); this one asks once, in the session that writes them, and
        publishes them after the commit (no session stays open while the broker is awaited)."""
        if wants_erasure(tracker):
            await self.erase(tracker.sender_id, tracker)
            return
        with self.session_scope() as session:
            if self._erased_copy(tracker, session):
                # No sender id in the log: on WhatsApp it is a phone number.
                logger.warning("a copy of an erased conversation was not written back")
                return
            new_events = [(event, event.as_dict()) for event in self._additional_events(session, tracker)]
            for event, data in new_events:
                session.add(self._row(tracker.sender_id, event, data))
            session.commit()
        # The erasure may have run (elsewhere) between the check above and this write.
        if self._erased_copy(tracker):
            self._delete_events(tracker.sender_id, {e.timestamp for e in tracker.events})
            logger.warning("a copy of an erased conversation was written back during the erasure: removed")
            return
        if self.event_broker is not None:
            self._publish([{"sender_id": tracker.sender_id, **data} for _, data in new_events])

    def _publish(self, bodies: List[Dict[str, Any]]) -> None:
        """The events to the broker as Rasa publishes them; a whole turn in one commit when the broker
        can (bot/event_broker.py: Rasa's SQL broker commits every event on its own)."""
        publish_many = getattr(self.event_broker, "publish_many", None)
        if not bodies:
            return
        if publish_many is not None:
            publish_many(bodies)
            return
        for body in bodies:
            self.event_broker.publish(body)

    def _row(self, sender_id: str, event: Event, data: Dict[str, Any]) -> "SQLTrackerStore.SQLEvent":
        """The stored row of one event (`data`: its `as_dict()`), as Rasa 3.6's SQLTrackerStore.save
        makes it."""
        return self.SQLEvent(
            sender_id=sender_id,
            type_name=event.type_name,
            timestamp=data.get("timestamp"),
            intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            action_name=data.get("name"),
            data=json.dumps(data),
        )

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> Optional[DialogueStateTracker]:
        tracker = await super()._retrieve(sender_id, fetch_events_from_all_sessions)
        if tracker is not None and self._erased_copy(tracker):
            # Written back by something that does not know the tombstones: erase it again, with
            # whatever of it came before the part that was loaded (the row before SessionStarted).
            self._delete_until(sender_id, max(e.timestamp for e in tracker.events))
            logger.warning("a copy of an erased conversation was found on load: removed")
            return None
        return tracker

    async def erase(self, sender_id: str, tracker: Optional[DialogueStateTracker] = None) -> int:
        """Delete every stored event of one conversation and leave its tombstone; returns how many
        rows went."""
        now = time.time()
        with self.session_scope() as session:
            starts = set(self._session_starts(session, sender_id))
            if tracker is not None and tracker.events:
                starts.add(tracker.events[0].timestamp)
            deleted = (
                session.query(self.SQLEvent)
                .filter(self.SQLEvent.sender_id == sender_id)
                .delete(synchronize_session=False)
            )
            bucket = sender_bucket(sender_id)
            session.execute(TOMBSTONES.delete().where(TOMBSTONES.c.erased_at < now - TOMBSTONE_DAYS * 86400))
            if starts:
                session.execute(
                    TOMBSTONES.insert(),
                    [{"sender_bucket": bucket, "session_start": s, "erased_at": now} for s in sorted(starts)],
                )
            session.commit()
        for hook in list(_erase_hooks):
            try:
                await hook(sender_id)
            except Exception as e:  # the tracker is gone already; a channel's leftovers must not undo that
                logger.warning(
                    "erasure hook %s failed: %s", getattr(hook, "__qualname__", "?"), type(e).__name__
                )
        # The sender id can be a phone number (WhatsApp): it is not logged.
        logger.info("conversation erased on the citizen's request (%d events)", deleted)
        return int(deleted or 0)

    def _session_starts(self, session: sa.orm.Session, sender_id: str) -> Iterable[float]:
        """Start times of every stored session of the conversation (and its first event)."""
        events = self.SQLEvent
        rows = session.query(events.timestamp).filter(
            events.sender_id == sender_id,
            sa.or_(
                events.type_name == SessionStarted.type_name,
                events.action_name == ACTION_SESSION_START_NAME,
                events.timestamp
                == session.query(sa.func.min(events.timestamp))
                .filter(events.sender_id == sender_id)
                .scalar_subquery(),
            ),
        )
        return (float(t) for (t,) in rows if t is not None)

    def _tombstones(
        self, sender_id: str, session: Optional[sa.orm.Session] = None
    ) -> List[tuple[float, float]]:
        """(session_start, erased_at) of the erased conversations in this sender's bucket."""
        query = sa.select(TOMBSTONES.c.session_start, TOMBSTONES.c.erased_at).where(
            TOMBSTONES.c.sender_bucket == sender_bucket(sender_id)
        )
        if session is not None:
            rows = session.execute(query).all()
        else:
            with self.session_scope() as own:
                rows = own.execute(query).all()
        return [(float(s), float(e)) for s, e in rows]

    def _erased_copy(self, tracker: DialogueStateTracker, session: Optional[sa.orm.Session] = None) -> bool:
        """Whether the tracker is (a continuation of) an erased conversation: it holds the start of an
        erased session, or it holds nothing the citizen said and was triggered from outside since the
        erasure (the handover service answering a case that is gone)."""
        tombstones = self._tombstones(tracker.sender_id, session)
        if not tombstones:
            return False
        starts = {s for s, _ in tombstones}
        if any(e.timestamp in starts for e in tracker.events):
            return True
        last_erasure = max(erased for _, erased in tombstones)
        return (
            _only_external(tracker)
            and all(e.timestamp > last_erasure for e in tracker.events)
            and (self._stored_count(tracker.sender_id) == 0)
        )

    def _stored_count(self, sender_id: str) -> int:
        with self.session_scope() as session:
            return int(
                session.query(sa.func.count(self.SQLEvent.id))
                .filter(self.SQLEvent.sender_id == sender_id)
                .scalar()
                or 0
            )

    def _delete_until(self, sender_id: str, last: float) -> None:
        with self.session_scope() as session:
            session.query(self.SQLEvent).filter(
                self.SQLEvent.sender_id == sender_id, self.SQLEvent.timestamp <= last
            ).delete(synchronize_session=False)
            session.commit()

    def _delete_events(self, sender_id: str, timestamps: Set[float]) -> None:
        stamps = sorted(timestamps)
        with self.session_scope() as session:
            for i in range(0, len(stamps), 500):  # below every database's bound-parameter limit
                session.query(self.SQLEvent).filter(
                    self.SQLEvent.sender_id == sender_id, self.SQLEvent.timestamp.in_(stamps[i : i + 500])
                ).delete(synchronize_session=False)
            session.commit()
