"""The service's logging set-up (``python -m handover``) keeps personal data out of the log."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from privacy.logs import uninstall_log_redaction

from handover.__main__ import configure_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Undo what configure_logging does to the process: root level and record factory."""
    root = logging.getLogger()
    level, factory = root.level, logging.getLogRecordFactory()
    try:
        yield
    finally:
        root.setLevel(level)
        uninstall_log_redaction()
        assert logging.getLogRecordFactory() is factory


@pytest.mark.usefixtures("restore_logging")
def test_configure_logging_redacts_personal_data(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # As at service start: a root logger without handlers (pytest's own are put back afterwards).
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    configure_logging("DEBUG")
    logging.getLogger("handover.views").info(
        "bericht van %s: mijn bsn is %s, mail %s", "+31612345678", "111222333", "jan@example.nl"
    )
    try:
        raise RuntimeError("IBAN NL91ABNA0417164300 geweigerd")
    except RuntimeError:
        logging.getLogger("handover.outbox").exception("aanroep mislukt")
    err = capsys.readouterr().err
    assert "INFO handover.views: bericht van [TELEFOON]: mijn bsn is [BSN], mail [E-MAIL]" in err
    assert "RuntimeError: IBAN [IBAN] geweigerd" in err
    for value in ("+31612345678", "111222333", "jan@example.nl", "NL91ABNA0417164300"):
        assert value not in err
