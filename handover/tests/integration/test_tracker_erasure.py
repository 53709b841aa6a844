"""Erasure by reference against REAL Rasa tracker data, on SQLite and PostgreSQL.

Rasa's own SQLTrackerStore (the bot's virtual environment, in a subprocess) writes the
conversations; the handover service erases one through the team leader's page or the CLI;
Rasa's store then reads it back: no events for that sender, the other sender untouched.
Also the privacy CLI commands (erase without a tracker store, retention --dry-run).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from handover.keys import sessionmaker_key
from handover.models import Role
from handover.settings import HANDOVER_ROOT, REPO_ROOT, Settings
from tests.api.test_api import create_case, login
from tests.conftest import PG_ADMIN_DSN, add_user

Client = TestClient[Any, Any]
BOT_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
RASA_SCRIPT = Path(__file__).with_name("rasa_tracker.py")
ERASE, KEEP = "erase-me", "keep-me"


def rasa(command: str, url: str, *senders: str) -> dict[str, int]:
    """Save or read trackers with Rasa 3.6's SQLTrackerStore (the bot's Python)."""
    if not BOT_PYTHON.exists():
        pytest.skip(
            f"the bot's virtual environment ({BOT_PYTHON}) is missing: run `make setup` at the repo root"
        )
    env = {
        **os.environ,
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "RASA_TELEMETRY_ENABLED": "false",
        "PYTHONPATH": str(REPO_ROOT),
    }
    done = subprocess.run(
        [str(BOT_PYTHON), str(RASA_SCRIPT), command, url, *senders],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    counts: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return counts


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def tracker_url(db_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """Rasa's tracker database, URL as Rasa takes it; same kind of database as the handover's."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'tracker.db'}"
        return
    name = f"rasa_tracker_{uuid.uuid4().hex[:10]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def client_factory(
    aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings
) -> Callable[..., Awaitable[Client]]:
    from handover.app import create_app

    async def make(**overrides: Any) -> Client:
        return await aiohttp_client(create_app(dataclasses.replace(settings, **overrides)))

    return make


async def test_teamleader_erasure_deletes_the_rasa_conversation(
    client_factory: Callable[..., Awaitable[Client]], tracker_url: str
) -> None:
    assert rasa("save", tracker_url, ERASE, KEEP) == {ERASE: 4, KEEP: 4}
    client = await client_factory(tracker_db_url=tracker_url)
    await add_user(client.app[sessionmaker_key], "lead", role=Role.TEAMLEIDER)
    ref = (await create_case(client, ERASE))["reference"]
    kept = (await create_case(client, KEEP))["reference"]
    token = await login(client, "lead")
    assert (
        "Het gesprek in de chatbot wordt ook verwijderd"
        in await (await client.get(f"/zaken/{ref}/verwijderen")).text()
    )

    done = await client.post(f"/zaken/{ref}/verwijderen", data={"csrf_token": token, "bevestig": ref})
    html = await done.text()
    assert done.status == 200, html
    assert "Het gesprek in de chatbot is ook verwijderd (5 opgeslagen gebeurtenissen)" in html
    assert rasa("read", tracker_url, ERASE, KEEP) == {ERASE: 0, KEEP: 4}
    assert (await client.get(f"/zaken/{ref}")).status == 404
    assert (await client.get(f"/zaken/{kept}")).status == 200


async def test_a_copy_held_elsewhere_is_not_written_back_after_erasure_by_reference(
    client_factory: Callable[..., Awaitable[Client]], tracker_url: str
) -> None:
    """A Rasa instance that loaded the conversation before the team leader erased it saves its copy
    afterwards: the tombstone left by this service stops the bot's store from writing it back."""
    now = str(time.time())
    assert rasa("save-aged", tracker_url, now, f"{ERASE}=1", f"{KEEP}=1") == {ERASE: 4, KEEP: 4}
    client = await client_factory(tracker_db_url=tracker_url)
    await add_user(client.app[sessionmaker_key], "lead", role=Role.TEAMLEIDER)
    ref = (await create_case(client, ERASE))["reference"]
    token = await login(client, "lead")
    done = await client.post(f"/zaken/{ref}/verwijderen", data={"csrf_token": token, "bevestig": ref})
    assert done.status == 200, await done.text()

    # the same events, same times: the copy the other instance held
    assert rasa("erasing-save-aged", tracker_url, now, f"{ERASE}=1") == {ERASE: 0}
    # written back by a store that knows no tombstones: the bot's store removes it when it loads it
    assert rasa("save-aged", tracker_url, now, f"{ERASE}=1") == {ERASE: 4}
    assert rasa("erasing-read", tracker_url, ERASE, KEEP) == {ERASE: 0, KEEP: 4}
    assert rasa("read", tracker_url, ERASE) == {ERASE: 0}


async def run_cli(db_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a thread: a blocking call would stop this test's event loop, and with it the
    service under test midway through a write (SQLite: the CLI then waits for its lock in vain)."""
    environ = {
        **os.environ,
        "HANDOVER_DATABASE_URL": db_url,
        "PYTHONPATH": os.pathsep.join([str(HANDOVER_ROOT / "src"), str(REPO_ROOT)]),
        "HANDOVER_LOG_LEVEL": "WARNING",
        **env,
    }
    if "HANDOVER_TRACKER_DB_URL" not in env:
        environ.pop("HANDOVER_TRACKER_DB_URL", None)
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "handover", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=environ,
        cwd=HANDOVER_ROOT,
        check=False,
    )


async def test_cli_erasure_deletes_the_rasa_conversation(
    client_factory: Callable[..., Awaitable[Client]], db_url: str, tracker_url: str
) -> None:
    assert rasa("save", tracker_url, ERASE, KEEP) == {ERASE: 4, KEEP: 4}
    client = await client_factory()
    ref = (await create_case(client, ERASE))["reference"]
    done = await run_cli(db_url, "erase", ref.lower(), HANDOVER_TRACKER_DB_URL=tracker_url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"verwijderd in de werkplek: 1 zaak/zaken ({ref})" in done.stdout
    assert "gesprek in de chatbot verwijderd: 5 opgeslagen gebeurtenissen" in done.stdout
    assert rasa("read", tracker_url, ERASE, KEEP) == {ERASE: 0, KEEP: 4}

    again = await run_cli(db_url, "erase", ref, HANDOVER_TRACKER_DB_URL=tracker_url)
    assert again.returncode == 1 and "bestaat niet" in again.stdout


async def test_cli_erasure_without_tracker_store_says_it_did_not_erase_it(
    client_factory: Callable[..., Awaitable[Client]], db_url: str
) -> None:
    client = await client_factory()
    ref = (await create_case(client, ERASE))["reference"]
    done = await run_cli(db_url, "erase", ref)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "het gesprek in de chatbot is NIET verwijderd" in done.stdout
    assert (
        await client.get(f"/api/status/{ref}", headers={"Authorization": "Bearer test-secret"})
    ).status == 404


async def test_cli_retention_prints_counts(db_url: str) -> None:
    dry = await run_cli(db_url, "retention", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "volledige tekst te verwijderen: 0 zaken" in dry.stdout and "zaken te verwijderen: 0" in dry.stdout
    real = await run_cli(db_url, "retention")
    assert real.returncode == 0 and "zaken verwijderd: 0" in real.stdout
