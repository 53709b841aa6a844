"""The names of the staff, kept readable when a case is redacted (redaction.Redactor's ``keep``):
"Terugbellen door Anna" is about a casemanager, not the citizen."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import User

# Roles of the messages staff write; their texts keep staff names.
STAFF_MESSAGE_ROLES = frozenset({"casemanager"})


async def staff_names(session: AsyncSession) -> set[str]:
    """First and display names of every staff account."""
    rows = await session.execute(select(User.first_name, User.display_name))
    return {name for first, display in rows.tuples() for name in (first, display) if name}
