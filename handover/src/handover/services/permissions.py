"""Who may act on a case: one rule for claim, claim-next, notes, follow-up tasks, messages,
unclaim, transfer and close."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from .. import audit
from ..models import AuditAction, Case, Status, User
from .errors import InvalidTransition, NotClaimedByYou, NotYourTeam


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
    in is the caller's check (``require_owner``, ``queue.claim``).
    """
    if overrides := _overrides(case, user):
        detail = f"als teamleider: {action} ({', '.join(overrides)})"
        audit.record(session, AuditAction.OVERRIDE, reference=case.reference, user=user, detail=detail)


def may_handle(case: Case, user: User) -> bool:
    """Whether the case page offers ``user`` the actions on a case in progress."""
    if case.status != Status.IN_PROGRESS:
        return False
    try:
        _overrides(case, user)
    except (NotYourTeam, NotClaimedByYou):
        return False
    return True


def require_owner(session: AsyncSession, case: Case, user: User, action: str) -> None:
    """Actions on a case in progress: by whoever claimed it, or a teamleider (``authorize``)."""
    if case.status != Status.IN_PROGRESS:
        raise InvalidTransition(case.reference, case.status, action)
    authorize(session, case, user, action)
