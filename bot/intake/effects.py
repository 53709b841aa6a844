"""What the conversation asks the outside world to do, and what came of it.

The conversation (bot/intake/conversation.py) is pure: it returns an effect, the action carries it
out through the handover gateway (bot/handover_gateway/) and hands the result back to the
conversation, which decides what the citizen reads. Effects name intentions, not HTTP calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Tuple, Union

from bot.intake.appointments import Wish
from bot.intake.contact import ContactDetails

# --- effects -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenCase:
    """Put the citizen in the casemanagers' live queue (after consent), if someone is available."""


@dataclass(frozen=True)
class RequestCallback:
    """Ask the gemeente to call or mail the citizen back; waits in the outbox while the service is down."""

    contact: ContactDetails


@dataclass(frozen=True)
class ForwardToCasemanager:
    """A citizen's message for the casemanager who has (or will take) the case."""

    reference: str
    text: str


@dataclass(frozen=True)
class LookUpStatus:
    reference: str


@dataclass(frozen=True)
class EraseConversation:
    """Erase what the gemeente keeps of this conversation (cases, outbox); the chat itself is erased
    by the tracker store when the turn ends (state `gegevens_wissen`)."""


@dataclass(frozen=True)
class CheckAvailability:
    """Is a person available now, and if not, when? `purpose`: what the answer is for (before consent,
    or the citizen's question "wanneer bellen jullie?")."""

    purpose: str = "toestemming"  # or "wanneer"


@dataclass(frozen=True)
class FindSlots:
    """The first free appointment slots; `organisation`: also that organisation's own days.
    `wish`: the moment the citizen named ("volgende week dinsdagmiddag"), to choose among them."""

    organisation: Optional[str] = None
    wish: Optional[Wish] = None


@dataclass(frozen=True)
class BookSlot:
    """Book this slot for the conversation (atomic at the service: never two citizens in one slot).
    `organisations`: who joins, from the intake's outcome (none: the service takes those of the
    conversation's case, if any)."""

    slot_id: int
    organisations: Tuple[str, ...] = ()


@dataclass(frozen=True)
class ChangeAppointment:
    reference: str
    slot_id: int


@dataclass(frozen=True)
class CancelAppointment:
    reference: str


@dataclass(frozen=True)
class SendSatisfaction:
    """The citizen's answer to the satisfaction question after the case was closed: a score of 1 to 5
    and their own words, if any. Whatever comes of it, the citizen reads the same."""

    reference: str
    score: int
    words: Optional[str] = None


Effect = Union[
    OpenCase,
    RequestCallback,
    ForwardToCasemanager,
    LookUpStatus,
    EraseConversation,
    CheckAvailability,
    FindSlots,
    BookSlot,
    ChangeAppointment,
    CancelAppointment,
    SendSatisfaction,
]

# --- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseOpened:
    reference: str
    position: int
    wait_minutes: int


@dataclass(frozen=True)
class NoOneAvailable:
    """Nobody takes live chats now (outside office hours, or no one online)."""


@dataclass(frozen=True)
class Unavailable:
    """The handover service could not be reached, or refused the call."""


@dataclass(frozen=True)
class Delivered:
    """Sent and accepted; `reference` when the service gave one (a callback request)."""

    reference: Optional[str] = None


@dataclass(frozen=True)
class Queued:
    """Kept in the outbox until the service is back; `first` when nothing was waiting before it."""

    first: bool


@dataclass(frozen=True)
class Refused:
    """The service said no for good; `case_gone` when the case was closed or erased meanwhile."""

    case_gone: bool = False


@dataclass(frozen=True)
class CaseStatus:
    status: str  # wachtend | in_behandeling | afgerond
    position: Optional[int] = None


@dataclass(frozen=True)
class CaseUnknown:
    """No case with that reference."""


@dataclass(frozen=True)
class Availability:
    """The handover service's answer: `live` when a casemanager can take a chat now; else when the
    office opens again (ISO 8601, with offset) and the office hours in words."""

    live: bool
    next_open: Optional[str] = None
    hours: Optional[str] = None


@dataclass(frozen=True)
class Erased:
    at_gemeente: bool  # False: only the chat itself is erased (the service could not be reached)


@dataclass(frozen=True)
class FreeSlots:
    """The service's free slots, as it lists them (GET /api/appointments/slots)."""

    slots: Tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class AppointmentMade:
    """Booked, moved or cancelled: the service's answer (reference, status, moment, mode, …).
    `calendar`: the appointment's iCalendar file (booked or moved), when the service gave it."""

    appointment: Mapping[str, Any]
    calendar: Optional[str] = None


@dataclass(frozen=True)
class SlotGone:
    """Someone else was first; `alternatives`: other free slots the service sent along."""

    alternatives: Tuple[Mapping[str, Any], ...]


Result = Union[
    CaseOpened,
    NoOneAvailable,
    Unavailable,
    Delivered,
    Queued,
    Refused,
    CaseStatus,
    CaseUnknown,
    Erased,
    Availability,
    FreeSlots,
    AppointmentMade,
    SlotGone,
]
