"""How a workspace form action answers: a redirect with a flash message (``?melding=``), or JSON
for a script that asked for it."""

from __future__ import annotations

from typing import NoReturn

from aiohttp import web
from yarl import URL


def flash_redirect(location: str | URL, melding: str) -> NoReturn:
    url = URL(str(location)).update_query(melding=melding)
    raise web.HTTPFound(location=url)


def wants_json_answer(request: web.Request) -> bool:
    return request.headers.get("Accept", "").startswith("application/json")


def case_url(request: web.Request, reference: str) -> URL:
    return request.app.router["case"].url_for(reference=reference)
