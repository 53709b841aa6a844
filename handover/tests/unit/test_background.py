"""Background loops stop at a safe point: never cancelled in the middle of a database call.

Regression test for a flaky "RuntimeError: Event loop is closed" raised in aiosqlite's worker
thread: app shutdown used to cancel the outbox drainer mid query, so the query finished on
the worker thread after the test's event loop had closed.
"""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handover import rasa_delivery
from handover.app import create_app
from handover.background import stop_gracefully, wait_or_stop
from handover.keys import background_tasks_key
from handover.models import OutboxMessage
from tests.conftest import FakeRasa, make_settings


async def test_shutdown_lets_the_drainer_finish_its_database_round(
    sqlite_url: str, fake_rasa: FakeRasa, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[int] = []
    finished: list[int] = []
    in_round = asyncio.Event()
    release = asyncio.Event()

    async def slow_lease(sm: async_sessionmaker[AsyncSession], limit: int = 0) -> list[OutboxMessage]:
        started.append(1)
        async with sm() as session:
            await session.execute(text("SELECT 1"))
            in_round.set()
            await release.wait()  # shutdown begins while this round holds a connection
            await session.execute(text("SELECT 1"))
        finished.append(1)
        return []

    monkeypatch.setattr(rasa_delivery, "_lease_batch", slow_lease)
    app = create_app(make_settings(sqlite_url, fake_rasa.url))
    server = TestServer(app)
    await server.start_server()
    await asyncio.wait_for(in_round.wait(), timeout=5)

    closing = asyncio.create_task(server.close())
    await asyncio.sleep(0.1)
    assert not closing.done(), "shutdown must wait for the running round"
    release.set()
    await asyncio.wait_for(closing, timeout=10)

    assert len(finished) == len(started) >= 1
    drainer = next(t for t in app[background_tasks_key] if t.get_name() == "outbox-drainer")
    assert drainer.done() and not drainer.cancelled()


async def test_wait_or_stop_returns_as_soon_as_stop_is_set() -> None:
    stop = asyncio.Event()
    assert await wait_or_stop(stop, 0.01) is False
    asyncio.get_running_loop().call_later(0.05, stop.set)
    assert await asyncio.wait_for(wait_or_stop(stop, 30), timeout=5) is True


async def test_stop_gracefully_cancels_only_after_the_grace_period() -> None:
    stop = asyncio.Event()

    async def polite() -> None:
        await stop.wait()

    task = asyncio.create_task(polite())
    await stop_gracefully(task, stop, grace_seconds=5)
    assert task.done() and not task.cancelled()

    async def stuck() -> None:
        await asyncio.Event().wait()

    task = asyncio.create_task(stuck(), name="stuck")
    await stop_gracefully(task, asyncio.Event(), grace_seconds=0.05)
    assert task.cancelled()


async def test_a_busy_database_in_the_reminder_round_is_a_warning_without_traceback(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Three instances on one SQLite file lock each other now and then; the next round does the
    work, so the log says so in one line (a traceback is kept for errors nobody expects)."""
    import sqlite3
    from types import SimpleNamespace

    from sqlalchemy.exc import OperationalError

    from handover import reminders
    from handover.keys import settings_key

    stop = asyncio.Event()
    rounds: list[int] = []

    async def busy_then_broken(app: object) -> int:
        rounds.append(1)
        if len(rounds) == 1:
            locked = sqlite3.OperationalError("database is locked")
            raise OperationalError("UPDATE appointments", {}, locked)
        stop.set()
        raise ValueError("unexpected")

    monkeypatch.setattr(reminders, "run_reminders", busy_then_broken)
    app = {settings_key: SimpleNamespace(appointment_poll_seconds=0.01)}
    with caplog.at_level("WARNING", logger="handover.reminders"):
        await asyncio.wait_for(reminders.reminder_loop(app, stop), timeout=30)  # type: ignore[arg-type]
    busy, unexpected = caplog.records
    assert busy.levelname == "WARNING" and busy.exc_info is None
    assert busy.getMessage() == (
        "appointment reminders: database not available (OperationalError); retrying at the next interval"
    )
    assert unexpected.levelname == "ERROR" and unexpected.exc_info is not None
