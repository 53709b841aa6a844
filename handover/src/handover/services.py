"""Queue rules as plain functions over a unit of work; they raise named domain errors."""

from __future__ import annotations

import datetime as dt
import logging
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from . import audit
from .models import (
    AuditAction,
    Case,
    Channel,
    FollowUp,
    Kind,
    Message,
    Note,
    OutboxMessage,
    OutboxStatus,
    Status,
    StatusChange,
    User,
    utcnow,
)
from .redaction import Redactor, get_redactor
from .retention import store_redacted_copies
from .settings import OfficeHours
from .teams import TeamMapping
from .uow import UnitOfWork

log = logging.getLogger(__name__)

# No 0/O, 1/I/L: the citizen may have to read the code out over the phone.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
REFERENCE_PREFIX = "HV-"
MAX_TEXT = 10_000


class DomainError(Exception):
    """Base class for queue rule violations."""


class CaseNotFound(DomainError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"Zaak {reference} bestaat niet")


class AlreadyClaimed(DomainError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"Zaak {reference} is al in behandeling genomen")


class NotClaimedByYou(DomainError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"Zaak {reference} is niet door u in behandeling genomen")


class InvalidTransition(DomainError):
    def __init__(self, reference: str, current: str, action: str) -> None:
        super().__init__(f"Zaak {reference} heeft status {current}; {action} kan niet")


class QueueEmpty(DomainError):
    def __init__(self) -> None:
        super().__init__("Er staan geen wachtende zaken in de wachtrij")


class NotYourTeam(DomainError):
    def __init__(self, team: str) -> None:
        super().__init__(f"Team {team} is niet uw team; alleen een teamleider kan hier iets doen")


class SenderMismatch(DomainError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"Afzender hoort niet bij zaak {reference}")


class NotAChat(DomainError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"Zaak {reference} is een terugbelverzoek, geen live chat")


class UnknownUser(DomainError):
    def __init__(self, username: str) -> None:
        super().__init__(f"Medewerker {username} bestaat niet")


class UnknownTeam(DomainError):
    def __init__(self, team: str) -> None:
        super().__init__(f"Team {team} bestaat niet")


class FollowUpNotFound(DomainError):
    def __init__(self, follow_up_id: int) -> None:
        super().__init__(f"Nazorgtaak {follow_up_id} bestaat niet")


class InvalidInput(DomainError):
    """Input that parses but breaks a rule (empty text, unknown channel ...)."""


# --- value objects -----------------------------------------------------------------


@dataclass(frozen=True)
class TranscriptEntry:
    role: str
    text: str
    timestamp: dt.datetime | None = None
    name: str | None = None


@dataclass(frozen=True)
class NewCase:
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
    contact_phone: str | None = None
    contact_email: str | None = None
    contact_moment: str | None = None

    def __post_init__(self) -> None:
        if self.channel not in {c.value for c in Channel}:
            raise InvalidInput(f"Onbekend kanaal {self.channel!r}")
        if self.kind not in {k.value for k in Kind}:
            raise InvalidInput(f"Onbekende soort {self.kind!r}")
        if not self.sender_id or len(self.sender_id) > 255:
            raise InvalidInput("sender_id ontbreekt of is te lang")
        if self.question_type not in (None, 1, 2, 3):
            raise InvalidInput("question_type moet 1, 2 of 3 zijn")
        for entry in self.transcript:
            if entry.role not in {"citizen", "bot", "casemanager"}:
                raise InvalidInput(f"Onbekende rol {entry.role!r} in transcript")
        if self.kind == Kind.CALLBACK.value and not (self.contact_phone or self.contact_email):
            raise InvalidInput("Een terugbelverzoek heeft een telefoonnummer of e-mailadres nodig")


@dataclass(frozen=True)
class QueueInfo:
    position: int | None
    expected_wait_minutes: int | None


@dataclass(frozen=True)
class Availability:
    open: bool
    online_casemanagers: int

    @property
    def offer(self) -> str:
        return "live" if self.open and self.online_casemanagers > 0 else "callback"


@dataclass
class QueuePage:
    cases: list[Case]
    total: int
    positions: dict[int, int] = field(default_factory=dict)


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
            Case.status != Status.CLOSED.value,
        )
    )
    return case


def _queue_order() -> tuple[Any, ...]:
    return (Case.urgent.desc(), Case.created_at, Case.id)


def _waiting_in(team: str | None) -> list[Any]:
    conds: list[Any] = [Case.status == Status.WAITING.value]
    if team:
        conds.append(Case.team == team)
    return conds


async def queue_position(session: AsyncSession, case: Case) -> int | None:
    """1-based position within the case's team queue, or None when not waiting."""
    if case.status != Status.WAITING.value:
        return None
    earlier = or_(
        Case.created_at < case.created_at,
        (Case.created_at == case.created_at) & (Case.id < case.id),
    )
    # Urgent cases go first; within the same urgency the oldest goes first.
    ahead_cond = (Case.urgent.is_(True) & earlier) if case.urgent else or_(Case.urgent.is_(True), earlier)
    ahead = await session.scalar(
        select(func.count()).select_from(Case).where(*_waiting_in(case.team), ahead_cond)
    )
    return int(ahead or 0) + 1


async def online_casemanagers(
    session: AsyncSession, timeout_seconds: int, now: dt.datetime | None = None
) -> int:
    cutoff = (now or utcnow()) - dt.timedelta(seconds=timeout_seconds)
    count = await session.scalar(
        select(func.count()).select_from(User).where(User.online.is_(True), User.last_seen_at >= cutoff)
    )
    return int(count or 0)


async def availability(
    session: AsyncSession, office_hours: OfficeHours, timeout_seconds: int, now: dt.datetime | None = None
) -> Availability:
    now = now or utcnow()
    return Availability(
        open=office_hours.is_open(now),
        online_casemanagers=await online_casemanagers(session, timeout_seconds, now),
    )


def expected_wait_minutes(position: int | None, online: int, minutes_per_case: int) -> int | None:
    if position is None:
        return None
    # Everyone ahead of you and you yourself are served by the casemanagers online.
    return math.ceil(position * minutes_per_case / max(online, 1))


async def queue_info(
    session: AsyncSession, case: Case, *, minutes_per_case: int, timeout_seconds: int
) -> QueueInfo:
    position = await queue_position(session, case)
    online = await online_casemanagers(session, timeout_seconds) if position else 0
    return QueueInfo(position, expected_wait_minutes(position, online, minutes_per_case))


async def list_queue(session: AsyncSession, team: str | None = None, limit: int = 100) -> QueuePage:
    conds = _waiting_in(team)
    total = await session.scalar(select(func.count()).select_from(Case).where(*conds))
    cases = list(await session.scalars(select(Case).where(*conds).order_by(*_queue_order()).limit(limit)))
    page = QueuePage(cases=cases, total=int(total or 0))
    if team:
        page.positions = {c.id: i for i, c in enumerate(cases, start=1)}
    return page


async def my_cases(session: AsyncSession, user: User) -> list[Case]:
    return list(
        await session.scalars(
            select(Case)
            .where(Case.claimed_by_id == user.id, Case.status == Status.IN_PROGRESS.value)
            .order_by(Case.claimed_at)
        )
    )


async def transcript(session: AsyncSession, case: Case) -> list[Message]:
    return list(await session.scalars(case.messages.select()))


async def history(session: AsyncSession, case: Case) -> list[StatusChange]:
    return list(await session.scalars(case.history.select()))


async def notes(session: AsyncSession, case: Case) -> list[Note]:
    return list(await session.scalars(case.notes.select()))


async def follow_ups(session: AsyncSession, case: Case) -> list[FollowUp]:
    return list(await session.scalars(case.follow_ups.select()))


async def open_follow_ups_for(session: AsyncSession, user: User) -> list[tuple[FollowUp, str]]:
    rows = await session.execute(
        select(FollowUp, Case.reference)
        .join(Case, Case.id == FollowUp.case_id)
        .where(FollowUp.assignee_id == user.id, FollowUp.done.is_(False))
        .order_by(FollowUp.due_date)
    )
    return [(f, ref) for f, ref in rows.tuples()]


async def get_user(session: AsyncSession, username: str) -> User:
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        raise UnknownUser(username)
    return user


async def colleagues(session: AsyncSession, user: User) -> list[User]:
    return list(await session.scalars(select(User).where(User.id != user.id).order_by(User.display_name)))


# --- mutations ------------------------------------------------------------------------


def _record(uow: UnitOfWork, case: Case, old: str | None, new: str, actor: User | None, action: str) -> None:
    uow.session.add(
        StatusChange(
            case_id=case.id,
            from_status=old,
            to_status=new,
            actor_id=actor.id if actor else None,
            action=action,
        )
    )


def enqueue_rasa(uow: UnitOfWork, case: Case, intent: str, entities: dict[str, Any]) -> None:
    """Persist a call to Rasa in the same transaction; the outbox drainer delivers it."""
    if case.kind != Kind.CHAT.value:
        return  # callback citizens are not in a live conversation
    uow.session.add(
        OutboxMessage(
            case_id=case.id, channel=case.channel, sender_id=case.sender_id, intent=intent, entities=entities
        )
    )
    uow.effects.outbox = True


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
            channel=new.channel,
            sender_id=new.sender_id,
            kind=new.kind,
            status=Status.WAITING.value,
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
    _record(uow, case, None, Status.WAITING.value, None, "aangemaakt")
    # The create answer tells the citizen their place: that counts as the first push.
    case.notified_position = await queue_position(session, case)
    case.position_pushed_at = now
    log.info(
        "case %s created (team=%s, urgent=%s, kind=%s)", case.reference, case.team, case.urgent, case.kind
    )
    uow.publish({"type": "case_new", "reference": case.reference, "team": case.team, "urgent": case.urgent})
    uow.queue_changed(case.team)
    return case, True


# --- who may act on a case ----------------------------------------------------------


def works_in(teams: Sequence[str] | None, team: str) -> bool:
    """A casemanager works the queues of their ``teams``; one without teams works every queue."""
    return not teams or team in teams


def _overrides(case: Case, user: User) -> list[str]:
    """Raises when ``user`` may not act on ``case``; returns what a teamleider overrides."""
    mine = case.claimed_by_id == user.id
    own_team = works_in(user.teams, case.team)
    if not (mine or own_team or user.is_teamleader):
        raise NotYourTeam(case.team)
    colleagues = case.claimed_by_id is not None and not mine
    if colleagues and not user.is_teamleader:
        raise NotClaimedByYou(case.reference)
    other_team = [] if mine or own_team else [f"team {case.team}"]
    return other_team + (["zaak van een collega"] if colleagues else [])


def authorize(session: AsyncSession, case: Case, user: User, action: str) -> None:
    """May ``user`` do ``action`` on ``case``? The one rule for every change staff make.

    A casemanager acts on the cases of their own teams, and on a claimed case only when they
    claimed it (a case handed to them from another team is theirs too). A teamleider may act on
    any team's or colleague's case; that is written to the audit log. The state a case must be
    in is the caller's check (``_require_owner``, ``claim``).
    """
    if overrides := _overrides(case, user):
        detail = f"als teamleider: {action} ({', '.join(overrides)})"
        audit.record(session, AuditAction.OVERRIDE, reference=case.reference, user=user, detail=detail)


def may_handle(case: Case, user: User) -> bool:
    """Whether the case page offers ``user`` the actions on a case in progress."""
    if case.status != Status.IN_PROGRESS.value:
        return False
    try:
        _overrides(case, user)
    except (NotYourTeam, NotClaimedByYou):
        return False
    return True


def _require_owner(session: AsyncSession, case: Case, user: User, action: str) -> None:
    """Actions on a case in progress: by whoever claimed it, or a teamleider (``authorize``)."""
    if case.status != Status.IN_PROGRESS.value:
        raise InvalidTransition(case.reference, case.status, action)
    authorize(session, case, user, action)


def _claimed_event(case: Case, user: User) -> dict[str, Any]:
    return {
        "type": "case_claimed",
        "reference": case.reference,
        "team": case.team,
        "by": user.display_name,
        "by_id": user.id,
    }


async def claim(uow: UnitOfWork, reference: str, user: User) -> Case:
    """Take a waiting case. The conditional UPDATE makes two claimers race safely."""
    session = uow.session
    case = await get_case(session, reference)
    if case.status == Status.IN_PROGRESS.value:
        raise AlreadyClaimed(case.reference)
    if case.status == Status.CLOSED.value:
        raise InvalidTransition(case.reference, case.status, "in behandeling nemen")
    authorize(session, case, user, "in behandeling nemen")
    claimed_id = await session.scalar(
        update(Case)
        .where(
            Case.id == case.id,
            Case.status == Status.WAITING.value,
            Case.claimed_by_id.is_(None),
            # Checked above for this team: a transfer in between puts it in another queue.
            Case.team == case.team,
        )
        .values(status=Status.IN_PROGRESS.value, claimed_by_id=user.id, claimed_at=utcnow())
        .returning(Case.id)
    )
    if claimed_id is None:
        raise AlreadyClaimed(case.reference)
    return await _after_claim(uow, claimed_id, user)


async def claim_next(uow: UnitOfWork, user: User, teams: Sequence[str] | None = None) -> Case:
    """Claim the first case in the queue of ``teams``; by default the user's own teams (none: all).

    A casemanager may only ask for their own teams; a teamleider for any team (audited).
    """
    session = uow.session
    if not teams:
        teams = user.teams or None
    elif not user.is_teamleader and (other := next((t for t in teams if not works_in(user.teams, t)), None)):
        raise NotYourTeam(other)
    for _attempt in range(20):
        stmt = select(Case).where(Case.status == Status.WAITING.value, Case.claimed_by_id.is_(None))
        if teams:
            stmt = stmt.where(Case.team.in_(list(teams)))
        # SKIP LOCKED lets concurrent claimers on PostgreSQL each take a different case
        # instead of queueing on the head row; SQLite ignores it (it has one writer).
        stmt = stmt.order_by(*_queue_order()).limit(1).with_for_update(skip_locked=True)
        case = await session.scalar(stmt)
        if case is None:
            raise QueueEmpty()
        authorize(session, case, user, "volgende zaak in behandeling nemen")
        claimed_id = await session.scalar(
            update(Case)
            .where(Case.id == case.id, Case.status == Status.WAITING.value, Case.claimed_by_id.is_(None))
            .values(status=Status.IN_PROGRESS.value, claimed_by_id=user.id, claimed_at=utcnow())
            .returning(Case.id)
        )
        if claimed_id is not None:
            return await _after_claim(uow, claimed_id, user)
    raise QueueEmpty()


async def _after_claim(uow: UnitOfWork, case_id: int, user: User) -> Case:
    session = uow.session
    case = await session.get_one(Case, case_id, populate_existing=True)
    _record(uow, case, Status.WAITING.value, Status.IN_PROGRESS.value, user, "in behandeling genomen")
    audit.record(session, AuditAction.CLAIMED, reference=case.reference, user=user, detail="opgepakt")
    enqueue_rasa(uow, case, "medewerker_gekoppeld", {"naam": user.first_name})
    log.info("case %s claimed by user %s", case.reference, user.id)
    uow.publish(_claimed_event(case, user))
    uow.queue_changed(case.team)
    return case


async def unclaim(uow: UnitOfWork, reference: str, user: User) -> Case:
    """Put the case back in the queue; it keeps its original place (created_at)."""
    case = await get_case(uow.session, reference, for_update=True)
    _require_owner(uow.session, case, user, "vrijgeven")
    case.status = Status.WAITING.value
    case.claimed_by_id = None
    case.claimed_at = None
    _record(uow, case, Status.IN_PROGRESS.value, Status.WAITING.value, user, "vrijgegeven")
    log.info("case %s unclaimed by user %s", case.reference, user.id)
    uow.publish({"type": "case_returned", "reference": case.reference, "team": case.team})
    uow.queue_changed(case.team)
    return case


async def transfer_to_user(uow: UnitOfWork, reference: str, user: User, target_username: str) -> Case:
    session = uow.session
    case = await get_case(session, reference, for_update=True)
    _require_owner(session, case, user, "overdragen aan een collega")
    target = await get_user(session, target_username)
    case.claimed_by_id = target.id
    case.claimed_at = utcnow()
    _record(
        uow,
        case,
        Status.IN_PROGRESS.value,
        Status.IN_PROGRESS.value,
        user,
        f"overgedragen aan {target.username}",
    )
    enqueue_rasa(uow, case, "medewerker_gekoppeld", {"naam": target.first_name})
    detail = f"overgedragen aan {target.username}"
    audit.record(session, AuditAction.CLAIMED, reference=case.reference, user=user, detail=detail)
    log.info("case %s transferred from user %s to user %s", case.reference, user.id, target.id)
    uow.publish(_claimed_event(case, target) | {"type": "case_transferred", "from_id": user.id})
    return case


async def transfer_to_team(
    uow: UnitOfWork, reference: str, user: User, team: str, teams: TeamMapping
) -> Case:
    if team not in teams.teams:
        raise UnknownTeam(team)
    case = await get_case(uow.session, reference, for_update=True)
    _require_owner(uow.session, case, user, "overdragen aan een team")
    old_team = case.team
    case.team = team
    case.status = Status.WAITING.value
    case.claimed_by_id = None
    case.claimed_at = None
    # A new queue: tell the citizen their new place right away.
    case.notified_position = None
    case.position_pushed_at = None
    _record(uow, case, Status.IN_PROGRESS.value, Status.WAITING.value, user, f"overgedragen aan team {team}")
    log.info("case %s transferred by user %s to team %s", case.reference, user.id, team)
    uow.publish({"type": "case_new", "reference": case.reference, "team": team, "urgent": case.urgent})
    uow.queue_changed(old_team)
    uow.queue_changed(team)
    return case


async def close(
    uow: UnitOfWork,
    reference: str,
    user: User,
    outcome: str,
    next_steps: str,
    *,
    redactor: Redactor | None = None,
) -> Case:
    """Close the case and hand the conversation back to the bot with the agreements.

    Closing also stores the redacted copy of every text and deletes the contact details
    (retention.py); from now on staff see only that copy.
    """
    outcome, next_steps = outcome.strip(), next_steps.strip()
    if not outcome:
        raise InvalidInput("Vul de uitkomst van het gesprek in")
    case = await get_case(uow.session, reference, for_update=True)
    _require_owner(uow.session, case, user, "afronden")
    now = utcnow()
    case.status = Status.CLOSED.value
    case.closed_at = now
    case.outcome = outcome[:MAX_TEXT]
    case.next_steps = next_steps[:MAX_TEXT]
    _record(uow, case, Status.IN_PROGRESS.value, Status.CLOSED.value, user, "afgerond")
    # The citizen gets the agreements in full; they are read before the redaction below.
    enqueue_rasa(uow, case, "terug_naar_bot", {"referentie": case.reference, "afspraken": case.next_steps})
    await store_redacted_copies(uow.session, case, redactor or get_redactor(), now)
    audit.record(
        uow.session,
        AuditAction.REDACTED,
        reference=case.reference,
        detail="bij afronden: kopie zonder persoonsgegevens opgeslagen, contactgegevens verwijderd",
        at=now,
    )
    log.info("case %s closed by user %s", case.reference, user.id)
    uow.publish({"type": "case_closed", "reference": case.reference, "team": case.team})
    return case


def _clean_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidInput("Leeg bericht")
    return text[:MAX_TEXT]


def _message_event(case: Case, msg: Message) -> dict[str, Any]:
    return {
        "type": "message",
        "reference": case.reference,
        "role": msg.role,
        "text": msg.text,
        "name": msg.name,
        "timestamp": msg.created_at.isoformat(),
        # Who may read the full text (access.redaction_reason); the hub strips it before sending.
        "access": {"status": case.status, "team": case.team, "claimed_by_id": case.claimed_by_id},
    }


async def _message_by_client_id(session: AsyncSession, case_id: int, client_id: str) -> Message | None:
    found: Message | None = await session.scalar(
        select(Message).where(Message.case_id == case_id, Message.client_id == client_id)
    )
    return found


async def add_citizen_message(
    uow: UnitOfWork, reference: str, sender_id: str, text: str, client_id: str | None = None
) -> Message:
    """Store a citizen message. A repeat with the same `client_id` (the bot's outbox retrying
    after a lost answer) returns the stored message instead of adding it twice."""
    case = await get_case(uow.session, reference)
    if case.sender_id != sender_id:
        raise SenderMismatch(case.reference)
    if client_id is not None:
        # Checked before the closed state: a message stored before closing is still "accepted".
        existing = await _message_by_client_id(uow.session, case.id, client_id)
        if existing is not None:
            return existing
    if case.status == Status.CLOSED.value:
        raise InvalidTransition(case.reference, case.status, "een bericht toevoegen")
    msg = Message(
        case_id=case.id, role="citizen", text=_clean_text(text), created_at=utcnow(), client_id=client_id
    )
    try:
        async with uow.session.begin_nested():
            uow.session.add(msg)
            await uow.session.flush()
    except IntegrityError:
        # A concurrent repeat with the same client_id won; the savepoint keeps the transaction usable.
        existing = await _message_by_client_id(uow.session, case.id, client_id) if client_id else None
        if existing is None:
            raise
        return existing
    log.info("citizen message %s stored for case %s", msg.id, case.reference)
    uow.publish(_message_event(case, msg))
    return msg


async def send_casemanager_message(uow: UnitOfWork, reference: str, user: User, text: str) -> Message:
    case = await get_case(uow.session, reference)
    if case.kind != Kind.CHAT.value:
        raise NotAChat(case.reference)
    _require_owner(uow.session, case, user, "bericht sturen")
    msg = Message(
        case_id=case.id, role="casemanager", text=_clean_text(text), name=user.first_name, created_at=utcnow()
    )
    uow.session.add(msg)
    await uow.session.flush()
    enqueue_rasa(uow, case, "medewerker_bericht", {"tekst": msg.text, "naam": user.first_name})
    log.info("casemanager message %s queued for case %s", msg.id, case.reference)
    uow.publish(_message_event(case, msg))
    return msg


async def add_note(uow: UnitOfWork, reference: str, user: User, text: str) -> Note:
    case = await get_case(uow.session, reference)
    _require_owner(uow.session, case, user, "notitie toevoegen")
    note = Note(case_id=case.id, author_id=user.id, text=_clean_text(text), created_at=utcnow())
    uow.session.add(note)
    audit.record(
        uow.session, AuditAction.NOTE, reference=case.reference, user=user, detail="notitie toegevoegd"
    )
    return note


async def add_follow_up(
    uow: UnitOfWork, reference: str, user: User, due_date: dt.date, description: str
) -> FollowUp:
    case = await get_case(uow.session, reference)
    _require_owner(uow.session, case, user, "nazorgtaak toevoegen")
    task = FollowUp(
        case_id=case.id, assignee_id=user.id, due_date=due_date, description=_clean_text(description)
    )
    uow.session.add(task)
    detail = f"nazorgtaak toegevoegd (datum {due_date.isoformat()})"
    audit.record(uow.session, AuditAction.FOLLOW_UP, reference=case.reference, user=user, detail=detail)
    return task


async def complete_follow_up(uow: UnitOfWork, follow_up_id: int, user: User) -> FollowUp:
    task = await uow.session.get(FollowUp, follow_up_id)
    if task is None:
        raise FollowUpNotFound(follow_up_id)
    if task.assignee_id != user.id and not user.is_teamleader:
        raise NotClaimedByYou(str(follow_up_id))
    task.done = True
    return task


async def touch_presence(uow: UnitOfWork, user_id: int, *, online: bool | None = None) -> None:
    values: dict[str, Any] = {"last_seen_at": utcnow()}
    if online is not None:
        values["online"] = online
    await uow.session.execute(update(User).where(User.id == user_id).values(**values))


# --- queue positions pushed to waiting citizens ---------------------------------------


async def refresh_queue_positions(
    uow: UnitOfWork,
    team: str | None,
    *,
    min_interval: dt.timedelta = dt.timedelta(0),
    now: dt.datetime | None = None,
) -> int:
    """Tell waiting chat citizens their new place; returns how many were told.

    A citizen is told only when their position differs from the one they were last told,
    and at most once per ``min_interval`` (``HANDOVER_POSITION_PUSH_SECONDS``). A change
    inside the interval is not written anywhere: the first refresh after the interval (the
    next queue change, or the periodic sweep in ``workflow.position_loop``) pushes the
    position of that moment, so the newest position wins and the ones in between are never
    sent. That keeps the work per claim small on long queues: one ranking query, and writes
    only for the citizens who are due. ``team=None`` refreshes every team (the sweep).

    Runs in its own transaction after the change that moved the queue. Refreshes are
    serialised (an advisory lock on PostgreSQL, the single connection on SQLite), so the
    last one sees every committed change and each position is pushed only once.
    """
    session = uow.session
    now = now or utcnow()
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(727001)"))
    waiting = _waiting_in(team)
    if team is None:  # the sweep: only teams where someone waits in a live chat
        waiting.append(
            Case.team.in_(select(Case.team).where(*_waiting_in(None), Case.kind == Kind.CHAT.value))
        )
    position = func.row_number().over(partition_by=Case.team, order_by=_queue_order())
    ranked = (
        select(
            Case.id,
            Case.kind,
            Case.channel,
            Case.sender_id,
            Case.notified_position,
            Case.position_pushed_at,
            position.label("position"),
        )
        .where(*waiting)
        .subquery()
    )
    rows = (
        await session.execute(
            select(ranked.c.id, ranked.c.channel, ranked.c.sender_id, ranked.c.position)
            .where(
                ranked.c.kind == Kind.CHAT.value,  # callback requests have no chat to push to
                or_(ranked.c.notified_position.is_(None), ranked.c.notified_position != ranked.c.position),
                or_(
                    ranked.c.position_pushed_at.is_(None),
                    ranked.c.position_pushed_at <= now - min_interval,
                ),
            )
            .order_by(ranked.c.position, ranked.c.id)
        )
    ).all()
    if not rows:
        return 0
    # One executemany instead of a statement per case: a claim can make many citizens due.
    await session.execute(
        update(Case),
        [{"id": row.id, "notified_position": row.position, "position_pushed_at": now} for row in rows],
    )
    # Only the newest position matters: drop undelivered older ones (Rasa slow or down) so
    # they do not build a backlog in front of the casemanagers' chat messages.
    # SKIP LOCKED: rows the drainer holds are being delivered anyway, and never waiting on
    # them rules out a lock-order deadlock with the drainer.
    stale = list(
        await session.scalars(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.case_id.in_([row.id for row in rows]),
                OutboxMessage.intent == "wachtrij_update",
                OutboxMessage.status == OutboxStatus.PENDING.value,
            )
            .order_by(OutboxMessage.id)
            .with_for_update(skip_locked=True)
        )
    )
    if stale:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(stale))
            .values(status=OutboxStatus.SUPERSEDED.value)
        )
    session.add_all(
        OutboxMessage(
            case_id=row.id,
            channel=row.channel,
            sender_id=row.sender_id,
            intent="wachtrij_update",
            entities={"positie": row.position},
        )
        for row in rows
    )
    uow.effects.outbox = True
    return len(rows)
