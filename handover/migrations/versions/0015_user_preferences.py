"""users.enter_makes_newline, users.notifications, users.notification_sound: each user's own
workspace settings, stored with the user (before, the Enter choice lived in one browser only).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 16:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("enter_makes_newline", "notifications", "notification_sound")


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
