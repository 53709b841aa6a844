"""Two service instances on one PostgreSQL database: citizens racing for one slot (one wins, the
others get ``slot_taken`` and other free slots), and the reminder rounds of both instances at
the same moment queue one reminder."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from handover import reminders
from handover.app import create_app
from handover.keys import sessionmaker_key
from handover.models import Appointment, AppointmentMode, AppointmentSlot, OutboxMessage, utcnow
from tests.conftest import BOT, FakeRasa, make_settings

pytestmark = [pytest.mark.postgres]


@pytest.fixture
async def servers(pg_only_url: str, fake_rasa: FakeRasa) -> AsyncIterator[list[TestServer]]:
    started = []
    for _ in range(2):
        server = TestServer(create_app(make_settings(pg_only_url, fake_rasa.url)))
        await server.start_server()
        started.append(server)
    yield started
    for server in started:
        await server.close()


async def add_slots(server: TestServer, hours: list[float]) -> list[int]:
    ids = []
    async with server.app[sessionmaker_key]() as session, session.begin():
        for h in hours:
            starts = utcnow().replace(microsecond=0) + dt.timedelta(hours=h)
            slot = AppointmentSlot(
                starts_at=starts,
                ends_at=starts + dt.timedelta(minutes=30),
                mode=AppointmentMode.OFFICE,
                team="inkomen_schulden",
                location="Stadskantoor",
            )
            session.add(slot)
            await session.flush()
            ids.append(slot.id)
    return ids


async def test_citizens_race_for_one_slot_on_two_instances(servers: list[TestServer]) -> None:
    wanted, other = await add_slots(servers[0], [20, 30])

    async def book(i: int) -> tuple[int, dict[str, object]]:
        server = servers[i % 2]
        async with aiohttp.ClientSession(base_url=server.make_url("/")) as http:
            async with http.post(
                f"/api/conversations/whatsapp/3161234{i:04d}/appointments",
                json={"slot_id": wanted},
                headers=BOT,
            ) as resp:
                return resp.status, await resp.json()

    results = await asyncio.gather(*(book(i) for i in range(12)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * 11, results
    for status, body in results:
        if status == 409:
            assert body["error"] == "slot_taken"
            assert [s["id"] for s in body["slots"]] == [other]  # type: ignore[union-attr]
    async with servers[1].app[sessionmaker_key]() as session:
        assert await session.scalar(select(func.count()).select_from(Appointment)) == 1


async def test_reminder_rounds_on_two_instances_queue_one_reminder(
    servers: list[TestServer], fake_rasa: FakeRasa
) -> None:
    slots = await add_slots(servers[0], [3, 4, 5])
    async with aiohttp.ClientSession(base_url=servers[0].make_url("/")) as http:
        for i, slot in enumerate(slots):
            async with http.post(
                f"/api/conversations/socketio/burger-{i}/appointments", json={"slot_id": slot}, headers=BOT
            ) as resp:
                assert resp.status == 201
    rounds = [reminders.run_reminders(servers[i % 2].app) for i in range(6)]
    assert sum(await asyncio.gather(*rounds)) == 3
    await fake_rasa.wait_for(lambda f: len(f.intents("afspraak_herinnering")) == 3)
    assert sorted(c.sender_id for c in fake_rasa.intents("afspraak_herinnering")) == [
        "burger-0",
        "burger-1",
        "burger-2",
    ]
    async with servers[0].app[sessionmaker_key]() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.intent == "afspraak_herinnering")
        )
    assert count == 3
