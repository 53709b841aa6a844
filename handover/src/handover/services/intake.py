"""The casemanager corrects what the bot read from the citizen: the topic and the organisations.

Audited (who, from what to what: ids only, no personal data) and in the status history; the
professional lines follow the organisations. The citizen's consent per organisation stays as
the citizen gave it: an organisation added here that the citizen did not agree to is shown as
"mag niet betrokken worden", without its lines.

A corrected topic that belongs to another team (teams.yml: ``TeamMapping.team_of_topic``) moves
the case to that team. The case is in progress, so someone handles it:

- the handler works in the new team (or in every team, as a teamleider does): they keep the
  case, it now counts for the new team (overview, search, statistics);
- otherwise it goes, unclaimed, to the new team's queue (as a transfer to a team): a casemanager
  must not keep a case of a team whose work they do not do, and the citizen gets their new
  place in the queue. The form says so beforehand, and the answer says what happened.

Both are audited, and the receiving team's open pages get a live signal.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from .. import audit
from ..labels import organisation_of_topic
from ..models import AuditAction, Case, Status, User
from ..teams import TeamMapping
from ..uow import UnitOfWork
from .cases import get_case, record_status_change
from .errors import InvalidInput
from .permissions import require_owner, works_in
from .queue import into_team_queue


@dataclass(frozen=True)
class IntakeCorrection:
    """What a correction did."""

    changes: list[str] = field(default_factory=list)  # in Dutch, ids only; empty: nothing changed
    moved_to: str | None = None  # the team the case moved to, if it did
    handed_back: bool = False  # the handler does not work in that team: the case is in its queue
    handler: User | None = None  # who handled the case before the correction


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
    teams: TeamMapping,
) -> IntakeCorrection:
    """Set the topic and organisations of a case in progress; returns what changed.

    A new topic owned by an organisation ("cjib.betalingsregeling") adds that organisation. A
    new topic of another team moves the case there (the module's docstring says how).
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
        return IntakeCorrection()
    new_team = teams.team_of_topic(new_topic) if new_topic != case.topic else None
    moves = new_team is not None and new_team != case.team
    old_team = case.team
    if moves:
        changes.append(f"team {old_team} → {new_team}")
    handler = await uow.session.get(User, case.claimed_by_id) if case.claimed_by_id else None
    case.topic = new_topic
    case.organisations = orgs
    summary = "; ".join(changes)
    record_status_change(
        uow, case, Status.IN_PROGRESS, Status.IN_PROGRESS, user, f"intake aangepast: {summary}"[:128]
    )
    audit.record(uow.session, AuditAction.CORRECTED, reference=case.reference, user=user, detail=summary)
    handed_back = False
    if moves:
        assert new_team is not None
        if handler is not None and not works_in(handler.teams, new_team):
            # Unclaimed into the new team's queue: audited as a transfer, "case_new" to the team.
            into_team_queue(
                uow, case, user, new_team, why=f"naar team {new_team}: onderwerp aangepast", cause="onderwerp"
            )
            handed_back = True
        else:
            case.team = new_team
            uow.queue_changed(old_team)  # the overview and queue pages of both teams look again
            uow.queue_changed(new_team)
    uow.publish(
        {
            "type": "case_updated",
            "reference": case.reference,
            "team": case.team,
            "change": "intake",
            "by_id": user.id,
        }
        | ({"old_team": old_team, "handler_id": case.claimed_by_id} if moves and not handed_back else {})
    )
    return IntakeCorrection(changes, new_team if moves else None, handed_back, handler)
