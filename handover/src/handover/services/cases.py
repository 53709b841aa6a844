"""A case's life: created from the bot's intake, looked up, its status history, and closed."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .. import audit
from ..languages import LANGUAGES
from ..models import (
    AuditAction,
    Case,
    Channel,
    Kind,
    Message,
    Status,
    StatusChange,
    StoredValue,
    User,
    utcnow,
)
from ..redaction import Redactor, get_redactor
from ..retention import store_redacted_copies
from ..teams import TeamMapping
from ..uow import UnitOfWork
from .errors import CaseNotFound, DomainError, InvalidInput
from .permissions import require_owner
from .queue_order import queue_position
from .rasa_calls import enqueue_closing
from .registration import enqueue_registration
from .search import check_outcome_label

log = logging.getLogger(__name__)

# No 0/O, 1/I/L: the citizen may have to read the code out over the phone.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
REFERENCE_PREFIX = "HV-"
MAX_TEXT = 10_000


# --- value objects -----------------------------------------------------------------


@dataclass(frozen=True)
class TranscriptEntry:
    role: str
    text: str
    timestamp: dt.datetime | None = None
    name: str | None = None


def _is_one_of(enum_cls: type[StoredValue], value: str) -> bool:
    try:
        enum_cls(value)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class NewCase:
    """The bot's intake as sent (``channel`` and ``kind`` as text), checked on creation."""

    channel: str
    sender_id: str
    kind: str
    transcript: Sequence[TranscriptEntry] = ()
    topic: str | None = None
    organisations: Sequence[str] = ()
    question_type: int | None = None
    urgent: bool = False
    life_event: str | None = None
    summary_text: str | None = None
    self_service: str | None = None
    consent: bool = False
    consent_at: dt.datetime | None = None
    # None: the citizen was not asked per organisation (an older bot).
    consent_organisations: Sequence[str] | None = None
    # The citizen agreed the closed contact is registered in Open Klant (openklant.py).
    consent_registration: bool = False
    # The conversation language (ISO 639-1, one of languages.LANGUAGES); None: not sent (Dutch).
    language: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None
    contact_moment: str | None = None

    def __post_init__(self) -> None:
        if not _is_one_of(Channel, self.channel):
            raise InvalidInput(f"Onbekend kanaal {self.channel!r}")
        if not _is_one_of(Kind, self.kind):
            raise InvalidInput(f"Onbekende soort {self.kind!r}")
        if not self.sender_id or len(self.sender_id) > 255:
            raise InvalidInput("sender_id ontbreekt of is te lang")
        if self.language is not None and self.language not in LANGUAGES:
            raise InvalidInput(f"Onbekende taal {self.language!r}")
        if self.question_type not in (None, 1, 2, 3):
            raise InvalidInput("question_type moet 1, 2 of 3 zijn")
        for entry in self.transcript:
            if entry.role not in {"citizen", "bot", "casemanager"}:
                raise InvalidInput(f"Onbekende rol {entry.role!r} in transcript")
        if self.kind == Kind.CALLBACK and not (self.contact_phone or self.contact_email):
            raise InvalidInput("Een terugbelverzoek heeft een telefoonnummer of e-mailadres nodig")


# --- references and lookups -----------------------------------------------------------


def generate_reference() -> str:
    return REFERENCE_PREFIX + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(4))


def is_valid_reference(reference: str) -> bool:
    return (
        len(reference) == 7
        and reference.startswith(REFERENCE_PREFIX)
        and all(ch in REFERENCE_ALPHABET for ch in reference[3:])
    )


async def get_case(session: AsyncSession, reference: str, *, for_update: bool = False) -> Case:
    stmt = select(Case).where(Case.reference == reference.upper())
    if for_update:
        stmt = stmt.with_for_update()
    case = await session.scalar(stmt)
    if case is None:
        raise CaseNotFound(reference)
    return case


async def find_open_case(session: AsyncSession, channel: str, sender_id: str) -> Case | None:
    case: Case | None = await session.scalar(
        select(Case).where(
            Case.channel == channel,
            Case.sender_id == sender_id,
            Case.status != Status.CLOSED,
        )
    )
    return case


async def transcript(session: AsyncSession, case: Case) -> list[Message]:
    return list(await session.scalars(case.messages.select()))


async def history(session: AsyncSession, case: Case) -> list[StatusChange]:
    return list(await session.scalars(case.history.select()))


def record_status_change(
    uow: UnitOfWork, case: Case, old: Status | None, new: Status, actor: User | None, action: str
) -> None:
    uow.session.add(
        StatusChange(
            case_id=case.id,
            from_status=old,
            to_status=new,
            actor_id=actor.id if actor else None,
            action=action,
        )
    )


def clean_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidInput("Leeg bericht")
    return text[:MAX_TEXT]


# --- create and close -------------------------------------------------------------------


async def create_case(uow: UnitOfWork, teams: TeamMapping, new: NewCase) -> tuple[Case, bool]:
    """Create a waiting case, or return the conversation's open case (created=False)."""
    session = uow.session
    existing = await find_open_case(session, new.channel, new.sender_id)
    if existing is not None:
        return existing, False
    now = utcnow()
    for _attempt in range(10):
        case = Case(
            reference=generate_reference(),
            channel=Channel(new.channel),
            sender_id=new.sender_id,
            kind=Kind(new.kind),
            status=Status.WAITING,
            team=teams.team_for(new.topic, new.organisations),
            topic=new.topic,
            organisations=list(new.organisations),
            question_type=new.question_type,
            urgent=new.urgent,
            life_event=new.life_event,
            summary_text=new.summary_text,
            self_service=new.self_service,
            consent=new.consent,
            consent_at=(new.consent_at or now) if new.consent else None,
            consent_organisations=list(new.consent_organisations)
            if new.consent_organisations is not None
            else None,
            consent_registration=new.consent_registration,
            language=new.language,
            contact_phone=new.contact_phone,
            contact_email=new.contact_email,
            contact_moment=new.contact_moment,
            created_at=now,
        )
        try:
            async with session.begin_nested():
                session.add(case)
                await session.flush()
        except IntegrityError:
            # Either a concurrent request opened a case for this conversation, or the
            # reference collided; the savepoint keeps the outer transaction usable.
            existing = await find_open_case(session, new.channel, new.sender_id)
            if existing is not None:
                return existing, False
            continue
        break
    else:  # pragma: no cover - 923k codes; only reachable with a nearly full code space
        raise DomainError("Kon geen unieke referentie maken")
    session.add_all(
        Message(
            case_id=case.id, role=e.role, text=e.text[:MAX_TEXT], name=e.name, created_at=e.timestamp or now
        )
        for e in new.transcript
    )
    record_status_change(uow, case, None, Status.WAITING, None, "aangemaakt")
    # The create answer tells the citizen their place: that counts as the first push.
    case.notified_position = await queue_position(session, case)
    case.position_pushed_at = now
    log.info(
        "case %s created (team=%s, urgent=%s, kind=%s)", case.reference, case.team, case.urgent, case.kind
    )
    uow.publish({"type": "case_new", "reference": case.reference, "team": case.team, "urgent": case.urgent})
    uow.queue_changed(case.team)
    return case, True


async def close(
    uow: UnitOfWork,
    reference: str,
    user: User,
    outcome: str,
    next_steps: str,
    *,
    redactor: Redactor | None = None,
    outcome_label: str | None = None,
    register: bool = False,
) -> Case:
    """Close the case and hand the conversation back to the bot with the agreements (also for a
    callback request: services/closing.py says when they reach the citizen).

    Closing also stores the redacted copy of every text and deletes the contact details
    (retention.py); from now on staff see only that copy. With ``register`` (Open Klant is
    configured) the case is queued for registration there, if the citizen agreed to it.
    """
    outcome, next_steps = outcome.strip(), next_steps.strip()
    if not outcome:
        raise InvalidInput("Vul de uitkomst van het gesprek in")
    label = check_outcome_label(outcome_label)
    case = await get_case(uow.session, reference, for_update=True)
    require_owner(uow.session, case, user, "afronden")
    now = utcnow()
    case.status = Status.CLOSED
    case.closed_at = now
    case.outcome = outcome[:MAX_TEXT]
    case.next_steps = next_steps[:MAX_TEXT]
    case.outcome_label = label
    record_status_change(uow, case, Status.IN_PROGRESS, Status.CLOSED, user, "afgerond")
    # The citizen gets the agreements in full; they are read before the redaction below.
    enqueue_closing(uow, case, {"referentie": case.reference, "afspraken": case.next_steps})
    await store_redacted_copies(uow.session, case, redactor or get_redactor(), now)
    audit.record(
        uow.session,
        AuditAction.REDACTED,
        reference=case.reference,
        detail="bij afronden: kopie zonder persoonsgegevens opgeslagen, contactgegevens verwijderd",
        at=now,
    )
    # After the redaction: only the redacted copy is ever sent (openklant.py).
    if register:
        enqueue_registration(uow, case)
    log.info("case %s closed by user %s", case.reference, user.id)
    uow.publish(
        {
            "type": "case_closed",
            "reference": case.reference,
            "team": case.team,
            "by_id": user.id,
            "from_id": case.claimed_by_id,
        }
    )
    return case
