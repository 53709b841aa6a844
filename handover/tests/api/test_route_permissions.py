"""Every route of the app, as the router lists it, checked for protection.

New routes are covered automatically: a staff route that forgets ``require_staff`` /
``require_role`` or a bot route that forgets ``require_bot`` makes these tests fail. Only the
routes in PUBLIC (and the static files) may answer without a login or the shared secret.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from handover import auth
from handover.app import create_app
from handover.keys import sessionmaker_key
from handover.models import Role
from handover.settings import Settings
from tests.conftest import BOT, PASSWORD, FakeRasa, add_user, make_settings

Client = TestClient[Any, Any]

# Routes anyone may call, and why. Everything else needs a staff session or the bot secret.
PUBLIC = {
    ("GET", "/login"): "the login form",
    ("POST", "/login"): "the login itself: own CSRF cookie and rate limit (test_security.py)",
    ("GET", "/"): "only redirects to /wachtrij, which needs a login",
    ("GET", "/healthz"): "load-balancer health check; says only ok or error",
    ("GET", "/api/openapi.yaml"): "the API description; holds no secrets",
}
# Staff routes whose path says they erase or audit must be teamleider-only (require_role):
# a safety net for routes added later that forget the role.
TEAMLEIDER_PATH = re.compile(r"audit|erase|wissen|verwijder", re.IGNORECASE)
SAMPLE_PARAMS = {"reference": "HV-ABCD", "task_id": "1", "channel": "socketio", "sender_id": "burger-1"}


@dataclass(frozen=True)
class RouteCase:
    method: str
    pattern: str
    path: str
    roles: frozenset[str] | None  # set by require_role

    def __str__(self) -> str:
        return f"{self.method} {self.pattern}"


def _pattern(resource: web.AbstractResource) -> str:
    info = resource.get_info()
    return str(info.get("formatter") or info.get("path") or info.get("prefix"))


def _fill(pattern: str) -> str:
    return re.sub(r"\{(\w+)(?::[^}]*)?\}", lambda m: SAMPLE_PARAMS.get(m[1], "x"), pattern)


def all_routes() -> Iterator[RouteCase]:
    # Routes do not depend on settings; a throwaway app lists them (not started).
    app = create_app(Settings(database_url="sqlite+aiosqlite://", shared_secret="x"))
    for route in app.router.routes():
        if isinstance(route.resource, web.StaticResource):
            continue  # CSS and JS files (public by design)
        pattern = _pattern(route.resource) if route.resource is not None else "?"
        method = "POST" if route.method == "*" else route.method
        roles = getattr(route.handler, auth.REQUIRED_ROLES_ATTR, None)
        yield RouteCase(method, pattern, _fill(pattern), roles)


def _public(route: RouteCase) -> bool:
    method = "GET" if route.method == "HEAD" else route.method
    return (method, route.pattern) in PUBLIC


ROUTES = list(all_routes())
# /api/ is the bot's, except the staff's JSON views (require_role: /api/inzicht, the dashboard's figures).
BOT_ROUTES = [r for r in ROUTES if r.pattern.startswith("/api/") and not r.roles and not _public(r)]
STAFF_ROUTES = [r for r in ROUTES if (not r.pattern.startswith("/api/") or r.roles) and not _public(r)]
UNSAFE_STAFF_ROUTES = [r for r in STAFF_ROUTES if r.method not in auth.SAFE_METHODS]
ROLE_ROUTES = [r for r in STAFF_ROUTES if r.roles]


def test_the_route_lists_are_complete() -> None:
    """Guards the walker itself: if routes were not found, the tests below would pass vacuously."""
    patterns = {r.pattern for r in ROUTES}
    assert {"/wachtrij", "/zaken/{reference}/claim", "/ws", "/api/cases", "/logout"} <= patterns
    assert all((m, p) in {(r.method, r.pattern) for r in ROUTES} for m, p in PUBLIC), "stale PUBLIC entry"
    assert len(BOT_ROUTES) >= 5 and len(UNSAFE_STAFF_ROUTES) >= 10


def test_audit_and_erasure_routes_are_teamleider_only() -> None:
    unguarded = [str(r) for r in STAFF_ROUTES if TEAMLEIDER_PATH.search(r.pattern) and not r.roles]
    assert unguarded == [], "use @require_role(Role.TEAMLEIDER) on these"


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Awaitable[Client]], sqlite_url: str, fake_rasa: FakeRasa
) -> Client:
    return await aiohttp_client(create_app(make_settings(sqlite_url, fake_rasa.url)))


async def _login(client: Client, username: str) -> str:
    """Logs in through the form; returns the session's CSRF token."""
    page = await (await client.get("/login")).text()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    resp = await client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf[1]}
    )
    token = re.search(r'name="csrf_token" value="([^"]+)"', await resp.text())
    assert resp.status == 200 and token
    return token[1]


@pytest.mark.parametrize("route", STAFF_ROUTES, ids=str)
async def test_staff_routes_need_a_login(client: Client, route: RouteCase) -> None:
    html = await client.request(
        route.method, route.path, headers={"Accept": "text/html"}, allow_redirects=False
    )
    if html.status == 302:
        assert html.headers["Location"].startswith("/login?next="), html.headers["Location"]
    else:  # JSON paths (.json, /ws) answer 401 whatever the Accept header says
        assert html.status == 401, html.status
    as_json = await client.request(route.method, route.path, headers={"Accept": "application/json"})
    assert as_json.status == 401
    # The bot secret is not a staff login.
    assert (await client.request(route.method, route.path, headers=BOT, allow_redirects=False)).status in (
        302,
        401,
    )


@pytest.mark.parametrize("route", UNSAFE_STAFF_ROUTES, ids=str)
async def test_state_changes_need_the_csrf_token(client: Client, route: RouteCase) -> None:
    await add_user(client.app[sessionmaker_key], "lead", role=Role.TEAMLEIDER)
    await _login(client, "lead")  # the highest role: only the CSRF token is missing
    for form in ({}, {"csrf_token": "vervalst"}):
        resp = await client.request(route.method, route.path, data=form, allow_redirects=False)
        assert resp.status == 403, (form, resp.status)
    forged_header = await client.request(
        route.method, route.path, headers={"X-CSRF-Token": "vervalst"}, allow_redirects=False
    )
    assert forged_header.status == 403


@pytest.mark.parametrize(
    "route", ROLE_ROUTES or [pytest.param(None, marks=pytest.mark.skip("no role routes yet"))], ids=str
)
async def test_teamleider_routes_refuse_a_casemanager(client: Client, route: RouteCase) -> None:
    await add_user(client.app[sessionmaker_key], "anna", role=Role.CASEMANAGER)
    csrf = await _login(client, "anna")
    data = {"csrf_token": csrf} if route.method not in auth.SAFE_METHODS else None
    resp = await client.request(route.method, route.path, data=data, allow_redirects=False)
    assert resp.status == 403
    client.session.cookie_jar.clear()
    await add_user(client.app[sessionmaker_key], "lead", role=Role.TEAMLEIDER)
    csrf = await _login(client, "lead")
    data = {"csrf_token": csrf} if route.method not in auth.SAFE_METHODS else None
    resp = await client.request(route.method, route.path, data=data, allow_redirects=False)
    assert resp.status != 403 and resp.status < 500


@pytest.mark.parametrize("route", BOT_ROUTES, ids=str)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer fout-geheim"},
        {"Authorization": "test-secret"},  # the right secret without the Bearer scheme
        {"Authorization": "Basic dGVzdC1zZWNyZXQ="},
        {"Authorization": "Bearer test-secret-maar-langer"},
    ],
    ids=["none", "wrong", "no-scheme", "basic", "prefix"],
)
async def test_bot_routes_need_the_shared_secret(
    client: Client, route: RouteCase, headers: dict[str, str]
) -> None:
    resp = await client.request(route.method, route.path, headers=headers, json={})
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"] == "Bearer"
    if route.method != "HEAD":  # HEAD answers have no body
        assert (await resp.json())["error"] == "unauthorized"


async def test_a_staff_session_does_not_open_the_bot_api(client: Client) -> None:
    await add_user(client.app[sessionmaker_key], "lead", role=Role.TEAMLEIDER)
    await _login(client, "lead")
    for route in BOT_ROUTES:
        resp = await client.request(route.method, route.path, json={})
        assert resp.status == 401, route
