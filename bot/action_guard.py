"""The action server's front door: only Rasa may call it, only with a well-formed JSON body.

rasa_sdk 3.6 has no authentication, allows every CORS origin, reads any Content-Type as JSON (so
a web page can post to it with `text/plain`, without a preflight) and answers an exception with
the request body echoed back. Whoever reaches the port could send a made-up tracker and make our
actions call the handover service with the bot's secret. Here, in front of every route but
`/health`:

- `Authorization: Bearer <ACTION_SERVER_TOKEN>` (Rasa sends it, endpoints.yml), compared in
  constant time (401);
- `POST` bodies: `application/json` in UTF-8 without Content-Encoding (415), at most
  ACTION_SERVER_MAX_BODY_BYTES (413), a JSON object with a string `next_action` and an object
  `tracker` (400);
- errors never echo the request and never log its text.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from dataclasses import dataclass
from typing import Any, Dict, Optional

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

log = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/health"})
MIN_TOKEN_CHARS = 16
# A tracker of a long conversation is a few hundred kB; Rasa sends the whole tracker every turn.
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024


class ActionGuardConfigError(RuntimeError):
    """The action server is not configured safely; it must not start."""


@dataclass(frozen=True)
class ActionGuardSettings:
    token: str
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    @classmethod
    def from_env(cls) -> "ActionGuardSettings":
        """ACTION_SERVER_TOKEN (required) and ACTION_SERVER_MAX_BODY_BYTES (README, settings)."""
        token = os.environ.get("ACTION_SERVER_TOKEN", "")
        if len(token) < MIN_TOKEN_CHARS or token != token.strip():
            raise ActionGuardConfigError(
                f"ACTION_SERVER_TOKEN must be set to a secret of at least {MIN_TOKEN_CHARS} characters "
                "(the same value Rasa sends, endpoints.yml); the action server refuses to run without it"
            )
        raw = os.environ.get("ACTION_SERVER_MAX_BODY_BYTES", "").strip()
        if raw and (not raw.isdigit() or int(raw) < 64 * 1024):
            raise ActionGuardConfigError("ACTION_SERVER_MAX_BODY_BYTES must be a whole number >= 65536")
        return cls(token=token, max_body_bytes=int(raw) if raw else DEFAULT_MAX_BODY_BYTES)


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def check_authorization(header: Optional[str], token: str) -> None:
    scheme, _, given = (header or "").partition(" ")
    expected = token.encode("utf-8")
    # compare_digest on bytes: constant time, and no TypeError on non-ASCII input.
    given_bytes = given.strip().encode("utf-8", "replace")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given_bytes, expected):
        raise Refused(401, "unauthorized")


def check_body(
    content_type: Optional[str], content_encoding: Optional[str], body: bytes, max_bytes: int
) -> Dict[str, Any]:
    """The action call, parsed, when the body is one; else Refused."""
    media, _, params = (content_type or "").partition(";")
    if media.strip().lower() != "application/json":
        raise Refused(415, "Content-Type must be application/json")
    charset = params.strip().lower().replace(" ", "")
    if charset and charset not in ("charset=utf-8", "charset=utf8"):
        raise Refused(415, "charset must be utf-8")
    if (content_encoding or "identity").strip().lower() != "identity":
        raise Refused(415, "Content-Encoding is not supported")
    if len(body) > max_bytes:
        raise Refused(413, "body too large")
    try:
        call = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Refused(400, "body is not valid UTF-8 JSON") from None
    if not isinstance(call, dict) or not isinstance(call.get("next_action"), str):
        raise Refused(400, "body must be an object with a string next_action")
    if not isinstance(call.get("tracker"), dict):
        raise Refused(400, "tracker must be an object")
    return call


def _refusal(error: Refused) -> HTTPResponse:
    return response.json({"error": error.reason}, status=error.status)


def install(app: Sanic, settings: ActionGuardSettings) -> None:
    """Put the checks in front of every route of rasa_sdk's app and replace its error handler."""
    # Sanic would close the connection on a larger body; a little headroom lets us answer 413.
    app.config.REQUEST_MAX_SIZE = settings.max_body_bytes + 1024

    async def guard(request: Request) -> Optional[HTTPResponse]:
        if request.path in OPEN_PATHS:
            return None
        try:
            check_authorization(request.headers.get("authorization"), settings.token)
            if request.method == "POST":
                # Kept on the request: rasa_sdk's handler reads request.json, which then parses nothing
                # again (a tracker is sent whole on every call).
                request.parsed_json = check_body(  # type: ignore[assignment]  # Sanic types it None
                    request.headers.get("content-type"), request.headers.get("content-encoding"),
                    request.body or b"", settings.max_body_bytes,
                )
            elif request.method not in ("GET", "HEAD", "OPTIONS"):
                raise Refused(405, "method not allowed")
        except Refused as error:
            log.info("action server refused %s %s: %s", request.method, request.path, error.reason)
            return _refusal(error)
        return None

    async def internal_error(request: Request, exception: Exception) -> HTTPResponse:
        status = getattr(exception, "status_code", 500)
        if not isinstance(status, int) or status < 400:
            status = 500
        if status >= 500:
            # The type and place only: the message and the locals may hold the citizen's words.
            log.error(
                "action server error %s on %s %s", type(exception).__name__, request.method, request.path
            )
        answer = "internal error" if status >= 500 else "request refused"
        return response.json({"error": answer}, status=status)

    app.register_middleware(guard, "request")
    # Replaces rasa_sdk's handler, which echoes the request body (`request_body`) in its answer.
    app.error_handler.add(Exception, internal_error)
