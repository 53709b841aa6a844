"""The event broker Rasa builds from endpoints.yml: SQL by default, RabbitMQ for an amqp:// URL."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.brokers.pika import PikaEventBroker
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.utils import AvailableEndpoints

from bot.event_broker import EventBrokerSettingError, IntakeEventBroker, pika_settings

ROOT = Path(__file__).resolve().parents[2]


def _endpoints(monkeypatch: pytest.MonkeyPatch, broker_url: str) -> AvailableEndpoints:
    for name, value in {
        "TRACKER_DB_URL": "sqlite:///unused.db",
        "ACTION_ENDPOINT_URL": "http://127.0.0.1:1/webhook",
        "ACTION_SERVER_TOKEN": "t" * 24,
        "EVENT_BROKER_URL": broker_url,
    }.items():
        monkeypatch.setenv(name, value)
    return AvailableEndpoints.read_endpoints(str(ROOT / "endpoints.yml"))


async def test_sql_broker_from_endpoints_file_writes_events_to_a_private_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "events.db"
    endpoints = _endpoints(monkeypatch, f"sqlite:///{path}")
    old = os.umask(0o077)  # as bot/server.py sets it for the Rasa process
    try:
        broker = await EventBroker.create(endpoints.event_broker)
        assert isinstance(broker, SQLEventBroker)
        broker.publish({"sender_id": "abc", "event": "slot", "name": "onderwerp", "value": "digid"})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in tmp_path.glob("events.db*"))
    for _ in range(20):
        broker.publish({"sender_id": "abc", "event": "action", "name": "action_listen"})
    # A turn's events in one commit (the tracker store publishes them so), in order.
    broker.publish_many([{"sender_id": "def", "event": "user", "text": str(i)} for i in range(10)])
    broker.publish_many([])
    # Rasa publishes on its event loop: kept connections in WAL mode, no wait for the disk per event
    # (16 ms an event with Rasa's engine).
    assert isinstance(broker.engine.pool, sa.pool.QueuePool)
    with broker.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT sender_id, data FROM events ORDER BY id")).all()
    engine.dispose()
    assert (rows[0][0], json.loads(rows[0][1])["value"]) == ("abc", "digid") and len(rows) == 31
    assert [(r[0], json.loads(r[1])["text"]) for r in rows[21:]] == [("def", str(i)) for i in range(10)]


def test_amqp_url_becomes_pika_settings() -> None:
    assert pika_settings("amqp://user:p%40ss@mq.internal:5673/intake", "q") == {
        "host": "amqp://mq.internal/intake",
        "port": 5673,
        "username": "user",
        "password": "p@ss",
        "queues": ["q"],
    }
    with pytest.raises(EventBrokerSettingError):
        pika_settings("amqp://", "q")


async def test_a_url_without_scheme_is_refused_with_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    endpoints = _endpoints(monkeypatch, "var/events.db")
    assert endpoints.event_broker is not None
    with pytest.raises(EventBrokerSettingError, match="geen adres"):
        await IntakeEventBroker.from_endpoint_config(endpoints.event_broker)


def _rabbitmq_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=1).close()
        return True
    except OSError:
        return False


async def test_amqp_url_publishes_to_the_durable_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    if not _rabbitmq_up():
        pytest.skip("RabbitMQ is not reachable at 127.0.0.1:5672")
    import aio_pika

    queue_name = f"intake_test_{uuid.uuid4().hex[:8]}"
    endpoints = _endpoints(monkeypatch, "amqp://guest:guest@127.0.0.1:5672/")
    assert endpoints.event_broker is not None
    endpoints.event_broker.kwargs["queue"] = queue_name
    broker = await EventBroker.create(endpoints.event_broker)
    assert isinstance(broker, PikaEventBroker)
    connection = await aio_pika.connect_robust("amqp://guest:guest@127.0.0.1:5672/")
    try:
        broker.publish({"sender_id": "abc", "event": "action", "name": "action_turn"})
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, durable=True)
        message = None
        for _ in range(100):  # publishing runs as a task on this loop: wait until it arrived
            message = await queue.get(fail=False)
            if message is not None:
                break
            await asyncio.sleep(0.05)
        assert message is not None
        await message.ack()
        assert json.loads(message.body)["name"] == "action_turn"
        await queue.delete(if_unused=False, if_empty=False)
    finally:
        await broker.close()
        await connection.close()
