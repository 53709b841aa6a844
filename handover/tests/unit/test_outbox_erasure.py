"""The outbox to Rasa never delivers a message of a conversation that was erased after the drainer
leased it: delivering it would start the erased conversation again in the bot."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handover import rasa_delivery
from handover.clients.rasa import RasaClient
from handover.models import Channel, OutboxMessage, OutboxStatus
from tests.conftest import RASA_TOKEN, FakeRasa


async def _queue(sessionmaker: async_sessionmaker[AsyncSession], sender: str, intent: str) -> int:
    async with sessionmaker() as session, session.begin():
        msg = OutboxMessage(channel=Channel.SOCKETIO, sender_id=sender, intent=intent, entities={})
        session.add(msg)
        await session.flush()
        return msg.id


async def test_a_message_erased_after_its_lease_is_not_delivered(
    sessionmaker: async_sessionmaker[AsyncSession], fake_rasa: FakeRasa, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _queue(sessionmaker, "erased-citizen", "wachtrij_update")
    kept = await _queue(sessionmaker, "other-citizen", "wachtrij_update")
    real_lease = rasa_delivery._lease_batch

    async def lease_then_erase(maker: Any) -> list[OutboxMessage]:
        batch = await real_lease(maker)
        async with maker() as session, session.begin():  # the erasure (erasure.py) runs now
            await session.execute(delete(OutboxMessage).where(OutboxMessage.sender_id == "erased-citizen"))
        return batch

    monkeypatch.setattr(rasa_delivery, "_lease_batch", lease_then_erase)
    async with aiohttp.ClientSession() as http:
        rasa = RasaClient(http, fake_rasa.url, RASA_TOKEN, 5.0)
        await rasa_delivery.drain_once(sessionmaker, rasa, max_attempts=3)
    assert [c.sender_id for c in fake_rasa.calls] == ["other-citizen"]
    async with sessionmaker() as session:
        assert await session.scalar(select(OutboxMessage.status).where(OutboxMessage.id == kept)) == (
            OutboxStatus.SENT
        )


async def test_a_failed_delivery_of_a_message_erased_meanwhile_does_not_stop_the_drainer(
    sessionmaker: async_sessionmaker[AsyncSession], fake_rasa: FakeRasa, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _queue(sessionmaker, "erased-citizen", "medewerker_bericht")

    async def erase_during_delivery(rasa: RasaClient, msg: OutboxMessage) -> str | None:
        async with sessionmaker() as session, session.begin():
            await session.execute(delete(OutboxMessage).where(OutboxMessage.id == msg.id))
        return "503 from Rasa"

    monkeypatch.setattr(rasa_delivery, "_deliver", erase_during_delivery)
    async with aiohttp.ClientSession() as http:
        rasa = RasaClient(http, fake_rasa.url, RASA_TOKEN, 5.0)
        assert await rasa_delivery.drain_once(sessionmaker, rasa, max_attempts=3) == 1
    async with sessionmaker() as session:
        assert list(await session.scalars(select(OutboxMessage))) == []
