"""The bot's real gateway (bot/handover_gateway/) against the real handover service process
(`python -m handover` from handover/.venv, SQLite): free slots, two citizens racing for one slot
(one gets the appointment, the other SlotGone with the other free slots), change and cancel. The
contract between the two sides, without Rasa; the service's own rules: handover/tests."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator, List

import pytest

from bot.handover_gateway import ServiceGateway
from bot.handover_gateway.client import HandoverUnavailable
from bot.intake.effects import AppointmentMade, FreeSlots, Refused, SlotGone
from bot.settings import BotSettings
from tools.stack import free_port

ROOT = Path(__file__).resolve().parents[2]
HANDOVER = ROOT / "handover"
HANDOVER_PY = HANDOVER / ".venv" / "bin" / "python"
SECRET = "afspraak-geheim"


def _wait_healthy(url: str, process: "subprocess.Popen[bytes]", log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the handover service stopped:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"the handover service did not start:\n{log.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    if not HANDOVER_PY.exists():
        pytest.fail("handover/.venv ontbreekt: draai `make -C handover setup` (make test doet dat vanzelf)")
    work = tmp_path_factory.mktemp("afspraken")
    database = work / "handover.db"
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("HANDOVER_", "RASA_", "REDIS_"))},
        "PYTHONPATH": os.pathsep.join([str(HANDOVER / "src"), str(ROOT)]),
        "HANDOVER_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "HANDOVER_SHARED_SECRET": SECRET,
        "HANDOVER_PORT": str(port),
        "HANDOVER_HOST": "127.0.0.1",
        "HANDOVER_LOG_LEVEL": "WARNING",
    }
    subprocess.run(
        [str(HANDOVER_PY), "-m", "alembic", "upgrade", "head"],
        cwd=HANDOVER,
        env=env,
        check=True,
        capture_output=True,
    )
    log = work / "handover.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(HANDOVER_PY), "-m", "handover"],
            cwd=HANDOVER,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/healthz", process, log)
        yield f"http://127.0.0.1:{port}", database
    finally:
        process.terminate()
        process.wait(timeout=15)


def add_slots(database: Path, hours: List[int]) -> List[int]:
    """Slots as the workspace publishes them (written directly: publishing is the service's test)."""
    ids = []
    with sqlite3.connect(database) as db:
        for h in hours:
            start = datetime.now(timezone.utc).replace(microsecond=0, tzinfo=None) + timedelta(hours=h)
            cursor = db.execute(
                "INSERT INTO appointment_slots (starts_at, ends_at, mode, team, created_at)"
                " VALUES (?, ?, 'telefoon', 'inkomen_schulden', ?)",
                tuple(
                    t.strftime("%Y-%m-%d %H:%M:%S.%f") for t in (start, start + timedelta(minutes=30), start)
                ),
            )
            ids.append(int(cursor.lastrowid or 0))
    return ids


def gateway(url: str, tmp_path: Path) -> ServiceGateway:
    return ServiceGateway(
        BotSettings(
            handover_url=url, handover_secret=SECRET, handover_timeout=5, outbox_db=str(tmp_path / "o.db")
        )
    )


async def test_book_race_change_and_cancel_through_the_gateway(
    service: tuple[str, Path], tmp_path: Path
) -> None:
    url, database = service
    wanted, other, third = add_slots(database, [30, 50, 70])
    bot = gateway(url, tmp_path)
    free = await bot.free_slots(None)
    assert isinstance(free, FreeSlots)
    assert [s["id"] for s in free.slots] == [wanted, other, third]

    first, second = await asyncio.gather(
        bot.book("socketio", "burger-1", wanted), bot.book("whatsapp", "31612345678", wanted)
    )
    results = sorted([first, second], key=lambda r: type(r).__name__)
    made, gone = results
    assert isinstance(made, AppointmentMade) and isinstance(gone, SlotGone)
    assert made.appointment["reference"].startswith("AF-") and made.appointment["slot_id"] == wanted
    assert [s["id"] for s in gone.alternatives] == [other, third]

    winner = ("socketio", "burger-1") if first == made else ("whatsapp", "31612345678")
    reference = made.appointment["reference"]
    # The calendar file for the citizen came along (the service's icalendar file, bot API .../ics).
    assert made.calendar is not None and made.calendar.startswith("BEGIN:VCALENDAR\r\n")
    assert f"UID:{reference.lower()}@afspraken.gemeente" in made.calendar
    moved = await bot.change(*winner, reference, other)
    assert isinstance(moved, AppointmentMade) and moved.appointment["slot_id"] == other
    assert moved.calendar is not None and "STATUS:CONFIRMED" in moved.calendar
    assert "SEQUENCE:1" in moved.calendar  # the same event, updated
    # Another conversation cannot touch it.
    assert await bot.cancel("socketio", "iemand-anders", reference) == Refused(case_gone=True)
    cancelled = await bot.cancel(*winner, reference)
    assert isinstance(cancelled, AppointmentMade) and cancelled.appointment["status"] == "geannuleerd"
    # Its file takes the appointment out of the citizen's calendar.
    assert cancelled.calendar is not None and "METHOD:CANCEL" in cancelled.calendar
    assert "STATUS:CANCELLED" in cancelled.calendar and f"UID:{reference.lower()}@" in cancelled.calendar
    again = await bot.free_slots(None)
    assert isinstance(again, FreeSlots) and [s["id"] for s in again.slots] == [wanted, other, third]


async def test_the_organisations_of_the_intake_join_and_a_missing_file_does_not_undo_the_booking(
    service: tuple[str, Path], tmp_path: Path
) -> None:
    url, database = service
    [slot] = add_slots(database, [90])
    bot = gateway(url, tmp_path)
    made = await bot.book("socketio", "burger-orgs", slot, ("uwv", "svb"))
    assert isinstance(made, AppointmentMade)
    assert made.appointment["organisations"] == ["uwv", "svb"]
    assert made.appointment["organisation_names"] == ["UWV", "SVB"]

    async def unavailable(*_: object) -> str:
        raise HandoverUnavailable("status 503")

    bot.client.calendar_file = unavailable  # type: ignore[method-assign]
    [later] = add_slots(database, [95])
    moved = await bot.change("socketio", "burger-orgs", made.appointment["reference"], later)
    assert isinstance(moved, AppointmentMade) and moved.calendar is None
