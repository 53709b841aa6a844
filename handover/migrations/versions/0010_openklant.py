"""Open Klant registration: cases.consent_registration, follow_ups.internetaak_*, and the durable
outbox table openklant_registrations (one row per closed case to register; openklant.py).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 03:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        batch_op.add_column(
            sa.Column("consent_registration", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("follow_ups") as batch_op:
        batch_op.add_column(sa.Column("internetaak_uuid", sa.String(length=36), nullable=True))
        batch_op.add_column(
            sa.Column("internetaak_verwerkt", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "openklant_registrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("needs_sync", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.Column("klantcontact_uuid", sa.String(length=36), nullable=True),
        sa.Column("actor_uuid", sa.String(length=36), nullable=True),
        sa.Column("actor_linked", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id"),
        sa.UniqueConstraint("reference"),
    )
    op.create_index(
        "ix_openklant_registrations_due", "openklant_registrations", ["needs_sync", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_openklant_registrations_due", table_name="openklant_registrations")
    op.drop_table("openklant_registrations")
    with op.batch_alter_table("follow_ups") as batch_op:
        batch_op.drop_column("internetaak_verwerkt")
        batch_op.drop_column("internetaak_uuid")
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_column("consent_registration")
