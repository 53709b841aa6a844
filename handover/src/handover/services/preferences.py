"""Each user's own workspace settings, stored with the user (so they follow the user to every
browser): Enter makes a new line instead of sending, and browser notifications and a short sound
for a new citizen message or a case handed to them. All off by default."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import update

from ..models import User
from ..uow import UnitOfWork
from .errors import InvalidInput

# The form's field names (Dutch, as in the pages) -> the User column.
FIELDS: dict[str, str] = {
    "enter_nieuwe_regel": "enter_makes_newline",
    "meldingen": "notifications",
    "geluid": "notification_sound",
}


@dataclass(frozen=True)
class Preferences:
    enter_makes_newline: bool = False
    notifications: bool = False
    notification_sound: bool = False

    @classmethod
    def of(cls, user: User) -> Preferences:
        return cls(**{column: bool(getattr(user, column)) for column in FIELDS.values()})


async def save_preferences(uow: UnitOfWork, user: User, changes: Mapping[str, bool]) -> Preferences:
    """Set the named settings (form field names, see FIELDS) of ``user``; the others stay as
    they are. Raises InvalidInput for a name that is not a setting."""
    if unknown := sorted(set(changes) - set(FIELDS)):
        raise InvalidInput(f"Onbekende instelling {unknown[0]!r}")
    values = {FIELDS[name]: bool(on) for name, on in changes.items()}
    if values:
        await uow.session.execute(update(User).where(User.id == user.id).values(**values))
        for column, on in values.items():  # the request's user object shows the new state too
            setattr(user, column, on)
    return Preferences.of(user)
