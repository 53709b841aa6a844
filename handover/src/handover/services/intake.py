"""The casemanager corrects what the bot read from the citizen: the topic and the organisations.

Audited (who, from what to what: ids only, no personal data) and in the status history; the
professional lines follow the organisations. The citizen's consent per organisation stays as
the citizen gave it: an organisation added here that the citizen did not agree to is shown as
"mag niet betrokken worden", without its lines.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from .. import audit
from ..labels import organisation_of_topic
from ..models import AuditAction, Case, Status, User
from ..uow import UnitOfWork
from .cases import get_case, record_status_change
from .errors import InvalidInput
from .permissions import require_owner


def _ids(values: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for value in values:
        value = value.strip().lower()
        if value and value not in seen:
            seen.append(value)
    return seen


async def correct_intake(
    uow: UnitOfWork,
    reference: str,
    user: User,
    *,
    topic: str,
    organisations: Iterable[str],
    known_topics: Collection[str],
    known_organisations: Collection[str],
) -> list[str]:
    """Set the topic and organisations of a case in progress; returns what changed (in Dutch).

    A new topic owned by an organisation ("cjib.betalingsregeling") adds that organisation.
    """
    case: Case = await get_case(uow.session, reference, for_update=True)
    require_owner(uow.session, case, user, "intake aanpassen")
    new_topic = topic.strip() or None
    if new_topic != case.topic and new_topic is not None and new_topic not in known_topics:
        raise InvalidInput(f"Onbekend onderwerp {new_topic!r}")
    current = [org.lower() for org in case.organisations]
    orgs = _ids(organisations)
    if unknown := [org for org in orgs if org not in known_organisations and org not in current]:
        raise InvalidInput(f"Onbekende organisatie {unknown[0]!r}")
    owner = organisation_of_topic(new_topic)
    if new_topic != case.topic and owner in known_organisations and owner not in orgs:
        orgs.append(str(owner))
    changes = []
    if new_topic != case.topic:
        changes.append(f"onderwerp {case.topic or '–'} → {new_topic or '–'}")
    if orgs != current:
        changes.append(f"organisaties {', '.join(current) or '–'} → {', '.join(orgs) or '–'}")
    if not changes:
        return []
    case.topic = new_topic
    case.organisations = orgs
    summary = "; ".join(changes)
    record_status_change(
        uow, case, Status.IN_PROGRESS, Status.IN_PROGRESS, user, f"intake aangepast: {summary}"[:128]
    )
    audit.record(uow.session, AuditAction.CORRECTED, reference=case.reference, user=user, detail=summary)
    uow.publish(
        {
            "type": "case_updated",
            "reference": case.reference,
            "team": case.team,
            "change": "intake",
            "by_id": user.id,
        }
    )
    return changes
