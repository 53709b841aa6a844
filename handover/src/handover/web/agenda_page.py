"""The agenda (per casemanager and per team, today or this week), publishing and withdrawing
slots, and the appointment page with its checklist, the no-show mark and the calendar file."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiDictProxy

from .. import access, audit
from ..auth import Staff, read_form, require_staff
from ..ics import appointment_ics
from ..keys import directory_key, redactor_key, settings_key, teams_key
from ..models import AppointmentMode, AppointmentStatus, Case, User, utcnow
from ..services import appointments as service
from ..services.errors import DomainError, InvalidInput, NotYourTeam
from ..settings import Settings
from ..workflow import transaction
from .http_errors import raise_error_page, raise_for_form
from .queue_page import path_id
from .responses import flash_redirect

routes = web.RouteTableDef()
AGENDA = "/agenda"

MODE_LABELS = {
    AppointmentMode.OFFICE: "Stadskantoor",
    AppointmentMode.PHONE: "Telefoon (met de professionele lijn erbij)",
    AppointmentMode.VIDEO: "Video",
}
STATUS_LABELS = {
    AppointmentStatus.BOOKED: "Gepland",
    AppointmentStatus.CANCELLED: "Afgezegd",
    AppointmentStatus.HELD: "Gehouden",
    AppointmentStatus.NO_SHOW: "Niet verschenen",
}


def calendar_of(settings: Settings) -> service.Calendar:
    return service.Calendar(settings.office_hours, settings.holidays)


def _period(settings: Settings, period: str, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Today, or the coming week: today and the six days after it (local time), so that on a
    Friday the next Monday's appointments are in view."""
    zone = ZoneInfo(settings.office_hours.timezone)
    today = now.astimezone(zone).date()
    days = 7 if period == "week" else 1
    start = dt.datetime.combine(today, dt.time(0), tzinfo=zone)
    return start, start + dt.timedelta(days=days)


@routes.get(AGENDA, name="agenda")
@require_staff
async def agenda_page(request: web.Request, staff: Staff) -> web.Response:
    settings = request.app[settings_key]
    teams = request.app[teams_key]
    period = "week" if request.query.get("periode") == "week" else "vandaag"
    team = request.query.get("team", "")
    # A casemanager sees their own teams' agendas (one without teams: every team), a teamleider all.
    own_teams = (
        list(teams.teams) if staff.user.is_teamleader else list(staff.user.teams or ()) or list(teams.teams)
    )
    if team and team not in own_teams:
        team = ""
    now = utcnow()
    start, end = _period(settings, period, now)
    async with transaction(request) as uow:
        if team:
            rows = await service.agenda(uow.session, start=start, end=end, teams=[team])
        else:
            rows = await service.agenda(uow.session, start=start, end=end, casemanager=staff.user)
    return aiohttp_jinja2.render_template(
        "agenda.html",
        request,
        {
            "user": staff.user,
            "csrf_token": staff.csrf_token,
            "melding": request.query.get("melding"),
            "rows": rows,
            "period": period,
            "team": team,
            "team_choices": [(t, teams.label(t)) for t in own_teams],
            "all_teams": teams,
            "now": now,
            "modes": MODE_LABELS,
            "status_labels": STATUS_LABELS,
            "organisations": sorted(
                request.app[directory_key].organisations.values(), key=lambda o: o.name.lower()
            ),
            "timezone": settings.office_hours.timezone,
            "moment": lambda when: service.describe_moment(when, settings.office_hours.timezone),
            "directory": request.app[directory_key],
        },
    )


def _new_slot(form: MultiDictProxy[Any], user: User, timezone: str) -> service.NewSlot:
    try:
        day = dt.date.fromisoformat(str(form.get("datum", "")))
        time = dt.time.fromisoformat(str(form.get("tijd", "")))
        minutes = int(str(form.get("minuten", "")))
    except ValueError as e:
        raise InvalidInput("Vul een geldige datum (jjjj-mm-dd), tijd (uu:mm) en duur in") from e
    who = str(form.get("voor", "mij"))
    return service.NewSlot(
        starts_at=dt.datetime.combine(day, time, tzinfo=ZoneInfo(timezone)),
        minutes=minutes,
        mode=str(form.get("soort", "")),
        team=str(form.get("team", "")),
        casemanager=user.username if who == "mij" else None,
        organisation=str(form.get("organisatie", "")) or None,
        location=str(form.get("plaats", "")) or None,
    )


@routes.post(AGENDA + "/tijdsloten", name="agenda_publish")
@require_staff
async def publish(request: web.Request, staff: Staff) -> web.Response:
    settings = request.app[settings_key]
    form = await read_form(request)
    try:
        new = _new_slot(form, staff.user, settings.office_hours.timezone)
        async with transaction(request) as uow:
            await service.publish_slot(
                uow,
                staff.user,
                new,
                calendar=calendar_of(settings),
                teams=request.app[teams_key].teams,
                organisations=request.app[directory_key].organisations,
            )
    except DomainError as e:
        raise_for_form(request, e, AGENDA)
    flash_redirect(AGENDA + "?periode=week", "Tijdslot gepubliceerd.")


@routes.post(AGENDA + "/tijdsloten/{slot_id}/intrekken", name="agenda_withdraw")
@require_staff
async def withdraw(request: web.Request, staff: Staff) -> web.Response:
    slot_id = path_id(request, "slot_id")
    try:
        async with transaction(request) as uow:
            await service.withdraw_slot(uow, slot_id, staff.user)
    except DomainError as e:
        raise_for_form(request, e, AGENDA)
    flash_redirect(AGENDA + "?periode=week", "Tijdslot ingetrokken.")


# --- the appointment page ------------------------------------------------------------------


def _appointment_url(reference: str) -> str:
    return f"/afspraken/{reference}"


@routes.get("/afspraken/{reference}", name="appointment")
@require_staff
async def appointment_page(request: web.Request, staff: Staff) -> web.Response:
    settings = request.app[settings_key]
    directory = request.app[directory_key]
    async with transaction(request) as uow:
        try:
            appointment = await service.get_appointment(uow.session, request.match_info["reference"])
            if not service.may_work_on(appointment, staff.user):
                raise NotYourTeam(appointment.slot.team)
        except DomainError as e:
            raise_error_page(e)
        case = await uow.session.get(Case, appointment.case_id) if appointment.case_id else None
        view = None
        if case is not None:
            # The intake as this casemanager may see it: one rule for every view (access.py).
            reason = access.redaction_reason(access.Viewer.of(staff.user), access.CaseState.of(case))
            view = await access.case_view(
                uow.session, case, reason=reason, redactor=request.app[redactor_key]
            )
            detail = "afspraakpagina, " + access.describe(reason)
            await audit.record_view(uow.session, staff.user, case.reference, detail=detail)
        await audit.record_view(uow.session, staff.user, appointment.reference, detail="afspraakpagina")
    return aiohttp_jinja2.render_template(
        "afspraak.html",
        request,
        {
            "user": staff.user,
            "csrf_token": staff.csrf_token,
            "melding": request.query.get("melding"),
            "appointment": appointment,
            "slot": appointment.slot,
            "case": case,
            "view": view,
            "organisations": directory.for_organisations(appointment.organisations),
            "documents": service.IDENTITY_DOCUMENTS,
            "modes": MODE_LABELS,
            "status_labels": STATUS_LABELS,
            "moment": service.describe_moment(appointment.slot.starts_at, settings.office_hours.timezone),
            "started": appointment.slot.starts_at <= utcnow(),
            "cancelled": appointment.status == AppointmentStatus.CANCELLED,
        },
    )


def _yes_no(form: MultiDictProxy[Any], name: str) -> bool | None:
    value = str(form.get(name, ""))
    return {"ja": True, "nee": False}.get(value)


def _checklist(form: MultiDictProxy[Any], organisations: list[str]) -> service.Checklist:
    due_text = str(form.get("nazorg_datum", "")).strip()
    try:
        due = dt.date.fromisoformat(due_text) if due_text else None
    except ValueError as e:
        raise InvalidInput("Vul een geldige datum in (jjjj-mm-dd)") from e
    return service.Checklist(
        identity_checked=_yes_no(form, "identiteit"),
        identity_document=str(form.get("document", "")) or None,
        citizen_present=_yes_no(form, "aanwezig"),
        outcomes={org: str(form.get(f"uitkomst-{org}", "")) for org in organisations},
        follow_up=str(form.get("nazorg", "")),
        follow_up_date=due,
    )


@routes.post("/afspraken/{reference}/checklist", name="appointment_checklist")
@require_staff
async def checklist(request: web.Request, staff: Staff) -> web.Response:
    reference = request.match_info["reference"]
    form = await read_form(request)
    try:
        async with transaction(request) as uow:
            appointment = await service.get_appointment(uow.session, reference)
            await service.record_checklist(
                uow, reference, staff.user, _checklist(form, list(appointment.organisations))
            )
    except DomainError as e:
        raise_for_form(request, e, _appointment_url(reference))
    flash_redirect(_appointment_url(reference), "Checklist opgeslagen.")


@routes.post("/afspraken/{reference}/niet-verschenen", name="appointment_no_show")
@require_staff
async def no_show(request: web.Request, staff: Staff) -> web.Response:
    reference = request.match_info["reference"]
    try:
        async with transaction(request) as uow:
            await service.mark_no_show(uow, reference, staff.user)
    except DomainError as e:
        raise_for_form(request, e, _appointment_url(reference))
    flash_redirect(_appointment_url(reference), "Gemarkeerd als niet verschenen.")


@routes.get("/afspraken/{reference}/agenda.ics", name="appointment_ics")
@require_staff
async def calendar_file(request: web.Request, staff: Staff) -> web.Response:
    async with transaction(request) as uow:
        try:
            appointment = await service.get_appointment(uow.session, request.match_info["reference"])
            if not service.may_work_on(appointment, staff.user):
                raise NotYourTeam(appointment.slot.team)
        except DomainError as e:
            raise_error_page(e)
        body = appointment_ics(appointment, request.app[directory_key], for_staff=True)
    return web.Response(
        body=body,
        content_type="text/calendar",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="afspraak-{appointment.reference}.ics"'},
    )
