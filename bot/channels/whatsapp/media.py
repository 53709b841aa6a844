"""Files the bot sends on WhatsApp: the appointment's calendar file as a `document` message.

The bot sends the file as a structured message (bot/domain/afspraken.yml, utter_afspraak_agenda):

    {"data": {"type": "agenda", "text": "<caption>", "label": "…", "filename": "afspraak-AF-….ics",
              "ics": "BEGIN:VCALENDAR…"}}

`calendar_document` makes it a Cloud API `document` message whose file waits in the channel's
own fields (the stored body's META, never sent). It goes through the outbox like every message:
only inside the 24-hour window (outside it, it is held behind the template), in order, retried,
sent once. Right before each send, `with_uploaded_file` uploads the file to the Cloud API's media
endpoint (POST /{phone-number-id}/media) and puts the media id Meta returns in the document; so a
held message gets a fresh id when it is finally sent (Meta keeps uploaded media 30 days).

Meta documents no calendar type for a document (text/plain, PDF and the Office types), so the file
is uploaded as text/plain: an iCalendar file is plain text, and its name ends in .ics. Not checked
on real phones: whether WhatsApp offers such a file to the phone's calendar app, or only shows it.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Optional, Protocol

from bot.channels.whatsapp.store import META_KEY

CALENDAR = "agenda"  # the structured message's type
UPLOAD = "upload"  # under META: {"content": <the file's text>, "type": <MIME type>}
DOCUMENT_TYPE = "text/plain"
MAX_CAPTION = 1024  # Meta's limit for a media caption
MAX_FILE_BYTES = 16_384  # an appointment's calendar file is well under 2 kB
FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\.ics")


class Uploader(Protocol):
    async def upload(self, content: bytes, mime_type: str, filename: str) -> str:
        """Upload a file to the media endpoint; Meta's media id."""


def calendar_document(json_message: Any) -> Optional[Dict[str, Any]]:
    """The document message (file waiting in META) for a calendar file message; None for anything
    else, or for a calendar message that is not a sane .ics file."""
    data = json_message.get("data") if isinstance(json_message, dict) else None
    if not isinstance(data, dict) or data.get("type") != CALENDAR:
        return None
    name, content, caption = data.get("filename"), data.get("ics"), data.get("text")
    if not isinstance(name, str) or not FILE_NAME.fullmatch(name):
        return None
    if not isinstance(content, str) or not content.startswith("BEGIN:VCALENDAR"):
        return None
    if len(content.encode("utf-8")) > MAX_FILE_BYTES:
        return None
    document: Dict[str, Any] = {"filename": name}
    if isinstance(caption, str) and caption.strip():
        document["caption"] = caption.strip()[:MAX_CAPTION]
    return {
        "type": "document",
        "document": document,
        META_KEY: {UPLOAD: {"content": content, "type": DOCUMENT_TYPE}},
    }


async def with_uploaded_file(body: Dict[str, Any], graph: Uploader) -> Dict[str, Any]:
    """The body as it can be sent: a document whose file waits in META gets it uploaded first and
    names the media id; any other body is returned as it is. Raises the upload's GraphError
    (a passing one is tried again with the message, like a failed send)."""
    meta = body.get(META_KEY)
    upload = meta.get(UPLOAD) if isinstance(meta, dict) else None
    document = body.get("document")
    if not isinstance(upload, dict) or body.get("type") != "document" or not isinstance(document, dict):
        return body
    content, mime_type = str(upload.get("content") or ""), str(upload.get("type") or DOCUMENT_TYPE)
    name = str(document.get("filename") or "bestand")
    media_id = await graph.upload(content.encode("utf-8"), mime_type, name)
    return {**body, "document": {**document, "id": media_id}}
