"""The teamleider's insight dashboard (/inzicht), the same figures as JSON (/api/inzicht) and
CSV (/inzicht.csv), and its charts as SVG. Thin handlers: the figures and their suppression are
in insight/figures.py, the charts in insight/charts.py."""

from __future__ import annotations

import asyncio
import csv
import io
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from ..auth import Staff, require_role
from ..insight import charts, figures
from ..keys import labels_key, settings_key
from ..models import Role, utcnow
from ..services.errors import InvalidInput
from ..workflow import transaction
from .http_errors import raise_api_error, raise_error_page

routes = web.RouteTableDef()

# (group id, compare with the municipal desk): the groups drawn as a chart, in page order.
CHARTS = (
    ("per_dag", False),
    ("kanaal", False),
    ("taal", False),
    ("onderwerp", True),
    ("levensgebeurtenis", False),
    ("vraagtype", False),
    ("uitkomst", False),
    ("signalen", False),
)
# The SVG is an image: pygal's inline style may apply, nothing else (no script, no loads).
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


async def _insight(request: web.Request) -> figures.Insight:
    settings = request.app[settings_key]
    zone = ZoneInfo(settings.office_hours.timezone)
    period = figures.Period.parse(request.query, utcnow().astimezone(zone).date())
    labels = request.app[labels_key]
    desk = await asyncio.to_thread(figures.desk_shares, settings.labels_file.parent / "catalogus.yml")
    async with transaction(request) as uow:
        return await figures.insight(uow.session, period, labels, desk, zone)


@routes.get("/inzicht", name="insight")
@require_role(Role.TEAMLEIDER)
async def insight_page(request: web.Request, staff: Staff) -> web.Response:
    try:
        found = await _insight(request)
    except InvalidInput as e:
        raise_error_page(e)
    query = f"van={found.period.start.isoformat()}&tot={found.period.end.isoformat()}"
    return aiohttp_jinja2.render_template(
        "inzicht.html",
        request,
        {
            "user": staff.user,
            "csrf_token": staff.csrf_token,
            "inzicht": found,
            "charts": [(found.groups[name], desk) for name, desk in CHARTS],
            "query": query,
            "threshold": figures.THRESHOLD,
            "melding": None,
        },
    )


@routes.get("/api/inzicht", name="api_insight")
@require_role(Role.TEAMLEIDER)
async def insight_json(request: web.Request, staff: Staff) -> web.Response:
    try:
        found = await _insight(request)
    except InvalidInput as e:
        raise_api_error(e)
    return web.json_response(found.as_json())


@routes.get("/inzicht.csv", name="insight_csv")
@require_role(Role.TEAMLEIDER)
async def insight_csv(request: web.Request, staff: Staff) -> web.Response:
    try:
        found = await _insight(request)
    except InvalidInput as e:
        raise_error_page(e)
    out = io.StringIO()
    csv.writer(out).writerows(found.csv_rows())
    name = f"inzicht-{found.period.start.isoformat()}-{found.period.end.isoformat()}.csv"
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@routes.get("/inzicht/grafiek/{group}.svg", name="insight_chart")
@require_role(Role.TEAMLEIDER)
async def insight_chart(request: web.Request, staff: Staff) -> web.Response:
    desk = dict(CHARTS).get(request.match_info["group"])
    if desk is None:
        raise web.HTTPNotFound(text="Deze grafiek bestaat niet.")
    try:
        found = await _insight(request)
    except InvalidInput as e:
        raise_error_page(e)
    svg = await asyncio.to_thread(charts.bar_chart, found.groups[request.match_info["group"]], desk)
    return web.Response(body=svg, content_type="image/svg+xml", headers={"Content-Security-Policy": SVG_CSP})
