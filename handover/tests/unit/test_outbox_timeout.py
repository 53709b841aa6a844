"""A Rasa instance that does not answer in time fails that one delivery (retried later), not the
drain round: the other messages of the batch are marked sent. On Python 3.10 aiohttp's timeout is
asyncio.TimeoutError, which is not the built-in TimeoutError; it used to escape the client and fail
the whole round, so every message of the batch waited for its lease and was delivered twice."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handover import rasa_delivery
from handover.app import create_app
from handover.clients.rasa import RasaClient
from handover.keys import outbox_wakeup_key, sessionmaker_key
from handover.models import Channel, OutboxMessage, OutboxStatus
from tests.conftest import RASA_TOKEN, make_settings


async def test_a_delivery_that_times_out_fails_alone(
    sessionmaker: async_sessionmaker[AsyncSession], aiohttp_server: Callable[..., Awaitable[TestServer]]
) -> None:
    release = asyncio.Event()
    answered: list[str] = []

    async def trigger_intent(request: web.Request) -> web.Response:
        if request.match_info["sender_id"] == "slow-citizen":
            await release.wait()  # answers only after the client gave up
        answered.append(request.match_info["sender_id"])
        return web.json_response({"tracker": {}})

    app = web.Application()
    app.router.add_post("/conversations/{sender_id}/trigger_intent", trigger_intent)
    server = await aiohttp_server(app)
    ids = {}
    async with sessionmaker() as session, session.begin():
        for sender in ("slow-citizen", "quick-citizen"):
            msg = OutboxMessage(
                channel=Channel.SOCKETIO, sender_id=sender, intent="wachtrij_update", entities={}
            )
            session.add(msg)
            await session.flush()
            ids[sender] = msg.id
    try:
        async with aiohttp.ClientSession() as http:
            rasa = RasaClient(http, str(server.make_url("")), RASA_TOKEN, 0.5)
            assert await rasa_delivery.drain_once(sessionmaker, rasa, max_attempts=3) == 2
    finally:
        release.set()
    assert answered[0] == "quick-citizen"
    async with sessionmaker() as session:
        quick = await session.get(OutboxMessage, ids["quick-citizen"])
        slow = await session.get(OutboxMessage, ids["slow-citizen"])
        assert quick is not None and quick.status == OutboxStatus.SENT
        assert slow is not None and slow.status == OutboxStatus.PENDING
        assert slow.attempts == 1 and slow.last_error == "TimeoutError" and slow.lease_until is None
        assert slow.next_attempt_at is not None


async def test_a_slow_turn_does_not_hold_back_other_conversations(
    sqlite_url: str, aiohttp_server: Callable[..., Awaitable[TestServer]]
) -> None:
    """The drainer is a pipeline: while one conversation's turn is still running in Rasa, a message
    for another conversation queued after it is delivered (rounds used to wait for the slowest)."""
    release, slow_arrived = asyncio.Event(), asyncio.Event()
    answered: list[str] = []

    async def trigger_intent(request: web.Request) -> web.Response:
        if request.match_info["sender_id"] == "slow-citizen":
            slow_arrived.set()
            await release.wait()
        answered.append(request.match_info["sender_id"])
        return web.json_response({"tracker": {}})

    rasa_app = web.Application()
    rasa_app.router.add_post("/conversations/{sender_id}/trigger_intent", trigger_intent)
    rasa = await aiohttp_server(rasa_app)
    app = create_app(make_settings(sqlite_url, str(rasa.make_url(""))))
    server = TestServer(app)
    await server.start_server()
    try:
        for sender in ("slow-citizen", "quick-citizen"):
            async with app[sessionmaker_key]() as session, session.begin():
                session.add(
                    OutboxMessage(
                        channel=Channel.SOCKETIO, sender_id=sender, intent="wachtrij_update", entities={}
                    )
                )
            app[outbox_wakeup_key].set()
            if sender == "slow-citizen":  # the quick one is queued while the slow turn runs
                await asyncio.wait_for(slow_arrived.wait(), 10)
        deadline = asyncio.get_running_loop().time() + 10
        while "quick-citizen" not in answered:
            assert asyncio.get_running_loop().time() < deadline, answered
            await asyncio.sleep(0.02)
        assert answered == ["quick-citizen"]  # the slow turn is still running
    finally:
        release.set()
        await server.close()
    assert answered == ["quick-citizen", "slow-citizen"]
