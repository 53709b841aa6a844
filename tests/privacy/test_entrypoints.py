"""Both bot processes install log redaction before Rasa or rasa_sdk configure logging or log anything."""

from __future__ import annotations

import logging
import os
from pathlib import Path
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
    monkeypatch.setenv("ACTION_SERVER_TOKEN", "t" * 24)  # the action server does not start without it
    monkeypatch.setattr("sys.argv", ["entrypoint"])
    original = logging.getLogRecordFactory()
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        yield records
    finally:
        os.umask(umask)  # both entry points restrict it for their own process
        uninstall_log_redaction()
        assert logging.getLogRecordFactory() is original


@pytest.mark.parametrize("entrypoint", [server.main, action_server.main], ids=["rasa", "action-server"])
def test_entrypoint_redacts_from_the_first_record(
    entrypoint: Callable[[], None], factory_at_start: List[logging.LogRecord]
) -> None:
    entrypoint()
    (record,) = factory_at_start
    assert record.getMessage() == "user message 'bsn [BSN]'"


@pytest.mark.parametrize("entrypoint", [server.main, action_server.main], ids=["rasa", "action-server"])
def test_entrypoint_creates_files_for_its_user_only(
    entrypoint: Callable[[], None], factory_at_start: List[logging.LogRecord], tmp_path: Path
) -> None:
    """The tracker store, the outbox and log files hold conversations: 0600, whatever the umask was."""
    os.umask(0o022)
    entrypoint()
    created = tmp_path / "conversation.db"
    created.touch()
    assert created.stat().st_mode & 0o777 == 0o600
