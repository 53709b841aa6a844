"""POST /api/cases/{reference}/messages with `client_id`: the bot's outbox may send a message
again when an answer got lost; the service stores it once (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from handover.keys import sessionmaker_key
from handover.models import Message
from tests.conftest import BOT, case_body

Client = TestClient[Any, Any]


async def citizen_texts(client: Client) -> list[str]:
    async with client.app[sessionmaker_key]() as session:
        query = select(Message.text).where(Message.role == "citizen").order_by(Message.id)
        rows = await session.scalars(query)
        return list(rows)


async def new_case(client: Client, sender: str) -> str:
    resp = await client.post("/api/cases", json=case_body(sender, transcript=[]), headers=BOT)
    assert resp.status == 201, await resp.text()
    reference: str = (await resp.json())["reference"]
    return reference


async def test_a_message_sent_again_with_the_same_client_id_is_stored_once(client: Client) -> None:
    url = f"/api/cases/{await new_case(client, 'idem-1')}/messages"
    body = {"sender_id": "idem-1", "text": "Bent u er nog?", "client_id": "a" * 32}
    first = await client.post(url, json=body, headers=BOT)
    again = await client.post(url, json=body, headers=BOT)
    assert first.status == again.status == 202
    assert (await first.json())["message_id"] == (await again.json())["message_id"]
    other = await client.post(url, json={**body, "client_id": "b" * 32, "text": "Hallo?"}, headers=BOT)
    assert other.status == 202
    # Without a key every post is a new message (the API as it was).
    for _ in range(2):
        plain = await client.post(url, json={"sender_id": "idem-1", "text": "Zonder sleutel"}, headers=BOT)
        assert plain.status == 202
    assert await citizen_texts(client) == ["Bent u er nog?", "Hallo?", "Zonder sleutel", "Zonder sleutel"]


async def test_concurrent_repeats_store_one_message(client: Client) -> None:
    url = f"/api/cases/{await new_case(client, 'idem-2')}/messages"
    body = {"sender_id": "idem-2", "text": "Tegelijk", "client_id": "c" * 32}
    answers = await asyncio.gather(*(client.post(url, json=body, headers=BOT) for _ in range(6)))
    assert [a.status for a in answers] == [202] * 6
    assert len({(await a.json())["message_id"] for a in answers}) == 1
    async with client.app[sessionmaker_key]() as session:
        query = select(func.count()).select_from(Message).where(Message.client_id == "c" * 32)
        count = await session.scalar(query)
    assert count == 1


async def test_the_same_client_id_in_another_case_is_another_message(client: Client) -> None:
    key = "d" * 32
    for sender in ("idem-3", "idem-4"):
        url = f"/api/cases/{await new_case(client, sender)}/messages"
        body = {"sender_id": sender, "text": f"van {sender}", "client_id": key}
        resp = await client.post(url, json=body, headers=BOT)
        assert resp.status == 202
    assert await citizen_texts(client) == ["van idem-3", "van idem-4"]


async def test_a_client_id_that_is_too_long_or_not_text_is_400(client: Client) -> None:
    url = f"/api/cases/{await new_case(client, 'idem-5')}/messages"
    for bad in ("x" * 65, 12):
        body = {"sender_id": "idem-5", "text": "hoi", "client_id": bad}
        resp = await client.post(url, json=body, headers=BOT)
        assert resp.status == 400 and "client_id" in (await resp.json())["detail"]
