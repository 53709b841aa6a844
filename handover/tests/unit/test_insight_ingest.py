"""Rasa's event stream (its SQL broker table) into counts without personal data."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from handover.insight.facts import observe
from handover.insight.ingest import Clock, consume_sql_round, events_engine, housekeeping
from handover.models import InsightConversation, InsightCount, InsightCursor, InsightKey, InsightMessage

ZONE = ZoneInfo("Europe/Amsterdam")
CLOCK = Clock(ZONE, dt.timedelta(minutes=30))
T0 = dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.timezone.utc)  # 11:00 in Amsterdam
SENDERS = ("0612345678", "website-abc")


def user(
    sender: str, at: dt.datetime, channel: str = "socketio", text: str = "Mijn BSN is 111222333"
) -> dict[str, Any]:
    return {
        "event": "user",
        "sender_id": sender,
        "timestamp": at.timestamp(),
        "text": text,
        "input_channel": channel,
        "parse_data": {"intent": {"name": "vraag"}},
    }


def slot(sender: str, at: dt.datetime, name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "sender_id": sender, "timestamp": at.timestamp(), "name": name, "value": value}


@pytest.fixture
async def events(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A broker database with Rasa's table (rasa.core.brokers.sql: id, sender_id, data)."""
    engine = events_engine(f"sqlite:///{tmp_path / 'events.db'}")
    async with engine.begin() as conn:
        await conn.execute(
            sa.text("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255), data TEXT)")
        )
    yield engine
    await engine.dispose()


async def publish(engine: AsyncEngine, *items: dict[str, Any]) -> None:
    async with engine.begin() as conn:
        for item in items:
            await conn.execute(
                sa.text("INSERT INTO events (sender_id, data) VALUES (:s, :d)"),
                {"s": item["sender_id"], "d": json.dumps(item)},
            )


async def counts(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessionmaker() as session:
        rows = await session.scalars(select(InsightCount))
        return {f"{r.measure}:{r.value}": r.count for r in rows if r.count}


async def remaining(engine: AsyncEngine) -> int:
    """Rows that still hold a sender id or an event (the last row read stays, emptied)."""
    async with engine.connect() as conn:
        return int(
            (
                await conn.execute(
                    sa.text("SELECT count(*) FROM events WHERE data IS NOT NULL OR sender_id IS NOT NULL")
                )
            ).scalar_one()
        )


async def test_a_conversation_counts_once_per_fact_and_the_broker_rows_are_deleted(
    sessionmaker: async_sessionmaker[AsyncSession], events: AsyncEngine
) -> None:
    a, b = SENDERS
    m = dt.timedelta(minutes=1)
    await publish(
        events,
        user(a, T0, "whatsapp"),
        slot(a, T0, "onderwerp", "digid"),
        slot(a, T0, "vraagtype", 1.0),
        slot(a, T0, "intake_knoop", "digid_start"),
        slot(a, T0, "misverstanden", 1.0),
        user(a, T0 + m, "whatsapp"),
        slot(a, T0 + m, "onderwerp", "digid"),  # the same topic again: still one conversation
        slot(a, T0 + m, "misverstanden", 2.0),
        slot(a, T0 + m, "intake_knoop", "digid_code"),
        slot(a, T0 + m, "past_niet", True),
        user(b, T0),
        slot(b, T0, "onderwerp", "bijstand"),
        slot(b, T0, "levensgebeurtenis", "baan_kwijt"),
        slot(b, T0, "urgent", True),
        slot(b, T0, "crisis", ["suicide"]),
        slot(b, T0, "toestemming", False),
        slot(b, T0, "taal", "en"),
        slot(b, T0, "handover_referentie", "AB12CD"),
        {
            "event": "user",
            "sender_id": b,
            "timestamp": T0.timestamp(),
            "text": "medewerker_bericht",
            "input_channel": "socketio",
            "metadata": {"is_external": True},
        },  # the service, not the citizen
    )
    read = await consume_sql_round(sessionmaker, events, CLOCK, T0 + 2 * m, retention_days=365)
    assert read == 19
    assert await remaining(events) == 0  # no text stays in the broker's table
    assert await counts(sessionmaker) == {
        "gesprek:": 2,
        "kanaal:whatsapp": 1,
        "kanaal:website": 1,
        "berichten:": 3,
        "onderwerp:digid": 1,
        "onderwerp:bijstand": 1,
        "vraagtype:1": 1,
        "levensgebeurtenis:baan_kwijt": 1,
        "knoop:digid_start": 1,
        "knoop:digid_code": 1,
        "past_niet:digid_code": 1,
        "niet_begrepen:": 2,
        "urgent:": 1,
        "crisis:": 1,
        "toestemming_geweigerd:": 1,
        "overgedragen:": 1,
    }
    # Quiet for the idle time: each conversation ends once, with its outcome and language.
    await consume_sql_round(sessionmaker, events, CLOCK, T0 + 40 * m, retention_days=365)
    ended = await counts(sessionmaker)
    assert {k: v for k, v in ended.items() if k.split(":")[0] in ("uitkomst", "taal", "verlaten")} == {
        "uitkomst:afgebroken": 1,
        "uitkomst:overgedragen": 1,
        "taal:nl": 1,
        "taal:en": 1,
        "verlaten:digid_code": 1,
    }
    # The first citizen comes back the same day: the ending is taken back and counted again later.
    await publish(events, user(a, T0 + 50 * m, "whatsapp"), slot(a, T0 + 50 * m, "intake_fase", "uitkomst"))
    await consume_sql_round(sessionmaker, events, CLOCK, T0 + 51 * m, retention_days=365)
    assert (await counts(sessionmaker)).get("uitkomst:afgebroken", 0) == 0
    await consume_sql_round(sessionmaker, events, CLOCK, T0 + 90 * m, retention_days=365)
    after = await counts(sessionmaker)
    assert after["uitkomst:opgelost"] == 1 and after["gesprek:"] == 2 and "verlaten:digid_code" not in after


async def test_nothing_personal_is_stored_and_the_day_key_goes_with_the_day(
    sessionmaker: async_sessionmaker[AsyncSession], events: AsyncEngine
) -> None:
    await publish(events, *(user(s, T0) for s in SENDERS), slot(SENDERS[0], T0, "onderwerp", "digid"))
    await consume_sql_round(sessionmaker, events, CLOCK, T0, retention_days=365)
    async with sessionmaker() as session:
        stored = json.dumps(
            [
                [str(v) for v in row]
                for model in (InsightCount, InsightConversation, InsightKey, InsightCursor)
                for row in (await session.execute(select(model.__table__))).all()
            ]
        )
        assert len((await session.scalars(select(InsightConversation))).all()) == 2
    for secret in (*SENDERS, "111222333", "BSN"):
        assert secret not in stored
    # The next day: yesterday's hashes and key are gone, the counts stay.
    next_day = T0 + dt.timedelta(days=1)
    await consume_sql_round(sessionmaker, events, CLOCK, next_day, retention_days=365)
    async with sessionmaker() as session:
        assert (await session.scalars(select(InsightConversation))).all() == []
        assert (await session.scalars(select(InsightKey))).all() == []
    after = await counts(sessionmaker)
    assert after["gesprek:"] == 2 and after["uitkomst:afgebroken"] == 2
    # A conversation on the new day is a new one (a new key): the sender id cannot be linked across days.
    await publish(events, user(SENDERS[0], next_day))
    await consume_sql_round(sessionmaker, events, CLOCK, next_day, retention_days=365)
    async with sessionmaker() as session:
        days = (
            await session.scalars(select(InsightCount.day).where(InsightCount.measure == "gesprek"))
        ).all()
    assert sorted(days) == [T0.date(), next_day.date()]
    # Past the retention period the counts go too.
    await consume_sql_round(sessionmaker, events, CLOCK, next_day + dt.timedelta(days=10), retention_days=5)
    assert await counts(sessionmaker) == {}


async def test_the_cursor_reads_only_new_rows(
    sessionmaker: async_sessionmaker[AsyncSession], events: AsyncEngine
) -> None:
    await publish(events, user(SENDERS[0], T0), user(SENDERS[0], T0))
    assert await consume_sql_round(sessionmaker, events, CLOCK, T0, retention_days=365) == 2
    async with events.begin() as conn:  # a row the delete missed (a crash between the two databases)
        await conn.execute(
            sa.text("INSERT INTO events (id, sender_id, data) VALUES (1, 'x', :d)"),
            {"d": json.dumps(user(SENDERS[1], T0))},
        )
    await publish(events, user(SENDERS[1], T0))
    assert await consume_sql_round(sessionmaker, events, CLOCK, T0, retention_days=365) == 1
    assert (await counts(sessionmaker))["berichten:"] == 3
    assert await remaining(events) == 0


async def test_a_redelivered_message_counts_once_and_the_same_words_elsewhere_count_again(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """RabbitMQ delivers at least once; amqp.count_message makes the counting exactly once."""
    from handover.insight.amqp import count_message

    a, b = SENDERS
    body = json.dumps(user(a, T0)).encode()
    assert await count_message(sessionmaker, CLOCK, body)
    # The consumer died after its commit, before the acknowledgement: the same body comes again.
    assert not await count_message(sessionmaker, CLOCK, body)
    assert await counts(sessionmaker) == {"gesprek:": 1, "kanaal:website": 1, "berichten:": 1}
    # Two instances get it at once: the cursor row's lock lets one count it, the other finds it.
    again = json.dumps(user(a, T0 + dt.timedelta(seconds=1))).encode()
    done = await asyncio.gather(*(count_message(sessionmaker, CLOCK, again) for _ in range(2)))
    assert sorted(done) == [False, True]
    # The same words in another conversation are another message, and so counted.
    assert await count_message(sessionmaker, CLOCK, json.dumps(user(b, T0)).encode())
    assert await counts(sessionmaker) == {"gesprek:": 2, "kanaal:website": 2, "berichten:": 3}
    # An event that tells the counts nothing leaves no digest either.
    bot = {"event": "bot", "sender_id": a, "timestamp": T0.timestamp(), "text": "Welkom"}
    assert not await count_message(sessionmaker, CLOCK, json.dumps(bot).encode())
    async with sessionmaker() as session:
        digests = (await session.scalars(select(InsightMessage.digest))).all()
    assert len(digests) == 3 and all(len(d) == 64 and int(d, 16) >= 0 for d in digests)  # only hashes
    # The next day the digests go with yesterday's key; the counts stay.
    async with sessionmaker() as session, session.begin():
        await housekeeping(session, CLOCK, T0 + dt.timedelta(days=1), retention_days=365)
    async with sessionmaker() as session:
        assert (await session.scalars(select(InsightMessage))).all() == []
        assert (await session.scalars(select(InsightKey))).all() == []
    assert (await counts(sessionmaker))["berichten:"] == 3


def test_sentences_are_never_read() -> None:
    seen = observe(user("x", T0, text="Ik wil over digid praten, ik ben mijn baan kwijt"))
    assert seen is not None and seen.marks == ("gesprek:", "kanaal:website")
    assert observe({"event": "bot", "sender_id": "x", "timestamp": 1.0, "text": "Welkom"}) is None
    assert (
        observe(
            {
                "event": "slot",
                "sender_id": "x",
                "timestamp": 1.0,
                "name": "samenvatting",
                "value": "Uw vraag over DigiD",
            }
        )
        is None
    )


def _rabbitmq_up() -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=1).close()
        return True
    except OSError:
        return False


async def test_events_from_rabbitmq_are_counted_and_acknowledged(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Published as Rasa's Pika broker does (fanout exchange rasa-exchange, durable queue)."""
    if not _rabbitmq_up():
        pytest.skip("RabbitMQ is not reachable at 127.0.0.1:5672")
    import uuid

    import aio_pika

    from handover.insight.amqp import EXCHANGE, consume_amqp

    url = "amqp://guest:guest@127.0.0.1:5672/"
    queue_name = f"insight_test_{uuid.uuid4().hex[:8]}"
    stop = asyncio.Event()
    consumer = asyncio.create_task(consume_amqp(sessionmaker, url, queue_name, CLOCK, stop))
    connection = await aio_pika.connect_robust(url)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.FANOUT)
        queue = await channel.declare_queue(queue_name, durable=True)
        await queue.bind(exchange, "")
        for event in (user(SENDERS[0], T0), slot(SENDERS[0], T0, "onderwerp", "digid"), user(SENDERS[1], T0)):
            await exchange.publish(aio_pika.Message(json.dumps(event).encode()), routing_key="")
        for _ in range(200):  # until the consumer has counted all three
            found = await counts(sessionmaker)
            if found.get("berichten:") == 2 and "onderwerp:digid" in found:
                break
            await asyncio.sleep(0.05)
        assert await counts(sessionmaker) == {
            "gesprek:": 2,
            "kanaal:website": 2,
            "berichten:": 2,
            "onderwerp:digid": 1,
        }
        stop.set()
        await asyncio.wait_for(consumer, 10)
        assert (await queue.declare()).message_count == 0  # acknowledged: gone from RabbitMQ
        await queue.delete(if_unused=False, if_empty=False)
    finally:
        stop.set()
        await connection.close()


async def test_a_message_rabbitmq_delivers_again_after_a_crash_is_counted_once(
    sessionmaker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An instance counts a message and dies before acknowledging it; the next consumer gets it again."""
    if not _rabbitmq_up():
        pytest.skip("RabbitMQ is not reachable at 127.0.0.1:5672")
    import uuid

    import aio_pika

    from handover.insight import amqp

    url = "amqp://guest:guest@127.0.0.1:5672/"
    queue_name = f"insight_test_{uuid.uuid4().hex[:8]}"
    connection = await aio_pika.connect_robust(url)
    stop = asyncio.Event()
    consumer: asyncio.Task[None] | None = None
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(amqp.EXCHANGE, aio_pika.ExchangeType.FANOUT)
        queue = await channel.declare_queue(queue_name, durable=True)
        await queue.bind(exchange, "")
        await exchange.publish(aio_pika.Message(json.dumps(user(SENDERS[0], T0)).encode()), routing_key="")

        crashed = await aio_pika.connect(url)
        first = await (await (await crashed.channel()).get_queue(queue_name)).get(timeout=10)
        assert first is not None and not first.redelivered
        assert await amqp.count_message(sessionmaker, CLOCK, first.body)  # committed ...
        await crashed.close()  # ... never acknowledged: RabbitMQ puts it back in the queue

        # What the consumer's count_message answers for each delivery (before it acknowledges).
        answers: list[bool] = []
        count_message = amqp.count_message

        async def recording(*args: Any) -> bool:
            answers.append(await count_message(*args))
            return answers[-1]

        monkeypatch.setattr(amqp, "count_message", recording)
        consumer = asyncio.create_task(amqp.consume_amqp(sessionmaker, url, queue_name, CLOCK, stop))
        for _ in range(200):  # until the consumer had the redelivered message
            if answers:
                break
            await asyncio.sleep(0.05)
        assert answers == [False]  # recognised: acknowledged without counting
        stop.set()
        await asyncio.wait_for(consumer, 10)
        assert (await queue.declare()).message_count == 0  # acknowledged: gone from RabbitMQ
        assert await counts(sessionmaker) == {"gesprek:": 1, "kanaal:website": 1, "berichten:": 1}
        await queue.delete(if_unused=False, if_empty=False)
    finally:
        stop.set()
        if consumer is not None and not consumer.done():
            consumer.cancel()
        await connection.close()
