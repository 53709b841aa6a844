"""Security of the workspace and the bot API: login rate limit, session cookie, session end,
security headers, and bad input that must give a clear 4xx instead of a 500."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import update

from handover import auth
from handover.app import create_app
from handover.keys import sessionmaker_key
from handover.models import Role, StaffSession
from handover.settings import HANDOVER_ROOT, Settings
from tests.conftest import BOT, PASSWORD, FakeRasa, add_user, case_body, make_settings

Client = TestClient[Any, Any]
ClientFactory = Callable[..., Awaitable[Client]]


def client_factory(aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings) -> ClientFactory:
    """A client on the real app; ``configure`` may add routes before it starts."""

    async def make(configure: Callable[[web.Application], None] | None = None, **overrides: Any) -> Client:
        app = create_app(dataclasses.replace(settings, **overrides))
        if configure is not None:
            configure(app)
        return await aiohttp_client(app)

    return make


@pytest.fixture
def make_client(
    aiohttp_client: Callable[..., Awaitable[Client]], sqlite_url: str, fake_rasa: FakeRasa
) -> ClientFactory:
    """SQLite only: these checks happen before anything database-specific."""
    return client_factory(aiohttp_client, make_settings(sqlite_url, fake_rasa.url))


@pytest.fixture
def make_client_any_db(aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings) -> ClientFactory:
    """SQLite and PostgreSQL: for input that one of them would fail to store."""
    return client_factory(aiohttp_client, settings)


def _form_csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found[1]


async def try_login(
    client: Client, username: str, password: str, headers: dict[str, str] | None = None
) -> Any:
    """One login attempt through the real form (fresh login CSRF cookie each time)."""
    csrf = _form_csrf(await (await client.get("/login", headers=headers)).text())
    return await client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf},
        headers=headers,
        allow_redirects=False,
    )


def session_cookie(resp: Any) -> str:
    return next(h for h in resp.headers.getall("Set-Cookie") if h.startswith(f"{auth.SESSION_COOKIE}="))


# --- login rate limit ---------------------------------------------------------------------


async def test_login_is_blocked_after_five_failures(make_client: ClientFactory) -> None:
    client = await make_client()
    await add_user(client.app[sessionmaker_key], "anna")
    for _ in range(5):
        assert (await try_login(client, "anna", "fout")).status == 401
    blocked = await try_login(client, "anna", PASSWORD)  # even the right password
    assert blocked.status == 429
    assert 1 <= int(blocked.headers["Retry-After"]) <= 900
    assert "Te veel mislukte pogingen. Probeer het over 15 minuten opnieuw." in await blocked.text()
    assert auth.SESSION_COOKIE not in blocked.cookies
    # Another username from the same address still works (the address limit is 20).
    await add_user(client.app[sessionmaker_key], "bob")
    assert (await try_login(client, "bob", PASSWORD)).status == 302


async def test_success_resets_the_username_counter(make_client: ClientFactory) -> None:
    client = await make_client()
    await add_user(client.app[sessionmaker_key], "anna")
    for _ in range(4):
        assert (await try_login(client, "anna", "fout")).status == 401
    assert (await try_login(client, "anna", PASSWORD)).status == 302
    for _ in range(4):  # without the reset the 5th failure in total would block the 6th try
        assert (await try_login(client, "anna", "fout")).status == 401
    assert (await try_login(client, "anna", PASSWORD)).status == 302


async def test_address_limit_counts_every_username(make_client: ClientFactory) -> None:
    client = await make_client(login_max_failures_per_ip=3)
    await add_user(client.app[sessionmaker_key], "anna")
    for name in ("x1", "x2", "x3"):  # unknown users count like known ones
        assert (await try_login(client, name, "fout")).status == 401
    assert (await try_login(client, "anna", PASSWORD)).status == 429


async def test_behind_a_trusted_proxy_the_forwarded_address_counts(make_client: ClientFactory) -> None:
    client = await make_client(login_max_failures_per_ip=2, trust_proxy=True)
    attacker = {"X-Forwarded-For": "203.0.113.9, 198.51.100.7"}  # the proxy appended the last one
    colleague = {"X-Forwarded-For": "198.51.100.8"}
    for name in ("x1", "x2"):
        assert (await try_login(client, name, "fout", attacker)).status == 401
    assert (await try_login(client, "x3", "fout", attacker)).status == 429
    # A forged first entry does not help the attacker ...
    forged = {"X-Forwarded-For": "192.0.2.1, 198.51.100.7"}
    assert (await try_login(client, "x4", "fout", forged)).status == 429
    # ... and does not lock out a colleague behind the same proxy.
    assert (await try_login(client, "x5", "fout", colleague)).status == 401


@pytest.mark.redis
async def test_limit_is_shared_between_instances_through_redis(
    make_client: ClientFactory, redis_url: str
) -> None:
    channel = f"handover:test:{uuid.uuid4().hex}"  # own key space per test run
    first = await make_client(redis_url=redis_url, redis_channel=channel)
    second = await make_client(redis_url=redis_url, redis_channel=channel)
    await add_user(first.app[sessionmaker_key], "anna")
    for client in (first, second, first, second, first):
        assert (await try_login(client, "anna", "fout")).status == 401
    assert (await try_login(second, "anna", PASSWORD)).status == 429


async def test_unknown_user_still_costs_a_password_check(
    make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same work for unknown and known usernames, so timing does not reveal which exist."""
    client = await make_client()
    checked: list[str] = []
    real = auth.verify_password

    def spy(password_hash: str, password: str) -> bool:
        checked.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(auth, "verify_password", spy)
    assert (await try_login(client, "niemand", "fout")).status == 401
    assert checked == [auth._DUMMY_HASH]


# --- session cookie, expiry, logout -------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "headers", "secure"),
    [
        ({}, {}, False),  # plain HTTP on 127.0.0.1: local development
        ({}, {"Host": "werkplek.gemeente.nl"}, True),  # a real host name: Secure by default
        ({"trust_proxy": True}, {"X-Forwarded-Proto": "https"}, True),  # TLS proxy in front
        ({}, {"X-Forwarded-Proto": "https"}, False),  # an untrusted header changes nothing
        ({"cookie_secure": True}, {}, True),
        ({"cookie_secure": False}, {"Host": "werkplek.gemeente.nl"}, False),
    ],
)
async def test_session_cookie_flags(
    make_client: ClientFactory, overrides: dict[str, Any], headers: dict[str, str], secure: bool
) -> None:
    client = await make_client(**overrides)
    await add_user(client.app[sessionmaker_key], "anna")
    page = await client.get("/login", headers=headers)
    login_cookie = next(h for h in page.headers.getall("Set-Cookie") if h.startswith(auth.LOGIN_CSRF_COOKIE))
    csrf = _form_csrf(await page.text())
    resp = await client.post(
        "/login",
        data={"username": "anna", "password": PASSWORD, "csrf_token": csrf},
        headers=headers,
        # Sent by hand: the test client's cookie jar keeps a Secure cookie away from http://.
        cookies={auth.LOGIN_CSRF_COOKIE: csrf},
        allow_redirects=False,
    )
    assert resp.status == 302
    cookie = session_cookie(resp)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert f"Max-Age={10 * 3600}" in cookie
    for header in (cookie, login_cookie):
        assert ("Secure" in header.split("; ")) is secure, header


async def _logged_in(client: Client, username: str = "anna") -> tuple[str, str]:
    """Returns (session token, staff CSRF token)."""
    await add_user(client.app[sessionmaker_key], username)
    resp = await try_login(client, username, PASSWORD)
    token = resp.cookies[auth.SESSION_COOKIE].value
    csrf = _form_csrf(await (await client.get("/wachtrij")).text())
    return token, csrf


async def test_logout_ends_the_session_on_the_server(make_client: ClientFactory) -> None:
    client = await make_client()
    token, csrf = await _logged_in(client)
    assert (await client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False)).status == 302
    # A copy of the old cookie (stolen, or another tab) no longer works.
    client.session.cookie_jar.update_cookies({auth.SESSION_COOKIE: token})
    resp = await client.get("/wachtrij.json")
    assert resp.status == 401


async def test_an_expired_session_needs_a_new_login(make_client: ClientFactory) -> None:
    client = await make_client()
    await _logged_in(client)
    assert (await client.get("/wachtrij.json")).status == 200
    async with client.app[sessionmaker_key]() as session, session.begin():
        past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
        await session.execute(update(StaffSession).values(expires_at=past))
    assert (await client.get("/wachtrij.json")).status == 401
    page = await client.get("/wachtrij", allow_redirects=False)
    assert page.status == 302 and page.headers["Location"].startswith("/login")


async def test_every_unsafe_method_needs_the_csrf_token(make_client: ClientFactory) -> None:
    """Not only POST: a PUT, PATCH or DELETE staff route added later gets the same check."""

    @auth.require_staff
    async def remove(request: web.Request, staff: auth.Staff) -> web.Response:
        return web.json_response({"removed": True})

    def configure(app: web.Application) -> None:
        for method in ("DELETE", "PUT", "PATCH"):
            app.router.add_route(method, "/test-wijzigen", remove)

    client = await make_client(configure)
    _token, csrf = await _logged_in(client)
    for method in ("DELETE", "PUT", "PATCH"):
        assert (await client.request(method, "/test-wijzigen")).status == 403
        ok = await client.request(method, "/test-wijzigen", headers={"X-CSRF-Token": csrf})
        assert ok.status == 200 and await ok.json() == {"removed": True}


async def test_require_role_refuses_other_roles(make_client: ClientFactory) -> None:
    @auth.require_role(Role.TEAMLEIDER)
    async def overview(request: web.Request, staff: auth.Staff) -> web.Response:
        return web.json_response({"user": staff.user.username})

    def configure(app: web.Application) -> None:
        app.router.add_get("/test-teamleider", overview)
        app.router.add_post("/test-teamleider", overview)

    client = await make_client(configure)
    assert getattr(overview, auth.REQUIRED_ROLES_ATTR) == {"teamleider"}
    _token, csrf = await _logged_in(client, "anna")  # a casemanager
    page = await client.get("/test-teamleider")
    assert page.status == 403 and "geen toegang" in await page.text()
    as_json = await client.get("/test-teamleider", headers={"Accept": "application/json"})
    assert as_json.status == 403 and await as_json.json() == {"error": "forbidden"}
    assert (await client.post("/test-teamleider", data={"csrf_token": csrf})).status == 403

    client.session.cookie_jar.clear()
    await add_user(client.app[sessionmaker_key], "lead", role=Role.TEAMLEIDER)
    await try_login(client, "lead", PASSWORD)
    assert await (await client.get("/test-teamleider")).json() == {"user": "lead"}
    lead_csrf = _form_csrf(await (await client.get("/wachtrij")).text())
    assert (await client.post("/test-teamleider")).status == 403  # the role does not replace CSRF
    assert (await client.post("/test-teamleider", data={"csrf_token": lead_csrf})).status == 200
    client.session.cookie_jar.clear()
    assert (await client.get("/test-teamleider", allow_redirects=False)).status == 302


# --- security headers ---------------------------------------------------------------------


def _csp(resp: Any) -> dict[str, str]:
    directives = (d.strip().split(" ", 1) for d in resp.headers["Content-Security-Policy"].split(";"))
    return {d[0]: d[1] if len(d) > 1 else "" for d in directives}


async def test_pages_get_a_strict_csp_and_no_caching(make_client: ClientFactory) -> None:
    client = await make_client()
    await _logged_in(client)
    for path in ("/login", "/wachtrij"):
        resp = await client.get(path)
        assert resp.status == 200 and resp.content_type == "text/html"
        csp = _csp(resp)
        assert csp["default-src"] == "'self'" and csp["script-src"] == "'self'"
        assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
        assert csp["base-uri"] == "'none'" and csp["form-action"] == "'self'"
        assert "unsafe-inline" not in resp.headers["Content-Security-Policy"]
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] == "same-origin"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Cache-Control"] == "no-store"
        assert "Strict-Transport-Security" not in resp.headers  # plain HTTP


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/api/status/HV-ZZZZ", BOT, 404),  # a JSON error made by api_errors
        ("GET", "/api/availability", BOT, 200),
        ("GET", "/api/availability", {}, 401),
        ("GET", "/wachtrij.json", {}, 401),
        ("GET", "/zaken/HV-ABCD", {}, 302),  # a redirect raised as an exception
        ("GET", "/bestaat-niet", {}, 404),
        ("GET", "/healthz", {}, 200),
    ],
)
async def test_every_answer_gets_the_headers(
    make_client: ClientFactory, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    client = await make_client()
    resp = await client.request(method, path, headers=headers, allow_redirects=False)
    assert resp.status == status
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Cache-Control"] == "no-store"
    assert _csp(resp) == {"default-src": "'none'", "frame-ancestors": "'none'"}


async def test_static_files_may_be_cached_and_hsts_only_over_https(make_client: ClientFactory) -> None:
    client = await make_client(trust_proxy=True)
    static = await client.get("/static/werkplek.css")
    assert static.status == 200 and "Cache-Control" not in static.headers
    assert static.headers["X-Content-Type-Options"] == "nosniff"
    https = await client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert https.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_templates_have_no_inline_script_or_style() -> None:
    """What keeps the CSP without 'unsafe-inline' working: scripts and styles are files."""
    for template in sorted((HANDOVER_ROOT / "templates").glob("*.html")):
        html = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), template.name
        assert "<style" not in html and not re.search(r"\sstyle=", html), template.name
        assert not re.search(r"\son[a-z]+=", html), template.name  # onclick= etc.
        assert "javascript:" not in html, template.name


# --- bad input on the bot API -------------------------------------------------------------


async def _post_case(client: Client, body: bytes, content_type: str = "application/json") -> Any:
    return await client.post("/api/cases", data=body, headers=BOT | {"Content-Type": content_type})


async def test_huge_body_is_413_json(make_client: ClientFactory) -> None:
    client = await make_client()
    huge = io.BytesIO(b'{"x": "' + b"a" * 5_000_000 + b'"}')
    resp = await client.post("/api/cases", data=huge, headers=BOT | {"Content-Type": "application/json"})
    assert resp.status == 413
    assert (await resp.json())["error"] == "request_entity_too_large"


@pytest.mark.parametrize(
    ("body", "content_type", "detail"),
    [
        # Fuzz finding: lone surrogates are valid JSON but cannot be stored (UnicodeEncodeError).
        (json.dumps(case_body(sender_id="\ud800")).encode(), "application/json", "ongeldig teken"),
        # NUL is valid JSON but PostgreSQL rejects it in text columns.
        (json.dumps(case_body(summary={"topic": "a\x00b"})).encode(), "application/json", "NUL"),
        (b'{"sender_id": "\xff\xfe"}', "application/json", "geen geldige JSON"),  # not UTF-8
        (b"{}", "application/json; charset=onzin", "geen geldige JSON"),  # unknown charset
        (b"[" * 100_000 + b"]" * 100_000, "application/json", "geen geldige JSON"),  # too deep
        (b'{"a": NaN}', "application/json", "consent"),  # NaN parses; the fields are checked
    ],
)
async def test_undecodable_or_unstorable_json_is_400(
    make_client_any_db: ClientFactory, body: bytes, content_type: str, detail: str
) -> None:
    client = await make_client_any_db()
    resp = await _post_case(client, body, content_type)
    assert resp.status == 400, await resp.text()
    error = await resp.json()
    assert error["error"] in {"bad_json", "bad_request"} and detail in error["detail"]


@pytest.mark.parametrize("timestamp", [1e300, -1e300, 9505970799346458.0, "NaN"])
async def test_timestamp_out_of_range_is_400(make_client: ClientFactory, timestamp: Any) -> None:
    """Fuzz finding: a number beyond the year 9999 raised ValueError/OverflowError (500)."""
    client = await make_client()
    value = float("nan") if timestamp == "NaN" else timestamp
    body = case_body(transcript=[{"role": "citizen", "text": "hoi", "timestamp": value}])
    resp = await _post_case(client, json.dumps(body).encode())
    assert resp.status == 400, await resp.text()
    assert "timestamp" in (await resp.json())["detail"]


async def test_nul_in_the_path_is_400(make_client_any_db: ClientFactory) -> None:
    client = await make_client_any_db()
    resp = await client.get("/api/conversations/socketio/a%00b", headers=BOT)
    assert resp.status == 400 and (await resp.json())["error"] == "bad_request"
    assert (await client.get("/api/status/HV-ABCD?x=%00", headers=BOT)).status == 400


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"csrf_token=x&tekst=\xff", "application/x-www-form-urlencoded"),  # not UTF-8
        (b"csrf_token=x", "application/x-www-form-urlencoded; charset=onzin"),
        (b"--grens\r\nkapot", "multipart/form-data; boundary=grens"),
        (b"csrf_token=x&tekst=a%00b", "application/x-www-form-urlencoded"),  # NUL
    ],
)
async def test_unreadable_forms_are_400(
    make_client_any_db: ClientFactory, body: bytes, content_type: str
) -> None:
    client = await make_client_any_db()
    await _logged_in(client)
    resp = await client.post("/zaken/HV-ABCD/berichten", data=body, headers={"Content-Type": content_type})
    assert resp.status == 400, await resp.text()
    login = await client.post("/login", data=body, headers={"Content-Type": content_type})
    assert login.status == 400


@pytest.mark.parametrize(
    ("seconds", "text"), [(1, "over 1 minuut"), (60, "over 1 minuut"), (61, "over 2 minuten")]
)
def test_wait_message_is_plain_dutch(seconds: int, text: str) -> None:
    from handover.web.login import _too_many_attempts

    assert text in _too_many_attempts(seconds)
