"""Bot API: a message of a case could not be delivered to the citizen (services/delivery_failures.py).

    POST /api/conversations/{channel}/{sender_id}/delivery-failures   (bot secret)
    {"client_id": "<the bot's key>", "outcome": "held" | "failed" | "delivered" | "unreachable",
     "code": 131047 | null,
     "kind": "staff_message" | "mode" | "text", "text_sha256": "<64 hex>" | null}

202 with the case's reference; 404 when the conversation has no case.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from ..auth import require_bot
from ..keys import settings_key
from ..services.delivery_failures import (
    KINDS,
    OUTCOMES,
    DeliveryFailure,
    NoCaseForConversation,
    record_delivery_failure,
)
from ..workflow import transaction
from .bot_input import BadInput, optional_text, path_conversation, read_json_object, required_text
from .http_errors import json_error

routes = web.RouteTableDef()

_SHA256 = re.compile(r"[0-9a-f]{64}")


def parse_failure(data: dict[str, Any]) -> DeliveryFailure:
    client_id = required_text(data, "client_id", 64)
    outcome = required_text(data, "outcome", 16)
    if outcome not in OUTCOMES:
        raise BadInput(f"outcome moet een van {sorted(OUTCOMES)} zijn")
    code = data.get("code")
    if code is not None and (not isinstance(code, int) or isinstance(code, bool) or not 0 <= code < 2**31):
        raise BadInput("code moet een geheel getal zijn")
    kind = optional_text(data, "kind", 32) or "text"
    if kind not in KINDS:
        raise BadInput(f"kind moet een van {sorted(KINDS)} zijn")
    sha = optional_text(data, "text_sha256", 64)
    if sha is not None and not _SHA256.fullmatch(sha):
        raise BadInput("text_sha256 moet 64 hexadecimale tekens zijn")
    return DeliveryFailure(client_id=client_id, outcome=outcome, code=code, kind=kind, text_sha256=sha)


@routes.post("/api/conversations/{channel}/{sender_id}/delivery-failures")
@require_bot
async def post_delivery_failure(request: web.Request) -> web.Response:
    channel, sender_id = path_conversation(request)
    data = await read_json_object(request)
    try:
        failure = parse_failure(data)
    except BadInput as e:
        json_error(web.HTTPBadRequest, str(e), "bad_request")
    timezone = request.app[settings_key].office_hours.timezone
    try:
        async with transaction(request) as uow:
            case, msg = await record_delivery_failure(uow, channel, sender_id, failure, timezone)
    except NoCaseForConversation as e:
        json_error(web.HTTPNotFound, str(e), "not_found")
    return web.json_response(
        {"status": "recorded", "reference": case.reference, "message_id": msg.id}, status=202
    )
