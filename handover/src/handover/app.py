"""Application factory: wires settings, resources (cleanup_ctx), routes and middlewares."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from zoneinfo import ZoneInfo

import aiohttp
import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler
from redis.asyncio import Redis

from . import access, auth, insight, reminders, retention, workflow
from .background import stop_gracefully
from .clients.rasa import RasaClient
from .db import db_context, request_session_middleware
from .directory import Directory
from .keys import (
    background_tasks_key,
    directory_key,
    http_key,
    hub_key,
    labels_key,
    login_limiter_key,
    rasa_key,
    redactor_key,
    settings_key,
    teams_key,
)
from .labels import Labels, jinja_filters
from .login_limit import LoginLimiter, MemoryCounter, RedisCounter
from .openklant import openklant_context
from .rasa_delivery import outbox_context
from .realtime import Hub
from .redaction import get_redactor
from .settings import HANDOVER_ROOT, Settings
from .teams import TeamMapping
from .web import (
    agenda_page,
    appointments_api,
    bot_api,
    canned_page,
    case_page,
    directory_page,
    inbox_page,
    insight_page,
    login,
    overview_page,
    privacy_pages,
    queue_page,
    satisfaction_api,
    search_page,
    settings_page,
    websocket,
)
from .web import delivery_failures as delivery_failure_api
from .web.http_errors import html_error_pages

log = logging.getLogger(__name__)


async def http_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    async with aiohttp.ClientSession() as http:
        app[http_key] = http
        app[rasa_key] = RasaClient(
            http, settings.rasa_url, settings.rasa_token, settings.rasa_timeout_seconds
        )
        yield


async def redaction_context(app: web.Application) -> AsyncIterator[None]:
    """Load deduce in a thread at start-up, without holding up the start (redaction.py)."""
    redactor = app[redactor_key] = get_redactor(app[settings_key].redaction_cache_dir)
    loading = None if redactor.loaded else asyncio.ensure_future(asyncio.to_thread(redactor.load))
    yield
    if loading is not None:
        # A thread cannot be cancelled: let it finish, so the process exits cleanly.
        await asyncio.wait({loading})
        if not loading.cancelled() and (error := loading.exception()) is not None:
            log.error("loading deduce failed; redaction retries on first use", exc_info=error)


async def hub_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None

    async def session_viewers(session_ids: set[int]) -> dict[int, access.Viewer]:
        users = await auth.live_sessions(app, session_ids)
        return {session_id: access.Viewer.of(user) for session_id, user in users.items()}

    # WebSocket messages carry the full text only to whoever may read it (access.py), and
    # nothing goes to a socket whose login session ended.
    hub = Hub(redis, settings.redis_channel, access.message_payloads(app[redactor_key]), session_viewers)
    app[hub_key] = hub
    await hub.start()
    yield
    await hub.close()
    if redis is not None:
        await redis.aclose()


async def login_limit_context(app: web.Application) -> AsyncIterator[None]:
    """Shared counters in Redis when configured (several instances), else in this process."""
    settings = app[settings_key]
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    app[login_limiter_key] = LoginLimiter(
        RedisCounter(redis, prefix=f"{settings.redis_channel}:login:") if redis else MemoryCounter(),
        per_user=settings.login_max_failures,
        per_address=settings.login_max_failures_per_ip,
        window_seconds=settings.login_window_seconds,
        fallback=MemoryCounter() if redis else None,
    )
    yield
    if redis is not None:
        await redis.aclose()


async def background_context(app: web.Application) -> AsyncIterator[None]:
    app[background_tasks_key] = []
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(websocket.presence_loop(app, stop), name="presence"),
        asyncio.create_task(workflow.position_loop(app, stop), name="position-sweep"),
        asyncio.create_task(retention.retention_loop(app, stop), name="retention"),
        asyncio.create_task(reminders.reminder_loop(app, stop), name="appointment-reminders"),
        asyncio.create_task(insight.insight_loop(app, stop), name="insight"),
    ]
    app[background_tasks_key].extend(tasks)
    yield
    # Not cancelled mid database call: see background.py.
    stop.set()
    for task in tasks:
        await stop_gracefully(task, stop, grace_seconds=10)


async def close_websockets(app: web.Application) -> None:
    # Open sockets would otherwise keep graceful shutdown waiting.
    await app[hub_key].close()


@web.middleware
async def api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bot API errors are always JSON; unexpected errors are logged without the body."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPException as e:
        if e.content_type == "application/json" or e.status < 400:
            raise
        return web.json_response(
            {"error": e.reason.lower().replace(" ", "_"), "detail": e.text or e.reason},
            status=e.status,
            headers={k: v for k, v in e.headers.items() if k.lower() in {"allow", "www-authenticate"}},
        )
    except Exception:
        resource = request.match_info.route.resource
        # The route pattern, not the path: paths carry sender ids.
        log.exception("unhandled error on %s %s", request.method, resource.canonical if resource else "?")
        return web.json_response({"error": "internal_error"}, status=500)


@web.middleware
async def reject_nul(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A NUL character in the (decoded) path or query is never valid input here, and
    PostgreSQL rejects it in a query parameter: 400 instead of a database error."""
    if "\x00" in request.path or any("\x00" in k or "\x00" in v for k, v in request.query.items()):
        raise web.HTTPBadRequest(text="Het adres bevat een NUL-teken.")
    return await handler(request)


class PrivacyAccessLogger(AbstractAccessLogger):
    """Access log with the route pattern instead of the path: paths carry sender ids
    (for WhatsApp a phone number), which must not end up in logs."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        route = "?"
        if isinstance(request, web.Request) and request.match_info.route.resource is not None:
            route = request.match_info.route.resource.canonical
        self.logger.info("%s %s %s %.1fms", request.method, route, response.status, time * 1000)


# Pages load only our own files: no inline script or style (templates have none), no plugins,
# no framing. 'self' in connect-src also covers the same-origin WebSocket (CSP level 3).
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# JSON, text and files are never rendered as a page.
OTHER_CSP = "default-src 'none'; frame-ancestors 'none'"


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every answer just before it is sent (on_response_prepare): pages, JSON, redirects,
    files, and the error pages aiohttp makes itself (404, 405, and 500 for an exception)."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault(
        "Content-Security-Policy", PAGE_CSP if response.content_type == "text/html" else OTHER_CSP
    )
    if not request.path.startswith("/static/"):
        # Staff pages and API answers carry personal data: never keep them in any cache.
        headers.setdefault("Cache-Control", "no-store")
    if auth.is_https(request):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    # aiohttp names itself and its Python version here: nothing a client needs to know.
    headers.pop("Server", None)


def openapi_handler(spec: bytes) -> Handler:
    async def openapi_spec(request: web.Request) -> web.StreamResponse:
        """The API description (public: it holds no secrets)."""
        return web.Response(body=spec, content_type="application/yaml", charset="utf-8")

    return openapi_spec


def waiting_time(since: dt.datetime, now: dt.datetime) -> str:
    minutes = max(int((now - since).total_seconds() // 60), 0)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} u {minutes} min" if hours < 24 else f"{hours // 24} d {hours % 24} u"


def local_datetime(timezone: str) -> Callable[[dt.datetime | None], str]:
    zone = ZoneInfo(timezone)

    def fmt(value: dt.datetime | None) -> str:
        return value.astimezone(zone).strftime("%d-%m-%Y %H:%M") if value else "–"

    return fmt


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        client_max_size=settings.client_max_size,
        middlewares=[api_errors, html_error_pages, reject_nul, request_session_middleware],
    )
    app.on_response_prepare.append(security_headers)
    app[settings_key] = settings
    app[teams_key] = TeamMapping.load(settings.teams_file)
    app[directory_key] = Directory.load(settings.contacts_file)
    app[labels_key] = Labels.load(settings.labels_file)
    filters: dict[str, Callable[..., str]] = {
        "wachttijd": waiting_time,
        "datumtijd": local_datetime(settings.office_hours.timezone),
    }
    filters.update(jinja_filters(app[labels_key], app[directory_key]))
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(HANDOVER_ROOT / "templates")),
        autoescape=jinja2.select_autoescape(["html"], default=True),
        undefined=jinja2.StrictUndefined,
        filters=filters,
    )
    app.cleanup_ctx.extend(
        [
            db_context,
            redaction_context,
            http_context,
            hub_context,
            background_context,
            outbox_context,
            openklant_context,
        ]
    )
    app.cleanup_ctx.append(login_limit_context)
    app.on_shutdown.append(close_websockets)
    workspace = (
        queue_page,
        inbox_page,
        case_page,
        canned_page,
        overview_page,
        insight_page,
        search_page,
        directory_page,
        agenda_page,
        settings_page,
    )
    for module in (bot_api, appointments_api, satisfaction_api, login, *workspace, websocket, privacy_pages):
        app.router.add_routes(module.routes)
    # Bot API: a message of a case that could not be delivered (WhatsApp), shown in the case.
    app.router.add_routes(delivery_failure_api.routes)
    app.router.add_static("/static/", HANDOVER_ROOT / "static", name="static")
    app.router.add_get(
        "/api/openapi.yaml", openapi_handler((HANDOVER_ROOT / "openapi.yaml").read_bytes()), name="openapi"
    )
    return app
