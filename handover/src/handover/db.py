"""Engine and session lifetime (a cleanup_ctx), one session per request, small database helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from .keys import engine_key, request_session_key, sessionmaker_key, settings_key
from .settings import VAR_DIR


def sqlite_file(database_url: str) -> Path | None:
    """The database file of a SQLite URL; None for another database or one in memory."""
    if not database_url.startswith("sqlite"):
        return None
    db_path = database_url.split("///", 1)[-1]
    return Path(db_path) if db_path and db_path != ":memory:" else None


def make_private(database_url: str) -> None:
    """Citizens' messages: the SQLite file (with its -wal and -shm) 0600, in a 0700 directory.

    New files get that from the umask (``python -m handover``); this also tightens what
    ``alembic upgrade`` or an older version created. Of an existing directory only the
    service's own var/ is tightened: another one may be shared on purpose.
    """
    path = sqlite_file(database_url)
    if path is None:
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.parent.resolve() == VAR_DIR.resolve():
        VAR_DIR.chmod(0o700)
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists():
            file.chmod(0o600)


def make_engine(database_url: str) -> AsyncEngine:
    """Create the engine with per-backend settings."""
    if (db_file := sqlite_file(database_url)) is not None:
        db_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if database_url.startswith("sqlite"):
        # SQLite allows one writer; a single pooled connection serialises transactions
        # in-process instead of failing with "database is locked" under concurrency.
        engine = create_async_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=60)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the sqlite3 module, emit BEGIN so SAVEPOINTs work.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # IMMEDIATE: take the write lock at the start. A deferred transaction that read first
            # and then writes fails at once with "database is locked" when another process wrote
            # in between (WAL snapshot; busy_timeout does not help), e.g. a second instance
            # starting while the first one's reminder round writes. In-process, transactions are
            # serialised by the single pooled connection anyway.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_async_engine(database_url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def db_context(app: web.Application) -> AsyncIterator[None]:
    engine = make_engine(app[settings_key].database_url)
    app[engine_key] = engine
    app[sessionmaker_key] = make_sessionmaker(engine)
    yield
    await engine.dispose()


@web.middleware
async def request_session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One database session per request, closed when the request is done.

    Handlers run their transactions on it (workflow.transaction): a connection is taken from the
    pool only while a transaction runs, so a long-lived WebSocket holds none in between.
    """
    async with request.app[sessionmaker_key]() as session:
        request[request_session_key] = session
        return await handler(request)


def request_session(request: web.Request) -> AsyncSession:
    return request[request_session_key]
