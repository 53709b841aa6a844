"""The bot's outbox (bot/handover_gateway/outbox.py): order, retries with backoff, refusals, hold
time, leases, two drainers on one database, and items that survive a process restart."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from bot.handover_gateway import outbox as ob
from bot.handover_gateway.client import CaseClosed, HandoverUnavailable
from bot.settings import BotSettings
from tools.stack import ROOT

PG_ADMIN = os.environ.get("BOT_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
LEASE = 30.0


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """A delivery function that records what it sends; `down` makes it fail like a stopped service."""

    def __init__(self) -> None:
        self.sent: List[Tuple[str, int]] = []
        self.down = False
        self.refuse: set = set()

    async def __call__(self, item: ob.Item) -> Dict[str, Any]:
        if self.down:
            raise HandoverUnavailable("ClientConnectorError")
        if item.payload["n"] in self.refuse:
            raise CaseClosed("HV-TEST")
        self.sent.append((item.stream, item.payload["n"]))
        return {"ok": item.payload["n"]}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def box(tmp_path: Path, clock: Clock) -> Iterator[ob.Outbox]:
    outbox = ob.Outbox(f"sqlite:///{tmp_path / 'outbox.db'}", clock=clock, hold_seconds=3600)
    yield outbox
    outbox.dispose()


async def fill(box: ob.Outbox, streams: Dict[str, int]) -> None:
    for stream, count in streams.items():
        for n in range(count):
            await box.add(stream, "burger-1", ob.MESSAGE, {"n": n})


async def test_items_go_out_oldest_first_per_stream_and_are_then_removed(box: ob.Outbox) -> None:
    await fill(box, {"zaak:A": 3, "zaak:B": 2})
    deliver = Recorder()
    attempts = await ob.drain(box, deliver, "me", LEASE)
    assert [n for s, n in deliver.sent if s == "zaak:A"] == [0, 1, 2]
    assert [n for s, n in deliver.sent if s == "zaak:B"] == [0, 1]
    assert all(a.result is ob.Result.DELIVERED for a in attempts)
    assert await box.waiting() == 0  # delivered items (and their texts) are gone


async def test_a_failed_item_holds_back_its_stream_but_not_the_others(box: ob.Outbox, clock: Clock) -> None:
    await fill(box, {"zaak:A": 2, "zaak:B": 1})
    deliver = Recorder()

    async def a_down(item: ob.Item) -> Dict[str, Any]:
        if item.stream == "zaak:A":
            raise HandoverUnavailable("down")
        return await deliver(item)

    attempts = await ob.drain(box, a_down, "me", LEASE)
    # A round ends at the first retry (the service is probably down); B's lease is given back.
    assert [(a.item.stream, a.result) for a in attempts] == [("zaak:A", ob.Result.RETRY)]
    assert await box.seconds_until_due(ceiling=1000) == 0.05  # B can go at once
    attempts = await ob.drain(box, a_down, "me", LEASE)
    assert [(a.item.stream, a.result) for a in attempts] == [("zaak:B", ob.Result.DELIVERED)]
    assert await box.waiting("zaak:A") == 2  # the second message of A was not sent before the first
    # Only A's first item counts for the next wake-up, not the one behind it: no busy polling.
    assert await box.seconds_until_due(ceiling=1000) == 1.0
    clock.now += 0.5
    assert await ob.drain(box, deliver, "me", LEASE) == []  # backoff: not due yet
    clock.now += 0.5
    await ob.drain(box, deliver, "me", LEASE)
    assert deliver.sent == [("zaak:B", 0), ("zaak:A", 0), ("zaak:A", 1)]


async def test_retries_back_off_1_2_4_seconds_up_to_the_cap(box: ob.Outbox, clock: Clock) -> None:
    assert [ob.backoff(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 30, 30, 30]
    await fill(box, {"zaak:A": 1})
    deliver = Recorder()
    deliver.down = True
    waits = []
    for _ in range(4):
        start = clock.now
        await ob.drain(box, deliver, "me", LEASE)
        # jump to the moment the item is due again
        clock.now = start + await box.seconds_until_due(ceiling=1000)
        waits.append(clock.now - start)
    assert waits == [1, 2, 4, 8]
    deliver.down = False
    await ob.drain(box, deliver, "me", LEASE)
    assert deliver.sent == [("zaak:A", 0)]


async def test_an_item_the_service_refuses_for_good_is_dropped_and_the_stream_goes_on(box: ob.Outbox) -> None:
    await fill(box, {"zaak:A": 3})
    deliver = Recorder()
    deliver.refuse = {1}
    attempts = await ob.drain(box, deliver, "me", LEASE)
    assert [a.result for a in attempts] == [ob.Result.DELIVERED, ob.Result.REJECTED, ob.Result.DELIVERED]
    assert isinstance(attempts[1].error, CaseClosed)
    assert deliver.sent == [("zaak:A", 0), ("zaak:A", 2)]
    assert await box.waiting() == 0


async def test_items_older_than_the_hold_time_are_dropped(box: ob.Outbox, clock: Clock) -> None:
    await fill(box, {"zaak:A": 1})
    clock.now += 3000
    await fill(box, {"zaak:B": 1})
    clock.now += 700  # A is now older than the hold time (3600 s), B is not
    assert await box.purge() == 1
    deliver = Recorder()
    await ob.drain(box, deliver, "me", LEASE)
    assert deliver.sent == [("zaak:B", 0)]


async def test_a_leased_item_is_not_sent_by_another_drainer_until_the_lease_expires(
    box: ob.Outbox, clock: Clock
) -> None:
    await fill(box, {"zaak:A": 2})
    taken = await box.claim("dies-mid-send", LEASE)
    assert [i.payload["n"] for i in taken] == [0]
    assert await box.seconds_until_due(ceiling=1000) == LEASE  # wake up when the lease runs out
    other = Recorder()
    assert await ob.drain(box, other, "other", LEASE) == []  # not the head's lease, and the rest waits
    clock.now += LEASE + 1  # the first drainer never came back: its lease runs out
    await ob.drain(box, other, "other", LEASE)
    assert other.sent == [("zaak:A", 0), ("zaak:A", 1)]


async def test_a_message_sent_again_with_the_same_key_waits_once(box: ob.Outbox) -> None:
    """The widget sends an unacknowledged message again after a reconnect, with the same id."""
    key = ob.message_key("burger-1", "a1b2c3d4e5f6a7b8")
    first, _ = await box.add("zaak:A", "burger-1", ob.MESSAGE, {"n": 0}, key=key)
    again, _ = await box.add("zaak:A", "burger-1", ob.MESSAGE, {"n": 0}, key=key)
    assert first is not None and first.key == key and again is None
    assert await box.waiting("zaak:A") == 1
    recorder = Recorder()
    await ob.drain(box, recorder, "me", LEASE)
    assert recorder.sent == [("zaak:A", 0)]  # once; after delivery the service dedupes on the key


def test_a_message_key_belongs_to_its_conversation_and_needs_a_real_id() -> None:
    key = ob.message_key("burger-1", "a1b2c3d4e5f6a7b8")
    assert key is not None and len(key) == 32
    assert ob.message_key("burger-2", "a1b2c3d4e5f6a7b8") != key  # another citizen cannot take it
    for bad in ("", "kort", "x" * 129, "bad\nid!!", None):
        assert ob.message_key("burger-1", bad) is None  # type: ignore[arg-type]


async def test_forget_erases_only_that_citizens_items(box: ob.Outbox) -> None:
    await box.add("zaak:A", "burger-1", ob.MESSAGE, {"n": 0})
    await box.add("zaak:B", "burger-2", ob.MESSAGE, {"n": 0})
    assert await box.forget("burger-1") == 1
    assert await box.waiting("zaak:A") == 0 and await box.waiting("zaak:B") == 1


async def test_erase_citizen_deletes_what_waits_for_them(own_outbox: Path) -> None:
    settings = BotSettings.from_env()  # BOT_OUTBOX_DB_URL: this test's own file
    box = ob.Outbox(ob.database_url(settings.outbox_db))
    await box.add("zaak:A", "burger-1", ob.MESSAGE, {"n": 0, "text": "mijn nummer is 06 12345678"})
    await box.add("gesprek:rest:burger-2", "burger-2", ob.CALLBACK, {"n": 0})
    assert await ob.erase_citizen(settings, "burger-1") == 1
    assert await box.waiting() == 1
    box.dispose()


# -- two drainers on one database ----------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """One database for two outboxes: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.db'}"
        return
    sqlalchemy = pytest.importorskip("sqlalchemy")
    admin = sqlalchemy.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", future=True)
    name = f"bot_outbox_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    except Exception as e:
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN}: {type(e).__name__}")
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


async def test_two_drainers_send_every_item_once_and_in_order(shared_url: str) -> None:
    first, second = ob.Outbox(shared_url), ob.Outbox(shared_url)
    streams = {f"zaak:{i}": 8 for i in range(8)}
    await fill(first, streams)
    log: List[Tuple[str, str, int, str]] = []  # (event, stream, n, drainer)

    def slow_delivery(name: str) -> ob.Deliver:
        async def deliver(item: ob.Item) -> Dict[str, Any]:
            log.append(("start", item.stream, item.payload["n"], name))
            await asyncio.sleep(random.uniform(0.001, 0.01))  # let the other drainer run meanwhile
            log.append(("end", item.stream, item.payload["n"], name))
            return {}

        return deliver

    async def keep_draining(box: ob.Outbox, name: str) -> None:
        while await box.waiting():
            await ob.drain(box, slow_delivery(name), name, LEASE)
            await asyncio.sleep(0)

    try:
        await asyncio.gather(keep_draining(first, "eerste"), keep_draining(second, "tweede"))
    finally:
        first.dispose()
        second.dispose()
    starts = [(s, n) for event, s, n, _ in log if event == "start"]
    assert sorted(starts) == sorted((s, n) for s, count in streams.items() for n in range(count))  # each once
    for stream in streams:
        events = [(event, n) for event, s, n, _ in log if s == stream]
        # strictly one after the other: start 0, end 0, start 1, end 1, ...
        assert events == [(e, n) for n in range(8) for e in ("start", "end")], stream
    assert {d for *_, d in log} == {"eerste", "tweede"}  # both really took part


# -- survives a restart ----------------------------------------------------------------------------


def test_items_stored_by_a_process_that_was_killed_are_sent_by_the_next_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    store = (
        "import asyncio, os, signal\n"
        "from bot.handover_gateway import outbox as ob\n"
        f"box = ob.Outbox({url!r})\n"
        "async def main():\n"
        "    for n in range(3):\n"
        "        await box.add('zaak:HV-7K3M', 'burger-1', ob.MESSAGE, {'n': n})\n"
        "asyncio.run(main())\n"
        "os.kill(os.getpid(), signal.SIGKILL)  # a crash: no clean shutdown\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", store], cwd=ROOT, env=env, capture_output=True, timeout=120)
    assert done.returncode == -9, done.stderr.decode()
    box = ob.Outbox(url)
    deliver = Recorder()
    try:
        asyncio.run(ob.drain(box, deliver, "next-process", LEASE))
    finally:
        box.dispose()
    assert deliver.sent == [("zaak:HV-7K3M", 0), ("zaak:HV-7K3M", 1), ("zaak:HV-7K3M", 2)]
