"""Logging in and out of the workspace: the login form, its rate limit, the session cookie."""

from __future__ import annotations

import logging
import math
import secrets

import aiohttp_jinja2
from aiohttp import web

from .. import auth, services
from ..auth import Staff, require_staff
from ..keys import hub_key, login_limiter_key, settings_key
from ..models import utcnow
from ..workflow import transaction

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


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
    async with transaction(request) as uow:
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
    async with transaction(request) as uow:
        await auth.end_session(uow.session, staff.token)
        await services.touch_presence(uow, staff.user.id, online=False)
    # Its open WebSockets too, on every instance: they were let in by this session.
    await request.app[hub_key].end_session(staff.session_id)
    response = web.HTTPFound(location="/login")
    response.del_cookie(auth.SESSION_COOKIE, path="/")
    raise response
