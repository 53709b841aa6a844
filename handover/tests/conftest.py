"""Shared fixtures: migrated databases (SQLite always, PostgreSQL when it can be started),
a fake Rasa server that records trigger_intent calls, and app/client factories."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handover.auth import create_user
from handover.db import make_engine, make_sessionmaker
from handover.models import Base, Role, User
from handover.settings import HANDOVER_ROOT, OfficeHours, Settings

SHARED_SECRET = "test-secret"
RASA_TOKEN = "rasa-token"
PASSWORD = "correct horse battery staple"
PG_ADMIN_DSN = os.environ.get("HANDOVER_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql | head -n1) main start"
REDIS_URL = os.environ.get("HANDOVER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_START = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no '
    "--dir /var/lib/redis --logfile /var/log/redis/ci.log"
)


@pytest.fixture(autouse=True, scope="session")
def fast_password_hashing() -> Iterator[None]:
    """Production argon2 parameters cost ~0.25 s per hash; tests need many users."""
    import argon2

    from handover import auth

    original = auth._hasher
    auth._hasher = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    auth._hasher = original


# --- external services -------------------------------------------------------------------


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _ensure_service(port: int, start_cmd: str) -> bool:
    """Start the service when its port is closed; False only when starting fails."""
    if _port_open(port):
        return True
    subprocess.run(start_cmd, shell=True, capture_output=True, timeout=60)  # noqa: S602
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if _port_open(port):
            return True
        time.sleep(0.2)
    return False


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    return _ensure_service(5432, PG_START)


@pytest.fixture(scope="session")
def redis_url() -> str:
    if not _ensure_service(6379, REDIS_START):
        pytest.skip("Redis is not reachable and could not be started")
    return REDIS_URL


# --- migrated databases -------------------------------------------------------------------


def alembic_upgrade(url: str) -> None:
    """Run the real migrations; in a thread because env.py calls asyncio.run()."""
    cfg = Config(str(HANDOVER_ROOT / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["configure_logger"] = False
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(command.upgrade, cfg, "head").result()


def _run_async(coro: Awaitable[None]) -> None:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate once with Alembic; every test gets a copy of the file."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    alembic_upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_url(postgres_available: bool) -> Iterator[str]:
    """A fresh, uniquely named database for this test run, dropped afterwards."""
    if not postgres_available:
        pytest.skip("PostgreSQL is not reachable and could not be started")
    name = f"handover_test_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    _run_async(admin(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_DSN.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0] + f"/{name}"
    try:
        alembic_upgrade(url)
        yield url
    finally:
        _run_async(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate_pg(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        target = tmp_path / "handover.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite+aiosqlite:///{target}"
    url: str = request.getfixturevalue("pg_url")
    await _truncate_pg(url)
    return url


@pytest.fixture
async def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    target = tmp_path / "handover.db"
    shutil.copy(sqlite_template, target)
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture
async def pg_only_url(pg_url: str) -> str:
    await _truncate_pg(pg_url)
    return pg_url


@pytest.fixture
async def sessionmaker(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


# --- fake Rasa ------------------------------------------------------------------------------


@dataclass
class RasaCall:
    sender_id: str
    output_channel: str
    token: str | None
    intent: str
    entities: dict[str, Any]
    received_at: float


@dataclass
class FakeRasa:
    """Records trigger_intent calls; ``fail_next`` makes the next N calls answer 503."""

    url: str = ""
    calls: list[RasaCall] = field(default_factory=list)
    fail_next: int = 0
    listeners: list[Callable[[RasaCall], None]] = field(default_factory=list)

    def intents(self, name: str) -> list[RasaCall]:
        return [c for c in self.calls if c.intent == name]

    async def wait_for(self, predicate: Callable[[FakeRasa], bool], timeout: float = 5.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate(self):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"fake Rasa did not get the expected calls; got {self.calls}")
            await asyncio.sleep(0.02)


def make_fake_rasa_app(fake: FakeRasa) -> web.Application:
    async def trigger_intent(request: web.Request) -> web.Response:
        if fake.fail_next > 0:
            fake.fail_next -= 1
            return web.json_response({"error": "unavailable"}, status=503)
        body = await request.json()
        call = RasaCall(
            sender_id=request.match_info["sender_id"],
            output_channel=request.query.get("output_channel", ""),
            token=request.query.get("token"),
            intent=body["name"],
            entities=body.get("entities", {}),
            received_at=time.perf_counter(),
        )
        fake.calls.append(call)
        for listener in fake.listeners:
            listener(call)
        return web.json_response({"tracker": {}})

    app = web.Application()
    app.router.add_post("/conversations/{sender_id}/trigger_intent", trigger_intent)
    return app


@pytest.fixture
async def fake_rasa(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> FakeRasa:
    fake = FakeRasa()
    server = await aiohttp_server(make_fake_rasa_app(fake))
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


# --- app factories -------------------------------------------------------------------------


def make_settings(db_url: str, rasa_url: str | None, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        database_url=db_url,
        shared_secret=SHARED_SECRET,
        rasa_url=rasa_url,
        rasa_token=RASA_TOKEN,
        office_hours=OfficeHours.parse("mon-sun 00:00-24:00"),  # open at any moment a test runs
        contacts_file=HANDOVER_ROOT / "contacts.yml",
        outbox_poll_seconds=0.2,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(db_url: str, fake_rasa: FakeRasa) -> Settings:
    return make_settings(db_url, fake_rasa.url)


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]], settings: Settings
) -> TestClient[Any, Any]:
    from handover.app import create_app

    return await aiohttp_client(create_app(settings))


BOT = {"Authorization": f"Bearer {SHARED_SECRET}"}


async def add_user(
    sm: async_sessionmaker[AsyncSession],
    username: str,
    *,
    first_name: str | None = None,
    teams: list[str] | None = None,
    role: Role = Role.CASEMANAGER,
) -> User:
    async with sm() as session, session.begin():
        return await create_user(
            session,
            username=username,
            password=PASSWORD,
            display_name=f"{(first_name or username).title()} Tester",
            first_name=first_name or username.title(),
            role=role,
            teams=teams,
        )


def case_body(sender_id: str = "citizen-1", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": "socketio",
        "sender_id": sender_id,
        "kind": "chat",
        "transcript": [
            {"role": "bot", "text": "Waarmee kan ik u helpen?", "timestamp": "2026-01-05T09:00:00Z"},
            {"role": "citizen", "text": "Ik heb schulden en een brief van het CJIB", "timestamp": 1767603660},
        ],
        "summary": {
            "topic": "schulden",
            "organisations": ["cjib", "belastingdienst"],
            "question_type": 3,
            "urgent": False,
            "life_event": "schulden",
            "summary_text": "Ik kan de boete niet betalen",
            "self_service": "Zelf de brief terugzoeken",
        },
        "consent": True,
        "contact": {},
    }
    body.update(overrides)
    return body
