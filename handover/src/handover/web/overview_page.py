"""The teamleider's overview (/overzicht): per team who handles which case now, and the waiting
times, which keep counting on the open page (werkplek.js) and turn "let op" / "te lang"."""

from __future__ import annotations

import datetime as dt

import aiohttp_jinja2
from aiohttp import web

from .. import services
from ..auth import Staff, require_role
from ..keys import teams_key
from ..models import Role, utcnow
from ..services import overview
from ..services.appointments import appointments_per_team
from ..services.satisfaction import satisfaction_per_team
from ..workflow import transaction

routes = web.RouteTableDef()


@routes.get("/overzicht", name="overview")
@require_role(Role.TEAMLEIDER)
async def overview_page(request: web.Request, staff: Staff) -> web.Response:
    teams = request.app[teams_key]
    async with transaction(request) as uow:
        per_team = await services.team_overview(uow.session, list(teams.teams))
        satisfaction = await satisfaction_per_team(uow.session, utcnow() - dt.timedelta(days=30))
        # The last 30 days up to now: what was held, missed or cancelled (issue 18).
        appointments = await appointments_per_team(uow.session, utcnow() - dt.timedelta(days=30), utcnow())
    return aiohttp_jinja2.render_template(
        "overzicht.html",
        request,
        {
            "user": staff.user,
            "csrf_token": staff.csrf_token,
            "per_team": per_team,
            "teams": teams,
            "now": utcnow(),
            "level": overview.level,
            "reply": (overview.REPLY_WARNING, overview.REPLY_ALARM),
            "queue": (overview.QUEUE_WARNING, overview.QUEUE_ALARM),
            "satisfaction": satisfaction,
            "appointments": appointments,
            "melding": None,
        },
    )
