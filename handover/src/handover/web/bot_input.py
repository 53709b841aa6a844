"""The bot's JSON bodies and paths, parsed and checked: a wrong field raises BadInput (the handler
answers 400); a body or path that cannot be used at all is a JSON 400 at once."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from aiohttp import web
from privacy.sender_id import InvalidSenderId, check_sender_id

from ..services import NewCase, TranscriptEntry
from .http_errors import json_error


class BadInput(ValueError):
    pass


_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


def _has_bad_text(data: Any) -> bool:
    """Whether any key or string holds NUL or an unpaired surrogate: JSON allows both
    ("\\u0000", "\\ud800"), but PostgreSQL cannot store NUL and neither database a lone
    surrogate. Iterative, because the parsed JSON may be nested deeply."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and _BAD_TEXT.search(item):
            return True
    return False


async def read_json_object(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except (ValueError, LookupError, RecursionError) as e:  # bad JSON, UTF-8 or charset; too deep
        json_error(web.HTTPBadRequest, f"Body is geen geldige JSON: {e}", "bad_json")
    if not isinstance(data, dict):
        json_error(web.HTTPBadRequest, "Body moet een JSON-object zijn", "bad_json")
    if _has_bad_text(data):
        json_error(web.HTTPBadRequest, "Tekst bevat een NUL-teken of een ongeldig teken", "bad_request")
    return data


def optional_text(data: dict[str, Any], key: str, max_len: int = 10_000) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadInput(f"{key} moet tekst zijn")
    if len(value) > max_len:
        raise BadInput(f"{key} is te lang (max {max_len})")
    return value.strip() or None


def required_text(data: dict[str, Any], key: str, max_len: int = 10_000) -> str:
    value = optional_text(data, key, max_len)
    if value is None:
        raise BadInput(f"{key} ontbreekt")
    return value


# The column's length; the rule itself is shared with the bot (privacy/sender_id.py).
MAX_SENDER_ID = 255


def canonical_sender_id(value: Any) -> str:
    """A conversation id exactly as the bot and Rasa use it: refused when not canonical, never
    changed (stripping " victim" to "victim" would join another citizen's conversation)."""
    try:
        return check_sender_id(value, max_chars=MAX_SENDER_ID)
    except InvalidSenderId as e:
        raise BadInput(f"sender_id: {e}") from e


def path_conversation(request: web.Request) -> tuple[str, str]:
    """(channel, sender_id) from the path; 400 for a sender_id that is not canonical."""
    try:
        return request.match_info["channel"], canonical_sender_id(request.match_info["sender_id"])
    except BadInput as e:
        json_error(web.HTTPBadRequest, str(e), "bad_request")


def _bool(data: dict[str, Any], key: str, *, required: bool = False) -> bool:
    value = data.get(key)
    if value is None and not required:
        return False
    if not isinstance(value, bool):
        raise BadInput(f"{key} moet true of false zijn")
    return value


def _timestamp(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return dt.datetime.fromtimestamp(value, tz=dt.timezone.utc)  # Rasa tracker events
        except (ValueError, OverflowError, OSError) as e:  # NaN, or beyond the year 9999
            raise BadInput(f"timestamp {value!r} valt buiten het bereik") from e
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as e:
            raise BadInput(f"ongeldige timestamp {value!r}") from e
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.timezone.utc)
        try:  # stored as UTC: "9999-12-31T23:59:59-14:00" would overflow only at the database
            return parsed.astimezone(dt.timezone.utc)
        except OverflowError as e:
            raise BadInput(f"timestamp {value!r} valt buiten het bereik") from e
    raise BadInput("timestamp moet ISO-tekst of epoch-seconden zijn")


def parse_new_case(data: dict[str, Any]) -> NewCase:
    raw_transcript = data.get("transcript") or []
    summary = data.get("summary") or {}
    contact = data.get("contact") or {}
    if not isinstance(raw_transcript, list):
        raise BadInput("transcript moet een lijst zijn")
    if not isinstance(summary, dict) or not isinstance(contact, dict):
        raise BadInput("summary en contact moeten objecten zijn")
    transcript = []
    for i, item in enumerate(raw_transcript):
        if not isinstance(item, dict):
            raise BadInput(f"transcript[{i}] moet een object zijn")
        transcript.append(
            TranscriptEntry(
                role=required_text(item, "role", 16),
                text=optional_text(item, "text") or "",
                timestamp=_timestamp(item.get("timestamp")),
                name=optional_text(item, "name", 128),
            )
        )
    organisations = summary.get("organisations") or []
    if not isinstance(organisations, list) or not all(isinstance(o, str) for o in organisations):
        raise BadInput("summary.organisations moet een lijst met tekst zijn")
    question_type = summary.get("question_type")
    if question_type is not None and (isinstance(question_type, bool) or not isinstance(question_type, int)):
        raise BadInput("summary.question_type moet 1, 2 of 3 zijn")
    consent = _bool(data, "consent", required=True)
    consent_organisations = data.get("consent_organisations")
    if consent_organisations is not None and (
        not isinstance(consent_organisations, list)
        or not all(isinstance(o, str) and 0 < len(o) <= 64 for o in consent_organisations)
    ):
        raise BadInput("consent_organisations moet een lijst met organisatie-ids zijn")
    consent_at = data.get("consent_at")
    if consent_at is not None and not isinstance(consent_at, str):
        raise BadInput("consent_at moet een ISO 8601-tijd zijn")
    return NewCase(
        channel=required_text(data, "channel", 16),
        sender_id=canonical_sender_id(data.get("sender_id")),
        kind=required_text(data, "kind", 16),
        # Without consent to forward the conversation only the intake fields are kept.
        transcript=transcript if consent else (),
        topic=optional_text(summary, "topic", 128) or optional_text(summary, "topic_id", 128),
        organisations=organisations[:20],
        question_type=question_type,
        urgent=_bool(summary, "urgent"),
        life_event=optional_text(summary, "life_event", 128),
        summary_text=optional_text(summary, "summary_text"),
        self_service=optional_text(summary, "self_service"),
        consent=consent,
        # Without consent nothing was agreed: no time, no organisations.
        consent_at=_timestamp(consent_at) if consent else None,
        consent_organisations=consent_organisations[:20]
        if consent and consent_organisations is not None
        else None,
        # A separate question: registration in the customer-contact registry (openklant.py).
        consent_registration=_bool(data, "consent_registration"),
        language=optional_text(data, "language", 8),
        contact_phone=optional_text(contact, "phone", 64),
        contact_email=optional_text(contact, "email", 255),
        contact_moment=optional_text(contact, "moment", 255),
    )
