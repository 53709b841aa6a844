"""The erasing tracker store (bot/tracker_store.py) on SQLite and PostgreSQL, built by Rasa from our
endpoints files exactly as `rasa run` builds it."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot import tracker_store as ts
from tests.bot.helpers import ROOT

PG_ADMIN = os.environ.get("BOT_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql | head -n1) main start"


def _postgres_up() -> bool:
    """Start the local PostgreSQL when its port is closed (as the handover tests do)."""

    def open_() -> bool:
        with socket.socket() as s:
            s.settimeout(0.5)
            return s.connect_ex(("127.0.0.1", 5432)) == 0

    if not open_():
        subprocess.run(PG_START, shell=True, capture_output=True, timeout=60)
        deadline = time.monotonic() + 20
        while not open_() and time.monotonic() < deadline:
            time.sleep(0.2)
    return open_()


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "bot" / "domain"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Tuple[str, Path]]:
    """(TRACKER_DB_URL, endpoints file): a fresh database per test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tracker.db'}", ROOT / "endpoints.yml"
        return
    if not _postgres_up():
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN} and could not be started")
    name = f"tracker_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", ROOT / "endpoints.scale.yml"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def store(
    database: Tuple[str, Path], domain: Domain, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[TrackerStore]:
    url, endpoints_file = database
    for name, value in {
        "TRACKER_DB_URL": url,
        "ACTION_ENDPOINT_URL": "http://127.0.0.1:1/webhook",
        "ACTION_SERVER_TOKEN": "t" * 24,
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": "6379",
        "REDIS_PASSWORD": "",
        "REDIS_LOCK_DB": "1",
        "EVENT_BROKER_URL": f"sqlite:///{tmp_path / 'events.db'}",
    }.items():
        monkeypatch.setenv(name, value)
    endpoints = AvailableEndpoints.read_endpoints(str(endpoints_file))
    created = TrackerStore.create(endpoints.tracker_store, domain=domain)
    yield created
    created.engine.dispose()  # type: ignore[attr-defined]


def conversation(sender: str, domain: Domain, *events: Event) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(sender, list(events), domain.slots)


def turn(text: str, answer: str) -> List[Event]:
    return [
        UserUttered(text, {"name": "begroeten", "confidence": 1.0}),
        BotUttered(answer),
        ActionExecuted("action_listen"),
    ]


def stored(store: TrackerStore, sender: str) -> int:
    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        return int(
            conn.execute(sa.text("SELECT count(*) FROM events WHERE sender_id = :s"), {"s": sender}).scalar()
        )


class RecordingBroker:
    def __init__(self) -> None:
        self.published: List[dict] = []

    def publish(self, event: dict) -> None:
        self.published.append(event)


class RecordingBatchBroker(RecordingBroker):
    """Like bot/event_broker.py's SQL broker: a turn's events in one call."""

    def __init__(self) -> None:
        super().__init__()
        self.batches = 0

    def publish_many(self, events: List[dict]) -> None:
        self.batches += 1
        self.published.extend(events)


@pytest.mark.parametrize("kind", [RecordingBroker, RecordingBatchBroker], ids=["per_event", "per_turn"])
async def test_each_event_goes_to_the_event_broker_once_in_order_across_sessions(
    store: TrackerStore, domain: Domain, kind: type
) -> None:
    """The store finds the new events by counting the stored ones (Rasa loads the whole session
    again): every turn publishes exactly what it adds, also after a new session started. Each turn
    loads the conversation first, as Rasa does."""
    broker = kind()
    store.event_broker = broker  # type: ignore[assignment]
    start = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
    added: List[Event] = [*start, *turn("hallo", "Welkom!")]
    await store.save(conversation("burger-e", domain, *added))
    second_session = [*start, *turn("nog een vraag", "Zeg het maar.")]
    for new in ([], turn("ik heb een boete", "Klopt dat?"), second_session):
        burger = await store.retrieve("burger-e")
        assert burger is not None
        for event in new:
            burger.update(event)
        await store.save(burger)
        added += new
    await store.save(conversation("burger-f", domain, *start))  # another citizen

    mine = [e for e in broker.published if e["sender_id"] == "burger-e"]
    expected = [(e.as_dict()["event"], e.timestamp) for e in added]
    assert [(e["event"], e["timestamp"]) for e in mine] == expected
    said = [e.get("text") for e in mine if e["event"] == "user"]
    assert said == ["hallo", "ik heb een boete", "nog een vraag"]
    assert len([e for e in broker.published if e["sender_id"] == "burger-f"]) == len(start)
    if isinstance(broker, RecordingBatchBroker):
        assert broker.batches == 4  # every save with new events, once (the save without any: none)


def test_rasa_builds_our_store_from_the_endpoints_file(store: TrackerStore) -> None:
    # Rasa silently falls back to an in-memory store when a custom class cannot be loaded.
    assert type(store) is ts.ErasingSQLTrackerStore


async def test_our_rows_are_the_rows_rasa_writes(store: TrackerStore, domain: Domain) -> None:
    """Our save writes the rows itself (one count of the stored events, not two): column for column
    what Rasa 3.6's own save writes for the same events."""
    events = [*_start(), *turn("ik heb een boete", "Klopt dat?"), SlotSet("taal", "nl")]
    await store.save(conversation("burger-ours", domain, *events))
    await SQLTrackerStore.save(store, conversation("burger-rasa", domain, *events))  # type: ignore[arg-type]

    def rows(sender: str) -> List[tuple]:
        with store.engine.connect() as conn:  # type: ignore[attr-defined]
            return [
                tuple(row)
                for row in conn.execute(
                    sa.text(
                        "SELECT type_name, timestamp, intent_name, action_name, data FROM events"
                        " WHERE sender_id = :s ORDER BY id"
                    ),
                    {"s": sender},
                )
            ]

    assert rows("burger-ours") == rows("burger-rasa")
    assert len(rows("burger-ours")) == len(events)


def test_sqlite_keeps_its_connections_and_waits_for_the_disk_once_per_commit(
    store: TrackerStore,
) -> None:
    engine = store.engine  # type: ignore[attr-defined]
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    assert isinstance(engine.pool, sa.pool.QueuePool)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL: a commit survives a power cut


async def test_a_copy_of_an_erased_conversation_is_not_published(store: TrackerStore, domain: Domain) -> None:
    broker = RecordingBroker()
    await store.save(conversation("burger-p", domain, *_start(), *turn("hallo", "Welkom!")))
    copy = await store.retrieve("burger-p")
    assert copy is not None
    await _erase_via_chat(store, "burger-p")
    store.event_broker = broker  # type: ignore[assignment]
    for event in turn("EXTERNAL: medewerker_bericht", "Sanne: ik kijk even mee"):
        copy.update(event)
    await store.save(copy)
    assert broker.published == []
    assert stored(store, "burger-p") == 0


async def test_erasure_deletes_every_event_of_one_sender_only(store: TrackerStore, domain: Domain) -> None:
    start = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
    burger = conversation("burger-a", domain, *start, *turn("hallo", "Welkom!"))
    await store.save(burger)
    # a second session of the same citizen: also to be erased
    for event in [*start, *turn("ik heb een boete", "Klopt dat?")]:
        burger.update(event)
    await store.save(burger)
    other = conversation("burger-b", domain, *start, *turn("goedemorgen", "Welkom!"))
    await store.save(other)
    before_other = stored(store, "burger-b")
    assert stored(store, "burger-a") > 6 and before_other > 0

    burger = await store.retrieve("burger-a")
    assert burger is not None
    for event in [
        UserUttered("ja", {"name": "bevestigen", "confidence": 1.0}),
        ActionExecuted("action_turn"),
        BotUttered("Uw gegevens zijn verwijderd."),
        SlotSet(ts.ERASE_SLOT, True),
        ActionExecuted("action_listen"),
    ]:
        burger.update(event)
    await store.save(burger)

    assert stored(store, "burger-a") == 0
    assert await store.retrieve("burger-a") is None
    assert await store.retrieve_full_tracker("burger-a") is None
    assert stored(store, "burger-b") == before_other
    assert [e.text for e in (await store.retrieve("burger-b")).events if isinstance(e, UserUttered)] == [
        "goedemorgen"
    ]


async def test_after_erasure_the_next_conversation_is_stored_normally(
    store: TrackerStore, domain: Domain
) -> None:
    await store.save(
        conversation("burger-c", domain, *turn("hallo", "Welkom!"), SlotSet(ts.ERASE_SLOT, True))
    )
    assert stored(store, "burger-c") == 0
    fresh = conversation(
        "burger-c",
        domain,
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
        *turn("nieuwe vraag", "Welkom!"),
    )
    await store.save(fresh)
    again = await store.retrieve("burger-c")
    assert again is not None
    assert [e.text for e in again.events if isinstance(e, UserUttered)] == ["nieuwe vraag"]
    assert again.get_slot(ts.ERASE_SLOT) is None
    # and it keeps appending turn by turn, as Rasa's own store does
    rows = stored(store, "burger-c")
    for event in turn("nog iets", "Goed."):
        again.update(event)
    await store.save(again)
    assert stored(store, "burger-c") == rows + 3


async def test_erase_hooks_run_with_the_sender_and_a_failing_hook_does_not_stop_erasure(
    store: TrackerStore, domain: Domain
) -> None:
    seen: List[str] = []

    async def record(sender: str) -> None:
        seen.append(sender)

    async def broken(sender: str) -> None:
        raise RuntimeError("state database down")

    ts.on_erase(broken)
    ts.on_erase(record)
    ts.on_erase(record)  # registering twice runs it once
    try:
        await store.save(conversation("burger-d", domain, *turn("hallo", "Welkom!")))
        assert seen == []
        await store.save(
            conversation("burger-d", domain, *turn("hallo", "Welkom!"), SlotSet(ts.ERASE_SLOT, True))
        )
    finally:
        ts.forget_hook(broken)
        ts.forget_hook(record)
    assert seen == ["burger-d"]
    assert stored(store, "burger-d") == 0


def test_a_false_or_missing_marker_never_erases(domain: Domain) -> None:
    assert not ts.wants_erasure(conversation("x", domain, *turn("hallo", "Welkom!")))
    assert not ts.wants_erasure(conversation("x", domain, SlotSet(ts.ERASE_SLOT, False)))
    assert not ts.wants_erasure(conversation("x", domain, SlotSet(ts.ERASE_SLOT, "true")))
    assert ts.wants_erasure(conversation("x", domain, SlotSet(ts.ERASE_SLOT, True)))


def _start() -> List[Event]:
    return [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]


async def _erase_via_chat(store: TrackerStore, sender: str) -> None:
    """The citizen's own erasure: the erasure turn sets the slot on the loaded tracker."""
    tracker = await store.retrieve(sender)
    assert tracker is not None
    for event in [
        *turn("verwijder mijn gegevens", "Uw gegevens zijn verwijderd."),
        SlotSet(ts.ERASE_SLOT, True),
    ]:
        tracker.update(event)
    await store.save(tracker)


async def test_a_second_writer_holding_a_copy_cannot_write_the_erased_conversation_back(
    store: TrackerStore, domain: Domain
) -> None:
    """Today's failure, made deterministic: writer B loads the conversation, the erasure runs, then B
    saves its copy (with a turn of its own, e.g. a casemanager's trigger_intent)."""
    burger = conversation("burger-e", domain, *_start(), *turn("ik heb schulden bij het CJIB", "Klopt dat?"))
    await store.save(burger)
    # a second session, so the copy below holds only the latest session (as Rasa loads it)
    for event in [*_start(), *turn("ik wil een medewerker", "U staat in de wachtrij")]:
        burger.update(event)
    await store.save(burger)

    second_writer = await store.retrieve("burger-e")  # loaded before the erasure ...
    full_copy = await store.retrieve_full_tracker("burger-e")
    assert second_writer is not None and full_copy is not None

    await _erase_via_chat(store, "burger-e")
    assert stored(store, "burger-e") == 0

    for copy in (second_writer, full_copy):  # ... and saved after it
        for event in turn("EXTERNAL: medewerker_bericht", "Sanne: ik kijk even mee"):
            copy.update(event)
        await store.save(copy)
        assert stored(store, "burger-e") == 0
    assert await store.retrieve("burger-e") is None

    # the citizen can start again: a new conversation is stored normally, and an old copy still is not
    fresh = conversation("burger-e", domain, *_start(), *turn("hallo", "Welkom!"))
    await store.save(fresh)
    rows = stored(store, "burger-e")
    assert rows == len(fresh.events)
    await store.save(second_writer)
    assert stored(store, "burger-e") == rows
    again = await store.retrieve("burger-e")
    assert again is not None
    assert [e.text for e in again.events if isinstance(e, UserUttered)] == ["hallo"]


async def test_a_copy_written_while_the_erasure_ran_is_taken_back(
    store: TrackerStore, domain: Domain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race on two instances: B checks for a tombstone (none yet), the erasure commits, B writes."""
    burger = conversation("burger-f", domain, *_start(), *turn("hallo", "Welkom!"))
    await store.save(burger)
    copy = await store.retrieve("burger-f")
    assert copy is not None
    copy.update(UserUttered("EXTERNAL: wachtrij_update", {"name": "wachtrij_update", "confidence": 1.0}))

    checks = {"n": 0}
    real_check = store._erased_copy  # type: ignore[attr-defined]

    def first_check_before_the_erasure(tracker: DialogueStateTracker, *session: object) -> bool:
        checks["n"] += 1
        return False if checks["n"] == 1 else bool(real_check(tracker, *session))

    await _erase_via_chat(store, "burger-f")
    monkeypatch.setattr(store, "_erased_copy", first_check_before_the_erasure)
    await store.save(copy)
    assert checks["n"] == 2
    assert stored(store, "burger-f") == 0


async def test_a_copy_written_by_a_writer_that_ignores_tombstones_is_removed_on_load(
    store: TrackerStore, domain: Domain
) -> None:
    burger = conversation("burger-g", domain, *_start(), *turn("hallo", "Welkom!"))
    await store.save(burger)
    copy = await store.retrieve("burger-g")
    await _erase_via_chat(store, "burger-g")
    await SQLTrackerStore.save(store, copy)  # e.g. an old instance without this store
    assert stored(store, "burger-g") > 0
    assert await store.retrieve("burger-g") is None
    assert stored(store, "burger-g") == 0


async def test_a_trigger_from_outside_cannot_start_an_erased_conversation_again(
    store: TrackerStore, domain: Domain
) -> None:
    """A queue update the handover service sent just before the case was erased arrives after it."""
    await store.save(conversation("burger-h", domain, *_start(), *turn("hallo", "Welkom!")))
    await _erase_via_chat(store, "burger-h")
    late = conversation(
        "burger-h",
        domain,
        *_start(),
        UserUttered("EXTERNAL: wachtrij_update", {"name": "wachtrij_update", "confidence": 1.0}),
        BotUttered("U bent nu nummer 2 in de wachtrij."),
    )
    await store.save(late)
    assert stored(store, "burger-h") == 0
    # what the citizen types is a new conversation, stored as always
    await store.save(conversation("burger-h", domain, *_start(), *turn("nieuwe vraag", "Welkom!")))
    assert stored(store, "burger-h") == 6


async def test_the_tombstone_holds_no_sender_id(store: TrackerStore, domain: Domain) -> None:
    sender = "+31612345678"
    await store.save(conversation(sender, domain, *_start(), *turn("hallo", "Welkom!")))
    await _erase_via_chat(store, sender)
    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(sa.text("SELECT * FROM erased_conversations")).mappings().all()
    assert rows, "the erasure left no tombstone"
    for row in rows:
        assert set(row) == {"id", "sender_bucket", "session_start", "erased_at"}
        assert len(row["sender_bucket"]) == 4 and sender not in str(dict(row))
    assert len({r["sender_bucket"] for r in rows}) == 1
