"""Standard texts (standaardteksten): every casemanager reads them (and inserts them into a reply
from the case); teamleiders add, change and delete them."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from .. import services
from ..auth import Staff, read_form, require_role, require_staff
from ..models import Role
from ..workflow import transaction
from .http_errors import raise_for_form
from .queue_page import path_id
from .responses import flash_redirect

routes = web.RouteTableDef()
PAGE = "/standaardteksten"


@routes.get(PAGE, name="canned")
@require_staff
async def canned_page(request: web.Request, staff: Staff) -> web.Response:
    async with transaction(request) as uow:
        canned = await services.canned_responses(uow.session)
    return aiohttp_jinja2.render_template(
        "standaardteksten.html",
        request,
        {
            "user": staff.user,
            "csrf_token": staff.csrf_token,
            "canned": canned,
            "melding": request.query.get("melding"),
        },
    )


@routes.post(PAGE, name="canned_add")
@require_role(Role.TEAMLEIDER)
async def canned_add(request: web.Request, staff: Staff) -> web.Response:
    form = await read_form(request)
    try:
        async with transaction(request) as uow:
            await services.save_canned_response(
                uow, staff.user, str(form.get("titel", "")), str(form.get("tekst", ""))
            )
    except services.DomainError as e:
        raise_for_form(request, e, PAGE)
    flash_redirect(PAGE, "Standaardtekst toegevoegd.")


@routes.post(PAGE + "/{canned_id}/wijzigen", name="canned_change")
@require_role(Role.TEAMLEIDER)
async def canned_change(request: web.Request, staff: Staff) -> web.Response:
    canned_id = path_id(request, "canned_id")
    form = await read_form(request)
    try:
        async with transaction(request) as uow:
            await services.save_canned_response(
                uow, staff.user, str(form.get("titel", "")), str(form.get("tekst", "")), canned_id
            )
    except services.DomainError as e:
        raise_for_form(request, e, PAGE)
    flash_redirect(PAGE, "Standaardtekst gewijzigd.")


@routes.post(PAGE + "/{canned_id}/verwijderen", name="canned_delete")
@require_role(Role.TEAMLEIDER)
async def canned_delete(request: web.Request, staff: Staff) -> web.Response:
    canned_id = path_id(request, "canned_id")
    try:
        async with transaction(request) as uow:
            await services.delete_canned_response(uow, canned_id)
    except services.DomainError as e:
        raise_for_form(request, e, PAGE)
    flash_redirect(PAGE, "Standaardtekst verwijderd.")
