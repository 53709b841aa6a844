"""WhatsApp Cloud API channel for Rasa 3.6.

credentials.yml:

    bot.channels.whatsapp.WhatsAppInput:

Every setting may be given there or (when absent) comes from the environment; see docs/whatsapp.md.
Rasa mounts the routes under /webhooks/whatsapp/: GET/POST /webhooks/whatsapp/webhook.

Inbound: the signature is checked on the raw bytes (fail closed), each message id is handled once
(persisted), text and button taps go to Rasa, media gets a fixed answer and never reaches NLU.
Outbound: text, reply buttons or a list, within the 24-hour window; outside it the approved
template only (the message itself is held until the citizen writes again).
Logs never contain phone numbers, names or message text; a contact appears as a short keyed hash.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text, Union

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.whatsapp.format import (
    MAX_TEXT,
    choice_body,
    choices_from_buttons,
    plan_choices,
    split_text,
    template_body,
    text_body,
)
from bot.channels.whatsapp.graph import (
    GraphClient,
    GraphConfig,
    GraphError,
    GraphRejected,
    GraphUnavailable,
)
from bot.channels.whatsapp.store import PAYLOAD_TOKEN_PREFIX, WhatsAppState
from bot.channels.whatsapp.webhook import (
    MAX_BODY_BYTES,
    SIGNATURE_HEADER,
    Inbound,
    Kind,
    MalformedPayload,
    decode,
    parse,
    signature_valid,
    token_matches,
)
from bot.payloads import plain_text
from bot.tracker_store import forget_hook, on_erase

log = logging.getLogger(__name__)

CHANNEL_NAME = "whatsapp"
# Graph API versions expire about two years after release (v19.0 did on 21 May 2026, per Meta's
# changelog); pin a current one and move it forward when Meta announces the expiry.
DEFAULT_API_URL = "https://graph.facebook.com/v24.0"
DEFAULT_STATE_DB = "var/whatsapp.db"
DEFAULT_TEMPLATE_LANGUAGE = "nl"
DEFAULT_HOLD_HOURS = 168.0

WINDOW_SECONDS = 24 * 3600.0
# Treat the window as closed a little early: a free-form message that arrives after the 24 hours
# is refused by Meta (131047), and the clocks of Meta and this server are not the same clock.
WINDOW_MARGIN_SECONDS = 300.0
MAX_HELD_PER_CONTACT = 20
# Bodies up to this size are read and thrown away after a 413, so an ordinary client sees the
# answer; beyond it the connection is closed. 16 MB, as for Rasa's REST channel (bot/input_guard.py).
DRAIN_LIMIT_BYTES = 16 * MAX_BODY_BYTES

# What the citizen reads when they send something the bot cannot read (B1, "u"-form).
UNSUPPORTED_REPLY = (
    "Ik kan nog geen spraakberichten, foto's of bestanden lezen. Typ uw vraag in een bericht. "
    "Of kies 'Praat met medewerker'."
)
PERSON_BUTTON = {"title": "Praat met medewerker", "payload": "/medewerker"}

# Rasa reads text that starts with "/" as an intent with entities. Only our own buttons may do that;
# typed text must never be able to trigger e.g. a fake casemanager message.
INTENT_PREFIX = "/"

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


# -- settings -------------------------------------------------------------------------------------


def _setting(credentials: Dict[str, Any], key: str, default: Optional[str] = None) -> Optional[str]:
    """credentials.yml first, then WHATSAPP_<KEY>, then the default; empty counts as absent."""
    value = credentials.get(key)
    if value is None or str(value).strip() == "":
        value = os.environ.get(f"WHATSAPP_{key.upper()}", "")
    value = str(value).strip()
    return value or default


@dataclass(frozen=True)
class WhatsAppConfig:
    verify_token: Optional[str] = None
    app_secret: Optional[str] = None
    access_token: Optional[str] = None
    phone_number_id: Optional[str] = None
    api_url: str = DEFAULT_API_URL
    template_name: Optional[str] = None
    template_language: str = DEFAULT_TEMPLATE_LANGUAGE
    state_db: str = DEFAULT_STATE_DB
    hold_hours: float = DEFAULT_HOLD_HOURS
    send_attempts: int = 3
    retry_base_delay: float = 0.5

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> "WhatsAppConfig":
        creds = dict(credentials or {})
        hold = _setting(creds, "hold_hours", str(DEFAULT_HOLD_HOURS)) or "0"
        try:
            hold_hours = max(float(hold), 0.0)
        except ValueError:
            raise ValueError("WHATSAPP_HOLD_HOURS must be a number of hours") from None
        return cls(
            verify_token=_setting(creds, "verify_token"),
            app_secret=_setting(creds, "app_secret"),
            access_token=_setting(creds, "access_token"),
            phone_number_id=_setting(creds, "phone_number_id"),
            api_url=_setting(creds, "api_url", DEFAULT_API_URL) or DEFAULT_API_URL,
            template_name=_setting(creds, "template_name"),
            template_language=_setting(creds, "template_language", DEFAULT_TEMPLATE_LANGUAGE)
            or DEFAULT_TEMPLATE_LANGUAGE,
            state_db=_setting(creds, "state_db", DEFAULT_STATE_DB) or DEFAULT_STATE_DB,
            hold_hours=hold_hours,
        )

    @property
    def can_send(self) -> bool:
        return bool(self.access_token and self.phone_number_id)

    def graph(self) -> GraphConfig:
        return GraphConfig(
            api_url=self.api_url,
            phone_number_id=self.phone_number_id or "",
            access_token=self.access_token or "",
            attempts=self.send_attempts,
            base_delay=self.retry_base_delay,
        )


class ContactIds:
    """Keyed hashes of WhatsApp ids (phone numbers): the state key and the name in logs.

    Keyed with the app secret, because an unkeyed hash of a phone number is reversed by trying
    every number. Rotating the secret makes known windows look closed (template until they write)."""

    def __init__(self, secret: Optional[str]) -> None:
        self._key = (secret or "").encode("utf-8")

    def key(self, wa_id: str) -> str:
        return hmac.new(self._key, wa_id.encode("utf-8"), hashlib.sha256).hexdigest()

    def ref(self, wa_id: str) -> str:
        return self.key(wa_id)[:10]


# -- output ---------------------------------------------------------------------------------------


class WhatsAppOutput(OutputChannel):
    """Sends the bot's messages to one citizen's WhatsApp."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL_NAME

    def __init__(
        self, config: WhatsAppConfig, state: WhatsAppState, graph: GraphClient, ids: ContactIds
    ) -> None:
        self.config = config
        self.state = state
        self.graph = graph
        self.ids = ids

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        for part in split_text(text or "", MAX_TEXT):
            await self._deliver(recipient_id, text_body(part))

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        """Reply buttons when they fit (≤3, titles ≤20), else a list (see format.py)."""
        choices = choices_from_buttons(buttons or [])
        if not choices:
            await self.send_text_message(recipient_id, text)
            return
        plan = plan_choices(text, choices)
        for lead in plan.lead_texts:
            await self._deliver(recipient_id, text_body(lead))
        ids = [await self._choice_id(choice.payload, plan.id_limit) for choice in plan.choices]
        await self._deliver(recipient_id, choice_body(plan, ids))

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        # A link with preview: sending media would need an upload or a public media URL policy.
        await self.send_text_message(recipient_id, str(image))

    async def send_attachment(
        self, recipient_id: Text, attachment: Union[Text, Dict[str, Any]], **kwargs: Any
    ) -> None:
        link = _attachment_link(attachment)
        if link:
            await self.send_text_message(recipient_id, link)
        else:
            log.warning("whatsapp attachment without a link skipped")

    async def send_custom_json(
        self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any
    ) -> None:
        """A custom payload {"whatsapp": {<Cloud API message without "to">}} is sent as it is; a
        live-chat message (bot/payloads.py: a casemanager's message, the queue, the return to the
        bot) as plain text; anything else is meant for another channel and is not shown as raw JSON
        to the citizen."""
        body = json_message.get(CHANNEL_NAME) if isinstance(json_message, dict) else None
        if isinstance(body, dict) and isinstance(body.get("type"), str):
            await self._deliver(recipient_id, body)
            return
        text = plain_text(json_message)
        if text:
            await self.send_text_message(recipient_id, text)
        else:
            log.debug("whatsapp: custom payload for another channel skipped")

    # -- delivery ---------------------------------------------------------------------------------

    async def deliver_held(self, recipient_id: str) -> int:
        """Send the messages held while the window was closed; the count that went out."""
        if not self.config.can_send:
            return 0
        key = self.ids.key(recipient_id)
        sent = 0
        for body in await self.state.take_held(key):
            try:
                await self._send(recipient_id, body)
                sent += 1
            except GraphError as e:
                # Meta unreachable: keep it for the next message; refused: it will never go out.
                if isinstance(e, GraphUnavailable):
                    await self.state.hold(key, body, MAX_HELD_PER_CONTACT)
                log.error(
                    "whatsapp held message for %s not sent: status=%s code=%s",
                    self.ids.ref(recipient_id),
                    e.status,
                    e.code,
                )
        return sent

    async def _deliver(self, recipient_id: str, body: Dict[str, Any]) -> None:
        """Send within the 24-hour window; otherwise the template path. A GraphUnavailable (still
        failing after the retries) propagates, so Rasa's caller - e.g. the handover service's
        trigger_intent - sees the failure and can try again later."""
        if not self.config.can_send:
            log.warning(
                "whatsapp: WHATSAPP_ACCESS_TOKEN or WHATSAPP_PHONE_NUMBER_ID missing; message dropped"
            )
            return
        key = self.ids.key(recipient_id)
        if not await self._window_open(key):
            await self._outside_window(recipient_id, key, body)
            return
        try:
            await self._send(recipient_id, body)
        except GraphRejected as e:
            if e.window_closed:
                await self._outside_window(recipient_id, key, body)
                return
            log.error(
                "whatsapp message for %s rejected: status=%s code=%s",
                self.ids.ref(recipient_id),
                e.status,
                e.code,
            )

    async def _window_open(self, key: str) -> bool:
        last = await self.state.last_inbound(key)
        return last is not None and self.state.now() - last < WINDOW_SECONDS - WINDOW_MARGIN_SECONDS

    async def _outside_window(self, recipient_id: str, key: str, body: Dict[str, Any]) -> None:
        """Only an approved template may go out. The message waits (if holding is on) and is
        delivered when the citizen answers the template or writes again."""
        ref = self.ids.ref(recipient_id)
        if not self.config.template_name:
            log.warning(
                "whatsapp: 24h window closed for %s and WHATSAPP_TEMPLATE_NAME not set; message dropped", ref
            )
            return
        if self.config.hold_hours > 0:
            await self.state.hold(key, body, MAX_HELD_PER_CONTACT)
        if not await self.state.claim_template(key, pause=WINDOW_SECONDS):
            log.info(
                "whatsapp: 24h window closed for %s; template sent before, message %s",
                ref,
                "held" if self.config.hold_hours > 0 else "dropped",
            )
            return
        try:
            await self._send(
                recipient_id, template_body(self.config.template_name, self.config.template_language)
            )
            log.info("whatsapp: 24h window closed for %s; template sent", ref)
        except GraphError as e:
            # Not raised: the message is held already, and a retry by the caller would hold it twice.
            await self.state.release_template(key)
            log.error("whatsapp template for %s not sent: status=%s code=%s", ref, e.status, e.code)

    async def _send(self, recipient_id: str, body: Dict[str, Any]) -> None:
        message = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": recipient_id,
            **body,
        }
        await self.graph.send(message)

    async def _choice_id(self, payload: str, limit: int) -> str:
        """The payload itself when it fits as a WhatsApp id, else a short token kept in the state DB."""
        if 0 < len(payload) <= limit and not payload.startswith(PAYLOAD_TOKEN_PREFIX):
            return payload
        return await self.state.token_for_payload(payload)


def _attachment_link(attachment: Union[Text, Dict[str, Any]]) -> Optional[str]:
    if isinstance(attachment, str):
        return attachment.strip() or None
    if isinstance(attachment, dict):
        payload = attachment.get("payload")
        fields: Dict[str, Any] = payload if isinstance(payload, dict) else attachment
        for field in ("url", "src", "link"):
            value = fields.get(field)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


# -- input ----------------------------------------------------------------------------------------


class WhatsAppInput(InputChannel):
    """Receives Meta's webhook for one WhatsApp Business phone number."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "WhatsAppInput":
        return cls(WhatsAppConfig.from_credentials(credentials))

    def __init__(
        self,
        config: WhatsAppConfig,
        state: Optional[WhatsAppState] = None,
        graph: Optional[GraphClient] = None,
    ) -> None:
        self.config = config
        self.state = state or WhatsAppState.from_setting(
            config.state_db, held_max_age=config.hold_hours * 3600
        )
        self.graph = graph or GraphClient(config.graph())
        self.ids = ContactIds(config.app_secret)
        self._warn_missing_settings()

    def _warn_missing_settings(self) -> None:
        missing = [
            name
            for name, value in (
                ("WHATSAPP_APP_SECRET", self.config.app_secret),
                ("WHATSAPP_VERIFY_TOKEN", self.config.verify_token),
                ("WHATSAPP_ACCESS_TOKEN", self.config.access_token),
                ("WHATSAPP_PHONE_NUMBER_ID", self.config.phone_number_id),
            )
            if not value
        ]
        if missing:
            log.warning(
                "whatsapp channel: %s not set; requests needing it get 403, messages needing it are dropped",
                ", ".join(missing),
            )

    async def forget(self, wa_id: str) -> None:
        """Erase what the channel keeps about one citizen (erasure request)."""
        await self.state.forget(self.ids.key(wa_id))

    def get_output_channel(self) -> WhatsAppOutput:
        """Also used by Rasa for trigger_intent?output_channel=whatsapp (casemanager messages)."""
        return WhatsAppOutput(self.config, self.state, self.graph, self.ids)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = Blueprint("whatsapp_webhook", __name__)

        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        async def verify(request: Request) -> HTTPResponse:
            return self._verify(request)

        async def receive(request: Request) -> HTTPResponse:
            return await self._receive(request, on_new_message)

        webhook.add_route(health, "/", methods=["GET"])
        webhook.add_route(verify, "/webhook", methods=["GET"])
        webhook.add_route(receive, "/webhook", methods=["POST"], stream=True)

        # "Verwijder mijn gegevens" erases the tracker (bot/tracker_store.py); the window and the
        # held messages (with their text) of this citizen go with it.
        on_erase(self.forget)

        async def close(*_: Any) -> None:
            forget_hook(self.forget)
            await self.graph.close()
            self.state.dispose()

        webhook.listener(close, "after_server_stop")
        return webhook

    # -- GET: subscription check ------------------------------------------------------------------

    def _verify(self, request: Request) -> HTTPResponse:
        """Meta's one-time check when the webhook URL is set in the app dashboard."""
        mode = request.args.get("hub.mode")
        challenge = request.args.get("hub.challenge") or ""
        if mode == "subscribe" and token_matches(
            self.config.verify_token, request.args.get("hub.verify_token")
        ):
            return response.text(challenge)
        log.warning("whatsapp webhook verification refused")
        return response.text("forbidden", status=403)

    # -- POST: messages and statuses --------------------------------------------------------------

    async def _receive(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        body = await _read_body(request)
        if isinstance(body, HTTPResponse):
            return body
        if not signature_valid(self.config.app_secret, body, request.headers.get(SIGNATURE_HEADER)):
            log.warning("whatsapp webhook refused: signature missing or invalid (or no app secret)")
            return response.text("forbidden", status=403)
        try:
            parsed = parse(decode(body))
        except MalformedPayload as e:
            log.warning("whatsapp webhook refused: malformed payload (%s)", e)
            return response.text("malformed payload", status=400)
        if parsed.status_error_codes:
            log.info("whatsapp delivery failures reported: codes=%s", sorted(set(parsed.status_error_codes)))
        for inbound in parsed.messages:
            await self._handle_safely(inbound, on_new_message)
        # Always 200 for a signed payload: Meta would otherwise resend it for days.
        return response.json({"status": "ok"})

    async def _handle_safely(self, inbound: Inbound, on_new_message: OnNewMessage) -> None:
        try:
            await self._handle(inbound, on_new_message)
        except Exception as e:
            # The message id is claimed: it is not handled again (at most once). The type only:
            # an exception text may contain the message.
            log.error("whatsapp message of %s failed: %s", self.ids.ref(inbound.sender), type(e).__name__)

    async def _handle(self, inbound: Inbound, on_new_message: OnNewMessage) -> None:
        if self.config.phone_number_id and inbound.phone_number_id not in (None, self.config.phone_number_id):
            log.info("whatsapp message for another phone number id ignored")
            return
        if not await self.state.claim(inbound.message_id):
            log.info("whatsapp duplicate message from %s ignored", self.ids.ref(inbound.sender))
            return
        if inbound.kind is Kind.IGNORED:
            return
        now = self.state.now()
        await self.state.record_inbound(self.ids.key(inbound.sender), min(inbound.timestamp or now, now))
        output = self.get_output_channel()
        delivered = await output.deliver_held(inbound.sender)
        if inbound.kind is Kind.UNSUPPORTED:
            log.info("whatsapp %s message answered with the 'please type' reply", inbound.wa_type)
            await output.send_text_with_buttons(inbound.sender, UNSUPPORTED_REPLY, [dict(PERSON_BUTTON)])
            return
        if inbound.kind is Kind.TEMPLATE_REPLY and delivered:
            return  # the tap only asked for the held messages, which are now delivered
        text = await self._text_for(inbound)
        if text:
            await on_new_message(
                UserMessage(
                    text,
                    output,
                    inbound.sender,
                    input_channel=self.name(),
                    message_id=inbound.message_id,
                    metadata=_metadata(inbound),
                )
            )

    async def _text_for(self, inbound: Inbound) -> str:
        """What Rasa receives: the button payload for a tap, the typed text otherwise."""
        if inbound.kind is Kind.CHOICE:
            if inbound.text.startswith(PAYLOAD_TOKEN_PREFIX):
                payload = await self.state.payload_for_token(inbound.text)
                # An expired token: the shown title still means something to NLU.
                return payload or inbound.title.lstrip(INTENT_PREFIX).strip()
            return inbound.text or inbound.title.lstrip(INTENT_PREFIX).strip()
        return inbound.text.lstrip(INTENT_PREFIX).strip()


def _metadata(inbound: Inbound) -> Dict[str, Any]:
    """Stored in the tracker with the message: technical facts only, no profile name or number."""
    return {
        CHANNEL_NAME: {
            "message_id": inbound.message_id,
            "type": inbound.wa_type,
            "timestamp": inbound.timestamp,
            "phone_number_id": inbound.phone_number_id,
        }
    }


async def _read_body(request: Request) -> Union[bytes, HTTPResponse]:
    """The raw body, at most MAX_BODY_BYTES. Read as a stream so a huge body is refused before it
    is in memory (Sanic's own limit is 100 MB)."""
    too_large = response.text("payload too large", status=413)
    declared = request.headers.get("content-length", "")
    stream = request.stream
    if stream is not None:
        stream.request_max_size = DRAIN_LIMIT_BYTES
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return too_large
    if stream is None:
        return request.body or b""
    chunks: List[bytes] = []
    size = 0
    while True:
        chunk = await stream.read()
        if chunk is None:
            break
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return too_large
        chunks.append(chunk)
    return b"".join(chunks)
