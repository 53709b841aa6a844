"""Typed application and request state. Every value stored on the app or a request lives behind
one of these keys."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .clients.rasa import RasaClient
from .directory import Directory
from .labels import Labels
from .login_limit import LoginLimiter
from .realtime import Hub
from .redaction import Redactor
from .settings import Settings
from .teams import TeamMapping

settings_key = web.AppKey("settings", Settings)
engine_key = web.AppKey("engine", AsyncEngine)
sessionmaker_key = web.AppKey("sessionmaker", async_sessionmaker[AsyncSession])
teams_key = web.AppKey("teams", TeamMapping)
directory_key = web.AppKey("directory", Directory)
labels_key = web.AppKey("labels", Labels)
http_key = web.AppKey("http", aiohttp.ClientSession)
rasa_key = web.AppKey("rasa", RasaClient)
hub_key = web.AppKey("hub", Hub)
outbox_wakeup_key = web.AppKey("outbox_wakeup", asyncio.Event)
openklant_wakeup_key = web.AppKey("openklant_wakeup", asyncio.Event)
background_tasks_key = web.AppKey("background_tasks", list[asyncio.Task[None]])
login_limiter_key = web.AppKey("login_limiter", LoginLimiter)
redactor_key = web.AppKey("redactor", Redactor)

# The one database session of a request (db.request_session_middleware).
request_session_key = web.RequestKey("session", AsyncSession)
