"""WhatsApp Cloud API channel for Rasa 3.6.

credentials.yml:

    bot.channels.whatsapp.WhatsAppInput:

Every setting may be given there or (when absent) comes from the environment; see docs/whatsapp.md.
Rasa mounts the routes under /webhooks/whatsapp/: GET/POST /webhooks/whatsapp/webhook.

Inbound: the signature is checked on the raw bytes (fail closed), each message id is stored once
in the inbox and answered with 200 at once; the turns run in the background (delivery.py). Text
and button taps go to Rasa, media gets a fixed answer and never reaches NLU.
Outbound: every message goes through the outbox (delivery.py): text, reply buttons or a list,
within the 24-hour window; outside it the approved template only (the message itself is held until
the citizen writes again).
Logs never contain phone numbers, names or message text; a contact appears as a short keyed hash.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Text, Tuple, Union

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.whatsapp.delivery import (
    DeliverySettings,
    Dispatcher,
    NotReady,
    Sender,
    meta_of,
    with_meta,
)
from bot.channels.whatsapp.format import (
    MAX_TEXT,
    choice_body,
    choices_from_buttons,
    plan_choices,
    split_text,
    text_body,
)
from bot.channels.whatsapp.graph import GraphClient, GraphConfig
from bot.channels.whatsapp.handover_notice import CaseNotifier, HandoverTarget
from bot.channels.whatsapp.media import calendar_document
from bot.channels.whatsapp.store import PAYLOAD_TOKEN_PREFIX, InboxRow, WhatsAppState
from bot.channels.whatsapp.texts import TEXTS, texts
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
from bot.payloads import MODE, STAFF_MESSAGE, plain_text, structured
from bot.settings import BotSettings
from bot.tracker_store import forget_hook, on_erase

log = logging.getLogger(__name__)

CHANNEL_NAME = "whatsapp"
# Graph API versions expire about two years after release (v19.0 did on 21 May 2026, per Meta's
# changelog); pin a current one and move it forward when Meta announces the expiry.
DEFAULT_API_URL = "https://graph.facebook.com/v24.0"
DEFAULT_STATE_DB = "var/whatsapp.db"
DEFAULT_TEMPLATE_LANGUAGE = "nl"
DEFAULT_HOLD_HOURS = 168.0

# Bodies up to this size are read and thrown away after a 413, so an ordinary client sees the
# answer; beyond it the connection is closed. 16 MB, as for Rasa's REST channel (bot/input_guard.py).
DRAIN_LIMIT_BYTES = 4 * MAX_BODY_BYTES

# The channel's own words (B1, "u"-form) are in teksten.yml (texts.py), translated in bot/i18n/<taal>.yml;
# the constants are the Dutch ones, a citizen gets them in the conversation language (_words).
# What the citizen reads when they send something the bot cannot read.
UNSUPPORTED_REPLY = TEXTS["niet_leesbaar"]
PERSON_BUTTON = {"title": TEXTS["knop_medewerker"], "payload": "/medewerker"}
# Said before the answer to a text longer than WhatsApp's 4096 characters (only its first part is read).
LONG_TEXT_NOTICE = TEXTS["lang_bericht"]
# Said before the answer to the caption of a photo, video or document (the file is not read).
CAPTION_NOTICE = TEXTS["alleen_bijschrift"]
# Said before the answer to an edited message (its new text is read as a new message).
EDITED_NOTICE = TEXTS["aangepast_bericht"]
# The answer to a tap on the template's button when no message waits any more.
NOTHING_HELD_REPLY = TEXTS["geen_bericht_klaar"]
# The conversation language (nl, en, pl, tr, ar, uk) in the tracker: the slot `taal` of
# bot/domain/00_core.yml, empty in a conversation that was Dutch all along.
LANGUAGE_SLOT = "taal"


def person_button(words: Mapping[str, str]) -> Dict[str, str]:
    """The "talk to a person" reply button, its title in the language of `words`."""
    return {**PERSON_BUTTON, "title": words["knop_medewerker"]}
# Several photos or files sent at once get the "cannot read this" note once: not again within this
# many seconds (store.finish_inbound).
MEDIA_NOTE = "media"
MEDIA_NOTE_PAUSE = 120.0
# Messages of a case (sent through trigger_intent) whose failure the handover service is told about:
# the casemanager's words, the closing of the case and its next steps. Not the queue notices.
_NOTIFY_MODES = frozenset({"closed"})

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
    # Meta's codes of the template's other approved languages (WHATSAPP_TEMPLATE_LANGUAGES).
    template_languages: Tuple[str, ...] = ()
    state_db: str = DEFAULT_STATE_DB
    hold_hours: float = DEFAULT_HOLD_HOURS
    send_attempts: int = 3
    retry_base_delay: float = 0.5
    max_retry_delay: float = 300.0
    send_timeout: float = 10.0
    confirm_seconds: float = 60.0
    workers: int = 4
    poll_seconds: float = 1.0
    # A citizen's next message waits for Meta's "sent" callback of the one before, at most this long
    # (delivery.py: order per citizen).
    order_wait_seconds: float = 10.0
    # The handover service (HANDOVER_URL, HANDOVER_SHARED_SECRET, as for the actions): told when a
    # message of a case cannot be delivered (handover_notice.py).
    handover_url: Optional[str] = None
    handover_secret: Optional[str] = None

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> "WhatsAppConfig":
        creds = dict(credentials or {})
        handover = BotSettings.from_env()
        hold = _setting(creds, "hold_hours", str(DEFAULT_HOLD_HOURS)) or "0"
        try:
            hold_hours = max(float(hold), 0.0)
        except ValueError:
            raise ValueError("WHATSAPP_HOLD_HOURS must be a number of hours") from None
        order_wait = _setting(creds, "order_wait_seconds", "10") or "0"
        try:
            order_wait_seconds = max(float(order_wait), 0.0)
        except ValueError:
            raise ValueError("WHATSAPP_ORDER_WAIT_SECONDS must be a number of seconds") from None
        return cls(
            verify_token=_setting(creds, "verify_token"),
            app_secret=_setting(creds, "app_secret"),
            access_token=_setting(creds, "access_token"),
            phone_number_id=_setting(creds, "phone_number_id"),
            api_url=_setting(creds, "api_url", DEFAULT_API_URL) or DEFAULT_API_URL,
            template_name=_setting(creds, "template_name"),
            template_language=_setting(creds, "template_language", DEFAULT_TEMPLATE_LANGUAGE)
            or DEFAULT_TEMPLATE_LANGUAGE,
            template_languages=_language_codes(_setting(creds, "template_languages")),
            state_db=_setting(creds, "state_db", DEFAULT_STATE_DB) or DEFAULT_STATE_DB,
            hold_hours=hold_hours,
            workers=_positive_int(_setting(creds, "workers", "4"), "WHATSAPP_WORKERS"),
            order_wait_seconds=order_wait_seconds,
            handover_url=handover.handover_url,
            handover_secret=handover.handover_secret,
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
            timeout=self.send_timeout,
        )

    def handover(self) -> Optional[HandoverTarget]:
        if not self.handover_url or not self.handover_secret:
            return None
        return HandoverTarget(self.handover_url, self.handover_secret)

    def delivery(self) -> DeliverySettings:
        return DeliverySettings(
            template_name=self.template_name,
            template_language=self.template_language,
            template_languages=self.template_languages,
            hold=self.hold_hours > 0,
            can_send=self.can_send,
            retry_base_delay=self.retry_base_delay,
            max_retry_delay=self.max_retry_delay,
            confirm_seconds=self.confirm_seconds,
            send_lease=self.send_timeout * self.send_attempts + 30.0,
            workers=self.workers,
            poll_seconds=self.poll_seconds,
            order_wait=self.order_wait_seconds,
            notify_handover=self.handover() is not None,
        )


# Meta's template language codes: "nl", "en_US", "pt_BR" (also three letters, "fil").
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?")


def _language_codes(value: Optional[str]) -> Tuple[str, ...]:
    """"nl, en_US,pl" -> ("nl", "en_US", "pl"); a code Meta would not know is a configuration error."""
    codes = tuple(code.strip() for code in (value or "").split(",") if code.strip())
    for code in codes:
        if not _LANGUAGE_CODE.fullmatch(code):
            raise ValueError(f"WHATSAPP_TEMPLATE_LANGUAGES: {code!r} is not a code such as nl or en_US")
    return codes


def _positive_int(value: Optional[str], name: str) -> int:
    try:
        number = int(value or "")
    except ValueError:
        raise ValueError(f"{name} must be a whole number") from None
    if number < 1:
        raise ValueError(f"{name} must be at least 1")
    return number


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
    """Sends the bot's messages to one citizen's WhatsApp, through the outbox (delivery.py)."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL_NAME

    def __init__(self, state: WhatsAppState, sender: Sender) -> None:
        self.state = state
        self.sender = sender
        # What the next messages are, for the handover service when they cannot be delivered
        # (delivery.META); only outside a citizen's turn (trigger_intent: messages of a case).
        self._meta: Dict[str, Any] = {"case": True, "kind": "text"}

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
        """A custom payload {"whatsapp": {<Cloud API message without "to">}} is sent as it is; the
        appointment's calendar file as a document (media.py); a live-chat message (bot/payloads.py:
        a casemanager's message, the queue, the return to the bot) as plain text; anything else is
        meant for another channel and is not shown as raw JSON to the citizen."""
        body = json_message.get(CHANNEL_NAME) if isinstance(json_message, dict) else None
        if isinstance(body, dict) and isinstance(body.get("type"), str):
            await self._deliver(recipient_id, body)
            return
        document = calendar_document(json_message)
        if document is not None:
            # The appointment's calendar file: a document, its file uploaded when it is sent (media.py).
            await self._deliver(recipient_id, document)
            return
        text = plain_text(json_message)
        live = structured(json_message)
        staff_id = live.get("id") if live is not None and live.get("type") == STAFF_MESSAGE else None
        if text and isinstance(staff_id, str) and staff_id:
            # The handover service's id of a casemanager's message: sent once per citizen, also when
            # Rasa handled the service's call twice (an instance killed before it answered).
            parts = [text_body(part) for part in split_text(text, MAX_TEXT)]
            once = f"medewerker:{recipient_id}:{staff_id}"
            if not await self._deliver_once(once, recipient_id, parts, _case_meta(json_message)):
                log.info("whatsapp: a casemanager's message that was sent already is not sent again")
            return
        if text:
            before, self._meta = self._meta, _case_meta(json_message)
            try:
                await self.send_text_message(recipient_id, text)
            finally:
                self._meta = before
        else:
            log.debug("whatsapp: custom payload for another channel skipped")

    async def _deliver_once(
        self, message_id: str, recipient_id: str, parts: List[Dict[str, Any]], meta: Dict[str, Any]
    ) -> bool:
        """Like `_deliver` for the parts of a message that can arrive more than once: queued (False:
        not) only the first time `message_id` is seen. Claiming the id and queueing the message
        are one transaction: a claim stored in a call cut off before the message was queued (an
        instance killed, the service's call timed out and cancelled) would drop every repeat."""
        bodies = [with_meta(part, **meta) for part in parts]
        queued = await self.sender.put_once(message_id, recipient_id, bodies)
        if queued:
            await self.sender.flush(self.sender.key(recipient_id))
        return queued

    async def _deliver(self, recipient_id: str, body: Dict[str, Any]) -> None:
        """Into the outbox, then sent at once when it can go. Outside a turn (a casemanager's
        message through trigger_intent) this returns when the message is stored: a send that has
        to wait (Meta down, rate limit) is retried in the background and never makes the caller
        send it again (no second copy of part 1 when part 2 waits)."""
        await self.sender.put(recipient_id, [with_meta(body, **self._meta) if self._meta else body])
        await self.sender.flush(self.sender.key(recipient_id))

    async def _choice_id(self, payload: str, limit: int) -> str:
        """The payload itself when it fits as a WhatsApp id, else a short token kept in the state DB."""
        if 0 < len(payload) <= limit and not payload.startswith(PAYLOAD_TOKEN_PREFIX):
            return payload
        return await self.state.token_for_payload(payload)


class TurnOutput(WhatsAppOutput):
    """The output channel of one Rasa turn: the replies are collected and enter the outbox together
    with the end of the turn (WhatsAppState.finish_inbound), so a turn that fails halfway sends
    nothing and can run again. After the turn it sends like WhatsAppOutput."""

    def __init__(self, state: WhatsAppState, sender: Sender) -> None:
        super().__init__(state, sender)
        self.collected: List[Dict[str, Any]] = []
        self.collecting = True
        self._meta = {}  # the bot's answer to the citizen: no message of a case

    async def _deliver(self, recipient_id: str, body: Dict[str, Any]) -> None:
        if self.collecting:
            # A reply in a citizen's turn is no message of a case; only a note is marked.
            note = self._meta.get("note")
            self.collected.append(with_meta(body, note=note) if note else body)
        else:
            await super()._deliver(recipient_id, body)

    async def _deliver_once(
        self, message_id: str, recipient_id: str, parts: List[Dict[str, Any]], meta: Dict[str, Any]
    ) -> bool:
        if not self.collecting:
            return await super()._deliver_once(message_id, recipient_id, parts, meta)
        # In a turn the replies enter the outbox with the end of the turn (finish_inbound), as
        # replies: no message of a case.
        if not await self.state.claim(message_id):
            return False
        self.collected.extend(parts)
        return True

    async def note(
        self, recipient_id: str, text: str, name: str, button: Optional[Dict[str, str]] = None
    ) -> None:
        """One of the channel's notes, said at most once per MEDIA_NOTE_PAUSE (finish_inbound)."""
        before, self._meta = self._meta, {"note": name}
        try:
            if button is not None:
                await self.send_text_with_buttons(recipient_id, text, [button])
            else:
                await self.send_text_message(recipient_id, text)
        finally:
            self._meta = before

    def notes(self) -> Dict[int, Any]:
        """Index of each collected note → (its name, its pause), for finish_inbound."""
        found = {}
        for index, body in enumerate(self.collected):
            name = meta_of(body).get("note")
            if isinstance(name, str):
                found[index] = (name, MEDIA_NOTE_PAUSE)
        return found


def _case_meta(json_message: Dict[str, Any]) -> Dict[str, Any]:
    """What a live-chat message is, for the handover service when it cannot be delivered: the
    casemanager's words (with a hash of the text, so the service can name the message without
    the bot sending the text back), or a mode change (only closing is reported)."""
    data = structured(json_message) or {}
    if data.get("type") == STAFF_MESSAGE:
        text = data.get("text") if isinstance(data.get("text"), str) else ""
        sha = hashlib.sha256(str(text).strip().encode("utf-8")).hexdigest()
        return {"case": True, "kind": STAFF_MESSAGE, "sha": sha}
    if data.get("type") == MODE:
        return {"case": data.get("mode") in _NOTIFY_MODES, "kind": MODE}
    return {"case": True, "kind": "text"}


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
        self.sender = Sender(config.delivery(), self.state, self.graph, self.ids.key, self.ids.ref)
        self.sender.language_of = self._conversation_language
        self.notifier = CaseNotifier(self.state, config.handover())
        self.dispatcher = Dispatcher(
            config.delivery(),
            self.state,
            self.sender,
            self._process,
            self.notifier.flush if self.notifier.enabled else None,
        )
        self._on_new_message: Optional[OnNewMessage] = None
        self._app: Any = None
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
        return WhatsAppOutput(self.state, self.sender)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = Blueprint("whatsapp_webhook", __name__)
        self._on_new_message = on_new_message

        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        async def verify(request: Request) -> HTTPResponse:
            return self._verify(request)

        async def receive(request: Request) -> HTTPResponse:
            return await self._receive(request)

        webhook.add_route(health, "/", methods=["GET"])
        webhook.add_route(verify, "/webhook", methods=["GET"])
        webhook.add_route(receive, "/webhook", methods=["POST"], stream=True)

        # "Verwijder mijn gegevens" erases the tracker (bot/tracker_store.py); the window and the
        # held messages (with their text) of this citizen go with it.
        on_erase(self.forget)

        async def start(app: Any, *_: Any) -> None:
            # Messages and sends an earlier run left behind are picked up now. Without any setting
            # nothing can arrive or go out: the state database is then not touched at all.
            self._app = app
            if self.config.app_secret or self.config.can_send:
                self.dispatcher.start()

        async def close(*_: Any) -> None:
            forget_hook(self.forget)
            await self.dispatcher.stop()
            await self.graph.close()
            self.state.dispose()

        webhook.listener(start, "after_server_start")
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

    async def _receive(self, request: Request) -> HTTPResponse:
        """Check, store, answer: the turns run in the background, so Meta gets its 200 at once."""
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
        if parsed.error_codes:
            log.warning("whatsapp webhook reports errors: codes=%s", sorted(set(parsed.error_codes)))
        if parsed.status_error_codes:
            log.info("whatsapp delivery failures reported: codes=%s", sorted(set(parsed.status_error_codes)))
        items = []
        for inbound in parsed.messages:
            if self.config.phone_number_id and inbound.phone_number_id not in (
                None,
                self.config.phone_number_id,
            ):
                log.info("whatsapp message for another phone number id ignored")
                continue
            message = None if inbound.kind is Kind.IGNORED else inbound.to_dict()
            items.append((inbound.message_id, self.ids.key(inbound.sender), message))
        # Not stored means not acknowledged: a 500 makes Meta send the payload again later.
        if parsed.reports:
            await self.sender.statuses(parsed.reports)
        stored = await self.state.enqueue_inbound(items) if items else 0
        if stored < sum(1 for _, _, m in items if m is not None):
            log.info("whatsapp duplicate message ignored")
        if stored or parsed.reports:
            self.dispatcher.wake()
        # Always 200 for a signed payload: Meta would otherwise resend it for days.
        return response.json({"status": "ok"})

    # -- background: one message's turn -----------------------------------------------------------

    async def _conversation_language(self, sender_id: str) -> Optional[str]:
        """The tracker's slot `taal`, read only when the channel says something itself (a notice,
        the template). None when the conversation is Dutch or the tracker cannot be read."""
        agent = getattr(getattr(self._app, "ctx", None), "agent", None)
        retrieve = getattr(getattr(agent, "tracker_store", None), "retrieve", None)
        if retrieve is None:
            return None
        try:
            tracker = await retrieve(sender_id)
        except Exception as e:  # the notice or template still goes out, in Dutch
            log.warning("whatsapp: conversation language not read (%s); Dutch", type(e).__name__)
            return None
        language = tracker.get_slot(LANGUAGE_SLOT) if tracker is not None else None
        return language if isinstance(language, str) else None

    async def _words(self, sender_id: str) -> Mapping[str, str]:
        """The channel's words in the conversation language; Dutch when there is none."""
        return texts(await self._conversation_language(sender_id))

    async def _process(self, row: InboxRow) -> None:
        """One message from the inbox (delivery.Dispatcher): the window, held messages, the turn.
        Raises when the turn failed; the message stays in the inbox and is tried again."""
        if self._on_new_message is None:
            raise NotReady()
        agent = getattr(getattr(self._app, "ctx", None), "agent", None)
        is_ready = getattr(agent, "is_ready", None)
        if callable(is_ready) and not is_ready():
            raise NotReady()  # Rasa would drop the message ("no agent to handle it")
        inbound = Inbound.from_dict(row.message)
        key = row.contact_key
        now = self.state.now()
        await self.state.record_inbound(key, min(inbound.timestamp or now, now))
        released = await self.state.release_held(key, inbound.sender)
        if released:
            await self.sender.flush(key)
        output = TurnOutput(self.state, self.sender)
        says_something = (
            inbound.cut or inbound.edited or inbound.kind in (Kind.TEMPLATE_REPLY, Kind.UNSUPPORTED)
        )
        words = await self._words(inbound.sender) if says_something else TEXTS
        if inbound.cut:
            log.info("whatsapp text longer than WhatsApp's 4096 characters: first part read")
            await output.send_text_message(inbound.sender, words["lang_bericht"])
        read = True  # the text goes to Rasa
        if inbound.kind is Kind.TEMPLATE_REPLY:
            # A tap on the template asks for the held messages (now on their way); with nothing
            # held it is no question for NLU ("Bericht lezen" would get "Sorry, ...").
            read = False
            if not released:
                log.info("whatsapp template button tapped with nothing held")
                await output.send_text_with_buttons(
                    inbound.sender, words["geen_bericht_klaar"], [person_button(words)]
                )
        elif inbound.edited:
            log.info("whatsapp edited message read as a new message")
            await output.send_text_message(inbound.sender, words["aangepast_bericht"])
        elif inbound.kind is Kind.UNSUPPORTED and inbound.text:
            log.info("whatsapp %s message: its caption is read", inbound.wa_type)
            await output.note(inbound.sender, words["alleen_bijschrift"], MEDIA_NOTE)
        elif inbound.kind is Kind.UNSUPPORTED:
            log.info("whatsapp %s message answered with the 'please type' reply", inbound.wa_type)
            await output.note(inbound.sender, words["niet_leesbaar"], MEDIA_NOTE, button=person_button(words))
            read = False
        if read:
            text = await self._text_for(inbound)
            if text:
                await self._on_new_message(
                    UserMessage(
                        text,
                        output,
                        inbound.sender,
                        input_channel=self.name(),
                        message_id=inbound.message_id,
                        metadata=_metadata(inbound),
                    )
                )
        output.collecting = False
        keys = await self.state.finish_inbound(row.id, key, inbound.sender, output.collected, output.notes())
        if keys is None:
            log.warning("whatsapp turn ran twice (its lease ran out); the second run's replies dropped")

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
