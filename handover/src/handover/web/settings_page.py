"""The user's own settings (``POST /instellingen``): the Enter choice under the reply box, and
browser notifications and sound ("Meldingen en geluid" in the werkbak). werkplek.js saves each
change at once; without JavaScript the form posts and comes back with a message."""

from __future__ import annotations

from aiohttp import web

from .. import services
from ..auth import Staff, require_staff
from ..services.preferences import FIELDS
from ..workflow import transaction
from .http_errors import raise_for_form
from .responses import flash_redirect, wants_json_answer

routes = web.RouteTableDef()


def _back(value: str) -> str:
    """Only a path on this site (never "//other.example" or a full URL)."""
    return value if value.startswith("/") and not value.startswith("//") and "\\" not in value else "/werkbak"


@routes.post("/instellingen", name="preferences")
@require_staff
async def save_preferences(request: web.Request, staff: Staff) -> web.Response:
    """``velden``: the settings this form holds (comma separated); a checked box sends ``aan``,
    an unchecked one nothing, so a listed field that is missing is off."""
    form = await request.post()
    back = _back(str(form.get("terug", "")))
    names = [n.strip() for n in str(form.get("velden", "")).split(",") if n.strip()]
    changes = {name: form.get(name) == "aan" for name in names}
    try:
        if not changes:
            raise services.InvalidInput("Geen instelling gekozen")
        async with transaction(request) as uow:
            saved = await services.save_preferences(uow, staff.user, changes)
    except services.DomainError as e:
        raise_for_form(request, e, back)
    if wants_json_answer(request):
        return web.json_response(
            {"status": "ok", "detail": "Instelling opgeslagen."}
            | {name: getattr(saved, column) for name, column in FIELDS.items()}
        )
    flash_redirect(back, "Instellingen opgeslagen.")
