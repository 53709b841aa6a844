"""insight_messages: keyed hashes of the RabbitMQ messages counted today, so a redelivered message
is counted once (exactly once instead of at least once); deleted with the day's key.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 19:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "insight_messages",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("day", "digest"),
    )


def downgrade() -> None:
    op.drop_table("insight_messages")
