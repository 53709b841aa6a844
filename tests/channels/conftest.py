"""Fixtures for the channel tests: a fake Graph API and real Sanic servers with the channel."""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator, List

import pytest
from sanic import Sanic

from bot.channels.whatsapp import WhatsAppInput
from tests.channels.helpers import FakeGraph, Server, make_config

StartServer = Callable[..., Awaitable[Server]]


@pytest.fixture(scope="session", autouse=True)
def sanic_test_mode() -> Iterator[None]:
    """Several Sanic apps start in one process here. Sanic rewrites its HTTP protocol methods at
    every start ("touchup"); only in test mode does it keep the originals to rewrite again."""
    before = Sanic.test_mode
    Sanic.test_mode = True
    yield
    Sanic.test_mode = before


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    fake = await FakeGraph().start()
    yield fake
    await fake.stop()


@pytest.fixture
def state_db(tmp_path: Path) -> str:
    return str(tmp_path / "var" / "whatsapp.db")


@pytest.fixture
async def start_server(graph: FakeGraph, state_db: str) -> AsyncIterator[StartServer]:
    """start_server(**config_overrides) -> a running Server with a fresh channel instance on the
    same state database (a second call is a restart). As Meta does, the fake Graph API reports each
    message it takes as "sent" to the newest server (a citizen's next message waits for that);
    `callbacks=False`: no status callbacks at all."""
    running: List[Server] = []

    async def start(callbacks: bool = True, **overrides: Any) -> Server:
        channel = WhatsAppInput(make_config(graph, state_db, **overrides))
        server = await Server(channel).start()
        running.append(server)
        if callbacks:
            graph.callbacks_to(server)
        return server

    yield start
    for server in running:
        await server.stop()


@pytest.fixture
async def server(start_server: StartServer) -> Server:
    return await start_server()
