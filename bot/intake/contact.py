"""Contact details in a citizen's message (for a callback request). Pure functions, no storage:
the details go straight to the handover service and are never kept in slots or logs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

# Dutch numbers: 06-12345678, 0201234567, +31 6 1234 5678, 0031 20 123 4567
PHONE = re.compile(r"(?<![\d+])(?:\+31|0031|0)[\s.-]*[1-9](?:[\s.-]*\d){8}(?!\d)")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


@dataclass(frozen=True)
class ContactDetails:
    """How the citizen wants to be reached back."""

    phone: Optional[str]
    email: Optional[str]
    moment: Optional[str]

    @property
    def reachable(self) -> bool:
        """A callback needs a phone number or an e-mail address."""
        return bool(self.phone or self.email)


def find_contact(text: str) -> ContactDetails:
    """Phone number and e-mail address in the text; what remains is the preferred moment."""
    phone = PHONE.search(text)
    email = EMAIL.search(text)
    rest = EMAIL.sub(" ", PHONE.sub(" ", text))
    rest = re.sub(r"\s+", " ", rest).strip(" ,.;:-")
    return ContactDetails(
        phone=re.sub(r"[\s.-]", "", phone.group(0)) if phone else None,
        email=email.group(0) if email else None,
        moment=rest[:200] or None,
    )
