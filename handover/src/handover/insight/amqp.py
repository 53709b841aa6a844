"""Rasa's events from RabbitMQ (HANDOVER_EVENTS_URL=amqp://…) into the insight counts.

Rasa's Pika broker (bot/event_broker.py) publishes every event to the fanout exchange
``rasa-exchange``, bound to the durable queue HANDOVER_EVENTS_QUEUE. This consumer declares the
same exchange and queue (so it may start first), counts each message in one transaction of the
service's database and acknowledges it afterwards: a message is never lost, and removed from
RabbitMQ once counted.

Counting is exactly once, although RabbitMQ delivers at least once (a consumer that dies between
the commit and the acknowledgement gets, or leaves another instance, the same message again): the
transaction that counts a message also records a keyed hash of its body under the day's key
(ingest.apply_once, table insight_messages; no text, no sender id), and a message whose hash is
there already is acknowledged without counting. The hashes go with the day's key when the day is
over. Several instances may consume the same queue: the cursor row ``amqp`` is locked while one
message is counted, so a second delivery waits for the first one's commit and then finds its hash.
"""

from __future__ import annotations

import asyncio
import logging

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .ingest import Clock, apply_once, lock_counts

log = logging.getLogger(__name__)

AMQP_SOURCE = "amqp"
EXCHANGE = "rasa-exchange"  # rasa.core.brokers.pika.RABBITMQ_EXCHANGE
PREFETCH = 50


async def count_message(sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, body: bytes) -> bool:
    """Count one delivered message in its own transaction; False when it was counted before (or
    tells nothing). The caller acknowledges it after this returns."""
    async with sessionmaker() as session, session.begin():
        await lock_counts(session, AMQP_SOURCE)
        return await apply_once(session, clock, body)


async def consume_amqp(
    sessionmaker: async_sessionmaker[AsyncSession],
    url: str,
    queue_name: str,
    clock: Clock,
    stop: asyncio.Event,
) -> None:
    """Count messages from the queue until ``stop`` is set (reconnects on its own)."""

    async def count(message: AbstractIncomingMessage) -> None:
        # An error puts the message back in the queue (requeue); it is counted later.
        async with message.process(requeue=True):
            await count_message(sessionmaker, clock, message.body)

    connection = await aio_pika.connect_robust(url)
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=PREFETCH)
        # The same arguments as Rasa's broker, which declares them too (else RabbitMQ refuses).
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.FANOUT)
        queue = await channel.declare_queue(queue_name, durable=True)
        await queue.bind(exchange, "")
        tag = await queue.consume(count)
        await stop.wait()
        await queue.cancel(tag)
    finally:
        await connection.close()
