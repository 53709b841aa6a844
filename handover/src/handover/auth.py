"""Authentication: bot bearer secret, casemanager passwords, sessions and CSRF."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from multidict import MultiDictProxy
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from yarl import URL

from .db import request_session
from .keys import sessionmaker_key, settings_key
from .models import Role, StaffSession, User, utcnow
from .uow import UnitOfWork

SESSION_COOKIE = "handover_session"
LOGIN_CSRF_COOKIE = "handover_login_csrf"
_hasher = PasswordHasher()
# Verifying against a dummy hash for unknown users keeps login timing uniform.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
StaffHandler = Callable[[web.Request, "Staff"], Awaitable[web.StreamResponse]]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def bot_authorized(request: web.Request) -> bool:
    secret = request.app[settings_key].shared_secret
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not secret or scheme.lower() != "bearer":
        return False
    return same_secret(token.strip(), secret)


def require_bot(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        if not bot_authorized(request):
            raise web.HTTPUnauthorized(
                text='{"error": "unauthorized"}',
                content_type="application/json",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return await handler(request)

    return wrapper


async def create_user(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    display_name: str,
    first_name: str,
    role: Role = Role.CASEMANAGER,
    teams: list[str] | None = None,
) -> User:
    user = User(
        username=username,
        password_hash=hash_password(password),
        display_name=display_name,
        first_name=first_name,
        role=role,
        teams=list(teams or []),
    )
    session.add(user)
    await session.flush()
    return user


async def authenticate(session: AsyncSession, username: str, password: str) -> User | None:
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        verify_password(_DUMMY_HASH, password)
        return None
    return user if verify_password(user.password_hash, password) else None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start_session(session: AsyncSession, user: User, hours: int) -> tuple[str, str]:
    """Store a new login session; returns (cookie token, csrf token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            token_hash=_token_hash(token),
            user_id=user.id,
            csrf_token=csrf,
            expires_at=utcnow() + dt.timedelta(hours=hours),
        )
    )
    return token, csrf


async def end_session(session: AsyncSession, token: str) -> None:
    await session.execute(delete(StaffSession).where(StaffSession.token_hash == _token_hash(token)))


@dataclass(frozen=True)
class Staff:
    """The logged-in casemanager for this request."""

    user: User
    csrf_token: str
    token: str
    session_id: int


# A request moves last_seen_at on at most this often: not a database write for every request.
SEEN_RESOLUTION = dt.timedelta(seconds=30)
# Sent by the workspace's own script when it reloads a page by itself (a queue change): that is
# no sign of life of the casemanager, so it does not keep an unattended session open.
BACKGROUND_HEADER = "X-Background-Refresh"


def _alive(row: StaffSession, now: dt.datetime, idle: dt.timedelta) -> bool:
    """Neither past its lifetime (HANDOVER_SESSION_HOURS) nor idle too long."""
    return row.expires_at > now and row.last_seen_at > now - idle


async def session_staff(request: web.Request, token: str, *, active: bool = True) -> Staff | None:
    """The staff member of a live session, in a transaction of its own on the request's session
    (ended before the handler reads the body); ``active``: this is their own doing (counts as
    activity)."""
    async with UnitOfWork(session=request_session(request)) as uow:
        row = await uow.session.scalar(
            select(StaffSession).where(StaffSession.token_hash == _token_hash(token))
        )
        now = utcnow()
        if row is None or not _alive(row, now, request.app[settings_key].session_idle):
            return None
        if active and now - row.last_seen_at >= SEEN_RESOLUTION:
            row.last_seen_at = now
        return Staff(user=row.user, csrf_token=row.csrf_token, token=token, session_id=row.id)


async def current_staff(request: web.Request) -> Staff | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return await session_staff(request, token, active=request.headers.get(BACKGROUND_HEADER) != "1")


async def live_sessions(app: web.Application, session_ids: Collection[int]) -> dict[int, User]:
    """The users of those sessions that are still alive, by session id (no activity)."""
    if not session_ids:
        return {}
    now, idle = utcnow(), app[settings_key].session_idle
    async with app[sessionmaker_key]() as session:
        rows = await session.scalars(select(StaffSession).where(StaffSession.id.in_(session_ids)))
        return {row.id: row.user for row in rows if _alive(row, now, idle)}


def wants_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return (
        request.path.endswith(".json")
        or request.path == "/ws"
        or ("application/json" in accept and "text/html" not in accept)
    )


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


def same_secret(sent: str, expected: str) -> bool:
    """Constant-time comparison; any text (also lone surrogates from a form) is safe."""
    return hmac.compare_digest(
        sent.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


async def read_form(request: web.Request) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    """``request.post()``, with a 400 instead of a 500 for a body it cannot decode."""
    try:
        form = await request.post()
    except (ValueError, LookupError, AssertionError, HttpProcessingError) as e:  # charset, bytes, multipart
        raise web.HTTPBadRequest(text="Het formulier kon niet worden gelezen.") from e
    for key, value in form.items():
        # PostgreSQL cannot store NUL, and no database a lone surrogate (from e.g. a UTF-16 form).
        if any(isinstance(s, str) and _BAD_TEXT.search(s) for s in (key, value)):
            raise web.HTTPBadRequest(text="Het formulier bevat een ongeldig teken.")
    return form


def require_staff(handler: StaffHandler) -> Handler:
    """Staff pages redirect to the login page; JSON and WebSocket callers get 401."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        staff = await current_staff(request)
        if staff is None:
            if wants_json(request):
                raise web.HTTPUnauthorized(
                    text='{"error": "login required"}', content_type="application/json"
                )
            location = request.app.router["login"].url_for().with_query(next=request.path_qs)
            raise web.HTTPFound(location=location)
        if request.method not in SAFE_METHODS:
            form = await read_form(request)
            sent = str(form.get("csrf_token", "")) or request.headers.get("X-CSRF-Token", "")
            if not same_secret(sent, staff.csrf_token):
                raise web.HTTPForbidden(text="Ongeldig of verlopen formulier; laad de pagina opnieuw.")
        return await handler(request, staff)

    return wrapper


# Set on handlers wrapped by require_role, so tests can list the role-restricted routes.
REQUIRED_ROLES_ATTR = "required_roles"


def require_role(*roles: Role) -> Callable[[StaffHandler], Handler]:
    """Like ``require_staff``, and 403 for a logged-in user without one of ``roles``.

    Usage: ``@routes.get("/audit")`` then ``@require_role(Role.TEAMLEIDER)`` on
    ``async def page(request, staff)``.
    """
    allowed = frozenset(roles)

    def decorate(handler: StaffHandler) -> Handler:
        @functools.wraps(handler)
        async def check_role(request: web.Request, staff: Staff) -> web.StreamResponse:
            if staff.user.role not in allowed:
                if wants_json(request):
                    raise web.HTTPForbidden(text='{"error": "forbidden"}', content_type="application/json")
                raise web.HTTPForbidden(text="U heeft geen toegang tot deze pagina.")
            return await handler(request, staff)

        wrapped = require_staff(check_role)
        setattr(wrapped, REQUIRED_ROLES_ATTR, allowed)
        return wrapped

    return decorate


def client_address(request: web.Request) -> str:
    """The caller's IP address; behind a trusted proxy the one that proxy appended."""
    if request.app[settings_key].trust_proxy:
        forwarded = request.headers.getall("X-Forwarded-For", [])
        hops = [hop.strip() for value in forwarded for hop in value.split(",") if hop.strip()]
        if hops:
            return hops[-1]  # the rightmost entry is the only one a client cannot forge
    return request.remote or "unknown"


def is_https(request: web.Request) -> bool:
    if request.secure:
        return True
    if request.app[settings_key].trust_proxy:
        forwarded = ",".join(request.headers.getall("X-Forwarded-Proto", []))
        return "https" in (p.strip().lower() for p in forwarded.split(","))
    return False


def _origin(url: str) -> str | None:
    """``scheme://host[:port]`` in the form browsers send as Origin; None if not an http(s) URL."""
    try:
        parsed = URL(url)
    except ValueError:
        return None
    if parsed.scheme not in {"http", "https"} or not parsed.host:
        return None
    return str(parsed.origin())


def same_origin(request: web.Request) -> bool:
    """No Origin header (not a browser), or the workspace's own: HANDOVER_PUBLIC_URL when set,
    else this request's Host with its scheme (X-Forwarded-Proto only behind a trusted proxy)."""
    sent = request.headers.get("Origin")
    if sent is None:
        return True
    public_url = request.app[settings_key].public_url
    own = _origin(public_url or f"{'https' if is_https(request) else 'http'}://{request.host}")
    return own is not None and _origin(sent) == own


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def cookie_secure(request: web.Request) -> bool:
    """``HANDOVER_COOKIE_SECURE`` true/false, or automatic: Secure unless this is plain HTTP
    on a loopback host, i.e. local development. Production is Secure by default."""
    setting = request.app[settings_key].cookie_secure
    if setting is not None:
        return setting
    try:
        host = request.url.host
    except ValueError:  # an unparsable Host header: stay on the safe side
        host = None
    return is_https(request) or not _is_loopback(host)


def set_session_cookie(response: web.StreamResponse, request: web.Request, token: str) -> None:
    settings = request.app[settings_key]
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        secure=cookie_secure(request),
        max_age=settings.session_hours * 3600,
        path="/",
    )
