"""The case page (and its JSON twin) and its form actions: claim, unclaim, transfer, close, a chat
message, a note, a follow-up task."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiDictProxy

from .. import access, audit, auth, services
from ..auth import Handler, Staff, require_staff
from ..consent import consented_organisations, named_organisations
from ..keys import directory_key, labels_key, redactor_key, settings_key, teams_key
from ..models import Case, Kind, OpenKlantRegistration, RegistrationStatus, Status, User, utcnow
from ..uow import UnitOfWork
from ..workflow import transaction
from .http_errors import raise_error_page, raise_for_form
from .responses import case_url, flash_redirect, wants_json_answer

routes = web.RouteTableDef()

MAX_ID = 2**31 - 1  # PostgreSQL's INTEGER


@dataclass(frozen=True)
class Context:
    case: Case
    view: access.CaseView
    values: dict[str, Any]


async def case_context(
    request: web.Request, staff: Staff, uow: UnitOfWork, *, as_json: bool = False
) -> Context:
    """Everything the case page and the live panel show, as this casemanager may see it.

    Raises CaseNotFound. Records the view in the audit log (once per 5 minutes per person)."""
    settings = request.app[settings_key]
    directory = request.app[directory_key]
    session = uow.session
    reference = request.match_info.get("reference") or request.query.get("zaak", "")
    case = await services.get_case(session, reference)
    claimed_by = await session.get(User, case.claimed_by_id) if case.claimed_by_id else None
    # Full text or the copy without personal data: one rule for every view (access.py).
    reason = access.redaction_reason(access.Viewer.of(staff.user), access.CaseState.of(case))
    view = await access.case_view(session, case, reason=reason, redactor=request.app[redactor_key])
    context: dict[str, Any] = {
        "user": staff.user,
        "csrf_token": staff.csrf_token,
        "case": case,
        "claimed_by": claimed_by,
        "mine": case.claimed_by_id == staff.user.id and case.status == Status.IN_PROGRESS,
        "can_act": services.may_handle(case, staff.user),
        "is_chat": case.kind == Kind.CHAT,
        # Said before closing, so the form promises the next steps only where they arrive.
        "closing": await services.reach_of(
            session,
            case,
            utcnow(),
            widget_session_minutes=settings.widget_session_minutes,
            timezone=settings.office_hours.timezone,
        ),
        "view": view,
        "hidden_contact": access.has_hidden_contact(case, view),
        "consent_organisations": None
        if case.consent_organisations is None
        else {org.lower() for org in case.consent_organisations},
        "can_export": access.may_export(access.Viewer.of(staff.user), case),
        "history": await services.history(session, case),
        "colleagues": await services.colleagues(session, staff.user),
        "canned": await services.canned_responses(session),
        "outcome_labels": services.OUTCOME_LABELS,
        "position": await services.queue_position(session, case),
        "teams": request.app[teams_key],
        # Only the organisations the citizen agreed to, with their professional lines.
        "organisations": directory.for_organisations(consented_organisations(case)),
        "named_organisations": directory.for_organisations(named_organisations(case)),
        "topic_choices": request.app[labels_key].topic_choices(),
        "all_organisations": sorted(directory.organisations.values(), key=lambda o: o.name.lower()),
        "now": utcnow(),
        "melding": request.query.get("melding"),
        "cookie_secure": settings.cookie_secure,
        "timezone": settings.office_hours.timezone,
        "werkbak": False,
        "openklant": registration_state(
            case, await services.registration_of(session, case), enabled=settings.openklant_enabled
        ),
    }
    await audit.record_view(
        session,
        staff.user,
        case.reference,
        detail=("zaak (JSON), " if as_json else "zaakpagina, ") + access.describe(reason),
    )
    return Context(case, view, context)


@dataclass(frozen=True)
class RegistrationState:
    """Whether the case is registered in Open Klant, as staff see it (openklant.py)."""

    state: str  # uit, geen_toestemming, niet_afgerond, wachtend, geregistreerd, mislukt
    text: str
    klantcontact_uuid: str | None = None
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"state": self.state, "klantcontact_uuid": self.klantcontact_uuid, "reason": self.reason}


def registration_state(case: Case, row: OpenKlantRegistration | None, *, enabled: bool) -> RegistrationState:
    if row is None:
        if not case.consent_registration:
            return RegistrationState(
                "geen_toestemming", "Niet geregistreerd: de inwoner gaf er geen toestemming voor."
            )
        if case.status != Status.CLOSED:
            return RegistrationState("niet_afgerond", "Wordt geregistreerd als de zaak is afgerond.")
        return RegistrationState("uit", "Niet geregistreerd: de koppeling met Open Klant staat uit.")
    if row.status == RegistrationStatus.FAILED:
        reason = row.last_error or "onbekende fout"
        return RegistrationState("mislukt", f"Mislukt: {reason}.", row.klantcontact_uuid, row.last_error)
    if row.status == RegistrationStatus.REGISTERED:
        text = f"Geregistreerd in Open Klant (klantcontact {row.klantcontact_uuid})."
        if row.needs_sync:
            text += " Wijzigingen in de nazorg worden nog doorgegeven."
        return RegistrationState("geregistreerd", text, row.klantcontact_uuid, row.last_error)
    text = "Wacht op registratie in Open Klant."
    if row.last_error:
        text += f" Vorige poging mislukt: {row.last_error}; er komt een nieuwe poging."
    if not enabled:
        text += " De koppeling staat nu uit."
    return RegistrationState("wachtend", text, row.klantcontact_uuid, row.last_error)


@routes.get("/zaken/{reference}", name="case")
@require_staff
async def case_page(request: web.Request, staff: Staff) -> web.Response:
    as_json = auth.wants_json(request)
    async with transaction(request) as uow:
        try:
            ctx = await case_context(request, staff, uow, as_json=as_json)
        except services.CaseNotFound as e:
            raise_error_page(e)
    if as_json:
        case = ctx.case
        return web.json_response(
            {"reference": case.reference, "status": case.status, "team": case.team, "kind": case.kind}
            | {"language": case.language or "nl"}
            | ctx.view.as_json()
            | {"openklant": ctx.values["openklant"].as_json()}
        )
    return aiohttp_jinja2.render_template("case.html", request, ctx.values)


@routes.get("/zaken/{reference}/paneel", name="case_panel")
@require_staff
async def case_panel(request: web.Request, staff: Staff) -> web.Response:
    """The case without the page around it: the live workspace loads it again after every change
    (``?weergave=werkbak``: as the open conversation of the inbox)."""
    async with transaction(request) as uow:
        try:
            ctx = await case_context(request, staff, uow)
        except services.CaseNotFound as e:
            raise_error_page(e)
    values = ctx.values | {"werkbak": request.query.get("weergave") == "werkbak", "melding": None}
    return aiohttp_jinja2.render_template("zaak_paneel.html", request, values)


# --- form actions: a small dispatch table ----------------------------------------------------


@dataclass(frozen=True)
class CaseForm:
    """One form action on a case, inside its unit of work."""

    request: web.Request
    uow: UnitOfWork
    user: User
    reference: str
    form: MultiDictProxy[str | bytes | bytearray | web.FileField]

    def field(self, name: str) -> str:
        return str(self.form.get(name, ""))


@dataclass(frozen=True)
class Done:
    melding: str
    to_queue: bool = False  # answered on the queue page: the case is no longer this casemanager's


CaseAction = Callable[[CaseForm], Awaitable[Done]]


async def _claim(f: CaseForm) -> Done:
    await services.claim(f.uow, f.reference, f.user)
    return Done("Zaak is nu van u.")


async def _unclaim(f: CaseForm) -> Done:
    await services.unclaim(f.uow, f.reference, f.user)
    return Done("Zaak staat weer in de wachtrij.", to_queue=True)


async def _transfer(f: CaseForm) -> Done:
    target_user = f.field("medewerker").strip()
    target_team = f.field("team").strip()
    reason = f.field("reden")
    if target_user:
        await services.transfer_to_user(f.uow, f.reference, f.user, target_user, reason)
        return Done("Zaak is overgedragen aan uw collega.", to_queue=True)
    if target_team:
        teams = f.request.app[teams_key]
        await services.transfer_to_team(f.uow, f.reference, f.user, target_team, teams, reason)
        return Done("Zaak is overgedragen aan het team.", to_queue=True)
    raise services.InvalidInput("Kies een collega of een team")


async def _close(f: CaseForm) -> Done:
    redactor = f.request.app[redactor_key]
    settings = f.request.app[settings_key]
    case = await services.close(
        f.uow,
        f.reference,
        f.user,
        f.field("uitkomst"),
        f.field("afspraken"),
        redactor=redactor,
        outcome_label=f.field("uitkomstlabel"),
        register=settings.openklant_enabled,
    )
    reach = await services.reach_of(
        f.uow.session,
        case,
        case.closed_at or utcnow(),
        widget_session_minutes=settings.widget_session_minutes,
        timezone=settings.office_hours.timezone,
    )
    return Done(reach.confirmation)


async def _message(f: CaseForm) -> Done:
    await services.send_casemanager_message(f.uow, f.reference, f.user, f.field("tekst"))
    return Done("Bericht verstuurd.")


async def _read(f: CaseForm) -> Done:
    try:
        message_id = int(f.field("bericht"))
    except ValueError as e:
        raise services.InvalidInput("Geen geldig bericht") from e
    if not 0 < message_id <= MAX_ID:
        raise services.InvalidInput("Geen geldig bericht")
    unread = await services.mark_read(f.uow, f.reference, f.user, message_id)
    return Done(f"{unread} ongelezen")


async def _correct(f: CaseForm) -> Done:
    app = f.request.app
    done = await services.correct_intake(
        f.uow,
        f.reference,
        f.user,
        topic=f.field("onderwerp"),
        organisations=[str(v) for v in f.form.getall("organisatie", [])],
        known_topics=app[labels_key].topics,
        known_organisations=app[directory_key].organisations,
        teams=app[teams_key],
    )
    return Done(correction_words(done, f.user, app[teams_key].label))


def correction_words(done: services.IntakeCorrection, user: User, label: Callable[[str], str]) -> str:
    """What the casemanager reads after a correction: also where the case went, and whether
    they still handle it."""
    if not done.changes:
        return "Er is niets veranderd."
    if done.moved_to is None:
        return "Intake aangepast."
    team = f"team {label(done.moved_to)}"
    if not done.handed_back:
        return f"Intake aangepast. De zaak hoort nu bij {team}. De behandelaar blijft dezelfde."
    if done.handler is not None and done.handler.id == user.id:
        return (
            f"Intake aangepast. Dit onderwerp hoort bij {team}. U werkt niet in dat team, "
            "dus de zaak staat nu in hun wachtrij. U kunt de inwoner in deze zaak niet meer schrijven."
        )
    handler = done.handler.display_name if done.handler is not None else "de behandelaar"
    return (
        f"Intake aangepast. Dit onderwerp hoort bij {team}. {handler} werkt niet in dat team, "
        "dus de zaak staat nu in hun wachtrij."
    )


async def _note(f: CaseForm) -> Done:
    await services.add_note(f.uow, f.reference, f.user, f.field("notitie"))
    return Done("Notitie opgeslagen.")


async def _follow_up(f: CaseForm) -> Done:
    try:
        due = dt.date.fromisoformat(f.field("datum"))
    except ValueError as e:
        raise services.InvalidInput("Vul een geldige datum in (jjjj-mm-dd)") from e
    await services.add_follow_up(f.uow, f.reference, f.user, due, f.field("omschrijving"))
    return Done("Nazorgtaak aangemaakt.")


async def _openklant_retry(f: CaseForm) -> Done:
    await services.retry_registration(f.uow, f.reference, f.user)
    return Done("De registratie in Open Klant wordt opnieuw geprobeerd.")


# path under /zaken/{reference}/ -> (route name suffix, action)
CASE_ACTIONS: dict[str, tuple[str, CaseAction]] = {
    "claim": ("claim", _claim),
    "vrijgeven": ("unclaim", _unclaim),
    "overdragen": ("transfer", _transfer),
    "afronden": ("close", _close),
    "berichten": ("message", _message),
    "notities": ("note", _note),
    "nazorg": ("follow_up", _follow_up),
    "gelezen": ("read", _read),
    "intake": ("correct", _correct),
    "openklant": ("openklant_retry", _openklant_retry),
}


async def _run(request: web.Request, staff: Staff, action: CaseAction) -> web.Response:
    reference = request.match_info["reference"]
    form = await request.post()
    try:
        async with transaction(request) as uow:
            done = await action(CaseForm(request, uow, staff.user, reference, form))
    except services.DomainError as e:
        raise_for_form(request, e, case_url(request, reference))
    if wants_json_answer(request):
        return web.json_response({"status": "ok", "detail": done.melding})
    back = request.app.router["queue"].url_for() if done.to_queue else case_url(request, reference)
    flash_redirect(back, done.melding)


def _route(name: str, action: CaseAction) -> Handler:
    @require_staff
    async def handler(request: web.Request, staff: Staff) -> web.Response:
        return await _run(request, staff, action)

    handler.__name__ = f"case_{name}"
    return handler


for _path, (_name, _action) in CASE_ACTIONS.items():
    routes.post(f"/zaken/{{reference}}/{_path}", name=f"case_{_name}")(_route(_name, _action))
