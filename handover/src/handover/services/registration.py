"""Registration of a closed case in Open Klant (the municipality's customer-contact registry):
queued in the same transaction as the change that causes it; openklant.py sends it.

Only with the citizen's consent for exactly this (``Case.consent_registration``, a question of its
own in the consent flow): consent to the handover alone does not cover a registration that other
municipal staff can see later.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import audit
from ..models import AuditAction, Case, OpenKlantRegistration, RegistrationStatus, User, utcnow
from ..uow import UnitOfWork
from .errors import CaseNotFound, InvalidInput, NotClaimedByYou


def enqueue_registration(uow: UnitOfWork, case: Case) -> bool:
    """Queue the registration of the closed ``case``; False (nothing queued) without consent."""
    if not case.consent_registration:
        return False
    uow.session.add(OpenKlantRegistration(case_id=case.id, reference=case.reference, needs_sync=True))
    uow.effects.openklant = True
    return True


async def registration_changed(uow: UnitOfWork, case_id: int) -> None:
    """A follow-up task of a registered case changed (done): the drainer brings Open Klant up to date."""
    row = await uow.session.scalar(
        select(OpenKlantRegistration).where(OpenKlantRegistration.case_id == case_id).with_for_update()
    )
    if row is None:
        return
    row.needs_sync = True
    row.attempts = 0
    row.next_attempt_at = utcnow()
    uow.effects.openklant = True


async def registration_of(session: AsyncSession, case: Case) -> OpenKlantRegistration | None:
    """The case's registration, for the case page (None: not queued)."""
    row: OpenKlantRegistration | None = await session.scalar(
        select(OpenKlantRegistration).where(OpenKlantRegistration.case_id == case.id)
    )
    return row


async def retry_registration(uow: UnitOfWork, reference: str, user: User) -> None:
    """Try a failed registration again (after the token or Open Klant was fixed): by whoever closed
    the case, or a teamleider."""
    case = await uow.session.scalar(select(Case).where(Case.reference == reference.upper()))
    if case is None:
        raise CaseNotFound(reference)
    if case.claimed_by_id != user.id and not user.is_teamleader:
        raise NotClaimedByYou(case.reference)
    row = await registration_of(uow.session, case)
    if row is None or row.status != RegistrationStatus.FAILED:
        raise InvalidInput("Alleen een mislukte registratie kan opnieuw worden geprobeerd")
    row.status = RegistrationStatus.PENDING
    row.needs_sync = True
    row.attempts = 0
    row.next_attempt_at = utcnow()
    audit.record(
        uow.session,
        AuditAction.OPENKLANT,
        reference=case.reference,
        user=user,
        detail="registratie in Open Klant opnieuw geprobeerd",
    )
    uow.effects.openklant = True
