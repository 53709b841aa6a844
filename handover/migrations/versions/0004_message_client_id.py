"""messages.client_id: the bot's idempotency key, so a message its outbox sends again is stored once.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 10:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch_op:
        batch_op.add_column(sa.Column("client_id", sa.String(length=64), nullable=True))
        # NULLs are distinct in a unique index (SQLite and PostgreSQL): only keyed messages are checked.
        batch_op.create_index("uq_messages_case_client_id", ["case_id", "client_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch_op:
        batch_op.drop_index("uq_messages_case_client_id")
        batch_op.drop_column("client_id")
