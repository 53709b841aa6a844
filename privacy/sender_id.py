"""One rule for conversation ids (`sender_id`), shared by every process that receives one.

Rasa keys a conversation by its sender id alone and the handover service finds a citizen's case by
it. If one process quietly changed an id (stripping spaces, say) and another did not, " victim"
and "victim" would be one conversation in one place and two in the other: a case attached to the
wrong conversation, an erasure that deletes someone else's chat. So nothing is ever normalised:
an id that is not already in its one canonical form is refused.
"""

from __future__ import annotations

from typing import Any

MAX_SENDER_ID_CHARS = 128


class InvalidSenderId(ValueError):
    """The value is not a conversation id; the message says why (English, for logs and API errors)."""


def check_sender_id(value: Any, max_chars: int = MAX_SENDER_ID_CHARS) -> str:
    """Return `value` unchanged when it is a canonical sender id, else raise InvalidSenderId.

    Canonical: a non-empty string of at most `max_chars` printable characters, with no whitespace at
    either end, no control or format characters, no unpaired surrogates and no "/" (ids are path
    segments in the handover API).
    """
    if not isinstance(value, str) or not value:
        raise InvalidSenderId("sender id must be a non-empty string")
    if len(value) > max_chars:
        raise InvalidSenderId(f"sender id longer than {max_chars} characters")
    if value != value.strip():
        raise InvalidSenderId("sender id must not start or end with whitespace")
    # str.isprintable() is False for control characters, line and paragraph separators, format
    # characters (zero-width space, bidi overrides), non-ASCII spaces and lone surrogates.
    if not value.isprintable():
        raise InvalidSenderId("sender id must contain printable characters only")
    if "/" in value:
        raise InvalidSenderId("sender id must not contain '/'")
    return value
