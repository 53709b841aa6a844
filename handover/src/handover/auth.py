"""Authentication: bot bearer secret, casemanager passwords, sessions and CSRF."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from .keys import sessionmaker_key, settings_key
from .models import Role, StaffSession, User, utcnow

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
    return hmac.compare_digest(token.strip().encode(), secret.encode())


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
        role=role.value,
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


async def current_staff(request: web.Request) -> Staff | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    async with request.app[sessionmaker_key]() as session:
        row = await session.scalar(select(StaffSession).where(StaffSession.token_hash == _token_hash(token)))
        if row is None or row.expires_at <= utcnow():
            return None
        return Staff(user=row.user, csrf_token=row.csrf_token, token=token)


def wants_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return (
        request.path.endswith(".json")
        or request.path == "/ws"
        or ("application/json" in accept and "text/html" not in accept)
    )


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
        if request.method == "POST":
            form = await request.post()
            sent = str(form.get("csrf_token", "")) or request.headers.get("X-CSRF-Token", "")
            if not hmac.compare_digest(sent.encode(), staff.csrf_token.encode()):
                raise web.HTTPForbidden(text="Ongeldig of verlopen formulier; laad de pagina opnieuw.")
        return await handler(request, staff)

    return wrapper


def set_session_cookie(response: web.StreamResponse, request: web.Request, token: str) -> None:
    settings = request.app[settings_key]
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        secure=settings.cookie_secure,
        max_age=settings.session_hours * 3600,
        path="/",
    )
