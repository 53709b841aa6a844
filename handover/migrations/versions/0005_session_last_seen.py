"""staff_sessions.last_seen_at: a login session also ends after HANDOVER_SESSION_IDLE_MINUTES idle.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff_sessions") as batch_op:
        batch_op.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
    # Sessions open at the upgrade count as seen at their login: old idle ones end at once.
    op.execute("UPDATE staff_sessions SET last_seen_at = created_at")
    with op.batch_alter_table("staff_sessions") as batch_op:
        batch_op.alter_column("last_seen_at", existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("staff_sessions") as batch_op:
        batch_op.drop_column("last_seen_at")
