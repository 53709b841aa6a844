"""cases.satisfaction_*: the citizen's answer to the satisfaction question after closing.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 01:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        batch_op.add_column(sa.Column("satisfaction_score", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("satisfaction_text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("satisfaction_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_column("satisfaction_at")
        batch_op.drop_column("satisfaction_text")
        batch_op.drop_column("satisfaction_score")
