"""standaardteksten: canned responses in plain Dutch (B1), managed by the teamleider.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 01:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A start the teamleider can change: greeting, waiting, the agreed next steps, closing.
DEFAULTS = [
    (
        "Begroeten",
        "Goedendag, u spreekt met een medewerker van de gemeente. Ik heb uw vraag gelezen. Ik help u verder.",
    ),
    ("Even geduld", "Wilt u even wachten? Ik zoek het voor u uit. Ik kom zo bij u terug."),
    ("Afspraken", "Dit spreken we af:\n1. \n2. \nKlopt dat zo voor u?"),
    (
        "Zelf bellen",
        "U kunt zelf bellen. Zeg dan dat u met de gemeente heeft gesproken. "
        "Lukt het niet? Laat het ons weten.",
    ),
    ("Afsluiten", "Dank u wel. Heeft u later nog een vraag? Stel die dan gerust in de chat."),
]


def upgrade() -> None:
    op.create_table(
        "canned_responses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(length=80), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "updated_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    insert = sa.text(
        "INSERT INTO canned_responses (title, text, updated_at) VALUES (:title, :text, CURRENT_TIMESTAMP)"
    )
    for title, text in DEFAULTS:
        op.execute(insert.bindparams(title=title, text=text))


def downgrade() -> None:
    op.drop_table("canned_responses")
