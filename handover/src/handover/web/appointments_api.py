"""Bot API for appointments: free slots, and book, change, cancel for one conversation.

Parse, call services/appointments.py, answer JSON; named errors become HTTP in http_errors.py.
A slot taken by someone else answers 409 ``slot_taken`` with other free slots, so the bot can
offer them at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from ..auth import require_bot
from ..ics import appointment_ics
from ..keys import directory_key, settings_key
from ..models import Appointment, AppointmentMode, AppointmentSlot
from ..services import appointments as service
from ..services.errors import AppointmentNotFound, DomainError, SlotTaken
from ..uow import UnitOfWork
from ..workflow import transaction
from .bot_input import BadInput, optional_text, path_conversation, read_json_object
from .http_errors import json_error, raise_api_error

routes = web.RouteTableDef()

MAX_ID = 2**31 - 1  # PostgreSQL's INTEGER


def slot_json(request: web.Request, slot: AppointmentSlot) -> dict[str, Any]:
    timezone = request.app[settings_key].office_hours.timezone
    directory = request.app[directory_key]
    organisation = directory.for_organisations([slot.organisation])[0] if slot.organisation else None
    return {
        "id": slot.id,
        "starts_at": slot.starts_at.astimezone(ZoneInfo(timezone)).isoformat(timespec="seconds"),
        "ends_at": slot.ends_at.astimezone(ZoneInfo(timezone)).isoformat(timespec="seconds"),
        "moment": service.describe_moment(slot.starts_at, timezone),
        "mode": str(slot.mode),
        "location": slot.location,
        "organisation": slot.organisation,
        "organisation_name": organisation.name if organisation else None,
    }


def appointment_json(request: web.Request, appointment: Appointment) -> dict[str, Any]:
    timezone = request.app[settings_key].office_hours.timezone
    directory = request.app[directory_key]
    facts = service.citizen_facts(appointment, timezone)
    facts["organisation_names"] = [org.name for org in directory.for_organisations(appointment.organisations)]
    facts["slot_id"] = appointment.slot_id
    return facts


def _slot_id(data: dict[str, Any]) -> int:
    value = data.get("slot_id")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise BadInput("slot_id moet een positief geheel getal zijn")
    return value


def _moment(value: str | None, name: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as e:
        raise BadInput(f"{name} is geen datum en tijd (ISO 8601)") from e
    if moment.tzinfo is None:
        raise BadInput(f"{name} heeft geen tijdzone")
    return moment


def _organisations(data: dict[str, Any]) -> list[str] | None:
    value = data.get("organisations")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v) <= 64 for v in value):
        raise BadInput("organisations moet een lijst met organisatie-id's zijn")
    return list(value)[:10]


async def _alternatives(request: web.Request, session: AsyncSession, slot_id: int) -> list[dict[str, Any]]:
    taken = await session.get(AppointmentSlot, slot_id)
    slots = await service.free_slots(session, organisation=taken.organisation if taken else None, limit=3)
    return [slot_json(request, slot) for slot in slots]


async def _take_slot(
    request: web.Request, slot_id: int, take: Callable[[UnitOfWork], Awaitable[Appointment]]
) -> dict[str, Any]:
    """Book or move to `slot_id`. A slot someone else took first answers 409 with other free slots."""
    try:
        async with transaction(request) as uow:
            return appointment_json(request, await take(uow))
    except SlotTaken as e:
        async with transaction(request) as uow:
            alternatives = await _alternatives(request, uow.session, slot_id)
        raise_api_error(e, slots=alternatives)
    except DomainError as e:
        raise_api_error(e)


@routes.get("/api/appointments/slots")
@require_bot
async def list_slots(request: web.Request) -> web.Response:
    """The first free slots, optionally for one organisation, mode and period."""
    query = request.query
    try:
        after = _moment(query.get("from"), "from")
        before = _moment(query.get("to"), "to")
        limit = int(query.get("limit", "5"))
        mode = query.get("mode") or None
        if mode is not None and mode not in {m.value for m in AppointmentMode}:
            raise BadInput("mode is stadskantoor, telefoon of video")
        organisation = (query.get("organisation") or "").strip().lower()[:64] or None
    except (BadInput, ValueError) as e:
        json_error(web.HTTPBadRequest, str(e), "bad_request")
    async with transaction(request) as uow:
        slots = await service.free_slots(
            uow.session, organisation=organisation, mode=mode, after=after, before=before, limit=limit
        )
        body = {"slots": [slot_json(request, slot) for slot in slots]}
    return web.json_response(body)


@routes.get("/api/conversations/{channel}/{sender_id}/appointments")
@require_bot
async def list_appointments(request: web.Request) -> web.Response:
    """The conversation's booked appointments that have not started yet."""
    channel, sender_id = path_conversation(request)
    async with transaction(request) as uow:
        found = await service.upcoming(uow.session, channel, sender_id)
        body = {"appointments": [appointment_json(request, a) for a in found]}
    return web.json_response(body)


@routes.post("/api/conversations/{channel}/{sender_id}/appointments")
@require_bot
async def book(request: web.Request) -> web.Response:
    channel, sender_id = path_conversation(request)
    data = await read_json_object(request)
    try:
        slot_id = _slot_id(data)
        case_reference = optional_text(data, "reference", 16)
        organisations = _organisations(data)
    except BadInput as e:
        json_error(web.HTTPBadRequest, str(e), "bad_request")
    body = await _take_slot(
        request,
        slot_id,
        lambda uow: service.book(
            uow, channel, sender_id, slot_id, case_reference=case_reference, organisations=organisations
        ),
    )
    return web.json_response(body, status=201)


@routes.post("/api/conversations/{channel}/{sender_id}/appointments/{appointment}/change")
@require_bot
async def change(request: web.Request) -> web.Response:
    channel, sender_id = path_conversation(request)
    data = await read_json_object(request)
    try:
        slot_id = _slot_id(data)
    except BadInput as e:
        json_error(web.HTTPBadRequest, str(e), "bad_request")
    reference = request.match_info["appointment"]
    body = await _take_slot(
        request, slot_id, lambda uow: service.change(uow, channel, sender_id, reference, slot_id)
    )
    return web.json_response(body)


@routes.post("/api/conversations/{channel}/{sender_id}/appointments/{appointment}/cancel")
@require_bot
async def cancel(request: web.Request) -> web.Response:
    channel, sender_id = path_conversation(request)
    try:
        async with transaction(request) as uow:
            appointment = await service.cancel(uow, channel, sender_id, request.match_info["appointment"])
            body = appointment_json(request, appointment)
    except DomainError as e:
        raise_api_error(e)
    return web.json_response(body)


@routes.get("/api/conversations/{channel}/{sender_id}/appointments/{appointment}/ics")
@require_bot
async def calendar_file(request: web.Request) -> web.Response:
    """The iCalendar file the bot offers the citizen (a cancelled one cancels it in the calendar)."""
    channel, sender_id = path_conversation(request)
    try:
        async with transaction(request) as uow:
            appointment = await service.get_appointment(uow.session, request.match_info["appointment"])
            if (appointment.channel, appointment.sender_id) != (channel, sender_id):
                raise AppointmentNotFound(request.match_info["appointment"])
            body = appointment_ics(appointment, request.app[directory_key])
    except DomainError as e:
        raise_api_error(e)
    return web.Response(
        body=body,
        content_type="text/calendar",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="afspraak-{appointment.reference}.ics"'},
    )
