"""A small SQL store for state the bot keeps next to Rasa (WhatsApp channel state, the action
server's outbox): SQLAlchemy 1.4 Core, synchronous (the version Rasa 3.6 pins), every call in a
worker thread so a slow shared database never blocks the event loop.

A setting is either a SQLAlchemy URL (postgresql://…, shared by several instances) or a SQLite file
path (one machine). Nothing connects until the first call.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, TypeVar

from sqlalchemy import MetaData, create_engine, event, inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

T = TypeVar("T")


def database_url(setting: str) -> str:
    """A SQLAlchemy URL as is; anything else is a SQLite file path (its folder is created)."""
    if "://" in setting:
        return setting
    path = Path(setting).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers and one writer work side by side (several processes on one file);
    # busy_timeout makes a second writer wait instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def kept_sqlite_engine(url: "URL | str", synchronous: str) -> Engine:
    """An engine for one of Rasa's SQLite stores that keeps its connections open, in WAL mode.

    SQLAlchemy 1.4 opens a new SQLite connection for every session of a file database (NullPool),
    and in the default journal mode every commit waits for the disk several times. Rasa's stores
    open a session for each read and write, several a turn. `synchronous`: "FULL" (WAL) waits for
    the disk once per commit, so a committed turn survives a power cut; "NORMAL" survives a crash of
    the process but may lose the last commits on a power cut (statistics only).
    """
    if synchronous not in ("FULL", "NORMAL"):
        raise ValueError(synchronous)

    def pragmas(dbapi_connection: Any, record: Any) -> None:
        _sqlite_pragmas(dbapi_connection, record)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    # check_same_thread: a pooled connection may be used by another thread than the one that made it.
    engine = create_engine(url, poolclass=QueuePool, connect_args={"check_same_thread": False})
    event.listen(engine, "connect", pragmas)
    return engine


def create_tables(engine: Engine, metadata: MetaData) -> None:
    """Create the tables that are missing, one by one. A second instance starting at the same moment
    creates them too: a table it made between our check and our CREATE is there, which is all we
    need (one retry of the whole set was not enough: it raced again on the next table)."""
    for table in metadata.sorted_tables:
        try:
            table.create(engine, checkfirst=True)
        except DBAPIError:
            if not inspect(engine).has_table(table.name):
                raise


class LazyDatabase:
    """One engine per store, created (with its tables) on first use."""

    def __init__(self, url: str, metadata: MetaData, obsolete: Sequence[str] = ()) -> None:
        self.url = url
        self._metadata = metadata
        self._obsolete = obsolete  # tables of an earlier version, dropped when the store opens
        self._engine: Optional[Engine] = None
        self._lock = threading.Lock()

    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                engine = create_engine(self.url, future=True)
                if engine.dialect.name == "sqlite":
                    event.listen(engine, "connect", _sqlite_pragmas)
                create_tables(engine, self._metadata)
                if self._obsolete:
                    with engine.begin() as connection:
                        for name in self._obsolete:
                            connection.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')
                self._engine = engine
            return self._engine

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in one transaction, in a worker thread."""

        def in_transaction() -> T:
            with self.engine().begin() as connection:
                return work(connection)

        return await asyncio.to_thread(in_transaction)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
