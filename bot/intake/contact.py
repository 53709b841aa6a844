"""Contact details in a citizen's message (for a callback request). Pure functions, no storage:
the details go straight to the handover service and are never kept in slots or logs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from privacy.phones import find_phone_numbers

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


@dataclass(frozen=True)
class ContactDetails:
    """How the citizen wants to be reached back."""

    phone: Optional[str]  # E.164, e.g. "+31612345678" or "+48512345678"
    email: Optional[str]
    moment: Optional[str]

    @property
    def reachable(self) -> bool:
        """A callback needs a phone number or an e-mail address."""
        return bool(self.phone or self.email)


def find_contact(text: str) -> ContactDetails:
    """The first valid phone number (any country; without a country code a Dutch one) and e-mail
    address in the text; what remains is the preferred moment."""
    email = EMAIL.search(text)
    # Digits inside the e-mail address ("06…@example.nl") are not a phone number.
    without_email = EMAIL.sub(lambda m: " " * len(m.group()), text)
    phone = next(find_phone_numbers(without_email), None)
    rest = without_email
    if phone is not None:
        rest = rest[:phone.start] + " " + rest[phone.end:]
    rest = re.sub(r"\s+", " ", rest).strip(" ,.;:-")
    return ContactDetails(
        phone=phone.e164 if phone else None,
        email=email.group(0) if email else None,
        moment=rest[:200] or None,
    )
