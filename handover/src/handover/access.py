"""Who sees what: the full text of a case, or the copy without personal data.

A casemanager sees the full text only while the case is open to them: waiting in the queue
of their team (a casemanager without teams works every queue), or claimed by them. A case
claimed by someone else, or closed, shows the redacted text, to team leaders too. The one
exception is an explicit, audited export (``export_full_text``).

``redaction_reason`` is the single rule; the case page, its JSON twin, the export and the
WebSocket pushes (realtime.py) all go through it.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from .models import Case, Status, User
from .redaction import Redactor
from .services.case_notes import follow_ups, notes
from .services.cases import transcript
from .services.errors import ExportNotAllowed
from .services.permissions import works_in
from .staff_names import STAFF_MESSAGE_ROLES, staff_names


class Reason(str, enum.Enum):
    """Why a viewer gets the redacted text (rendered in Dutch by the templates)."""

    CLOSED = "afgerond"
    OTHER_OWNER = "collega"
    OTHER_TEAM = "ander_team"


@dataclass(frozen=True)
class Viewer:
    user_id: int
    teams: tuple[str, ...] = ()
    is_teamleader: bool = False

    @classmethod
    def of(cls, user: User) -> Viewer:
        return cls(user_id=user.id, teams=tuple(user.teams or ()), is_teamleader=user.is_teamleader)


@dataclass(frozen=True)
class CaseState:
    """What the rule needs to know about a case; also travels in WebSocket message events."""

    status: Status
    team: str
    claimed_by_id: int | None

    @classmethod
    def of(cls, case: Case) -> CaseState:
        return cls(status=case.status, team=case.team, claimed_by_id=case.claimed_by_id)

    def as_event(self) -> dict[str, Any]:
        return {"status": self.status, "team": self.team, "claimed_by_id": self.claimed_by_id}

    @classmethod
    def from_event(cls, data: Any) -> CaseState | None:
        try:
            return cls(
                status=Status(data["status"]), team=str(data["team"]), claimed_by_id=data["claimed_by_id"]
            )
        except (TypeError, KeyError, ValueError):
            return None


def redaction_reason(viewer: Viewer, state: CaseState) -> Reason | None:
    """None when ``viewer`` may see the full text of a case in ``state``."""
    if state.status == Status.IN_PROGRESS:
        return None if state.claimed_by_id == viewer.user_id else Reason.OTHER_OWNER
    if state.status == Status.WAITING:
        return None if works_in(viewer.teams, state.team) else Reason.OTHER_TEAM
    return Reason.CLOSED


def export_full_text(viewer: Viewer, case: Case) -> bool:
    """Whether an export shows the full text; raises ExportNotAllowed when no export at all.

    Allowed for the casemanager who has the case claimed and for team leaders. A closed case
    (or one whose full text retention removed) is exported redacted, also to team leaders.
    """
    mine = case.status == Status.IN_PROGRESS and case.claimed_by_id == viewer.user_id
    if not (mine or viewer.is_teamleader):
        raise ExportNotAllowed(case.reference)
    return case.status != Status.CLOSED and case.full_text_deleted_at is None


# --- what the page, the JSON and the export show ----------------------------------------


@dataclass(frozen=True)
class MessageView:
    role: str
    text: str
    name: str | None
    created_at: dt.datetime
    id: int = 0


@dataclass(frozen=True)
class NoteView:
    text: str
    author: str
    created_at: dt.datetime


@dataclass(frozen=True)
class FollowUpView:
    id: int
    due_date: dt.date
    description: str
    done: bool


@dataclass(frozen=True)
class CaseView:
    """The texts of a case as one viewer may see them; everything else is on ``Case``."""

    full: bool
    reason: Reason | None
    summary_text: str | None
    self_service: str | None
    outcome: str | None
    next_steps: str | None
    contact_phone: str | None
    contact_email: str | None
    contact_moment: str | None
    messages: list[MessageView]
    notes: list[NoteView]
    follow_ups: list[FollowUpView]

    def as_json(self) -> dict[str, Any]:
        return {
            "full_text": self.full,
            "redaction_reason": self.reason.value if self.reason else None,
            "summary_text": self.summary_text,
            "self_service": self.self_service,
            "outcome": self.outcome,
            "next_steps": self.next_steps,
            "contact": {
                "phone": self.contact_phone,
                "email": self.contact_email,
                "moment": self.contact_moment,
            },
            "messages": [
                {"role": m.role, "text": m.text, "name": m.name, "timestamp": m.created_at.isoformat()}
                for m in self.messages
            ],
            "notes": [
                {"text": n.text, "author": n.author, "timestamp": n.created_at.isoformat()}
                for n in self.notes
            ],
            "follow_ups": [
                {"id": f.id, "due_date": f.due_date.isoformat(), "description": f.description, "done": f.done}
                for f in self.follow_ups
            ],
        }


async def _choose(
    pairs: Sequence[tuple[str | None, str | None]],
    full: bool,
    redactor: Redactor,
    *,
    keep: Collection[str] = (),
    staff_texts: Collection[int] = (),
) -> list[str | None]:
    """Per text: the full one, or the stored redacted copy, or (open cases) a fresh redaction."""
    if full:
        return [text for text, _ in pairs]
    missing = [i for i, (text, stored) in enumerate(pairs) if text and stored is None]
    staff = [n for n, i in enumerate(missing) if i in staff_texts]
    fresh = (
        await redactor.aredact_texts([pairs[i][0] for i in missing], keep=keep, staff_texts=staff)
        if missing
        else []
    )
    chosen = [stored for _, stored in pairs]
    for i, text in zip(missing, fresh, strict=True):
        chosen[i] = text
    return chosen


async def case_view(
    session: AsyncSession, case: Case, *, reason: Reason | None, redactor: Redactor
) -> CaseView:
    """Build the view: full texts when ``reason`` is None, else the redacted copies."""
    full = reason is None
    messages = await transcript(session, case)
    note_rows = await notes(session, case)
    tasks = await follow_ups(session, case)
    pairs: list[tuple[str | None, str | None]] = [
        (case.summary_text, case.summary_redacted),
        (case.self_service, case.self_service_redacted),
        (case.outcome, case.outcome_redacted),
        (case.next_steps, case.next_steps_redacted),
        *((m.text, m.text_redacted) for m in messages),
        *((n.text, n.text_redacted) for n in note_rows),
        *((f.description, f.description_redacted) for f in tasks),
    ]
    staff_texts = {2, 3} | {4 + i for i, m in enumerate(messages) if m.role in STAFF_MESSAGE_ROLES}
    staff_texts |= set(range(4 + len(messages), len(pairs)))
    keep = await staff_names(session) if not full else set()
    texts = await _choose(pairs, full, redactor, keep=keep, staff_texts=staff_texts)
    head, rest = texts[:4], iter(texts[4:])
    return CaseView(
        full=full,
        reason=reason,
        summary_text=head[0],
        self_service=head[1],
        outcome=head[2],
        next_steps=head[3],
        # Contact details only for whoever handles the case (they are deleted at closing).
        contact_phone=case.contact_phone if full else None,
        contact_email=case.contact_email if full else None,
        contact_moment=case.contact_moment if full else None,
        messages=[MessageView(m.role, next(rest) or "", m.name, m.created_at, m.id) for m in messages],
        notes=[NoteView(next(rest) or "", n.author.display_name, n.created_at) for n in note_rows],
        follow_ups=[FollowUpView(f.id, f.due_date, next(rest) or "", f.done) for f in tasks],
    )


def has_hidden_contact(case: Case, view: CaseView) -> bool:
    return not view.full and bool(case.contact_phone or case.contact_email or case.contact_moment)


def message_payloads(
    redactor: Redactor,
) -> Callable[[dict[str, Any], list[Any]], Awaitable[list[dict[str, Any]]]]:
    """The per-viewer payloads of a WebSocket message event (realtime.Hub)."""

    async def payloads(event: dict[str, Any], viewers: list[Any]) -> list[dict[str, Any]]:
        state = CaseState.from_event(event.get("access"))
        base = {k: v for k, v in event.items() if k != "access"}
        redacted: dict[str, Any] | None = None
        out = []
        for viewer in viewers:
            if isinstance(viewer, Viewer) and state is not None and redaction_reason(viewer, state) is None:
                out.append(base)
                continue
            if redacted is None:  # at most once per event, and only when someone needs it
                # A casemanager's own name stays readable in their message.
                by_staff = base.get("role") in STAFF_MESSAGE_ROLES and base.get("name")
                text = (
                    await redactor.aredact_texts(
                        [str(base.get("text") or "")],
                        keep=[str(base["name"])] if by_staff else (),
                        staff_texts=[0] if by_staff else (),
                    )
                )[0]
                redacted = base | {"text": text, "redacted": True}
            out.append(redacted)
        return out

    return payloads


def may_export(viewer: Viewer, case: Case) -> bool:
    try:
        export_full_text(viewer, case)
    except ExportNotAllowed:
        return False
    return True


def describe(reason: Reason | None) -> str:
    """For audit details: which version was shown (no personal data)."""
    return "volledige tekst" if reason is None else f"tekst zonder persoonsgegevens ({reason.value})"
