"""Search and history (/zoeken): closed cases by reference, closing date, topic and outcome label."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from .. import services
from ..auth import Staff, require_staff
from ..keys import labels_key, settings_key, teams_key
from ..services.search import OUTCOME_LABELS, Search
from ..workflow import transaction

routes = web.RouteTableDef()


def _day(value: str, zone: ZoneInfo, *, next_day: bool = False) -> dt.datetime | None:
    """The start of a local day (or of the day after it), as UTC; None for an empty field."""
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError as e:
        raise services.InvalidInput(f"Geen geldige datum: {value} (jjjj-mm-dd)") from e
    if next_day:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.timezone.utc)


@routes.get("/zoeken", name="search")
@require_staff
async def search_page(request: web.Request, staff: Staff) -> web.Response:
    zone = ZoneInfo(request.app[settings_key].office_hours.timezone)
    query = request.query
    labels = request.app[labels_key]
    error = None
    results = None
    search = Search()
    try:
        search = Search(
            reference=query.get("referentie", "").strip()[:16],
            closed_from=_day(query.get("van", ""), zone),
            closed_before=_day(query.get("tot", ""), zone, next_day=True),
            topic=query.get("onderwerp", "") if query.get("onderwerp", "") in labels.topics else "",
            outcome_label=query.get("uitkomst", "") if query.get("uitkomst", "") in OUTCOME_LABELS else "",
        )
    except services.InvalidInput as e:
        error = str(e)
    if error is None and not search.empty:
        async with transaction(request) as uow:
            results = await services.search_closed(uow.session, search)
    return aiohttp_jinja2.render_template(
        "zoeken.html",
        request,
        {
            "user": staff.user,
            "csrf_token": staff.csrf_token,
            "query": query,
            "results": results,
            "error": error,
            "topics": labels.topic_choices(),
            "outcome_labels": OUTCOME_LABELS,
            "teams": request.app[teams_key],
            "max_results": services.MAX_RESULTS,
            "melding": None,
        },
    )
