"""appointment_slots and appointments: slots published by casemanagers or a team, booked by the
citizen in the chat; at most one booking per slot that is not cancelled (a partial unique index).

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-06 03:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "appointment_slots",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("starts_at", TIMESTAMP, nullable=False),
        sa.Column("ends_at", TIMESTAMP, nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column(
            "casemanager_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("organisation", sa.String(length=64), nullable=True),
        sa.Column("location", sa.String(length=255), nullable=True),
        sa.Column(
            "created_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("withdrawn_at", TIMESTAMP, nullable=True),
    )
    op.create_index("ix_appointment_slots_team_start", "appointment_slots", ["team", "starts_at"])
    op.create_table(
        "appointments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("reference", sa.String(length=16), nullable=False, unique=True),
        sa.Column("slot_id", sa.Integer(), sa.ForeignKey("appointment_slots.id"), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="SET NULL"), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("organisations", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("cancelled_at", TIMESTAMP, nullable=True),
        sa.Column("reminder_sent_at", TIMESTAMP, nullable=True),
        sa.Column("identity_checked", sa.Boolean(), nullable=True),
        sa.Column("identity_document", sa.String(length=32), nullable=True),
        sa.Column("citizen_present", sa.Boolean(), nullable=True),
        sa.Column("outcomes", sa.JSON(), nullable=False),
        sa.Column(
            "checked_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("checked_at", TIMESTAMP, nullable=True),
    )
    op.create_index(
        "uq_appointments_slot_taken",
        "appointments",
        ["slot_id"],
        unique=True,
        sqlite_where=sa.text("status != 'geannuleerd'"),
        postgresql_where=sa.text("status != 'geannuleerd'"),
    )
    op.create_index("ix_appointments_slot_id", "appointments", ["slot_id"])
    op.create_index("ix_appointments_conversation", "appointments", ["channel", "sender_id"])
    op.create_index("ix_appointments_reminder", "appointments", ["status", "reminder_sent_at"])


def downgrade() -> None:
    op.drop_table("appointments")
    op.drop_table("appointment_slots")
