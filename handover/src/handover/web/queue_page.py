"""The queue page: waiting cases per team, claim-next, my cases, my follow-up tasks and the
availability toggle (Beschikbaar / Pauze)."""

from __future__ import annotations

import datetime as dt

import aiohttp_jinja2
from aiohttp import web

from .. import services
from ..auth import Staff, require_staff
from ..consent import consented_organisations
from ..keys import settings_key, teams_key
from ..models import utcnow
from ..workflow import transaction
from .http_errors import raise_for_form
from .responses import case_url, flash_redirect, wants_json_answer

routes = web.RouteTableDef()

# PostgreSQL's INTEGER: a larger id cannot exist, and would overflow in the driver (a 500).
MAX_ID = 2**31 - 1


def path_id(request: web.Request, name: str) -> int:
    """A database id from the path; anything else, also a number out of range, is 404."""
    value = request.match_info[name]
    if not (value.isascii() and value.isdigit() and 0 < int(value) <= MAX_ID):
        raise web.HTTPNotFound()
    return int(value)


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    raise web.HTTPFound(location="/wachtrij")


def selected_team(request: web.Request, staff: Staff) -> str | None:
    teams = request.app[teams_key]
    team = request.query.get("team")
    if team is None:  # default to the casemanager's own (first) team
        return staff.user.teams[0] if staff.user.teams else None
    return team if team in teams.teams else None


@routes.get("/wachtrij", name="queue")
@require_staff
async def queue_page(request: web.Request, staff: Staff) -> web.Response:
    team = selected_team(request, staff)
    now = utcnow()
    async with transaction(request) as uow:
        await services.touch_presence(uow, staff.user.id)
        page = await services.list_queue(uow.session, team)
        mine = await services.my_cases(uow.session, staff.user)
        tasks = await services.open_follow_ups_for(uow.session, staff.user)
        online = await services.online_casemanagers(
            uow.session, request.app[settings_key].presence_timeout_seconds
        )
    return aiohttp_jinja2.render_template(
        "queue.html",
        request,
        {
            "user": staff.user,
            "csrf_token": staff.csrf_token,
            "page": page,
            "team": team,
            "teams": request.app[teams_key],
            "mine": mine,
            "tasks": tasks,
            "today": dt.date.today(),
            "now": now,
            "online": online,
            "melding": request.query.get("melding"),
        },
    )


@routes.get("/wachtrij.json", name="queue_json")
@require_staff
async def queue_json(request: web.Request, staff: Staff) -> web.Response:
    team = selected_team(request, staff)
    now = utcnow()
    async with transaction(request) as uow:
        page = await services.list_queue(uow.session, team)
    return web.json_response(
        {
            "team": team,
            "total": page.total,
            "cases": [
                {
                    "reference": c.reference,
                    "team": c.team,
                    "topic": c.topic,
                    # Only those the citizen agreed to (consent.py).
                    "organisations": consented_organisations(c),
                    "question_type": c.question_type,
                    "urgent": c.urgent,
                    "language": c.language,
                    "kind": c.kind,
                    "waiting_minutes": int((now - c.created_at).total_seconds() // 60),
                }
                for c in page.cases
            ],
        }
    )


@routes.post("/wachtrij/volgende", name="claim_next")
@require_staff
async def claim_next(request: web.Request, staff: Staff) -> web.Response:
    form = await request.post()
    team = str(form.get("team", "")) or None
    try:
        async with transaction(request) as uow:
            case = await services.claim_next(uow, staff.user, [team] if team else None)
    except services.DomainError as e:
        raise_for_form(request, e, "/wachtrij")
    if wants_json_answer(request):  # the live inbox opens the case itself
        return web.json_response({"status": "ok", "reference": case.reference})
    raise web.HTTPFound(location=case_url(request, case.reference))


@routes.post("/beschikbaarheid", name="presence")
@require_staff
async def toggle_presence(request: web.Request, staff: Staff) -> web.Response:
    form = await request.post()
    online = form.get("online") == "1"
    async with transaction(request) as uow:
        await services.touch_presence(uow, staff.user.id, online=online)
    raise web.HTTPFound(location="/wachtrij")


@routes.post("/nazorg/{task_id}/gereed", name="follow_up_done")
@require_staff
async def follow_up_done(request: web.Request, staff: Staff) -> web.Response:
    task_id = path_id(request, "task_id")
    try:
        async with transaction(request) as uow:
            await services.complete_follow_up(uow, task_id, staff.user)
    except services.DomainError as e:
        raise_for_form(request, e, "/wachtrij")
    flash_redirect("/wachtrij", "Nazorgtaak afgevinkt.")
