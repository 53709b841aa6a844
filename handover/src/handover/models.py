"""Typed SQLAlchemy 2.0 models. Collections that keep growing are WriteOnlyMapped."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, WriteOnlyMapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use an aware UTC datetime")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


class Base(AsyncAttrs, DeclarativeBase):
    type_annotation_map = {
        dt.datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


class StoredValue(str, enum.Enum):
    """A ``str`` enum that prints as its value ("wachtend"), as ``enum.StrEnum`` does from Python
    3.11: templates, f-strings and JSON show exactly the text that is stored."""

    def __str__(self) -> str:
        return str(self.value)


def stored_as_value(enum_cls: type[StoredValue]) -> Enum:
    """The column type of an enum: VARCHAR(16) holding the member's value ("wachtend"), exactly
    the strings stored before the columns were typed. No CHECK constraint, so the schema (the
    migrations) is unchanged; an unknown string in a query (a channel from a URL) just matches
    nothing."""
    return Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=16,
        values_callable=lambda members: [member.value for member in members],
    )


class Status(StoredValue):
    WAITING = "wachtend"
    IN_PROGRESS = "in_behandeling"
    CLOSED = "afgerond"


class Channel(StoredValue):
    SOCKETIO = "socketio"
    WHATSAPP = "whatsapp"
    REST = "rest"


class Kind(StoredValue):
    CHAT = "chat"
    CALLBACK = "callback"


class Role(StoredValue):
    CASEMANAGER = "casemanager"
    TEAMLEIDER = "teamleider"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    first_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[Role] = mapped_column(stored_as_value(Role), default=Role.CASEMANAGER)
    teams: Mapped[list[str]] = mapped_column(default=list)
    # "online" is the casemanager's own availability; presence is last_seen_at.
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen_at: Mapped[dt.datetime | None]
    # The user's own workspace settings (services/preferences.py), all off by default.
    # Enter makes a new line and Ctrl+Enter sends (the other way round from the default).
    enter_makes_newline: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A browser notification (only the case reference) and a short sound for a new citizen
    # message or a case handed to me, while the tab is hidden or another case is open.
    notifications: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    notification_sound: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    @property
    def is_teamleader(self) -> bool:
        return self.role == Role.TEAMLEIDER


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        # At most one open case per conversation, enforced by the database so that
        # two concurrent requests from the bot cannot create duplicates.
        Index(
            "uq_cases_open_conversation",
            "channel",
            "sender_id",
            unique=True,
            sqlite_where=text("status != 'afgerond'"),
            postgresql_where=text("status != 'afgerond'"),
        ),
        Index("ix_cases_queue", "status", "team", "urgent", "created_at"),
        # Erasure finds every case of a conversation; retention the long-closed ones.
        Index("ix_cases_conversation", "channel", "sender_id"),
        Index("ix_cases_closed_at", "closed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    channel: Mapped[Channel] = mapped_column(stored_as_value(Channel))
    sender_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[Kind] = mapped_column(stored_as_value(Kind))
    status: Mapped[Status] = mapped_column(stored_as_value(Status), default=Status.WAITING)
    team: Mapped[str] = mapped_column(String(64))

    topic: Mapped[str | None] = mapped_column(String(128))
    organisations: Mapped[list[str]] = mapped_column(default=list)
    question_type: Mapped[int | None] = mapped_column(Integer)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    life_event: Mapped[str | None] = mapped_column(String(128))
    summary_text: Mapped[str | None] = mapped_column(Text)
    self_service: Mapped[str | None] = mapped_column(Text)

    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_at: Mapped[dt.datetime | None]
    # Organisations the citizen agreed the casemanager may involve; None = not asked per organisation.
    consent_organisations: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    # The citizen agreed that the closed contact is registered in the municipality's customer-contact
    # registry (Open Klant): topic, summary without personal data, casemanager, follow-up (migration 0010).
    consent_registration: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The conversation language (ISO 639-1, languages.py); None: an older bot, Dutch.
    language: Mapped[str | None] = mapped_column(String(8))
    contact_phone: Mapped[str | None] = mapped_column(String(64))
    contact_email: Mapped[str | None] = mapped_column(String(255))
    contact_moment: Mapped[str | None] = mapped_column(String(255))

    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_at: Mapped[dt.datetime | None]
    # The newest message the casemanager handling the case has read (the live inbox's unread
    # count); None: nothing read since the claim (migration 0006).
    read_message_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]
    outcome: Mapped[str | None] = mapped_column(Text)
    # What became of the question, chosen at closing (services/search.OUTCOME_LABELS; migration 0008).
    outcome_label: Mapped[str | None] = mapped_column(String(32))
    # The citizen's answer to the satisfaction question after closing (1-5, optional words, only
    # their copy without personal data; services/satisfaction.py, migration 0009).
    satisfaction_score: Mapped[int | None] = mapped_column(Integer)
    satisfaction_text: Mapped[str | None] = mapped_column(Text)
    satisfaction_at: Mapped[dt.datetime | None]
    next_steps: Mapped[str | None] = mapped_column(Text)
    # Last position told to the citizen (create answer or wachtrij_update), and when: a
    # position is pushed only when it changed, and at most once per position_push_seconds.
    notified_position: Mapped[int | None] = mapped_column(Integer)
    position_pushed_at: Mapped[dt.datetime | None]
    # Redacted copies, stored when the case closes (redaction.py); what staff see afterwards.
    summary_redacted: Mapped[str | None] = mapped_column(Text)
    self_service_redacted: Mapped[str | None] = mapped_column(Text)
    outcome_redacted: Mapped[str | None] = mapped_column(Text)
    next_steps_redacted: Mapped[str | None] = mapped_column(Text)
    redacted_at: Mapped[dt.datetime | None]
    # When retention replaced the full texts by the redacted ones (retention.py).
    full_text_deleted_at: Mapped[dt.datetime | None]

    claimed_by: Mapped[User | None] = relationship(lazy="raise_on_sql")
    messages: WriteOnlyMapped[Message] = relationship(
        order_by="Message.id", cascade="all, delete-orphan", passive_deletes=True
    )
    history: WriteOnlyMapped[StatusChange] = relationship(
        order_by="StatusChange.id", cascade="all, delete-orphan", passive_deletes=True
    )
    notes: WriteOnlyMapped[Note] = relationship(
        order_by="Note.id", cascade="all, delete-orphan", passive_deletes=True
    )
    follow_ups: WriteOnlyMapped[FollowUp] = relationship(
        order_by="FollowUp.due_date", cascade="all, delete-orphan", passive_deletes=True
    )


class Message(Base):
    __tablename__ = "messages"
    # The bot's outbox resends a message it could not confirm with the same client_id: stored once.
    __table_args__ = (Index("uq_messages_case_client_id", "case_id", "client_id", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    text_redacted: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    client_id: Mapped[str | None] = mapped_column(String(64))  # idempotency key from the bot (migration 0004)


class StatusChange(Base):
    __tablename__ = "status_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[Status | None] = mapped_column(stored_as_value(Status))
    to_status: Mapped[Status] = mapped_column(stored_as_value(Status))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # e.g. "aangemaakt", "geclaimd", "vrijgegeven", "overgedragen aan team zorg"
    action: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    text_redacted: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    # Shown with the note: who wrote it (staff, not the citizen: no personal data of theirs).
    author: Mapped[User] = relationship(lazy="joined", innerjoin=True)


class FollowUp(Base):
    """Nazorg: a check-in task with a due date."""

    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    assignee_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    due_date: Mapped[dt.date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text)
    description_redacted: Mapped[str | None] = mapped_column(Text)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Its interne taak in Open Klant (openklant.py), and whether "verwerkt" was sent (migration 0010).
    internetaak_uuid: Mapped[str | None] = mapped_column(String(36))
    internetaak_verwerkt: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class CannedResponse(Base):
    """A standard text (standaardtekst) a casemanager inserts into a reply and can edit before
    sending; teamleiders manage them (migration 0007, with a few to start from)."""

    __tablename__ = "canned_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(80))
    text: Mapped[str] = mapped_column(Text)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class OutboxStatus(StoredValue):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"
    SUPERSEDED = "superseded"  # an older queue position that a newer one replaced


class OutboxMessage(Base):
    """A call to Rasa that must not be lost; drained in order per conversation."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    channel: Mapped[Channel] = mapped_column(stored_as_value(Channel))
    sender_id: Mapped[str] = mapped_column(String(255), index=True)
    intent: Mapped[str] = mapped_column(String(64))
    entities: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[OutboxStatus] = mapped_column(stored_as_value(OutboxStatus), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # A lease instead of a long transaction: the HTTP call happens outside the DB transaction.
    lease_until: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]


class RegistrationStatus(StoredValue):
    PENDING = "pending"
    REGISTERED = "registered"
    FAILED = "failed"


class OpenKlantRegistration(Base):
    """A closed case to register in Open Klant: a durable outbox row per case (openklant.py).

    One row per case (unique reference: our idempotency key, also Open Klant's referentienummer).
    It holds no texts: the drainer reads the case's redacted copies when it sends, so an erasure
    (cascade) also cancels a registration that was not sent yet. ``needs_sync``: work is left
    (the contact itself, or a follow-up task created or done later)."""

    __tablename__ = "openklant_registrations"
    __table_args__ = (Index("ix_openklant_registrations_due", "needs_sync", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    status: Mapped[RegistrationStatus] = mapped_column(
        stored_as_value(RegistrationStatus), default=RegistrationStatus.PENDING
    )
    needs_sync: Mapped[bool] = mapped_column(Boolean, default=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[dt.datetime | None]
    # A plain reason for staff (no personal data, no token).
    last_error: Mapped[str | None] = mapped_column(String(255))
    klantcontact_uuid: Mapped[str | None] = mapped_column(String(36))
    actor_uuid: Mapped[str | None] = mapped_column(String(36))
    actor_linked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    registered_at: Mapped[dt.datetime | None]


class AppointmentMode(StoredValue):
    """Where the appointment takes place; by phone the casemanager calls the citizen and adds the
    organisation's professional line (a three-way call)."""

    OFFICE = "stadskantoor"
    PHONE = "telefoon"
    VIDEO = "video"


class AppointmentStatus(StoredValue):
    BOOKED = "gepland"
    CANCELLED = "geannuleerd"
    HELD = "gehouden"
    NO_SHOW = "niet_verschenen"


class AppointmentSlot(Base):
    """A moment a casemanager (or anyone of the team, without casemanager) published for
    appointments, optionally for one organisation ("SVB op dinsdag") (migration 0012)."""

    __tablename__ = "appointment_slots"
    __table_args__ = (Index("ix_appointment_slots_team_start", "team", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    mode: Mapped[AppointmentMode] = mapped_column(stored_as_value(AppointmentMode))
    team: Mapped[str] = mapped_column(String(64))
    casemanager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Organisation id (contacts.yml) whose people or professional line join; None: any question.
    organisation: Mapped[str | None] = mapped_column(String(64))
    location: Mapped[str | None] = mapped_column(String(255))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Withdrawn by staff: no longer offered (a booked appointment on it stays until cancelled).
    withdrawn_at: Mapped[dt.datetime | None]

    casemanager: Mapped[User | None] = relationship(foreign_keys=[casemanager_id], lazy="joined")


class Appointment(Base):
    """A citizen's booking of a slot, from a conversation (channel, sender_id) and usually the
    case of its intake. The checklist of the appointment itself keeps only yes/no answers, the
    type of identity document (never its number), and the outcome per organisation."""

    __tablename__ = "appointments"
    __table_args__ = (
        # Never two citizens in one slot, enforced by the database: a second booking of a slot
        # that is not cancelled fails on insert, also from another service instance.
        Index(
            "uq_appointments_slot_taken",
            "slot_id",
            unique=True,
            sqlite_where=text("status != 'geannuleerd'"),
            postgresql_where=text("status != 'geannuleerd'"),
        ),
        Index("ix_appointments_conversation", "channel", "sender_id"),
        Index("ix_appointments_reminder", "status", "reminder_sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("appointment_slots.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    channel: Mapped[Channel] = mapped_column(stored_as_value(Channel))
    sender_id: Mapped[str] = mapped_column(String(255))
    status: Mapped[AppointmentStatus] = mapped_column(
        stored_as_value(AppointmentStatus), default=AppointmentStatus.BOOKED
    )
    organisations: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[dt.datetime | None]
    # Raised by every move and the cancellation: the calendar file's SEQUENCE, so a calendar that
    # imported an earlier file takes the newer one as its update (RFC 5545, 3.8.7.4).
    revision: Mapped[int] = mapped_column(default=0, server_default="0")
    # Set in the transaction that queues the reminder: it is queued once, whichever instance runs.
    reminder_sent_at: Mapped[dt.datetime | None]
    identity_checked: Mapped[bool | None] = mapped_column(Boolean)
    identity_document: Mapped[str | None] = mapped_column(String(32))
    citizen_present: Mapped[bool | None] = mapped_column(Boolean)
    # organisation id -> what was agreed with them (the casemanager's words).
    outcomes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    checked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    checked_at: Mapped[dt.datetime | None]

    slot: Mapped[AppointmentSlot] = relationship(lazy="joined", innerjoin=True)


class AuditAction(StoredValue):
    VIEWED = "viewed"
    CLAIMED = "claimed"
    EXPORTED = "exported"
    ERASED = "erased"
    REDACTED = "redacted"
    RETENTION = "retention"
    NOTE = "note"
    FOLLOW_UP = "follow_up"
    OVERRIDE = "override"  # a teamleider acting on another team's or a colleague's case
    TRANSFERRED = "transferred"  # handed to a colleague or another team's queue
    RELEASED = "released"  # put back in the queue by whoever handled it, or by a teamleider
    CORRECTED = "corrected"  # topic or organisations of the intake corrected by the casemanager
    OPENKLANT = "openklant"  # a failed registration in Open Klant tried again (openklant.py)
    APPOINTMENT = "appointment"  # booked, changed, cancelled, checklist, no-show (no migration: VARCHAR)


class AuditEntry(Base):
    """Who viewed, claimed, annotated, exported or erased a case. No foreign key to the case: the
    reference string survives erasure and retention. Detail never holds personal data."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_reference_at", "reference", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    # None: the system, the bot or the citizen (see actor).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[AuditAction] = mapped_column(stored_as_value(AuditAction))
    reference: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(255))


class StaffSession(Base):
    """Server-side login session; the cookie holds a random token, the table its hash."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    # Last request of this session: it ends after HANDOVER_SESSION_IDLE_MINUTES without one.
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(lazy="joined")


class InsightCount(Base):
    """One figure of the insight dashboard: how many conversations (or messages) of one day had
    ``measure`` = ``value`` (insight/). No text, no sender id: only the day, a name and a count."""

    __tablename__ = "insight_counts"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    measure: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(64), primary_key=True)  # "" when the measure has none
    count: Mapped[int] = mapped_column(Integer, default=0)


class InsightConversation(Base):
    """A conversation of today while it is being counted, under a keyed hash of its sender id
    (the key changes every day and is deleted with these rows when the day is over)."""

    __tablename__ = "insight_conversations"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    conversation: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_event_at: Mapped[dt.datetime]
    # What was counted for it already ("onderwerp:digid"), so each conversation counts once.
    marks: Mapped[list[str]] = mapped_column(default=list)
    node: Mapped[str | None] = mapped_column(String(64))  # the stroomschema node it is at now
    misunderstood: Mapped[int] = mapped_column(Integer, default=0)  # the slot misverstanden
    language: Mapped[str] = mapped_column(String(8), default="nl")  # the slot taal; Dutch unless set
    # "afgebroken:<node>" / "opgelost" / "overgedragen" once counted as ended (idle); None: ongoing.
    ended_as: Mapped[str | None] = mapped_column(String(80))


class InsightKey(Base):
    """The key of one day's conversation hashes; deleted when the day is over."""

    __tablename__ = "insight_keys"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    key: Mapped[str] = mapped_column(String(64))


class InsightMessage(Base):
    """A RabbitMQ message already counted, as a keyed hash of its body under its day's key
    (insight_keys), written in the transaction of its counts: a redelivery after a crash between
    that commit and the acknowledgement is recognised and not counted again. Deleted with the
    day's key when the day is over."""

    __tablename__ = "insight_messages"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)


class InsightCursor(Base):
    """The id of the last event read from Rasa's SQL event broker (rows up to it are deleted)."""

    __tablename__ = "insight_cursor"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer, default=0)
