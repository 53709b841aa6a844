"""Casemanager workspace: login, queue, case pages (server-rendered) and the live WebSocket."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import math
import secrets
from typing import Any, NoReturn

import aiohttp_jinja2
from aiohttp import WSMsgType, web
from yarl import URL

from . import access, audit, auth, services
from .auth import Staff, require_staff
from .background import wait_or_stop
from .keys import (
    directory_key,
    hub_key,
    login_limiter_key,
    redactor_key,
    sessionmaker_key,
    settings_key,
    teams_key,
)
from .models import Kind, Status, utcnow
from .realtime import Connection
from .uow import UnitOfWork
from .workflow import transaction

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


def _flash_redirect(location: str | URL, melding: str) -> NoReturn:
    url = URL(str(location)).update_query(melding=melding)
    raise web.HTTPFound(location=url)


def _case_url(request: web.Request, reference: str) -> URL:
    return request.app.router["case"].url_for(reference=reference)


def _safe_next(value: str | None) -> str:
    """Only a local path: an open redirect after login would be a phishing aid. Browsers drop
    tabs and newlines from a Location and read "\\" as "/", so "/\t/evil.example" would
    become "//evil.example": no whitespace, control characters or backslashes anywhere."""
    if (
        value
        and value.startswith("/")
        and value[1:2] not in {"/", "\\"}
        and all(ch.isprintable() and not ch.isspace() and ch != "\\" for ch in value)
    ):
        return value
    return "/wachtrij"


# PostgreSQL's INTEGER: a larger id cannot exist, and would overflow in the driver (a 500).
MAX_ID = 2**31 - 1


def _path_id(request: web.Request, name: str) -> int:
    """A database id from the path; anything else, also a number out of range, is 404."""
    value = request.match_info[name]
    if not (value.isascii() and value.isdigit() and 0 < int(value) <= MAX_ID):
        raise web.HTTPNotFound()
    return int(value)


def _http_error(e: services.DomainError) -> type[web.HTTPException]:
    """The one mapping of a broken queue rule to an HTTP error, for every workspace action."""
    if isinstance(e, (services.CaseNotFound, services.FollowUpNotFound)):
        return web.HTTPNotFound
    if isinstance(e, services.NotYourTeam):
        return web.HTTPForbidden
    if isinstance(e, (services.AlreadyClaimed, services.NotClaimedByYou, services.InvalidTransition)):
        return web.HTTPConflict
    return web.HTTPBadRequest


def _raise_for_domain(request: web.Request, e: services.DomainError, back: str | URL) -> NoReturn:
    """JSON callers get the error; a page gets a flash message on ``back``, except for a
    missing case or task and another team's case, which are error pages (404, 403)."""
    error = _http_error(e)
    if _wants_json_answer(request):
        raise error(
            text=json.dumps({"error": type(e).__name__, "detail": str(e)}), content_type="application/json"
        )
    if error in (web.HTTPNotFound, web.HTTPForbidden):
        raise error(text=str(e))
    _flash_redirect(back, str(e))


def _wants_json_answer(request: web.Request) -> bool:
    return request.headers.get("Accept", "").startswith("application/json")


async def _touch(request: web.Request, staff: Staff) -> None:
    async with UnitOfWork(request.app[sessionmaker_key]) as uow:
        await services.touch_presence(uow, staff.user.id)


# --- login ------------------------------------------------------------------------------


@routes.get("/login", name="login")
async def login_page(request: web.Request) -> web.Response:
    csrf = secrets.token_urlsafe(24)
    response = aiohttp_jinja2.render_template(
        "login.html",
        request,
        {"csrf_token": csrf, "next": _safe_next(request.query.get("next")), "error": None, "user": None},
    )
    response.set_cookie(
        auth.LOGIN_CSRF_COOKIE,
        csrf,
        httponly=True,
        samesite="Lax",
        secure=auth.cookie_secure(request),
        path="/login",
    )
    return response


def _too_many_attempts(wait_seconds: int) -> str:
    minutes = math.ceil(wait_seconds / 60)
    wait = "1 minuut" if minutes == 1 else f"{minutes} minuten"
    return f"Te veel mislukte pogingen. Probeer het over {wait} opnieuw."


def _login_failed(request: web.Request, csrf: str, next_: str, error: str, status: int) -> web.Response:
    response = aiohttp_jinja2.render_template(
        "login.html",
        request,
        {"csrf_token": csrf, "next": _safe_next(next_), "user": None, "error": error},
        status=status,
    )
    return response


@routes.post("/login")
async def login_submit(request: web.Request) -> web.Response:
    form = await auth.read_form(request)
    sent = str(form.get("csrf_token", ""))
    cookie = request.cookies.get(auth.LOGIN_CSRF_COOKIE, "")
    if not cookie or not auth.same_secret(sent, cookie):
        raise web.HTTPForbidden(text="Ongeldig formulier; laad de inlogpagina opnieuw.")
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    next_ = str(form.get("next", ""))
    settings = request.app[settings_key]
    limiter = request.app[login_limiter_key]
    address = auth.client_address(request)
    # Checked before the password, so a blocked attacker learns nothing and costs no hashing.
    wait = await limiter.retry_after(username, address)
    if wait is not None:
        log.info("login refused by rate limit")
        response = _login_failed(
            request,
            cookie,
            next_,
            _too_many_attempts(wait),
            status=429,
        )
        response.headers["Retry-After"] = str(wait)
        return response
    async with UnitOfWork(request.app[sessionmaker_key]) as uow:
        user = await auth.authenticate(uow.session, username, password)
        if user is not None:
            token, _csrf = await auth.start_session(uow.session, user, settings.session_hours)
            user.online = True
            user.last_seen_at = utcnow()
    if user is None:
        log.info("failed login attempt")
        await limiter.failed(username, address)
        return _login_failed(request, cookie, next_, "Onjuiste gebruikersnaam of wachtwoord.", status=401)
    await limiter.succeeded(username)
    log.info("user %s logged in", user.id)
    response = web.HTTPFound(location=_safe_next(next_))
    auth.set_session_cookie(response, request, token)
    response.del_cookie(auth.LOGIN_CSRF_COOKIE, path="/login")
    raise response


@routes.post("/logout", name="logout")
@require_staff
async def logout(request: web.Request, staff: Staff) -> web.Response:
    async with UnitOfWork(request.app[sessionmaker_key]) as uow:
        await auth.end_session(uow.session, staff.token)
        await services.touch_presence(uow, staff.user.id, online=False)
    # Its open WebSockets too, on every instance: they were let in by this session.
    await request.app[hub_key].end_session(staff.session_id)
    response = web.HTTPFound(location="/login")
    response.del_cookie(auth.SESSION_COOKIE, path="/")
    raise response


@routes.post("/beschikbaarheid", name="presence")
@require_staff
async def toggle_presence(request: web.Request, staff: Staff) -> web.Response:
    form = await request.post()
    online = form.get("online") == "1"
    async with transaction(request.app) as uow:
        await services.touch_presence(uow, staff.user.id, online=online)
    raise web.HTTPFound(location="/wachtrij")


# --- queue ------------------------------------------------------------------------------


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    raise web.HTTPFound(location="/wachtrij")


def _selected_team(request: web.Request, staff: Staff) -> str | None:
    teams = request.app[teams_key]
    team = request.query.get("team")
    if team is None:  # default to the casemanager's own (first) team
        return staff.user.teams[0] if staff.user.teams else None
    return team if team in teams.teams else None


@routes.get("/wachtrij", name="queue")
@require_staff
async def queue_page(request: web.Request, staff: Staff) -> web.Response:
    team = _selected_team(request, staff)
    now = utcnow()
    await _touch(request, staff)
    async with request.app[sessionmaker_key]() as session:
        page = await services.list_queue(session, team)
        mine = await services.my_cases(session, staff.user)
        tasks = await services.open_follow_ups_for(session, staff.user)
        online = await services.online_casemanagers(
            session, request.app[settings_key].presence_timeout_seconds
        )
    return aiohttp_jinja2.render_template(
        "queue.html",
        request,
        {
            "user": staff.user,
            "csrf_token": staff.csrf_token,
            "page": page,
            "team": team,
            "teams": request.app[teams_key],
            "mine": mine,
            "tasks": tasks,
            "today": dt.date.today(),
            "now": now,
            "online": online,
            "melding": request.query.get("melding"),
        },
    )


@routes.get("/wachtrij.json", name="queue_json")
@require_staff
async def queue_json(request: web.Request, staff: Staff) -> web.Response:
    team = _selected_team(request, staff)
    now = utcnow()
    async with request.app[sessionmaker_key]() as session:
        page = await services.list_queue(session, team)
    return web.json_response(
        {
            "team": team,
            "total": page.total,
            "cases": [
                {
                    "reference": c.reference,
                    "team": c.team,
                    "topic": c.topic,
                    "organisations": c.organisations,
                    "question_type": c.question_type,
                    "urgent": c.urgent,
                    "kind": c.kind,
                    "waiting_minutes": int((now - c.created_at).total_seconds() // 60),
                }
                for c in page.cases
            ],
        }
    )


@routes.post("/wachtrij/volgende", name="claim_next")
@require_staff
async def claim_next(request: web.Request, staff: Staff) -> web.Response:
    form = await request.post()
    team = str(form.get("team", "")) or None
    try:
        async with transaction(request.app) as uow:
            case = await services.claim_next(uow, staff.user, [team] if team else None)
    except services.DomainError as e:
        _raise_for_domain(request, e, "/wachtrij")
    raise web.HTTPFound(location=_case_url(request, case.reference))


# --- case page and actions ------------------------------------------------------------


@routes.get("/zaken/{reference}", name="case")
@require_staff
async def case_page(request: web.Request, staff: Staff) -> web.Response:
    settings = request.app[settings_key]
    async with request.app[sessionmaker_key]() as session:
        try:
            case = await services.get_case(session, request.match_info["reference"])
        except services.CaseNotFound as e:
            raise web.HTTPNotFound(text=str(e)) from e
        claimed_by = await session.get(type(staff.user), case.claimed_by_id) if case.claimed_by_id else None
        # Full text or the copy without personal data: one rule for every view (access.py).
        reason = access.redaction_reason(access.Viewer.of(staff.user), access.CaseState.of(case))
        view = await access.case_view(session, case, reason=reason, redactor=request.app[redactor_key])
        context: dict[str, Any] = {
            "user": staff.user,
            "csrf_token": staff.csrf_token,
            "case": case,
            "claimed_by": claimed_by,
            "mine": case.claimed_by_id == staff.user.id and case.status == Status.IN_PROGRESS.value,
            "can_act": services.may_handle(case, staff.user),
            "is_chat": case.kind == Kind.CHAT.value,
            "view": view,
            "hidden_contact": access.has_hidden_contact(case, view),
            "consent_organisations": None
            if case.consent_organisations is None
            else {org.lower() for org in case.consent_organisations},
            "can_export": access.may_export(access.Viewer.of(staff.user), case),
            "history": await services.history(session, case),
            "colleagues": await services.colleagues(session, staff.user),
            "position": await services.queue_position(session, case),
            "teams": request.app[teams_key],
            "organisations": request.app[directory_key].for_organisations(case.organisations),
            "now": utcnow(),
            "melding": request.query.get("melding"),
            "cookie_secure": settings.cookie_secure,
            "timezone": settings.office_hours.timezone,
        }
    as_json = auth.wants_json(request)
    async with UnitOfWork(request.app[sessionmaker_key]) as uow:
        await audit.record_view(
            uow.session,
            staff.user,
            case.reference,
            detail=("zaak (JSON), " if as_json else "zaakpagina, ") + access.describe(reason),
        )
    if as_json:
        return web.json_response(
            {"reference": case.reference, "status": case.status, "team": case.team, "kind": case.kind}
            | view.as_json()
        )
    return aiohttp_jinja2.render_template("case.html", request, context)


async def _case_action(request: web.Request, staff: Staff, action: str) -> web.Response:
    reference = request.match_info["reference"]
    form = await request.post()
    back = _case_url(request, reference)
    try:
        async with transaction(request.app) as uow:
            if action == "claim":
                await services.claim(uow, reference, staff.user)
                melding = "Zaak is nu van u."
            elif action == "unclaim":
                await services.unclaim(uow, reference, staff.user)
                melding = "Zaak staat weer in de wachtrij."
                back = request.app.router["queue"].url_for()
            elif action == "transfer":
                target_user = str(form.get("medewerker", "")).strip()
                target_team = str(form.get("team", "")).strip()
                if target_user:
                    await services.transfer_to_user(uow, reference, staff.user, target_user)
                    melding = "Zaak is overgedragen aan uw collega."
                elif target_team:
                    await services.transfer_to_team(
                        uow, reference, staff.user, target_team, request.app[teams_key]
                    )
                    melding = "Zaak is overgedragen aan het team."
                else:
                    raise services.InvalidInput("Kies een collega of een team")
                back = request.app.router["queue"].url_for()
            elif action == "close":
                await services.close(
                    uow,
                    reference,
                    staff.user,
                    str(form.get("uitkomst", "")),
                    str(form.get("afspraken", "")),
                    redactor=request.app[redactor_key],
                )
                melding = "Zaak is afgerond; de burger gaat terug naar de chatbot."
            elif action == "message":
                await services.send_casemanager_message(
                    uow, reference, staff.user, str(form.get("tekst", ""))
                )
                melding = "Bericht verstuurd."
            elif action == "note":
                await services.add_note(uow, reference, staff.user, str(form.get("notitie", "")))
                melding = "Notitie opgeslagen."
            elif action == "follow_up":
                try:
                    due = dt.date.fromisoformat(str(form.get("datum", "")))
                except ValueError as e:
                    raise services.InvalidInput("Vul een geldige datum in (jjjj-mm-dd)") from e
                await services.add_follow_up(
                    uow, reference, staff.user, due, str(form.get("omschrijving", ""))
                )
                melding = "Nazorgtaak aangemaakt."
            else:  # pragma: no cover - routes only pass the actions above
                raise web.HTTPNotFound()
    except services.DomainError as e:
        _raise_for_domain(request, e, _case_url(request, reference))
    if _wants_json_answer(request):
        return web.json_response({"status": "ok", "detail": melding})
    _flash_redirect(back, melding)


def _action(action: str) -> Any:
    @require_staff
    async def handler(request: web.Request, staff: Staff) -> web.Response:
        return await _case_action(request, staff, action)

    handler.__name__ = f"case_{action}"
    return handler


for _path, _action_name in (
    ("claim", "claim"),
    ("vrijgeven", "unclaim"),
    ("overdragen", "transfer"),
    ("afronden", "close"),
    ("berichten", "message"),
    ("notities", "note"),
    ("nazorg", "follow_up"),
):
    routes.post(f"/zaken/{{reference}}/{_path}", name=f"case_{_action_name}")(_action(_action_name))


@routes.post("/nazorg/{task_id}/gereed", name="follow_up_done")
@require_staff
async def follow_up_done(request: web.Request, staff: Staff) -> web.Response:
    task_id = _path_id(request, "task_id")
    try:
        async with transaction(request.app) as uow:
            await services.complete_follow_up(uow, task_id, staff.user)
    except services.DomainError as e:
        _raise_for_domain(request, e, "/wachtrij")
    _flash_redirect("/wachtrij", "Nazorgtaak afgevinkt.")


# --- live WebSocket -------------------------------------------------------------------


@routes.get("/ws", name="ws")
@require_staff
async def websocket(request: web.Request, staff: Staff) -> web.WebSocketResponse:
    """Pushes queue and case events; accepts ``subscribe`` and ``send`` messages.

    The socket belongs to the login session that opened it: it is closed when that session
    ends (logout, expiry, idle) or its user gets another role or other teams (realtime.Hub).
    """
    if not auth.same_origin(request):
        # A page on another site must not open a socket with the casemanager's cookie.
        raise web.HTTPForbidden(text='{"error": "forbidden origin"}', content_type="application/json")
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    viewer = access.Viewer.of(staff.user)
    conn = Connection(ws=ws, user_id=staff.user.id, session_id=staff.session_id, viewer=viewer)
    if ref := request.query.get("case"):
        conn.references.add(ref.upper())
    hub = request.app[hub_key]
    hub.add(conn)
    await _touch(request, staff)
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            # Checked again for every message: the cookie was checked only at the handshake.
            current = await auth.session_staff(request.app, staff.token)
            if current is None or access.Viewer.of(current.user) != viewer:
                hub.drop(conn)
                break
            staff = current
            try:
                data = json.loads(msg.data)
                kind = data["type"]
                reference = str(data["reference"]).upper()
            except (ValueError, KeyError, TypeError):
                await ws.send_json({"type": "error", "detail": "ongeldig bericht"})
                continue
            if kind == "subscribe":
                conn.references.add(reference)
                await ws.send_json({"type": "subscribed", "reference": reference})
            elif kind == "unsubscribe":
                conn.references.discard(reference)
            elif kind == "send":
                await _ws_send(
                    request, staff, ws, reference, str(data.get("text", "")), data.get("client_id")
                )
    finally:
        hub.remove(conn)
    return ws


async def _ws_send(
    request: web.Request, staff: Staff, ws: web.WebSocketResponse, reference: str, text: str, client_id: Any
) -> None:
    try:
        async with transaction(request.app) as uow:
            msg = await services.send_casemanager_message(uow, reference, staff.user, text)
    except services.DomainError as e:
        await ws.send_json(
            {"type": "error", "reference": reference, "detail": str(e), "client_id": client_id}
        )
        return
    await ws.send_json({"type": "sent", "reference": reference, "message_id": msg.id, "client_id": client_id})


async def presence_loop(app: web.Application, stop: asyncio.Event) -> None:
    """Keeps last_seen fresh for casemanagers with an open workspace on this instance, and closes
    the sockets of sessions that ended."""
    interval = max(app[settings_key].presence_timeout_seconds / 3, 1)
    while not await wait_or_stop(stop, interval):
        try:
            # Sessions that expired or went idle without an event to notice: not online any more.
            await app[hub_key].check_sessions()
            user_ids = app[hub_key].user_ids()
            if not user_ids:
                continue
            async with UnitOfWork(app[sessionmaker_key]) as uow:
                for user_id in user_ids:
                    await services.touch_presence(uow, user_id)
        except Exception:
            log.exception("presence refresh failed")
