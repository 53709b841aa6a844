"""Appointments: slots that casemanagers or a team publish, booked by the citizen in the chat.

A booking is atomic across service instances: the partial unique index
``uq_appointments_slot_taken`` allows one appointment per slot that is not cancelled, so the
second insert (or slot change) fails in the database and becomes ``SlotTaken``. The reminder the
day before is queued in the outbox in the same transaction that sets ``reminder_sent_at`` with a
conditional UPDATE: queued once, whichever instance gets there first.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager

from .. import audit
from ..consent import consented_organisations
from ..dutch_dates import MONTHS, WEEKDAYS
from ..models import (
    Appointment,
    AppointmentMode,
    AppointmentSlot,
    AppointmentStatus,
    AuditAction,
    Case,
    Channel,
    FollowUp,
    OutboxMessage,
    Status,
    User,
    utcnow,
)
from ..settings import END_OF_DAY, OfficeHours
from ..uow import UnitOfWork
from .errors import (
    AlreadyBooked,
    AppointmentNotChangeable,
    AppointmentNotFound,
    CaseNotFound,
    InvalidInput,
    NotYourTeam,
    SenderMismatch,
    SlotNotFound,
    SlotOutsideOfficeHours,
    SlotTaken,
    SlotUnavailable,
    UnknownTeam,
    UnknownUser,
)
from .permissions import works_in

REFERENCE_PREFIX = "AF-"
# No 0/O, 1/I/L: the citizen may read the code out over the phone (as services/cases.py).
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
# Only the type of the document is kept, never its number: the form offers these and nothing else.
IDENTITY_DOCUMENTS = {
    "paspoort": "Paspoort",
    "identiteitskaart": "Identiteitskaart",
    "rijbewijs": "Rijbewijs",
    "verblijfsdocument": "Verblijfsdocument",
}
MIN_MINUTES, MAX_MINUTES = 10, 240
MAX_OUTCOME = 2_000
REMINDER_INTENT = "afspraak_herinnering"


@dataclass(frozen=True)
class Calendar:
    """When appointments may take place: the office hours, without the closing days."""

    office_hours: OfficeHours
    holidays: frozenset[dt.date] = frozenset()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.office_hours.timezone)

    def allows(self, starts_at: dt.datetime, ends_at: dt.datetime) -> bool:
        """Whether the whole appointment falls inside one day's office hours, not on a closing day."""
        start, end = starts_at.astimezone(self.zone), ends_at.astimezone(self.zone)
        window = self.office_hours.windows.get(start.weekday())
        if window is None or start.date() in self.holidays:
            return False
        if end.date() == start.date():
            end_time = end.time()
        elif end.date() == start.date() + dt.timedelta(days=1) and end.time() == dt.time(0):
            end_time = END_OF_DAY  # until midnight
        else:
            return False
        opens, closes = window
        return opens <= start.time() and end_time <= closes


def describe_moment(when: dt.datetime, timezone: str) -> str:
    """ "dinsdag 8 december, 10.00 uur": how the citizen and the agenda read a moment."""
    local = when.astimezone(ZoneInfo(timezone))
    return f"{WEEKDAYS[local.weekday()]} {local.day} {MONTHS[local.month - 1]}, {local:%H.%M} uur"


def generate_reference() -> str:
    return REFERENCE_PREFIX + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))


# --- slots ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewSlot:
    starts_at: dt.datetime
    minutes: int
    mode: str
    team: str
    casemanager: str | None = None  # username; None: anyone of the team
    organisation: str | None = None
    location: str | None = None


async def publish_slot(
    uow: UnitOfWork,
    user: User,
    new: NewSlot,
    *,
    calendar: Calendar,
    teams: Collection[str],
    organisations: Collection[str],
    now: dt.datetime | None = None,
) -> AppointmentSlot:
    """A casemanager publishes a slot for their team (a teamleider for any team)."""
    now = now or utcnow()
    if new.team not in teams:
        raise UnknownTeam(new.team)
    if not (works_in(user.teams, new.team) or user.is_teamleader):
        raise NotYourTeam(new.team)
    try:
        mode = AppointmentMode(new.mode)
    except ValueError as e:
        raise InvalidInput("Kies stadskantoor, telefoon of video") from e
    if not MIN_MINUTES <= new.minutes <= MAX_MINUTES:
        raise InvalidInput(f"Een afspraak duurt {MIN_MINUTES} tot {MAX_MINUTES} minuten")
    if new.starts_at.tzinfo is None or new.starts_at <= now:
        raise InvalidInput("Kies een moment in de toekomst")
    ends_at = new.starts_at + dt.timedelta(minutes=new.minutes)
    if not calendar.allows(new.starts_at, ends_at):
        raise SlotOutsideOfficeHours(describe_moment(new.starts_at, calendar.office_hours.timezone))
    organisation = (new.organisation or "").strip().lower() or None
    if organisation is not None and organisation not in organisations:
        raise InvalidInput(f"Organisatie {organisation} staat niet in de lijst met organisaties")
    casemanager_id = None
    if new.casemanager:
        casemanager = await uow.session.scalar(select(User).where(User.username == new.casemanager))
        if casemanager is None:
            raise UnknownUser(new.casemanager)
        if not works_in(casemanager.teams, new.team):
            raise NotYourTeam(new.team)
        casemanager_id = casemanager.id
    location = (new.location or "").strip()[:255] or None
    if mode == AppointmentMode.OFFICE and location is None:
        location = "Stadskantoor"
    slot = AppointmentSlot(
        starts_at=new.starts_at,
        ends_at=ends_at,
        mode=mode,
        team=new.team,
        casemanager_id=casemanager_id,
        organisation=organisation,
        location=location,
        created_by_id=user.id,
    )
    uow.session.add(slot)
    await uow.session.flush()
    detail = f"tijdslot {slot.id} gepubliceerd ({mode}, team {new.team})"
    audit.record(uow.session, AuditAction.APPOINTMENT, reference=None, user=user, detail=detail)
    return slot


async def withdraw_slot(uow: UnitOfWork, slot_id: int, user: User) -> AppointmentSlot:
    """No longer offered; an appointment already booked on it stays until it is cancelled."""
    slot = await _slot(uow.session, slot_id)
    if not (works_in(user.teams, slot.team) or user.is_teamleader):
        raise NotYourTeam(slot.team)
    if slot.withdrawn_at is None:
        slot.withdrawn_at = utcnow()
        detail = f"tijdslot {slot.id} ingetrokken"
        audit.record(uow.session, AuditAction.APPOINTMENT, reference=None, user=user, detail=detail)
    return slot


async def free_slots(
    session: AsyncSession,
    *,
    now: dt.datetime | None = None,
    organisation: str | None = None,
    mode: str | None = None,
    after: dt.datetime | None = None,
    before: dt.datetime | None = None,
    limit: int = 5,
) -> list[AppointmentSlot]:
    """The first free slots from ``after`` (at the earliest one hour from now): the organisation's
    own days first when one is asked for, else any slot without an organisation."""
    now = now or utcnow()
    earliest = max(now + dt.timedelta(hours=1), after or now)
    stmt = (
        select(AppointmentSlot)
        .where(
            AppointmentSlot.starts_at >= earliest,
            AppointmentSlot.withdrawn_at.is_(None),
            ~exists().where(
                Appointment.slot_id == AppointmentSlot.id, Appointment.status != AppointmentStatus.CANCELLED
            ),
        )
        .order_by(AppointmentSlot.starts_at, AppointmentSlot.id)
        .limit(max(1, min(limit, 20)))
    )
    if before is not None:
        stmt = stmt.where(AppointmentSlot.starts_at < before)
    if mode:
        stmt = stmt.where(AppointmentSlot.mode == mode)
    if organisation:
        stmt = stmt.where(
            (AppointmentSlot.organisation == organisation.lower()) | AppointmentSlot.organisation.is_(None)
        )
    else:
        stmt = stmt.where(AppointmentSlot.organisation.is_(None))
    return list((await session.scalars(stmt)).unique())


async def _slot(session: AsyncSession, slot_id: int) -> AppointmentSlot:
    slot = await session.get(AppointmentSlot, slot_id)
    if slot is None:
        raise SlotNotFound(slot_id)
    return slot


def _bookable(slot: AppointmentSlot, now: dt.datetime) -> None:
    if slot.withdrawn_at is not None or slot.starts_at <= now:
        raise SlotUnavailable(slot.id)


# --- the citizen's booking -----------------------------------------------------------------


async def get_appointment(session: AsyncSession, reference: str) -> Appointment:
    appointment = await session.scalar(
        select(Appointment).where(Appointment.reference == reference.strip().upper())
    )
    if appointment is None:
        raise AppointmentNotFound(reference)
    return appointment


async def _of_conversation(
    session: AsyncSession, channel: str, sender_id: str, reference: str
) -> Appointment:
    appointment = await get_appointment(session, reference)
    if (appointment.channel, appointment.sender_id) != (channel, sender_id):
        # Another conversation's appointment: not found, rather than telling that it exists.
        raise AppointmentNotFound(reference)
    return appointment


async def upcoming(session: AsyncSession, channel: str, sender_id: str) -> list[Appointment]:
    """The conversation's booked appointments that have not started yet."""
    stmt = (
        select(Appointment)
        .join(Appointment.slot)
        .where(
            Appointment.channel == channel,
            Appointment.sender_id == sender_id,
            Appointment.status == AppointmentStatus.BOOKED,
            AppointmentSlot.starts_at > utcnow(),
        )
        .order_by(AppointmentSlot.starts_at)
    )
    return list((await session.scalars(stmt)).unique())


async def _case_for(
    session: AsyncSession, channel: str, sender_id: str, case_reference: str | None
) -> Case | None:
    if case_reference:
        case = await session.scalar(select(Case).where(Case.reference == case_reference.strip().upper()))
        if case is None:
            raise CaseNotFound(case_reference)
        if (case.channel, case.sender_id) != (channel, sender_id):
            raise SenderMismatch(case.reference)
        return case
    # The intake of this conversation: the open case, else the one created last.
    stmt = (
        select(Case)
        .where(Case.channel == channel, Case.sender_id == sender_id)
        .order_by((Case.status == Status.CLOSED).asc(), Case.created_at.desc(), Case.id.desc())
        .limit(1)
    )
    found: Case | None = await session.scalar(stmt)
    return found


def _joining(case: Case | None, slot: AppointmentSlot, organisations: Iterable[str] | None) -> list[str]:
    """Who joins: the organisations the bot names, else those the citizen consented to in the
    intake; the slot's own organisation always."""
    chosen = [o.strip().lower() for o in (organisations or ()) if o.strip()]
    if not chosen and case is not None:
        chosen = [o.lower() for o in consented_organisations(case)]
    if slot.organisation and slot.organisation not in chosen:
        chosen.append(slot.organisation)
    return list(dict.fromkeys(chosen))[:10]


async def _claim_slot(session: AsyncSession, appointment: Appointment) -> None:
    """Flush inside a savepoint: a slot taken in the meantime (here or on another instance)
    violates uq_appointments_slot_taken; the savepoint keeps the outer transaction usable."""
    try:
        async with session.begin_nested():
            session.add(appointment)
            await session.flush()
    except IntegrityError as e:
        raise SlotTaken(appointment.slot_id) from e


async def book(
    uow: UnitOfWork,
    channel: str,
    sender_id: str,
    slot_id: int,
    *,
    case_reference: str | None = None,
    organisations: Iterable[str] | None = None,
    now: dt.datetime | None = None,
) -> Appointment:
    now = now or utcnow()
    session = uow.session
    try:
        conversation_channel = Channel(channel)
    except ValueError as e:
        raise InvalidInput(f"Onbekend kanaal {channel[:16]!r}") from e
    slot = await _slot(session, slot_id)
    _bookable(slot, now)
    if booked := await upcoming(session, channel, sender_id):
        raise AlreadyBooked(booked[0].reference)
    case = await _case_for(session, channel, sender_id, case_reference)
    appointment = Appointment(
        reference=generate_reference(),
        slot_id=slot.id,
        case_id=case.id if case else None,
        channel=conversation_channel,
        sender_id=sender_id,
        status=AppointmentStatus.BOOKED,
        organisations=_joining(case, slot, organisations),
        outcomes={},
    )
    await _claim_slot(session, appointment)
    appointment.slot = slot
    _audit(session, appointment, None, f"afspraak gepland (tijdslot {slot.id}, {slot.mode})")
    return appointment


async def change(
    uow: UnitOfWork,
    channel: str,
    sender_id: str,
    reference: str,
    slot_id: int,
    *,
    now: dt.datetime | None = None,
) -> Appointment:
    """Move the appointment to another slot; on SlotTaken the old slot stays booked (the
    transaction rolls back)."""
    now = now or utcnow()
    session = uow.session
    appointment = await _of_conversation(session, channel, sender_id, reference)
    _changeable(appointment, now)
    slot = await _slot(session, slot_id)
    _bookable(slot, now)
    if slot.id == appointment.slot_id:
        return appointment
    previous = appointment.slot_id
    try:
        async with session.begin_nested():
            await session.execute(
                update(Appointment).where(Appointment.id == appointment.id).values(slot_id=slot.id)
            )
    except IntegrityError as e:
        raise SlotTaken(slot.id) from e
    await session.refresh(appointment)
    appointment.slot = slot
    appointment.reminder_sent_at = None  # a new moment gets its own reminder
    appointment.revision += 1
    if slot.organisation and slot.organisation not in appointment.organisations:
        appointment.organisations = [*appointment.organisations, slot.organisation]
    _audit(session, appointment, None, f"afspraak verzet (tijdslot {previous} naar {slot.id})")
    return appointment


def _changeable(appointment: Appointment, now: dt.datetime) -> None:
    if appointment.status != AppointmentStatus.BOOKED or appointment.slot.starts_at <= now:
        raise AppointmentNotChangeable(appointment.reference, appointment.status)


async def cancel(
    uow: UnitOfWork, channel: str, sender_id: str, reference: str, *, now: dt.datetime | None = None
) -> Appointment:
    """The citizen cancels in the chat; the slot is free again."""
    now = now or utcnow()
    appointment = await _of_conversation(uow.session, channel, sender_id, reference)
    if appointment.status == AppointmentStatus.CANCELLED:
        return appointment  # twice is fine
    _changeable(appointment, now)
    appointment.status = AppointmentStatus.CANCELLED
    appointment.cancelled_at = now
    appointment.revision += 1
    _audit(uow.session, appointment, None, "afspraak afgezegd door de inwoner")
    return appointment


def _audit(session: AsyncSession, appointment: Appointment, user: User | None, detail: str) -> None:
    audit.record(
        session,
        AuditAction.APPOINTMENT,
        reference=appointment.reference,
        user=user,
        actor=None if user else audit.CITIZEN,
        detail=detail,
    )


# --- at the appointment --------------------------------------------------------------------


def may_work_on(appointment: Appointment, user: User) -> bool:
    slot = appointment.slot
    return slot.casemanager_id == user.id or works_in(user.teams, slot.team) or user.is_teamleader


def _require_team(appointment: Appointment, user: User) -> None:
    if not may_work_on(appointment, user):
        raise NotYourTeam(appointment.slot.team)


@dataclass(frozen=True)
class Checklist:
    identity_checked: bool | None
    identity_document: str | None
    citizen_present: bool | None
    outcomes: Mapping[str, str]
    follow_up: str = ""
    follow_up_date: dt.date | None = None


async def record_checklist(uow: UnitOfWork, reference: str, user: User, checklist: Checklist) -> Appointment:
    """Identity checked (yes/no and the document type only), citizen present, the outcome per
    organisation, and optionally a follow-up task on the case. Audited without the texts."""
    session = uow.session
    appointment = await get_appointment(session, reference)
    _require_team(appointment, user)
    if appointment.status == AppointmentStatus.CANCELLED:
        raise AppointmentNotChangeable(appointment.reference, appointment.status)
    document = (checklist.identity_document or "").strip().lower() or None
    if document is not None and document not in IDENTITY_DOCUMENTS:
        raise InvalidInput("Kies het soort identiteitsbewijs uit de lijst (geen nummer)")
    if checklist.identity_checked and document is None:
        raise InvalidInput("Kies welk identiteitsbewijs u heeft gezien")
    unknown = set(checklist.outcomes) - set(appointment.organisations)
    if unknown:
        raise InvalidInput("Een uitkomst hoort bij een organisatie van deze afspraak")
    appointment.identity_checked = checklist.identity_checked
    appointment.identity_document = document if checklist.identity_checked else None
    appointment.citizen_present = checklist.citizen_present
    appointment.outcomes = {
        org: text.strip()[:MAX_OUTCOME] for org, text in checklist.outcomes.items() if text.strip()
    }
    if checklist.citizen_present:
        appointment.status = AppointmentStatus.HELD
    appointment.checked_by_id = user.id
    appointment.checked_at = utcnow()
    kept = appointment.identity_document
    identity = f"gecontroleerd ({kept})" if kept else "niet gecontroleerd"
    parts = [f"identiteit {identity}", f"aanwezig: {'ja' if checklist.citizen_present else 'nee'}"]
    if appointment.outcomes:
        parts.append("uitkomst bij " + ", ".join(sorted(appointment.outcomes)))
    _audit(session, appointment, user, "checklist: " + "; ".join(parts))
    if checklist.follow_up.strip():
        await _add_follow_up(uow, appointment, user, checklist)
    return appointment


async def _add_follow_up(uow: UnitOfWork, appointment: Appointment, user: User, checklist: Checklist) -> None:
    case = await uow.session.get(Case, appointment.case_id) if appointment.case_id else None
    if case is None:
        raise InvalidInput("Deze afspraak hoort niet bij een zaak; een nazorgtaak kan hier niet")
    due = checklist.follow_up_date or (utcnow().date() + dt.timedelta(days=7))
    uow.session.add(
        FollowUp(
            case_id=case.id,
            assignee_id=user.id,
            due_date=due,
            description=checklist.follow_up.strip()[:MAX_OUTCOME],
        )
    )
    detail = f"nazorgtaak na afspraak {appointment.reference} (datum {due.isoformat()})"
    audit.record(uow.session, AuditAction.FOLLOW_UP, reference=case.reference, user=user, detail=detail)


async def mark_no_show(
    uow: UnitOfWork, reference: str, user: User, *, now: dt.datetime | None = None
) -> Appointment:
    now = now or utcnow()
    appointment = await get_appointment(uow.session, reference)
    _require_team(appointment, user)
    if appointment.status not in (AppointmentStatus.BOOKED, AppointmentStatus.NO_SHOW):
        raise AppointmentNotChangeable(appointment.reference, appointment.status)
    if appointment.slot.starts_at > now:
        raise InvalidInput("Niet verschenen kan pas vanaf het begin van de afspraak")
    appointment.status = AppointmentStatus.NO_SHOW
    _audit(uow.session, appointment, user, "inwoner niet verschenen")
    return appointment


# --- agenda --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgendaRow:
    slot: AppointmentSlot
    appointment: Appointment | None


async def agenda(
    session: AsyncSession,
    *,
    start: dt.datetime,
    end: dt.datetime,
    teams: Collection[str] | None = None,
    casemanager: User | None = None,
) -> list[AgendaRow]:
    """Slots from ``start`` to ``end`` with their appointment (not the cancelled ones): of
    ``casemanager`` (their own and their teams' slots without casemanager), or of ``teams``."""
    stmt = (
        select(AppointmentSlot, Appointment)
        .outerjoin(
            Appointment,
            and_(
                Appointment.slot_id == AppointmentSlot.id, Appointment.status != AppointmentStatus.CANCELLED
            ),
        )
        .where(AppointmentSlot.starts_at >= start, AppointmentSlot.starts_at < end)
        .order_by(AppointmentSlot.starts_at, AppointmentSlot.id)
        # The appointment's slot is the row's own slot: its default inner-joined eager load
        # would otherwise drop every free slot from this outer join.
        .options(contains_eager(Appointment.slot))
    )
    if casemanager is not None:
        own = AppointmentSlot.casemanager_id == casemanager.id
        team_slots = and_(
            AppointmentSlot.casemanager_id.is_(None), AppointmentSlot.team.in_(casemanager.teams)
        )
        stmt = stmt.where(own | team_slots if casemanager.teams else own)
    elif teams is not None:
        stmt = stmt.where(AppointmentSlot.team.in_(list(teams)))
    rows = (await session.execute(stmt)).unique().all()
    return [
        AgendaRow(slot, appointment)
        for slot, appointment in rows
        if appointment is not None or slot.withdrawn_at is None
    ]


@dataclass
class TeamAppointments:
    """Counts of one team's appointments in a period (the teamleider's overview): no names."""

    team: str
    per_status: dict[str, int]
    with_outcome: int = 0

    @property
    def total(self) -> int:
        return sum(self.per_status.values())


async def appointments_per_team(
    session: AsyncSession, start: dt.datetime, end: dt.datetime
) -> list[TeamAppointments]:
    """Per team: the appointments whose slot starts from ``start`` to ``end``, per status, and how
    many have an outcome recorded for at least one organisation."""
    rows = await session.execute(
        select(AppointmentSlot.team, Appointment.status, Appointment.outcomes)
        .join(Appointment.slot)
        .where(AppointmentSlot.starts_at >= start, AppointmentSlot.starts_at < end)
    )
    teams: dict[str, TeamAppointments] = {}
    for team, status, outcomes in rows.tuples():
        summary = teams.setdefault(
            team, TeamAppointments(team, dict.fromkeys(map(str, AppointmentStatus), 0))
        )
        summary.per_status[str(status)] += 1
        summary.with_outcome += 1 if outcomes else 0
    return sorted(teams.values(), key=lambda t: t.team)


# --- the reminder the day before -----------------------------------------------------------


async def queue_due_reminders(
    uow: UnitOfWork, *, lead: dt.timedelta, timezone: str, now: dt.datetime | None = None, batch: int = 100
) -> int:
    """Queue the reminder of every booked appointment that starts within ``lead``. The
    conditional UPDATE is the claim: an instance that loses it (0 rows) queues nothing."""
    now = now or utcnow()
    session = uow.session
    due = (
        await session.scalars(
            select(Appointment)
            .join(Appointment.slot)
            .where(
                Appointment.status == AppointmentStatus.BOOKED,
                Appointment.reminder_sent_at.is_(None),
                AppointmentSlot.starts_at > now,
                AppointmentSlot.starts_at <= now + lead,
            )
            .order_by(AppointmentSlot.starts_at)
            .limit(batch)
        )
    ).unique()
    queued = 0
    for appointment in list(due):
        claimed = await session.execute(
            update(Appointment)
            .where(Appointment.id == appointment.id, Appointment.reminder_sent_at.is_(None))
            .values(reminder_sent_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 0) != 1:
            continue
        session.add(
            OutboxMessage(
                case_id=appointment.case_id,
                channel=appointment.channel,
                sender_id=appointment.sender_id,
                intent=REMINDER_INTENT,
                entities=reminder_entities(appointment, timezone),
            )
        )
        _audit(session, appointment, None, "herinnering verstuurd")
        queued += 1
    if queued:
        uow.effects.outbox = True
    return queued


def reminder_entities(appointment: Appointment, timezone: str) -> dict[str, str]:
    """The reminder's entities for the bot, strings with Dutch names like the other service events
    (referentie, …): the bot's domain (bot/domain/afspraken.yml) says the words."""
    slot = appointment.slot
    return {
        "referentie": appointment.reference,
        "moment": describe_moment(slot.starts_at, timezone),
        "soort": str(slot.mode),
        "plaats": slot.location or "",
    }


def citizen_facts(appointment: Appointment, timezone: str) -> dict[str, object]:
    """What the bot tells the citizen; the wording is the bot's (its data files)."""
    slot = appointment.slot
    zone = ZoneInfo(timezone)
    return {
        "reference": appointment.reference,
        "status": str(appointment.status),
        "starts_at": slot.starts_at.astimezone(zone).isoformat(timespec="seconds"),
        "ends_at": slot.ends_at.astimezone(zone).isoformat(timespec="seconds"),
        "moment": describe_moment(slot.starts_at, timezone),
        "mode": str(slot.mode),
        "location": slot.location,
        "organisations": list(appointment.organisations),
    }
