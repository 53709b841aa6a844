"""Fixtures for every bot test."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from bot.handover_gateway import outbox


@pytest.fixture(autouse=True)
def own_outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test gets its own outbox file (never var/outbox.db), and no background task outlives it."""
    path = tmp_path / "outbox.db"
    monkeypatch.setenv("BOT_OUTBOX_DB_URL", str(path))
    yield path
    outbox.forget_current()
