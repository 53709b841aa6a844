"""Two service instances on one PostgreSQL database and one Redis: no double claims, and
WebSocket events reach a casemanager whichever instance produced them."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from handover.app import create_app
from handover.keys import sessionmaker_key
from handover.models import Case, StatusChange
from tests.conftest import BOT, PASSWORD, FakeRasa, add_user, case_body, make_settings

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
Client = aiohttp.ClientSession


@pytest.fixture
async def servers(pg_only_url: str, redis_url: str, fake_rasa: FakeRasa) -> AsyncIterator[list[TestServer]]:
    channel = f"handover:test:{uuid.uuid4().hex}"
    started = []
    for _ in range(2):
        settings = make_settings(pg_only_url, fake_rasa.url, redis_url=redis_url, redis_channel=channel)
        server = TestServer(create_app(settings))
        await server.start_server()
        started.append(server)
    yield started
    for server in started:
        await server.close()


def http_client(server: TestServer) -> aiohttp.ClientSession:
    # A plain session per user (own cookie jar); closing it leaves the server running.
    return aiohttp.ClientSession(base_url=server.make_url("/"), cookie_jar=aiohttp.CookieJar(unsafe=True))


async def logged_in_client(server: TestServer, username: str) -> tuple[Client, str]:
    client = http_client(server)
    page = await (await client.get("/login")).text()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    resp = await client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf[1]}
    )
    token = re.search(r'name="csrf_token" value="([^"]+)"', await resp.text())
    assert resp.status == 200 and token
    return client, token[1]


async def casemanagers(servers: list[TestServer], count: int) -> list[tuple[Client, str]]:
    sm = servers[0].app[sessionmaker_key]
    for i in range(count):
        await add_user(sm, f"cm{i}")
    # Alternate instances so the claimers really race across two processes' pools.
    return list(await asyncio.gather(*(logged_in_client(servers[i % 2], f"cm{i}") for i in range(count))))


async def new_case(server: TestServer, sender: str) -> str:
    async with http_client(server) as client:
        resp = await client.post("/api/cases", json=case_body(sender), headers=BOT)
        assert resp.status == 201
        return str((await resp.json())["reference"])


async def test_twenty_concurrent_claimers_on_one_case(servers: list[TestServer]) -> None:
    claimers = await casemanagers(servers, 20)
    ref = await new_case(servers[1], "contested")

    async def claim(client: Client, token: str) -> int:
        resp = await client.post(
            f"/zaken/{ref}/claim", data={"csrf_token": token}, headers={"Accept": "application/json"}
        )
        return resp.status

    try:
        statuses = await asyncio.gather(*(claim(c, t) for c, t in claimers))
    finally:
        await asyncio.gather(*(c.close() for c, _ in claimers))
    assert sorted(statuses) == [200] + [409] * 19
    async with servers[0].app[sessionmaker_key]() as session:
        claims = await session.scalar(
            select(func.count()).select_from(StatusChange).where(StatusChange.to_status == "in_behandeling")
        )
    assert claims == 1


async def test_claim_next_over_ten_cases_with_twenty_claimers(servers: list[TestServer]) -> None:
    claimers = await casemanagers(servers, 20)
    refs = [await new_case(servers[i % 2], f"s{i}") for i in range(10)]

    async def claim_next(client: Client, token: str) -> str | None:
        resp = await client.post("/wachtrij/volgende", data={"csrf_token": token}, allow_redirects=False)
        assert resp.status == 302
        location = resp.headers["Location"]
        return location.rsplit("/", 1)[-1] if location.startswith("/zaken/") else None

    try:
        got = await asyncio.gather(*(claim_next(c, t) for c, t in claimers))
    finally:
        await asyncio.gather(*(c.close() for c, _ in claimers))
    claimed = [r for r in got if r]
    assert sorted(claimed) == sorted(refs)  # every case exactly once, nobody got a duplicate
    async with servers[0].app[sessionmaker_key]() as session:
        rows = (await session.execute(select(Case.reference, Case.claimed_by_id))).all()
        history = await session.scalar(
            select(func.count()).select_from(StatusChange).where(StatusChange.to_status == "in_behandeling")
        )
    assert len({owner for _, owner in rows}) == 10 and history == 10


async def _receive(ws: Any, wanted: str, timeout: float = 5.0) -> dict[str, Any]:
    while True:
        msg = await ws.receive(timeout=timeout)
        assert msg.type == WSMsgType.TEXT, msg
        event: dict[str, Any] = json.loads(msg.data)
        if event["type"] == wanted:
            return event


async def test_websocket_fan_out_across_instances(servers: list[TestServer], fake_rasa: FakeRasa) -> None:
    sm = servers[0].app[sessionmaker_key]
    await add_user(sm, "anna", first_name="Anna")
    on_a, token = await logged_in_client(servers[0], "anna")
    bot_on_b = http_client(servers[1])
    try:
        queue_ws = await on_a.ws_connect("/ws")
        created = await bot_on_b.post("/api/cases", json=case_body("fan-out"), headers=BOT)
        ref = (await created.json())["reference"]
        assert (await _receive(queue_ws, "case_new"))["reference"] == ref  # made on B, seen on A

        await on_a.post(f"/zaken/{ref}/claim", data={"csrf_token": token})
        case_ws = await on_a.ws_connect(f"/ws?case={ref}")
        await bot_on_b.post(
            f"/api/cases/{ref}/messages", json={"sender_id": "fan-out", "text": "Hallo?"}, headers=BOT
        )
        event = await _receive(case_ws, "message")
        assert (event["reference"], event["role"], event["text"]) == (ref, "citizen", "Hallo?")

        # Reply from A reaches the citizen exactly once, although both instances drain the outbox.
        await case_ws.send_json({"type": "send", "reference": ref, "text": "Ik help u", "client_id": 1})
        await fake_rasa.wait_for(lambda f: bool(f.intents("medewerker_bericht")))
        await asyncio.sleep(0.5)
        assert [c.entities["tekst"] for c in fake_rasa.intents("medewerker_bericht")] == ["Ik help u"]
        assert len(fake_rasa.intents("medewerker_gekoppeld")) == 1
        await queue_ws.close()
        await case_ws.close()
    finally:
        await on_a.close()
        await bot_on_b.close()
