"""Log records are redacted when they are created, whatever logger or handler writes them."""

from __future__ import annotations

import io
import logging
from typing import Iterator

import pytest

from privacy.logs import install_log_redaction, uninstall_log_redaction

PII = ["111222333", "NL91ABNA0417164300", "06-12345678", "+31612345678", "jan@example.nl", "Jan", "Vries"]


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A DEBUG logger writing to a string, with redaction installed; both undone afterwards."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("test.privacy.logs")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    logger.propagate = False
    original = logging.getLogRecordFactory()
    install_log_redaction()
    try:
        yield logger, out
    finally:
        uninstall_log_redaction()
        logger.removeHandler(handler)
        assert logging.getLogRecordFactory() is original


def test_message_and_args_are_redacted(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = log
    # WhatsApp sender ids are phone numbers.
    logger.debug(
        "bericht van %s: mijn naam is %s, mijn bsn is %s", "+31612345678", "Jan de Vries", "111222333"
    )
    logger.info("Received user message 'mijn IBAN is NL91ABNA0417164300, bel 06-12345678'")
    logger.warning("contact: %(mail)s", {"mail": "jan@example.nl"})
    text = out.getvalue()
    for value in PII:
        assert value not in text
    assert "[BSN]" in text and "[IBAN]" in text and "[TELEFOON]" in text and "[E-MAIL]" in text
    assert "bericht van [TELEFOON]: mijn naam is [NAAM], mijn bsn is [BSN]" in text


def test_whatsapp_conversation_ids_of_any_country(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = log
    # Rasa logs the conversation id; on WhatsApp that is the number in international form, no "+".
    logger.debug("Starting a new session for conversation ID '%s'.", "491701234567")
    logger.debug("Received user message from %s at %s", "31612345678", 1732270000.123)
    text = out.getvalue()
    assert "491701234567" not in text and "31612345678" not in text
    assert "conversation ID '[TELEFOON]'" in text and "at 1732270000.123" in text


def test_other_loggers_and_the_root_logger_too(log: tuple[logging.Logger, io.StringIO]) -> None:
    _, out = log
    root_handler = logging.StreamHandler(out)
    logging.getLogger().addHandler(root_handler)
    try:
        logging.getLogger("rasa.core.processor").warning("Received user message 'bsn 111222333'")
    finally:
        logging.getLogger().removeHandler(root_handler)
    assert "111222333" not in out.getvalue()
    assert "bsn [BSN]" in out.getvalue()


def test_exception_text_is_redacted(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = log
    try:
        raise ValueError("ongeldige invoer: 111222333")
    except ValueError:
        logger.exception("verwerken mislukt voor %s", "jan@example.nl")
    text = out.getvalue()
    assert "Traceback" in text and "ValueError: ongeldige invoer: [BSN]" in text
    assert "111222333" not in text and "jan@example.nl" not in text


def test_bad_format_never_raises(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = log
    logger.error("twee velden %s %s maar één waarde", "111222333")
    logger.error("%d is geen getal", "06-12345678")
    text = out.getvalue()
    assert text.count("ERROR") == 2
    assert "111222333" not in text and "06-12345678" not in text


def test_install_is_idempotent(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = log
    factory = logging.getLogRecordFactory()
    install_log_redaction()
    assert logging.getLogRecordFactory() is factory
    logger.info("bel 06-12345678")
    assert out.getvalue().strip().endswith("bel [TELEFOON]")
