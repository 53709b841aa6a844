"""Bot-facing JSON API (/api/*) and /healthz: parse, call a service, answer JSON.

Every request runs on one database session (db.request_session_middleware).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from .. import audit, erasure, services
from ..auth import require_bot
from ..keys import settings_key, teams_key
from ..models import Case
from ..workflow import transaction
from .bot_input import (
    BadInput,
    canonical_sender_id,
    optional_text,
    parse_new_case,
    path_conversation,
    read_json_object,
    required_text,
)
from .http_errors import json_error, raise_api_error

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    try:
        async with transaction(request) as uow:
            await uow.session.execute(text("SELECT 1"))
    except Exception:
        log.exception("health check: database unreachable")
        return web.json_response({"status": "error", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok"})


@routes.get("/api/availability")
@require_bot
async def get_availability(request: web.Request) -> web.Response:
    settings = request.app[settings_key]
    async with transaction(request) as uow:
        avail = await services.availability(
            uow.session, settings.office_hours, settings.presence_timeout_seconds
        )
    return web.json_response(
        {
            "open": avail.open,
            "online_casemanagers": avail.online_casemanagers,
            "offer": avail.offer,
            # With its offset ("2026-12-07T09:00:00+01:00"): the bot tells the citizen the local time.
            "next_open": avail.next_open.isoformat(timespec="seconds") if avail.next_open else None,
            "hours": avail.hours or None,  # Dutch words; bots that know office_hours word it themselves
            "office_hours": list(avail.hours_data),
        }
    )


async def _queue_payload(request: web.Request, session: AsyncSession, case: Case) -> dict[str, Any]:
    settings = request.app[settings_key]
    info = await services.queue_info(
        session,
        case,
        minutes_per_case=settings.minutes_per_case,
        timeout_seconds=settings.presence_timeout_seconds,
    )
    avail = await services.availability(session, settings.office_hours, settings.presence_timeout_seconds)
    return {
        "reference": case.reference,
        "status": case.status,
        "queue_position": info.position,
        "expected_wait_minutes": info.expected_wait_minutes,
        "offer": avail.offer,
    }


@routes.post("/api/cases")
@require_bot
async def create_case(request: web.Request) -> web.Response:
    data = await read_json_object(request)
    try:
        new = parse_new_case(data)
    except BadInput as e:
        json_error(web.HTTPBadRequest, str(e), "bad_request")
    except services.InvalidInput as e:
        raise_api_error(e)
    # One transaction: the case and the answer's queue position (the position pushes follow).
    async with transaction(request) as uow:
        case, created = await services.create_case(uow, request.app[teams_key], new)
        payload = await _queue_payload(request, uow.session, case)
    return web.json_response(payload, status=201 if created else 200)


@routes.get("/api/conversations/{channel}/{sender_id}")
@require_bot
async def get_conversation(request: web.Request) -> web.Response:
    settings = request.app[settings_key]
    channel, sender_id = path_conversation(request)
    async with transaction(request) as uow:
        case = await services.find_open_case(uow.session, channel, sender_id)
        if case is None:
            return web.json_response({"active": False})
        info = await services.queue_info(
            uow.session,
            case,
            minutes_per_case=settings.minutes_per_case,
            timeout_seconds=settings.presence_timeout_seconds,
        )
    body: dict[str, Any] = {"active": True, "reference": case.reference, "status": case.status}
    if info.position is not None:
        body["queue_position"] = info.position
        body["expected_wait_minutes"] = info.expected_wait_minutes
    return web.json_response(body)


@routes.post("/api/cases/{reference}/messages")
@require_bot
async def post_citizen_message(request: web.Request) -> web.Response:
    data = await read_json_object(request)
    try:
        sender_id = canonical_sender_id(data.get("sender_id"))
        message = required_text(data, "text", services.MAX_TEXT)
        client_id = optional_text(data, "client_id", 64)  # idempotency key: a repeat is stored once
    except BadInput as e:
        json_error(web.HTTPBadRequest, str(e), "bad_request")
    try:
        async with transaction(request) as uow:
            msg = await services.add_citizen_message(
                uow, request.match_info["reference"], sender_id, message, client_id=client_id
            )
    except services.DomainError as e:
        raise_api_error(e)
    return web.json_response({"status": "accepted", "message_id": msg.id}, status=202)


@routes.get("/api/status/{reference}")
@require_bot
async def get_status(request: web.Request) -> web.Response:
    try:
        async with transaction(request) as uow:
            case = await services.get_case(uow.session, request.match_info["reference"])
            position = await services.queue_position(uow.session, case)
    except services.CaseNotFound as e:
        raise_api_error(e)
    body: dict[str, Any] = {"reference": case.reference, "status": case.status}
    if position is not None:
        body["queue_position"] = position
    return web.json_response(body)


@routes.post("/api/conversations/{channel}/{sender_id}/erase")
@require_bot
async def erase_conversation(request: web.Request) -> web.Response:
    """The citizen asked the bot to erase their data: every case of this conversation goes.

    Only the handover database: the bot erases its own tracker. Erasing twice is fine (0).
    """
    channel, sender_id = path_conversation(request)
    async with transaction(request) as uow:
        references = await erasure.erase_conversation(
            uow,
            channel,
            sender_id,
            actor=audit.CITIZEN,
            detail="op verzoek van de inwoner in de chat (chatbotgesprek wist de chatbot zelf)",
        )
    return web.json_response({"erased_cases": len(references)})
