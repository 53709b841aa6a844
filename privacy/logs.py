"""Logs without personal data: every log record is redacted the moment it is created.

A record factory (not a handler or filter) covers every logger and every handler in the process,
including the ones Rasa and Sanic configure themselves and Rasa's DEBUG dumps of user messages and
trackers.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Callable

from privacy.pii import redact

_MARK = "_privacy_previous_factory"  # set on our wrapper: the factory it wraps
# Rasa logs conversation ids, and a WhatsApp conversation id is the contact's phone number in
# international form without "+" (any country). In logs every standalone run of 11-15 digits is
# treated as one; a few other long numbers are hidden too, which costs nothing in a log.
_LONG_NUMBER = re.compile(r"(?<![\w.+-])[0-9]{11,15}(?![\w]|[.,][0-9])")


def _render(record: logging.LogRecord) -> str:
    """msg % args like logging does, but never raising on a bad format string."""
    try:
        return record.getMessage()
    except Exception:  # a broken log call must not break the caller, nor leak args unredacted
        return f"{record.msg!s} {record.args!r}"


def redact_log_text(text: str) -> str:
    """`redact`, plus any bare international phone number (a WhatsApp conversation id)."""
    return _LONG_NUMBER.sub("[TELEFOON]", redact(text))


def _redact_record(record: logging.LogRecord) -> None:
    record.msg, record.args = redact_log_text(_render(record)), ()
    if record.exc_info and record.exc_info[0] is not None:
        # Formatters reuse exc_text when it is set, so the traceback is formatted (and redacted) once.
        record.exc_text = redact_log_text(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact_log_text(record.stack_info)


def install_log_redaction() -> None:
    """Wrap the process's log record factory so each record's text is redacted; idempotent."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, _MARK, None) is not None:
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            _redact_record(record)
        except Exception:  # never lose the record, but never let the raw text through either
            record.msg, record.args = "[log message withheld: redaction failed]", ()
        return record

    setattr(factory, _MARK, previous)
    logging.setLogRecordFactory(factory)


def uninstall_log_redaction() -> None:
    """Restore the factory that was active before `install_log_redaction` (for tests)."""
    factory = logging.getLogRecordFactory()
    previous: Callable[..., logging.LogRecord] | None = getattr(factory, _MARK, None)
    if previous is not None:
        logging.setLogRecordFactory(previous)
