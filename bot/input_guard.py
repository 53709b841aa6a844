"""Guards in front of Rasa's own channels, installed by bot/server.py when the Rasa server starts.

Rasa 3.6 trusts what its REST and socket.io channels receive. A body that is JSON but not an
object gives a 500, a message that is not text is swallowed with a traceback in the log, and a
10 MB message goes to NLU. Here, before Rasa sees it:

- REST (`POST /webhooks/rest/webhook`): at most RASA_MAX_BODY_BYTES (413), JSON media type (415),
  strict UTF-8 JSON object (400) with a string `sender` and `message` (400, 413 when the message
  is too long), `metadata` an object, `input_channel` only "rest". Answers are JSON.
- socket.io: `session_request` and `user_uttered` events with the wrong shape are ignored (and
  logged without their content); the connection stays up.
- socket.io packets python-socketio cannot parse are dropped with a one-line warning.
- Every channel: a typed "/intent{...}" reaches Rasa only for the intents our own clients send
  (`/kies`, `/medewerker`, the widget's `/begroeten`, and any payload intent in the domain's
  buttons). Anything else that starts with "/" is passed on as plain text, so NLU reads it like
  any other sentence.

Sender ids of these channels must not look like WhatsApp ids (phone numbers): trackers are keyed
by sender id alone, so a web client could otherwise read or erase a WhatsApp conversation.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, FrozenSet, Iterable, List, Optional

from rasa.core.agent import Agent
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput
from rasa.shared.core.constants import IS_EXTERNAL
from rasa.shared.core.domain import Domain
from sanic import Sanic, response
from sanic.exceptions import PayloadTooLarge
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.whatsapp.webhook import MAX_TEXT_CHARS
from privacy.sender_id import MAX_SENDER_ID_CHARS, InvalidSenderId, check_sender_id

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 64 * 1024
# Bodies up to this size are read and thrown away after the 413, so the client gets the answer
# instead of a reset connection; beyond it Sanic closes the connection.
DRAIN_LIMIT_BYTES = 16 * 1024 * 1024
MAX_SENDER_CHARS = MAX_SENDER_ID_CHARS
# E.164 numbers have at most 15 digits; WhatsApp ids are such numbers without "+".
_PHONE_LIKE = re.compile(r"\+?[0-9]{1,15}")
# The same pattern Rasa uses to read "/intent@0.9{...}" (YAMLStoryReader._regex_message_pattern).
_INTENT_MESSAGE = re.compile(r"^/(?P<intent>[^{@]+)")
# Intents our own code sends: the buttons Python builds (choice_payload, HUMAN_PAYLOAD, WhatsApp's
# person button) and the widget's greeting when it opens ("/begroeten", widget/src/chat-widget.js).
CODE_BUTTON_INTENTS = frozenset({"kies", "medewerker", "begroeten"})


class Refused(ValueError):
    """The request or event is not something a chat client sends; `status` is the HTTP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class GuardSettings:
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    @classmethod
    def from_env(cls) -> "GuardSettings":
        """RASA_MAX_BODY_BYTES (README, settings)."""
        raw = os.environ.get("RASA_MAX_BODY_BYTES", "").strip()
        if not raw:
            return cls()
        if not raw.isdigit() or int(raw) < 1024:
            raise ValueError("RASA_MAX_BODY_BYTES must be a whole number of bytes, at least 1024")
        return cls(max_body_bytes=int(raw))


# -- checks (pure) ----------------------------------------------------------------------------------


def check_sender(value: Any) -> str:
    """A conversation id from a web client: canonical (privacy/sender_id.py, the rule every process
    shares: refused, never silently changed), and not a phone number."""
    try:
        check_sender_id(value, MAX_SENDER_CHARS)
    except InvalidSenderId as e:
        raise Refused(400, str(e)) from None
    if _PHONE_LIKE.fullmatch(value):
        raise Refused(400, "sender must not be a phone number")
    return str(value)


def check_message(value: Any) -> str:
    if not isinstance(value, str):
        raise Refused(400, "message must be a string")
    if len(value) > MAX_TEXT_CHARS:
        raise Refused(413, f"message longer than {MAX_TEXT_CHARS} characters")
    try:
        # JSON may carry unpaired surrogates ("\ud800"): not text, and the language layer fails on them.
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Refused(400, "message is not valid Unicode text") from None
    return value


def check_metadata(value: Any) -> None:
    if value is not None and not isinstance(value, dict):
        raise Refused(400, "metadata must be an object")
    if isinstance(value, dict) and IS_EXTERNAL in value:
        # Rasa marks trigger_intent events (the handover service's) with it; a citizen may not.
        raise Refused(400, f"metadata must not contain '{IS_EXTERNAL}'")


def check_media_type(content_type: Optional[str]) -> None:
    """JSON (or no Content-Type at all); a charset other than UTF-8 is refused too."""
    if not content_type:
        return
    media, _, params = content_type.partition(";")
    media = media.strip().lower()
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        raise Refused(415, "Content-Type must be application/json")
    charset = re.search(r"charset\s*=\s*\"?([^\";\s]+)", params, re.IGNORECASE)
    if charset and charset.group(1).lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise Refused(415, "charset must be utf-8")


def read_rest_body(content_type: Optional[str], body: bytes, max_bytes: int) -> Dict[str, Any]:
    """The REST webhook's body, checked as described in the module docstring."""
    check_media_type(content_type)
    if len(body) > max_bytes:
        raise Refused(413, f"body larger than {max_bytes} bytes")
    try:
        payload = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise Refused(400, "body is not UTF-8") from None
    except (ValueError, RecursionError):
        raise Refused(400, "body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise Refused(400, "body must be a JSON object")
    check_sender(payload.get("sender"))
    check_message(payload.get("message"))
    check_metadata(payload.get("metadata"))
    if payload.get("input_channel") not in (None, "rest"):
        # Rasa would store it as the conversation's channel, where replies of a casemanager go.
        raise Refused(400, "input_channel must be 'rest' or absent")
    return payload


def check_user_uttered(data: Any, session_persistence: bool) -> None:
    """A socket.io `user_uttered` event as the widget sends it."""
    if not isinstance(data, dict):
        raise Refused(400, "event data must be an object")
    if session_persistence:
        check_sender(data.get("session_id"))
    check_message(data.get("message"))
    check_metadata(data.get("metadata"))


def check_session_request(data: Any) -> None:
    if data is None:
        return
    if not isinstance(data, dict):
        raise Refused(400, "event data must be an object")
    if data.get("session_id") is not None:
        check_sender(data["session_id"])


# -- typed intents ----------------------------------------------------------------------------------


def intent_of(text: str) -> Optional[str]:
    """The intent Rasa would read from a text starting with "/", else None."""
    match = _INTENT_MESSAGE.match(text.strip())
    return match.group("intent").strip() if match else None


def button_intents(domain: Optional[Domain]) -> FrozenSet[str]:
    """Intents our own buttons carry: those built in code plus every payload in the domain."""
    found = set(CODE_BUTTON_INTENTS)
    for variations in (domain.responses if domain else {}).values():
        for variation in variations:
            for button in variation.get("buttons") or ():
                intent = intent_of(str(button.get("payload") or ""))
                if intent:
                    found.add(intent)
    return frozenset(found)


def plain_unless_button(text: str, allowed: Iterable[str]) -> str:
    """The text unchanged, unless it would be read as an intent that no button of ours sends;
    then without the leading slashes, so NLU reads it as a sentence."""
    intent = intent_of(text)
    if intent is None or intent in allowed:
        return text
    return text.strip().lstrip("/").strip()


_allowed_by_domain: Dict[int, FrozenSet[str]] = {}


def install_typed_intent_filter() -> None:
    """Wrap Agent.handle_message, the door every channel's messages pass (trigger_intent of the
    handover service does not: its events are built inside Rasa)."""
    original = Agent.handle_message
    if getattr(original, "_typed_intent_filter", False):
        return

    async def handle_message(self: Agent, message: UserMessage) -> Any:
        if isinstance(message.text, str) and message.text.lstrip().startswith("/"):
            domain = self.domain
            key = id(domain)
            if key not in _allowed_by_domain:  # a new model brings a new domain
                _allowed_by_domain.clear()
                _allowed_by_domain[key] = button_intents(domain)
            message.text = plain_unless_button(message.text, _allowed_by_domain[key])
        return await original(self, message)

    handle_message._typed_intent_filter = True  # type: ignore[attr-defined]  # a mark: wrap only once
    Agent.handle_message = handle_message


# -- Sanic and socket.io wiring ------------------------------------------------------------------


def _json_error(status: int, reason: str) -> HTTPResponse:
    return response.json({"error": reason}, status=status)


def guard_rest(app: Sanic, path: str, settings: GuardSettings) -> None:
    """Size limit before the body is read, shape checks before Rasa's handler runs."""

    @app.signal("http.routing.after")
    async def limit_size(request: Request, route: Any, kwargs: Any, handler: Any) -> None:
        if request.path.rstrip("/") != path or request.method != "POST" or request.stream is None:
            return
        # Also stops a chunked body (no Content-Length) once it is too large.
        request.stream.request_max_size = settings.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > settings.max_body_bytes:
            raise PayloadTooLarge(f"body larger than {settings.max_body_bytes} bytes")  # before reading it

    async def check_request(request: Request) -> Optional[HTTPResponse]:
        # Sanic runs this also for the PayloadTooLarge above, with the body unread; the byte count
        # (declared, or received so far when chunked) tells that case apart.
        if request.path.rstrip("/") != path or request.method != "POST":  # Sanic also routes ".../webhook/"
            return None
        if request.stream is not None and (request.stream.request_bytes or 0) > settings.max_body_bytes:
            # After this answer Sanic reads the rest of the body up to this limit and throws it
            # away, so the client gets the 413 instead of a reset connection.
            request.stream.request_max_size = DRAIN_LIMIT_BYTES
            log.warning("rest webhook refused: 413 (body too large)")
            return _json_error(413, f"body larger than {settings.max_body_bytes} bytes")
        try:
            read_rest_body(request.headers.get("content-type"), request.body or b"", settings.max_body_bytes)
        except Refused as e:
            log.warning("rest webhook refused: %s (%s)", e.status, e.reason)
            return _json_error(e.status, e.reason)
        return None

    app.register_middleware(check_request, "request")


Handler = Callable[..., Awaitable[Any]]


def _guarded(original: Handler, event: str, check: Callable[[Any], None]) -> Handler:
    async def handler(sid: str, *args: Any) -> Any:
        try:
            if len(args) != 1:
                raise Refused(400, f"expected one argument, got {len(args)}")
            check(args[0])
        except Refused as e:
            log.warning("socket.io %s ignored: %s", event, e.reason)
            return None
        return await original(sid, args[0])

    return handler


def _ignore_unreadable_packets(original: Handler) -> Handler:
    """python-socketio's packet parser raises on frames no client sends (bad JSON, binary junk);
    engine.io then logs a traceback per frame. One line without the content is enough."""

    async def message(eio_sid: str, data: Any) -> Any:
        try:
            return await original(eio_sid, data)
        except (ValueError, TypeError, IndexError, KeyError, AttributeError) as e:
            log.warning("socket.io packet ignored: %s", type(e).__name__)
            return None

    return message


def guard_socketio(channel: SocketIOInput) -> None:
    """Check the events Rasa's socket.io channel handles (after its blueprint was built)."""
    eio_handlers = channel.sio.eio.handlers
    eio_handlers["message"] = _ignore_unreadable_packets(eio_handlers["message"])
    handlers = channel.sio.handlers[channel.namespace or "/"]
    handlers["session_request"] = _guarded(
        handlers["session_request"], "session_request", check_session_request
    )
    event = channel.user_message_evt
    handlers[event] = _guarded(
        handlers[event], event, lambda data: check_user_uttered(data, channel.session_persistence)
    )


def install(app: Sanic, input_channels: List[InputChannel], route: str, settings: GuardSettings) -> None:
    """Put the guards on a configured Rasa app (channels registered, server not started)."""
    for channel in input_channels:
        if type(channel).name() == "rest":
            guard_rest(app, f"{route.rstrip('/')}/{channel.url_prefix()}/webhook", settings)
        if isinstance(channel, SocketIOInput) and getattr(channel, "sio", None) is not None:
            guard_socketio(channel)


def install_on_rasa() -> None:
    """Wrap rasa.core.run.configure_app (used by `rasa run`) so every app it builds is guarded."""
    import rasa.core.run

    original = rasa.core.run.configure_app
    if getattr(original, "_channel_guards", False):
        return
    settings = GuardSettings.from_env()  # a bad setting stops the start, not the first request

    def configure_app(*args: Any, **kwargs: Any) -> Sanic:
        app: Sanic = original(*args, **kwargs)
        channels = kwargs.get("input_channels", args[0] if args else None) or []
        install(app, list(channels), kwargs.get("route") or "/webhooks/", settings)
        return app

    configure_app._channel_guards = True  # type: ignore[attr-defined]  # a mark: wrap only once
    rasa.core.run.configure_app = configure_app
    install_typed_intent_filter()
