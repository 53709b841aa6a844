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

from . import views, workflow, workspace
from .background import stop_gracefully
from .clients.rasa import RasaClient
from .db import db_context
from .directory import Directory
from .keys import (
    background_tasks_key,
    directory_key,
    http_key,
    hub_key,
    rasa_key,
    settings_key,
    teams_key,
)
from .outbox import outbox_context
from .realtime import Hub
from .settings import HANDOVER_ROOT, Settings
from .teams import TeamMapping

log = logging.getLogger(__name__)


async def http_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    async with aiohttp.ClientSession() as http:
        app[http_key] = http
        app[rasa_key] = RasaClient(
            http, settings.rasa_url, settings.rasa_token, settings.rasa_timeout_seconds
        )
        yield


async def hub_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    hub = Hub(redis, settings.redis_channel)
    app[hub_key] = hub
    await hub.start()
    yield
    await hub.close()
    if redis is not None:
        await redis.aclose()


async def background_context(app: web.Application) -> AsyncIterator[None]:
    app[background_tasks_key] = []
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(workspace.presence_loop(app, stop), name="presence"),
        asyncio.create_task(workflow.position_loop(app, stop), name="position-sweep"),
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


class PrivacyAccessLogger(AbstractAccessLogger):
    """Access log with the route pattern instead of the path: paths carry sender ids
    (for WhatsApp a phone number), which must not end up in logs."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        route = "?"
        if isinstance(request, web.Request) and request.match_info.route.resource is not None:
            route = request.match_info.route.resource.canonical
        self.logger.info("%s %s %s %.1fms", request.method, route, response.status, time * 1000)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.content_type == "text/html":
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'",
        )
    return response


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
        client_max_size=settings.client_max_size, middlewares=[api_errors, security_headers]
    )
    app[settings_key] = settings
    app[teams_key] = TeamMapping.load(settings.teams_file)
    app[directory_key] = Directory.load(settings.contacts_file)
    filters: dict[str, Callable[..., str]] = {
        "wachttijd": waiting_time,
        "datumtijd": local_datetime(settings.office_hours.timezone),
    }
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(HANDOVER_ROOT / "templates")),
        autoescape=jinja2.select_autoescape(["html"], default=True),
        undefined=jinja2.StrictUndefined,
        filters=filters,
    )
    app.cleanup_ctx.extend([db_context, http_context, hub_context, background_context, outbox_context])
    app.on_shutdown.append(close_websockets)
    app.router.add_routes(views.routes)
    app.router.add_routes(workspace.routes)
    app.router.add_static("/static/", HANDOVER_ROOT / "static", name="static")
    return app
