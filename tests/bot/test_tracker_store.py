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
from rasa.core.tracker_store import TrackerStore
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
    database: Tuple[str, Path], domain: Domain, monkeypatch: pytest.MonkeyPatch
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


def test_rasa_builds_our_store_from_the_endpoints_file(store: TrackerStore) -> None:
    # Rasa silently falls back to an in-memory store when a custom class cannot be loaded.
    assert type(store) is ts.ErasingSQLTrackerStore


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
