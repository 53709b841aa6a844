"""The professional-lines directory (/lijnen): every organisation with its contact routes for
casemanagers, searchable; websites and confirmed phone numbers are links."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from ..auth import Staff, require_staff
from ..keys import directory_key

routes = web.RouteTableDef()


@routes.get("/lijnen", name="directory")
@require_staff
async def directory_page(request: web.Request, staff: Staff) -> web.Response:
    query = request.query.get("zoek", "").strip()[:100]
    organisations = request.app[directory_key].search(query)
    return aiohttp_jinja2.render_template(
        "lijnen.html",
        request,
        {
            "user": staff.user,
            "csrf_token": staff.csrf_token,
            "query": query,
            "organisations": organisations,
            "melding": None,
        },
    )
