"""Two instances starting at once on one database both create the tables they need (bot/storage.py):
a table the other instance made between our check and our CREATE is no error, on every table of the
set (CI saw the second instance fail on the WhatsApp outbox after it had lost the race on the inbox)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, event, inspect
from sqlalchemy.exc import DBAPIError

from bot.storage import create_tables


def test_tables_the_other_instance_creates_meanwhile_are_no_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    other = create_engine(url, future=True)

    def other_creates(name: str) -> None:
        with other.begin() as connection:
            connection.exec_driver_sql(f'CREATE TABLE "{name}" (id INTEGER PRIMARY KEY)')

    metadata = MetaData()
    tables = [Table(name, metadata, Column("id", Integer, primary_key=True)) for name in ("inbox", "outbox")]
    for table in tables:
        # Just after our check said "missing", the other instance creates the table.
        event.listen(table, "before_create", lambda target, connection, **_: other_creates(target.name))
    ours = create_engine(url, future=True)
    create_tables(ours, metadata)
    assert {"inbox", "outbox"} <= set(inspect(ours).get_table_names())


def test_an_error_that_leaves_a_table_missing_is_raised(tmp_path: Path) -> None:
    metadata = MetaData()
    table = Table("inbox", metadata, Column("id", Integer, primary_key=True))
    engine = create_engine(f"sqlite:///{tmp_path / 'state.db'}", future=True)

    def refuse(target: Table, connection: object, **_: object) -> None:
        raise DBAPIError("CREATE TABLE inbox", None, Exception("disk full"))

    event.listen(table, "before_create", refuse)
    with pytest.raises(DBAPIError):
        create_tables(engine, metadata)
