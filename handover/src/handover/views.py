"""Bot-facing JSON API: parse, call a service, map domain errors to HTTP errors."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from typing import Any, NoReturn

from aiohttp import web
from privacy.sender_id import InvalidSenderId, check_sender_id
from sqlalchemy import text

from . import audit, erasure, services
from .auth import require_bot
from .keys import sessionmaker_key, settings_key, teams_key
from .models import Case
from .services import NewCase, TranscriptEntry
from .workflow import transaction

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


# --- error mapping --------------------------------------------------------------------


def json_error(exc_cls: type[web.HTTPException], detail: str, code: str) -> NoReturn:
    raise exc_cls(text=json.dumps({"error": code, "detail": detail}), content_type="application/json")


def raise_for_domain(e: services.DomainError) -> NoReturn:
    """Translate a queue-rule violation into the matching HTTP error (JSON body)."""
    if isinstance(e, services.CaseNotFound):
        json_error(web.HTTPNotFound, str(e), "not_found")
    if isinstance(e, services.SenderMismatch):
        json_error(web.HTTPForbidden, str(e), "sender_mismatch")
    if isinstance(e, services.InvalidInput):
        json_error(web.HTTPBadRequest, str(e), "bad_request")
    json_error(web.HTTPConflict, str(e), "conflict")


# --- input parsing ------------------------------------------------------------------------


class BadInput(ValueError):
    pass


_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


def _has_bad_text(data: Any) -> bool:
    """Whether any key or string holds NUL or an unpaired surrogate: JSON allows both
    ("\\u0000", "\\ud800"), but PostgreSQL cannot store NUL and neither database a lone
    surrogate. Iterative, because the parsed JSON may be nested deeply."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and _BAD_TEXT.search(item):
            return True
    return False


async def read_json_object(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except (ValueError, LookupError, RecursionError) as e:  # bad JSON, UTF-8 or charset; too deep
        json_error(web.HTTPBadRequest, f"Body is geen geldige JSON: {e}", "bad_json")
    if not isinstance(data, dict):
        json_error(web.HTTPBadRequest, "Body moet een JSON-object zijn", "bad_json")
    if _has_bad_text(data):
        json_error(web.HTTPBadRequest, "Tekst bevat een NUL-teken of een ongeldig teken", "bad_request")
    return data


def _opt_str(data: dict[str, Any], key: str, max_len: int = 10_000) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadInput(f"{key} moet tekst zijn")
    if len(value) > max_len:
        raise BadInput(f"{key} is te lang (max {max_len})")
    return value.strip() or None


def _req_str(data: dict[str, Any], key: str, max_len: int = 10_000) -> str:
    value = _opt_str(data, key, max_len)
    if value is None:
        raise BadInput(f"{key} ontbreekt")
    return value


# The column's length; the rule itself is shared with the bot (privacy/sender_id.py).
MAX_SENDER_ID = 255


def _sender_id(value: Any) -> str:
    """A conversation id exactly as the bot and Rasa use it: refused when not canonical, never
    changed (stripping " victim" to "victim" would join another citizen's conversation)."""
    try:
        return check_sender_id(value, max_chars=MAX_SENDER_ID)
    except InvalidSenderId as e:
        raise BadInput(f"sender_id: {e}") from e


def _path_conversation(request: web.Request) -> tuple[str, str]:
    """(channel, sender_id) from the path; 400 for a sender_id that is not canonical."""
    try:
        return request.match_info["channel"], _sender_id(request.match_info["sender_id"])
    except BadInput as e:
        json_error(web.HTTPBadRequest, str(e), "bad_request")


def _bool(data: dict[str, Any], key: str, *, required: bool = False) -> bool:
    value = data.get(key)
    if value is None and not required:
        return False
    if not isinstance(value, bool):
        raise BadInput(f"{key} moet true of false zijn")
    return value


def _timestamp(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return dt.datetime.fromtimestamp(value, tz=dt.timezone.utc)  # Rasa tracker events
        except (ValueError, OverflowError, OSError) as e:  # NaN, or beyond the year 9999
            raise BadInput(f"timestamp {value!r} valt buiten het bereik") from e
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as e:
            raise BadInput(f"ongeldige timestamp {value!r}") from e
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.timezone.utc)
        try:  # stored as UTC: "9999-12-31T23:59:59-14:00" would overflow only at the database
            return parsed.astimezone(dt.timezone.utc)
        except OverflowError as e:
            raise BadInput(f"timestamp {value!r} valt buiten het bereik") from e
    raise BadInput("timestamp moet ISO-tekst of epoch-seconden zijn")


def parse_new_case(data: dict[str, Any]) -> NewCase:
    raw_transcript = data.get("transcript") or []
    summary = data.get("summary") or {}
    contact = data.get("contact") or {}
    if not isinstance(raw_transcript, list):
        raise BadInput("transcript moet een lijst zijn")
    if not isinstance(summary, dict) or not isinstance(contact, dict):
        raise BadInput("summary en contact moeten objecten zijn")
    transcript = []
    for i, item in enumerate(raw_transcript):
        if not isinstance(item, dict):
            raise BadInput(f"transcript[{i}] moet een object zijn")
        transcript.append(
            TranscriptEntry(
                role=_req_str(item, "role", 16),
                text=_opt_str(item, "text") or "",
                timestamp=_timestamp(item.get("timestamp")),
                name=_opt_str(item, "name", 128),
            )
        )
    organisations = summary.get("organisations") or []
    if not isinstance(organisations, list) or not all(isinstance(o, str) for o in organisations):
        raise BadInput("summary.organisations moet een lijst met tekst zijn")
    question_type = summary.get("question_type")
    if question_type is not None and (isinstance(question_type, bool) or not isinstance(question_type, int)):
        raise BadInput("summary.question_type moet 1, 2 of 3 zijn")
    consent = _bool(data, "consent", required=True)
    consent_organisations = data.get("consent_organisations")
    if consent_organisations is not None and (
        not isinstance(consent_organisations, list)
        or not all(isinstance(o, str) and 0 < len(o) <= 64 for o in consent_organisations)
    ):
        raise BadInput("consent_organisations moet een lijst met organisatie-ids zijn")
    consent_at = data.get("consent_at")
    if consent_at is not None and not isinstance(consent_at, str):
        raise BadInput("consent_at moet een ISO 8601-tijd zijn")
    return NewCase(
        channel=_req_str(data, "channel", 16),
        sender_id=_sender_id(data.get("sender_id")),
        kind=_req_str(data, "kind", 16),
        # Without consent to forward the conversation only the intake fields are kept.
        transcript=transcript if consent else (),
        topic=_opt_str(summary, "topic", 128) or _opt_str(summary, "topic_id", 128),
        organisations=organisations[:20],
        question_type=question_type,
        urgent=_bool(summary, "urgent"),
        life_event=_opt_str(summary, "life_event", 128),
        summary_text=_opt_str(summary, "summary_text"),
        self_service=_opt_str(summary, "self_service"),
        consent=consent,
        # Without consent nothing was agreed: no time, no organisations.
        consent_at=_timestamp(consent_at) if consent else None,
        consent_organisations=consent_organisations[:20]
        if consent and consent_organisations is not None
        else None,
        contact_phone=_opt_str(contact, "phone", 64),
        contact_email=_opt_str(contact, "email", 255),
        contact_moment=_opt_str(contact, "moment", 255),
    )


# --- handlers -------------------------------------------------------------------------


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    try:
        async with request.app[sessionmaker_key]() as session:
            await session.execute(text("SELECT 1"))
    except Exception:
        log.exception("health check: database unreachable")
        return web.json_response({"status": "error", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok"})


@routes.get("/api/availability")
@require_bot
async def get_availability(request: web.Request) -> web.Response:
    settings = request.app[settings_key]
    async with request.app[sessionmaker_key]() as session:
        avail = await services.availability(session, settings.office_hours, settings.presence_timeout_seconds)
    return web.json_response(
        {"open": avail.open, "online_casemanagers": avail.online_casemanagers, "offer": avail.offer}
    )


async def _queue_payload(request: web.Request, case: Case) -> dict[str, Any]:
    settings = request.app[settings_key]
    async with request.app[sessionmaker_key]() as session:
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
        raise_for_domain(e)
    async with transaction(request.app) as uow:
        case, created = await services.create_case(uow, request.app[teams_key], new)
    payload = await _queue_payload(request, case)
    return web.json_response(payload, status=201 if created else 200)


@routes.get("/api/conversations/{channel}/{sender_id}")
@require_bot
async def get_conversation(request: web.Request) -> web.Response:
    settings = request.app[settings_key]
    channel, sender_id = _path_conversation(request)
    async with request.app[sessionmaker_key]() as session:
        case = await services.find_open_case(session, channel, sender_id)
        if case is None:
            return web.json_response({"active": False})
        info = await services.queue_info(
            session,
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
        sender_id = _sender_id(data.get("sender_id"))
        message = _req_str(data, "text", services.MAX_TEXT)
        client_id = _opt_str(data, "client_id", 64)  # idempotency key: a repeat is stored once
    except BadInput as e:
        json_error(web.HTTPBadRequest, str(e), "bad_request")
    try:
        async with transaction(request.app) as uow:
            msg = await services.add_citizen_message(
                uow, request.match_info["reference"], sender_id, message, client_id=client_id
            )
    except services.DomainError as e:
        raise_for_domain(e)
    return web.json_response({"status": "accepted", "message_id": msg.id}, status=202)


@routes.get("/api/status/{reference}")
@require_bot
async def get_status(request: web.Request) -> web.Response:
    async with request.app[sessionmaker_key]() as session:
        try:
            case = await services.get_case(session, request.match_info["reference"])
        except services.CaseNotFound as e:
            raise_for_domain(e)
        position = await services.queue_position(session, case)
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
    channel, sender_id = _path_conversation(request)
    async with transaction(request.app) as uow:
        references = await erasure.erase_conversation(
            uow,
            channel,
            sender_id,
            actor=audit.CITIZEN,
            detail="op verzoek van de inwoner in de chat (chatbotgesprek wist de chatbot zelf)",
        )
    return web.json_response({"erased_cases": len(references)})
