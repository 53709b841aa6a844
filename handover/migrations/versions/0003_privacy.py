"""Privacy: redacted copies, consent per organisation, retention marks and the audit log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 10:15:00.000000
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CASE_TEXTS = ("summary_redacted", "self_service_redacted", "outcome_redacted", "next_steps_redacted")


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        batch_op.add_column(sa.Column("consent_organisations", sa.JSON(none_as_null=True), nullable=True))
        for name in _CASE_TEXTS:
            batch_op.add_column(sa.Column(name, sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("redacted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("full_text_deleted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_cases_conversation", ["channel", "sender_id"], unique=False)
        batch_op.create_index("ix_cases_closed_at", ["closed_at"], unique=False)
    with op.batch_alter_table("messages") as batch_op:
        batch_op.add_column(sa.Column("text_redacted", sa.Text(), nullable=True))
    with op.batch_alter_table("notes") as batch_op:
        batch_op.add_column(sa.Column("text_redacted", sa.Text(), nullable=True))
    with op.batch_alter_table("follow_ups") as batch_op:
        batch_op.add_column(sa.Column("description_redacted", sa.Text(), nullable=True))
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=True),
        sa.Column("detail", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)
        batch_op.create_index("ix_audit_log_reference_at", ["reference", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.drop_index("ix_audit_log_reference_at")
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))
    op.drop_table("audit_log")
    with op.batch_alter_table("follow_ups") as batch_op:
        batch_op.drop_column("description_redacted")
    with op.batch_alter_table("notes") as batch_op:
        batch_op.drop_column("text_redacted")
    with op.batch_alter_table("messages") as batch_op:
        batch_op.drop_column("text_redacted")
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_index("ix_cases_closed_at")
        batch_op.drop_index("ix_cases_conversation")
        batch_op.drop_column("full_text_deleted_at")
        batch_op.drop_column("redacted_at")
        for name in reversed(_CASE_TEXTS):
            batch_op.drop_column(name)
        batch_op.drop_column("consent_organisations")
