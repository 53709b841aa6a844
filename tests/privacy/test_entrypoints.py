"""Both bot processes install log redaction before Rasa or rasa_sdk configure logging or log anything."""

from __future__ import annotations

import logging
from typing import Callable, Iterator, List

import pytest
import rasa.__main__
import rasa_sdk.__main__

from bot import action_server, server
from privacy.logs import uninstall_log_redaction


@pytest.fixture
def factory_at_start(monkeypatch: pytest.MonkeyPatch) -> Iterator[List[logging.LogRecord]]:
    """Replaces both CLIs by a stub that creates one record the moment the CLI would start."""
    records: List[logging.LogRecord] = []

    def cli() -> None:
        logger = logging.getLogger("rasa.core.processor")
        args = ("bsn 111222333",)
        record = logger.makeRecord(logger.name, logging.DEBUG, __file__, 1, "user message '%s'", args, None)
        records.append(record)

    monkeypatch.setattr(rasa.__main__, "main", cli)
    monkeypatch.setattr(rasa_sdk.__main__, "main", cli)
    monkeypatch.setattr(server, "apply", lambda: None)  # the speed-up patches Rasa globally
    original = logging.getLogRecordFactory()
    try:
        yield records
    finally:
        uninstall_log_redaction()
        assert logging.getLogRecordFactory() is original


@pytest.mark.parametrize("entrypoint", [server.main, action_server.main], ids=["rasa", "action-server"])
def test_entrypoint_redacts_from_the_first_record(
    entrypoint: Callable[[], None], factory_at_start: List[logging.LogRecord]
) -> None:
    entrypoint()
    (record,) = factory_at_start
    assert record.getMessage() == "user message 'bsn [BSN]'"
