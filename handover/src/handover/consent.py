"""Which organisations of a case the workspace shows: only those the citizen agreed to.

The bot sends the organisations of the intake (``organisations``) and, when it asked per
organisation, those the citizen agreed the casemanager may involve (``consent_organisations``;
None: not asked per organisation). An organisation the citizen agreed to that the summary did
not list still counts as named (a life event can name organisations the topic does not).
"""

from __future__ import annotations

from .models import Case


def named_organisations(case: Case) -> list[str]:
    """The organisations of the intake, then those agreed to that the intake did not list."""
    named = list(case.organisations or ())
    seen = {org.lower() for org in named}
    for org in case.consent_organisations or ():
        if org.lower() not in seen:
            named.append(org)
            seen.add(org.lower())
    return named


def consented_organisations(case: Case) -> list[str]:
    """What queue, case and professional lines show: every named organisation when the citizen was
    not asked per organisation, else only those they agreed to."""
    if case.consent_organisations is None or not case.consent:
        return list(case.organisations or ())
    agreed = {org.lower() for org in case.consent_organisations}
    return [org for org in named_organisations(case) if org.lower() in agreed]
