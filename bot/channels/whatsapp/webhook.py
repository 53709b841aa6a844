"""Reads Meta's webhook requests: signature check and the parts of the payload the bot needs.

Payload format: Meta's "messages webhook reference" (object whatsapp_business_account →
entry[] → changes[] (field "messages") → value.messages[] / value.statuses[]).
Pure functions, no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Dict, Iterator, List, Optional

from bot.channels.whatsapp.format import split_text
from privacy.sender_id import InvalidSenderId, check_sender_id

SIGNATURE_HEADER = "X-Hub-Signature-256"
# Meta documents webhook payloads of up to 3 MB (a batch of many messages). A larger limit than
# that: a signed batch answered with 413 would be sent again by Meta for days.
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_TEXT_CHARS = 4096
MAX_SENDER_CHARS = 64


class Kind(Enum):
    TEXT = "text"  # typed text: goes to NLU
    CHOICE = "choice"  # tap on one of our reply buttons or list rows: its id is a Rasa payload
    TEMPLATE_REPLY = "template_reply"  # tap on a quick-reply button of our template
    UNSUPPORTED = "unsupported"  # voice, audio, photo, file, video, sticker, location, contact …
    IGNORED = "ignored"  # reactions and system notices: nothing to answer


# Message types that a person sends but the bot cannot read. Anything unknown is treated the same,
# so a new WhatsApp message type gets the "please type" answer instead of silence.
_IGNORED_TYPES = frozenset({"reaction", "system", "request_welcome", "ephemeral"})


# The statuses Meta reports for a message we sent, in the order they happen ("failed" instead).
STATUS_STATES = frozenset({"sent", "delivered", "read", "failed"})
# Media whose caption (the text the citizen typed with it) is read.
_CAPTION_TYPES = frozenset({"image", "video", "document"})


class MalformedPayload(ValueError):
    """The body is signed but is not a webhook payload we can read."""


@dataclass(frozen=True)
class Inbound:
    """One message from a citizen, reduced to what the channel needs."""

    message_id: str
    sender: str
    kind: Kind
    wa_type: str
    text: str = ""
    title: str = ""
    timestamp: Optional[float] = None
    phone_number_id: Optional[str] = None
    cut: bool = False  # the text was longer than MAX_TEXT_CHARS; `text` is its first part
    edited: bool = False  # the citizen changed a message sent before; `text` is the new text

    def to_dict(self) -> Dict[str, Any]:
        """As stored in the inbox (JSON)."""
        return {
            "message_id": self.message_id,
            "sender": self.sender,
            "kind": self.kind.value,
            "wa_type": self.wa_type,
            "text": self.text,
            "title": self.title,
            "timestamp": self.timestamp,
            "phone_number_id": self.phone_number_id,
            "cut": self.cut,
            "edited": self.edited,
        }

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Inbound":
        return cls(**{**data, "kind": Kind(data["kind"])})


@dataclass(frozen=True)
class StatusReport:
    """One status callback of a message we sent, named by its idempotency key
    (biz_opaque_callback_data). `code` is Meta's first error code of a failed message."""

    key: str
    status: str
    code: Optional[int] = None
    message_id: str = ""  # Meta's id of the message (of this send attempt)


@dataclass
class Parsed:
    messages: List[Inbound] = field(default_factory=list)
    statuses: int = 0
    status_error_codes: List[int] = field(default_factory=list)
    # value.errors: problems Meta reports about the account or the webhook itself (codes only)
    error_codes: List[int] = field(default_factory=list)
    # the status callbacks that name one of our messages by its idempotency key
    reports: List[StatusReport] = field(default_factory=list)
    skipped: int = 0


def signature_valid(app_secret: Optional[str], body: bytes, header: Optional[str]) -> bool:
    """HMAC-SHA256 of the raw body with the app secret, compared in constant time. Without a
    secret nothing is valid: a missing setting must not open the webhook to anyone."""
    if not app_secret or not header:
        return False
    scheme, _, received = header.strip().partition("=")
    if scheme.lower() != "sha256" or not received:
        return False
    expected = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), received.lower().encode("utf-8", "replace"))


def token_matches(expected: Optional[str], received: Optional[str]) -> bool:
    """Constant-time comparison of the verify token; no configured token matches nothing."""
    if not expected or received is None:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), received.encode("utf-8", "replace"))


def decode(body: bytes) -> Dict[str, Any]:
    """Strict UTF-8 JSON object, or MalformedPayload."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise MalformedPayload(type(e).__name__) from e
    if not isinstance(payload, dict):
        raise MalformedPayload("not an object")
    return payload


def _dicts(value: Any) -> Iterator[Dict[str, Any]]:
    """The dict items of a list; anything else yields nothing (payloads are read leniently)."""
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


def _dict(value: Any) -> Dict[str, Any]:
    """The value when it is an object, else an empty one (payloads are read leniently)."""
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def parse(payload: Dict[str, Any]) -> Parsed:
    """Messages and statuses of a webhook payload. Parts we do not understand are skipped, so one
    odd entry never costs the other messages in the same request."""
    if not isinstance(payload.get("entry", []), list):
        raise MalformedPayload("entry is not a list")
    parsed = Parsed()
    for entry in _dicts(payload.get("entry")):
        for change in _dicts(entry.get("changes")):
            value = change.get("value")
            if change.get("field", "messages") != "messages" or not isinstance(value, dict):
                continue
            _read_value(value, parsed)
    return parsed


def _read_value(value: Dict[str, Any], parsed: Parsed) -> None:
    phone_number_id = _str(_dict(value.get("metadata")).get("phone_number_id")) or None
    parsed.error_codes += [e["code"] for e in _dicts(value.get("errors")) if isinstance(e.get("code"), int)]
    for status in _dicts(value.get("statuses")):
        parsed.statuses += 1
        key = _str(status.get("biz_opaque_callback_data"))
        state = _str(status.get("status"))
        codes = [e["code"] for e in _dicts(status.get("errors")) if isinstance(e.get("code"), int)]
        parsed.status_error_codes += codes
        if key and state in STATUS_STATES:
            parsed.reports.append(
                StatusReport(key, state, codes[0] if codes else None, _str(status.get("id")))
            )
    for message in _dicts(value.get("messages")):
        inbound = read_message(message, phone_number_id)
        if inbound is None:
            parsed.skipped += 1
        else:
            parsed.messages.append(inbound)


def _valid_sender(sender: str) -> bool:
    # The WhatsApp id becomes Rasa's conversation id and the handover service's key: the rule
    # every process shares (privacy/sender_id.py), so no process reads it differently.
    try:
        check_sender_id(sender, MAX_SENDER_CHARS)
    except InvalidSenderId:
        return False
    return True


def _text(value: Any) -> str:
    """Message text; an unpaired surrogate (JSON "\\ud800", no valid text) becomes U+FFFD, so the
    rest of the citizen's message is kept and the language layer never sees invalid text."""
    text = _str(value)
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)


def read_message(message: Dict[str, Any], phone_number_id: Optional[str]) -> Optional[Inbound]:
    """One entry of value.messages, or None when it lacks an id or a usable sender."""
    message_id, sender, wa_type = (
        _str(message.get("id")),
        _str(message.get("from")),
        _str(message.get("type")),
    )
    if not message_id or not _valid_sender(sender):
        return None
    timestamp = _timestamp(message.get("timestamp"))
    base: Dict[str, Any] = {
        "message_id": message_id,
        "sender": sender,
        "wa_type": wa_type or "unknown",
        "timestamp": timestamp,
        "phone_number_id": phone_number_id,
    }
    content = _dict(message.get(wa_type))
    if wa_type == "text":
        text = _text(content.get("body")).strip()
        cut = len(text) > MAX_TEXT_CHARS
        if cut:
            # The first part, ended between paragraphs, sentences or words (never mid-word if avoidable).
            text = split_text(text, MAX_TEXT_CHARS)[0]
        return Inbound(kind=Kind.TEXT if text else Kind.IGNORED, text=text, cut=cut, **base)
    if wa_type == "interactive":
        return _interactive(content, base)
    if wa_type == "button":
        # Quick reply of a template; its payload is what we (or the template) set, else its label.
        text = _text(content.get("payload")) or _text(content.get("text"))
        return Inbound(kind=Kind.TEMPLATE_REPLY, text=text, title=_text(content.get("text")), **base)
    if wa_type == "edit":
        return _edit(message, content, phone_number_id)
    if wa_type in _IGNORED_TYPES:
        return Inbound(kind=Kind.IGNORED, **base)
    # A photo, video or document may carry a caption: that text is read, the file is not.
    caption = _text(content.get("caption")).strip() if wa_type in _CAPTION_TYPES else ""
    return Inbound(kind=Kind.UNSUPPORTED, text=caption[:MAX_TEXT_CHARS], **base)


def _edit(
    message: Dict[str, Any], content: Dict[str, Any], phone_number_id: Optional[str]
) -> Optional[Inbound]:
    """An edited message (Meta's `edit` webhook): `edit.message` is the message as it reads now,
    a text or media with a caption. Read as a new message of its own, marked as edited; an edit
    without a readable new message is ignored (never the answer for files)."""
    edited = _dict(content.get("message"))
    inner_type = _str(edited.get("type"))
    if inner_type not in ("text", *_CAPTION_TYPES):
        return Inbound(
            message_id=_str(message.get("id")),
            sender=_str(message.get("from")),
            kind=Kind.IGNORED,
            wa_type="edit",
        )
    inner = {
        **edited,
        "id": message.get("id"),
        "from": message.get("from"),
        "timestamp": message.get("timestamp"),
    }
    inbound = read_message(inner, phone_number_id)
    if inbound is None:
        return None
    if inbound.kind is Kind.UNSUPPORTED and not inbound.text:
        # A caption that was removed: nothing new to read.
        return replace(inbound, kind=Kind.IGNORED, wa_type="edit")
    return replace(inbound, wa_type="edit", edited=True)


def _interactive(content: Dict[str, Any], base: Dict[str, Any]) -> Inbound:
    """button_reply / list_reply carry our id (the Rasa payload) and the title that was shown."""
    reply_type = _str(content.get("type"))
    reply = content.get(reply_type) if reply_type in ("button_reply", "list_reply") else None
    if not isinstance(reply, dict):
        # e.g. nfm_reply (WhatsApp Flows): not something this bot sends
        return Inbound(kind=Kind.UNSUPPORTED, **base)
    reply_id, title = _text(reply.get("id")), _text(reply.get("title"))
    if not reply_id and not title:
        return Inbound(kind=Kind.IGNORED, **base)
    return Inbound(kind=Kind.CHOICE, text=reply_id, title=title, **base)


def _timestamp(value: Any) -> Optional[float]:
    """Meta sends unix seconds as a string."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None
