"""Workspace routes for privacy: export of a case, erasure by reference, the audit log.

Thin handlers: the rules live in access.py (who sees what), erasure.py and audit.py.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from .. import access, audit, erasure, services
from ..access import CaseView
from ..auth import Staff, require_role, require_staff
from ..keys import redactor_key, settings_key, teams_key
from ..models import AuditAction, Case, Kind, Role, utcnow
from ..workflow import transaction
from .http_errors import raise_error_page

routes = web.RouteTableDef()

_ROLE_LABEL = {"citizen": "Inwoner", "bot": "Chatbot"}


# --- export -------------------------------------------------------------------------------


def render_export(case: Case, view: CaseView, *, by: str, timezone: str) -> str:
    """The case as a plain-text file (Dutch headings, one line per message)."""
    zone = ZoneInfo(timezone)

    def when(value: dt.datetime | None) -> str:
        return value.astimezone(zone).strftime("%d-%m-%Y %H:%M") if value else "–"

    lines = [
        f"Zaak {case.reference}",
        f"Gedownload op {when(utcnow())} door {by}",
        "Tekst: " + ("volledig" if view.full else "zonder persoonsgegevens"),
        "",
        f"Status: {case.status.replace('_', ' ')}",
        f"Team: {case.team}",
        "Soort: " + ("live chat" if case.kind == Kind.CHAT else "terugbelverzoek") + f" via {case.channel}",
        f"Onderwerp: {case.topic or '–'}",
        f"Organisaties: {', '.join(case.organisations) or '–'}",
        f"Vraagtype: {case.question_type or '–'}",
        f"Urgent: {'ja' if case.urgent else 'nee'}",
        f"Levensgebeurtenis: {case.life_event or '–'}",
        "Toestemming doorsturen gesprek: "
        + (f"gegeven op {when(case.consent_at)}" if case.consent else "nee (gesprek niet doorgestuurd)"),
    ]
    if case.consent_organisations is not None:
        agreed = {org.lower() for org in case.consent_organisations}
        lines += [
            f"  {org}: {'mag wel' if org.lower() in agreed else 'mag niet'} betrokken worden"
            for org in case.organisations
        ]
    if view.contact_phone or view.contact_email or view.contact_moment:
        lines += [
            f"Telefoon: {view.contact_phone or '–'}",
            f"E-mail: {view.contact_email or '–'}",
            f"Moment: {view.contact_moment or '–'}",
        ]
    lines += [
        "",
        "In eigen woorden:",
        view.summary_text or "–",
        "",
        "Wil zelf doen:",
        view.self_service or "–",
    ]
    lines += ["", "Gesprek:"]
    lines += [
        f"{when(m.created_at)} {_ROLE_LABEL.get(m.role) or m.name or 'Medewerker'}: {m.text}"
        for m in view.messages
    ] or ["–"]
    lines += ["", "Notities:"] + ([f"{when(n.created_at)} {n.author}: {n.text}" for n in view.notes] or ["–"])
    lines += ["", "Nazorg:"] + (
        [
            f"{f.due_date.strftime('%d-%m-%Y')} {f.description}{' (gereed)' if f.done else ''}"
            for f in view.follow_ups
        ]
        or ["–"]
    )
    if case.closed_at:
        lines += ["", f"Afgerond op {when(case.closed_at)}", f"Uitkomst: {view.outcome or '–'}"]
        lines += [f"Afspraken: {view.next_steps or '–'}"]
    return "\n".join(lines) + "\n"


@routes.get("/zaken/{reference}/export", name="case_export")
@require_staff
async def export_case(request: web.Request, staff: Staff) -> web.Response:
    """Download for the casemanager who has the case, or a team leader; always audited."""
    viewer = access.Viewer.of(staff.user)
    async with transaction(request) as uow:
        try:
            case = await services.get_case(uow.session, request.match_info["reference"])
            full = access.export_full_text(viewer, case)
        except (services.CaseNotFound, services.ExportNotAllowed) as e:
            raise_error_page(e)
        reason = None if full else access.Reason.CLOSED
        view = await access.case_view(uow.session, case, reason=reason, redactor=request.app[redactor_key])
        audit.record(
            uow.session,
            AuditAction.EXPORTED,
            reference=case.reference,
            user=staff.user,
            detail=access.describe(reason),
        )
    body = render_export(
        case, view, by=staff.user.username, timezone=request.app[settings_key].office_hours.timezone
    )
    return web.Response(
        text=body,
        content_type="text/plain",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="zaak-{case.reference}.txt"',
            "Cache-Control": "no-store",
        },
    )


# --- erasure by reference -------------------------------------------------------------


@routes.get("/zaken/{reference}/verwijderen", name="case_erase_confirm")
@require_role(Role.TEAMLEIDER)
async def erase_confirm(request: web.Request, staff: Staff) -> web.Response:
    try:
        async with transaction(request) as uow:
            case = await services.get_case(uow.session, request.match_info["reference"])
    except services.CaseNotFound as e:
        raise_error_page(e)
    return aiohttp_jinja2.render_template(
        "verwijderen.html",
        request,
        {
            "user": staff.user,
            "csrf_token": staff.csrf_token,
            "case": case,
            "tracker_configured": bool(request.app[settings_key].tracker_db_url),
            "melding": request.query.get("melding"),
            "teams": request.app[teams_key],
        },
    )


@routes.post("/zaken/{reference}/verwijderen", name="case_erase")
@require_role(Role.TEAMLEIDER)
async def erase_case(request: web.Request, staff: Staff) -> web.Response:
    reference = request.match_info["reference"].upper()
    form = await request.post()
    if form.get("bevestig") != reference:
        # The confirmation step: the team leader types the reference.
        raise web.HTTPFound(
            location=request.app.router["case_erase_confirm"]
            .url_for(reference=reference)
            .with_query(melding="Typ het kenmerk over om te bevestigen.")
        )
    result, error, status = None, None, 200
    try:
        result = await erasure.erase_by_reference(
            reference,
            transaction=lambda: transaction(request),
            tracker_db_url=request.app[settings_key].tracker_db_url,
            user=staff.user,
        )
    except services.CaseNotFound as e:
        raise_error_page(e)
    except erasure.TrackerEraseFailed as e:
        error, status = str(e), 502
    context = {
        "user": staff.user, "csrf_token": staff.csrf_token, "reference": reference,
        "result": result, "error": error,
    }
    return aiohttp_jinja2.render_template("verwijderd.html", request, context, status=status)


# --- audit log ----------------------------------------------------------------------------


@routes.get("/audit", name="audit")
@require_role(Role.TEAMLEIDER)
async def audit_page(request: web.Request, staff: Staff) -> web.Response:
    reference = request.query.get("referentie", "").strip().upper() or None
    async with transaction(request) as uow:
        entries = await audit.latest(uow.session, reference=reference)
    return aiohttp_jinja2.render_template(
        "audit.html",
        request,
        {
            "user": staff.user,
            "csrf_token": staff.csrf_token,
            "entries": entries,
            "reference": reference or "",
        },
    )
