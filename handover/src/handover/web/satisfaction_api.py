"""Bot API: the citizen's satisfaction answer after closing (services/satisfaction.py).

    POST /api/cases/{reference}/tevredenheid   (bot secret)
    {"sender_id": "...", "score": 1-5, "text": "optional words"}

202 {"status": "recorded", "reference", "score"}; 403 another conversation's case, 404 unknown,
409 while the case is still open.
"""

from __future__ import annotations

from aiohttp import web

from .. import services
from ..auth import require_bot
from ..keys import redactor_key
from ..services.satisfaction import MAX_WORDS, SCORES, record_satisfaction
from ..workflow import transaction
from .bot_input import BadInput, canonical_sender_id, optional_text, read_json_object
from .http_errors import json_error, raise_api_error

routes = web.RouteTableDef()


@routes.post("/api/cases/{reference}/tevredenheid", name="api_satisfaction")
@require_bot
async def post_satisfaction(request: web.Request) -> web.Response:
    data = await read_json_object(request)
    try:
        sender_id = canonical_sender_id(data.get("sender_id"))
        score = data.get("score")
        if isinstance(score, bool) or not isinstance(score, int) or score not in SCORES:
            raise BadInput("score moet een geheel getal van 1 tot en met 5 zijn")
        words = optional_text(data, "text", MAX_WORDS)
    except BadInput as e:
        json_error(web.HTTPBadRequest, str(e), "bad_request")
    try:
        async with transaction(request) as uow:
            case = await record_satisfaction(
                uow, request.match_info["reference"], sender_id, score, words, request.app[redactor_key]
            )
    except services.DomainError as e:
        raise_api_error(e)
    return web.json_response({"status": "recorded", "reference": case.reference, "score": score}, status=202)
