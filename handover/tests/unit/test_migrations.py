"""The Alembic migrations build exactly the schema of models.py (SQLite and PostgreSQL).

Several people add columns; a column in the models without a migration (or the reverse)
fails here instead of at the first deploy.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from handover.db import make_engine
from handover.models import Base


def _diff(connection: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


async def test_migrations_match_the_models(db_url: str) -> None:
    engine = make_engine(db_url)  # migrated to head by the fixtures (tests/conftest.py)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(_diff)
    finally:
        await engine.dispose()
    assert diff == []
