"""insight_*: counts for the insight dashboard from Rasa's event stream, without personal data.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 04:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "insight_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("measure", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "measure", "value"),
    )
    op.create_table(
        "insight_conversations",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("conversation", sa.String(length=64), nullable=False),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("marks", sa.JSON(), nullable=False),
        sa.Column("node", sa.String(length=64), nullable=True),
        sa.Column("misunderstood", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("ended_as", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("day", "conversation"),
    )
    op.create_table(
        "insight_keys",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "insight_cursor",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("source"),
    )


def downgrade() -> None:
    op.drop_table("insight_cursor")
    op.drop_table("insight_keys")
    op.drop_table("insight_conversations")
    op.drop_table("insight_counts")
