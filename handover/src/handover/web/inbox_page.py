"""The live inbox (werkbak): my chats in progress, the queue beside them and the open conversation
on one screen. werkplek.js keeps it current over the WebSocket: it loads the lists
(``/werkbak/lijsten``) and the open case (``/zaken/{reference}/paneel``) again after every event."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from .. import services
from ..auth import Staff, require_staff
from ..keys import settings_key, teams_key
from ..models import utcnow
from ..uow import UnitOfWork
from ..workflow import transaction
from .case_page import case_context
from .queue_page import selected_team

routes = web.RouteTableDef()


async def _lists(request: web.Request, staff: Staff, uow: UnitOfWork) -> dict[str, Any]:
    team = selected_team(request, staff)
    chats = await services.my_chats(uow.session, staff.user)
    return {
        "user": staff.user,
        "csrf_token": staff.csrf_token,
        "chats": chats,
        "unread": sum(c.unread for c in chats),
        "page": await services.list_queue(uow.session, team, limit=50),
        "team": team,
        "teams": request.app[teams_key],
        "online": await services.online_casemanagers(
            uow.session, request.app[settings_key].presence_timeout_seconds
        ),
        "open_reference": request.query.get("zaak", "").upper(),
        "now": utcnow(),
    }


@routes.get("/werkbak", name="inbox")
@require_staff
async def inbox_page(request: web.Request, staff: Staff) -> web.Response:
    async with transaction(request) as uow:
        await services.touch_presence(uow, staff.user.id)
        values = await _lists(request, staff, uow)
        melding = request.query.get("melding")
        panel: dict[str, Any] | None = None
        if values["open_reference"]:
            try:
                panel = (await case_context(request, staff, uow)).values | {"werkbak": True, "melding": None}
            except services.CaseNotFound as e:
                melding = str(e)
    # The open case: the same fragment (_zaak.html) the script loads again after each change.
    return aiohttp_jinja2.render_template(
        "werkbak.html",
        request,
        values
        | (panel or {})
        | {"panel_reference": panel["case"].reference if panel else "", "melding": melding, "werkbak": True},
    )


@routes.get("/werkbak/lijsten", name="inbox_lists")
@require_staff
async def inbox_lists(request: web.Request, staff: Staff) -> web.Response:
    """My chats and the queue, without the page around them."""
    async with transaction(request) as uow:
        values = await _lists(request, staff, uow)
    return aiohttp_jinja2.render_template("werkbak_lijsten.html", request, values)


@routes.get("/werkbak.json", name="inbox_json")
@require_staff
async def inbox_json(request: web.Request, staff: Staff) -> web.Response:
    """How many citizen messages I have not read, per chat: every workspace page puts the total
    in its tab title."""
    async with transaction(request) as uow:
        chats = await services.my_chats(uow.session, staff.user)
    return web.json_response(
        {
            "unread": sum(c.unread for c in chats),
            "chats": [
                {
                    "reference": c.case.reference,
                    "unread": c.unread,
                    "waiting_since": c.waiting_since.isoformat() if c.waiting_since else None,
                }
                for c in chats
            ],
        }
    )
