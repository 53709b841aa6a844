"""The one mapping from a named domain error (services/errors.py) to an HTTP error.

The status is the same everywhere; only the body differs with the caller:

- the bot API: JSON ``{"error": <code>, "detail": <Dutch message>}`` (``raise_api_error``);
- a workspace form action: JSON ``{"error": <error class>, "detail": ...}`` for a script that asked
  for JSON, else the page's flash message, except for a missing case or task and another team's
  case, which get an error page (``raise_for_form``);
- a workspace page: an error page with the message (``raise_error_page``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NoReturn

import aiohttp_jinja2
from aiohttp import web
from aiohttp.typedefs import Handler
from yarl import URL

from ..services.canned import CannedResponseNotFound
from ..services.errors import (
    AlreadyBooked,
    AlreadyClaimed,
    AppointmentNotChangeable,
    AppointmentNotFound,
    CaseNotFound,
    DomainError,
    ExportNotAllowed,
    FollowUpNotFound,
    InvalidInput,
    InvalidTransition,
    NotAChat,
    NotClaimedByYou,
    NotYourTeam,
    QueueEmpty,
    SenderMismatch,
    SlotNotFound,
    SlotOutsideOfficeHours,
    SlotTaken,
    SlotUnavailable,
    UnknownTeam,
    UnknownUser,
)
from .responses import flash_redirect, wants_json_answer


@dataclass(frozen=True)
class HttpError:
    exception: type[web.HTTPException]
    code: str  # "error" in the bot API's JSON body


NOT_FOUND = HttpError(web.HTTPNotFound, "not_found")
FORBIDDEN = HttpError(web.HTTPForbidden, "forbidden")
CONFLICT = HttpError(web.HTTPConflict, "conflict")
BAD_REQUEST = HttpError(web.HTTPBadRequest, "bad_request")

HTTP_ERRORS: dict[type[DomainError], HttpError] = {
    CaseNotFound: NOT_FOUND,
    FollowUpNotFound: NOT_FOUND,
    CannedResponseNotFound: NOT_FOUND,
    SenderMismatch: HttpError(web.HTTPForbidden, "sender_mismatch"),
    NotYourTeam: FORBIDDEN,
    ExportNotAllowed: FORBIDDEN,
    AlreadyClaimed: CONFLICT,
    NotClaimedByYou: CONFLICT,
    InvalidTransition: CONFLICT,
    InvalidInput: BAD_REQUEST,
    QueueEmpty: BAD_REQUEST,
    NotAChat: BAD_REQUEST,
    UnknownUser: BAD_REQUEST,
    UnknownTeam: BAD_REQUEST,
    SlotNotFound: NOT_FOUND,
    AppointmentNotFound: NOT_FOUND,
    SlotTaken: HttpError(web.HTTPConflict, "slot_taken"),
    SlotUnavailable: HttpError(web.HTTPConflict, "slot_unavailable"),
    AlreadyBooked: HttpError(web.HTTPConflict, "already_booked"),
    AppointmentNotChangeable: CONFLICT,
    SlotOutsideOfficeHours: BAD_REQUEST,
}
# A broken rule without a name of its own: the request conflicts with the current state.
UNNAMED = CONFLICT


def http_error(e: DomainError) -> HttpError:
    return next((HTTP_ERRORS[cls] for cls in type(e).__mro__ if cls in HTTP_ERRORS), UNNAMED)


def json_error(exc_cls: type[web.HTTPException], detail: str, code: str, **extra: Any) -> NoReturn:
    body = {"error": code, "detail": detail} | extra
    raise exc_cls(text=json.dumps(body), content_type="application/json")


def raise_api_error(e: DomainError, **extra: Any) -> NoReturn:
    """For the bot API: the HTTP error with a JSON body (``extra``: more fields, such as the
    other free slots when a slot was taken)."""
    error = http_error(e)
    json_error(error.exception, str(e), error.code, **extra)


def raise_error_page(e: DomainError) -> NoReturn:
    """For a page that cannot be shown: the HTTP error with the message."""
    raise http_error(e).exception(text=str(e)) from e


def raise_for_form(request: web.Request, e: DomainError, back: str | URL) -> NoReturn:
    """For a workspace form action: JSON callers get the error; a page gets a flash message on
    ``back``, except for a missing case or task and another team's case (404, 403 error pages)."""
    error = http_error(e)
    if wants_json_answer(request):
        json_error(error.exception, str(e), type(e).__name__)
    if error.exception in (web.HTTPNotFound, web.HTTPForbidden):
        raise_error_page(e)
    flash_redirect(back, str(e))


# --- workspace error pages ------------------------------------------------------------------

ERROR_TITLES = {
    400: "Dat kan niet",
    401: "U bent niet ingelogd",
    403: "Geen toegang",
    404: "Niet gevonden",
    405: "Dat kan niet",
    409: "Dat kan niet meer",
    413: "Te groot",
    429: "Te veel pogingen",
}


@web.middleware
async def html_error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A workspace error (a plain-text HTTP error from ``raise_error_page``, or aiohttp's own 404
    and 405) becomes a Dutch page with the workspace's look, a title and landmarks, so it is as
    readable and accessible as every other page. JSON, the bot API and the WebSocket keep theirs."""
    try:
        return await handler(request)
    except web.HTTPException as e:
        if (
            e.status < 400
            or e.content_type != "text/plain"
            or request.path.startswith(("/api/", "/static/"))
            or request.path == "/ws"
            or wants_json_answer(request)
            or "text/html" not in request.headers.get("Accept", "text/html")
        ):
            raise
        title = ERROR_TITLES.get(e.status, "Er ging iets mis")
        page = aiohttp_jinja2.render_template(
            "fout.html", request, {"titel": title, "uitleg": e.text or e.reason}, status=e.status
        )
        for name in ("Allow", "Retry-After", "WWW-Authenticate"):
            if name in e.headers:
                page.headers[name] = e.headers[name]
        return page
