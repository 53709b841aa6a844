"""bot/log_privacy.py on Rasa's own structlog configuration: an error while handling a message logs
the event and the exception type, never the citizen's text or the locals of the failing frames."""

from __future__ import annotations

import io
import logging
import sys
from typing import Iterator

import pytest
import structlog
from rasa.utils import log_utils

from bot.log_privacy import wrap_configure_structlog

SECRET = "ik-heb-schulden-en-ben-ziek-4711"


@pytest.fixture
def rasa_json_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Rasa's configure_structlog as `rasa run` calls it when the output is a file (JSON lines)."""
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal: Rasa picks its JSON renderer
    root = logging.getLogger()
    handler, level = logging.StreamHandler(stream), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    saved = structlog.get_config()
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        structlog.configure(**saved)


def fail_with_text(text: str) -> None:
    message = text  # noqa: F841 - a local variable, as in Rasa's failing frames
    raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")


def log_a_failure() -> None:
    try:
        fail_with_text(SECRET)
    except UnicodeEncodeError:
        structlog.get_logger().exception("rest.message.received.failure", text=SECRET)


def test_rasas_own_configuration_leaks_the_text(rasa_json_log: io.StringIO) -> None:
    """Without our change: the text and the locals are in the log (so the test below means something)."""
    log_utils.configure_structlog(logging.INFO)
    log_a_failure()
    assert SECRET in rasa_json_log.getvalue()


def test_with_our_change_only_the_event_and_the_exception_remain(rasa_json_log: io.StringIO) -> None:
    wrap_configure_structlog(log_utils.configure_structlog)(logging.INFO)
    log_a_failure()
    written = rasa_json_log.getvalue()
    assert "rest.message.received.failure" in written and "UnicodeEncodeError" in written
    assert SECRET not in written


def test_debug_events_keep_their_fields(rasa_json_log: io.StringIO) -> None:
    wrap_configure_structlog(log_utils.configure_structlog)(logging.DEBUG)
    structlog.get_logger().debug("processor.message.parsed", intent="groet")
    assert "groet" in rasa_json_log.getvalue()
