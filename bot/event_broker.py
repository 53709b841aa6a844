"""Rasa's event broker, chosen by one setting: the SQL broker (embedded default) or RabbitMQ.

endpoints.yml:

    event_broker:
      type: bot.event_broker.IntakeEventBroker
      url: ${EVENT_BROKER_URL}     # sqlite:///var/events.db, postgresql://…, or amqp://user:pw@host:5672/
      queue: intake_events          # RabbitMQ only

Rasa fills ``${…}`` from the environment but cannot pick a broker type from it, so this class
looks at the URL's scheme and builds Rasa's own broker: ``amqp``/``amqps`` → Rasa's Pika broker
(a fanout exchange bound to the durable queue ``queue``), anything else → Rasa's SQL broker
(table ``events``: id, sender_id, data). Both publish every tracker event as JSON; the handover
service reads them into counts without personal data and deletes what it read
(handover/src/handover/insight/, README "Inzicht").
"""

from __future__ import annotations

import json
from asyncio import AbstractEventLoop
from typing import Any, Dict, Optional, Sequence, Text
from urllib.parse import unquote, urlsplit

import sqlalchemy
import sqlalchemy.exc
from rasa.core.brokers.broker import EventBroker
from rasa.core.brokers.pika import PikaEventBroker
from rasa.core.brokers.sql import SQLEventBroker
from rasa.utils.endpoints import EndpointConfig

from bot.storage import kept_sqlite_engine

DEFAULT_QUEUE = "intake_events"


class EventBrokerSettingError(ValueError):
    """EVENT_BROKER_URL cannot be used."""


def pika_settings(url: str, queue: str) -> Dict[str, Any]:
    """The Pika broker's arguments from an ``amqp://user:password@host:port/vhost`` URL."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise EventBrokerSettingError("EVENT_BROKER_URL (amqp://…) mist de host.")
    vhost = parts.path if parts.path not in ("", "/") else ""
    return {
        # Rasa's Pika broker builds its URL from host (with scheme and vhost), port and login.
        "host": f"{parts.scheme}://{parts.hostname}{vhost}",
        "port": parts.port or (5671 if parts.scheme == "amqps" else 5672),
        "username": unquote(parts.username or "guest"),
        "password": unquote(parts.password or "guest"),
        "queues": [queue],
    }


def fast_sqlite(broker: SQLEventBroker) -> None:
    """Rasa publishes every event on its event loop, one commit each. SQLAlchemy 1.4 opens a new
    SQLite connection per commit (NullPool) and each commit waits for the disk: about 16 ms an
    event, 10-20 events a turn. Kept connections in WAL mode with synchronous=NORMAL: under 1 ms.
    A power cut may lose the last events (never corrupts the file); they are statistics."""
    url = broker.engine.url
    broker.engine.dispose()
    broker.engine = kept_sqlite_engine(url, synchronous="NORMAL")
    broker.sessionmaker.configure(bind=broker.engine)


class IntakeSQLEventBroker(SQLEventBroker):
    """Rasa's SQL broker (same table, same rows) that can also write a turn's events in one commit."""

    def publish_many(self, events: Sequence[Dict[Text, Any]]) -> None:
        """Publish events in order, in one transaction (Rasa's `publish` commits each one)."""
        if not events:
            return
        with self.session_scope() as session:
            session.add_all(
                [
                    self.SQLBrokerEvent(sender_id=event.get("sender_id"), data=json.dumps(event))
                    for event in events
                ]
            )
            session.commit()


class IntakeEventBroker(EventBroker):
    """Only a factory: Rasa calls ``from_endpoint_config`` and gets one of its own brokers."""

    @classmethod
    async def from_endpoint_config(
        cls, broker_config: EndpointConfig, event_loop: Optional[AbstractEventLoop] = None
    ) -> Optional[EventBroker]:
        url: Text = str(broker_config.url or "").strip()
        if not url:
            raise EventBrokerSettingError("EVENT_BROKER_URL is leeg.")
        queue = str(broker_config.kwargs.get("queue") or DEFAULT_QUEUE)
        if url.startswith(("amqp://", "amqps://")):
            settings = pika_settings(url, queue)
            host = settings.pop("host")
            return await PikaEventBroker.from_endpoint_config(
                EndpointConfig(url=host, **settings), event_loop
            )
        if "://" not in url:
            raise EventBrokerSettingError(
                "EVENT_BROKER_URL is geen adres: gebruik sqlite:///pad/events.db, postgresql://… of amqp://…"
            )
        try:
            broker = IntakeSQLEventBroker(host=url)
        except sqlalchemy.exc.DBAPIError:
            # Two instances creating the table at the same moment (PostgreSQL: pg_type unique,
            # SQLite: table already exists): the second attempt finds it.
            broker = IntakeSQLEventBroker(host=url)
        if url.startswith("sqlite"):
            fast_sqlite(broker)
        return broker
