"""Shared by the appointment tests through the real processes (issue 18): the widget in Chromium
(tests/widget/test_appointment_widget.py) and WhatsApp through the real Rasa
(tests/e2e/test_appointment_whatsapp.py).

Slots are written into the handover service's SQLite database as the workspace publishes them
(publishing is the service's own test, handover/tests); what a booking did is read back from it."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import urllib.request
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence
from zoneinfo import ZoneInfo

from bot.intake.appointments import SHORT_MONTHS, SHORT_WEEKDAYS, WEEKDAYS
from tests.e2e.conftest import HANDOVER, HANDOVER_PY, SECRET
from tools.stack import free_port, wait_for

ZONE = ZoneInfo("Europe/Amsterdam")
ALWAYS_OPEN = "mon-sun 00:00-24:00"
OFFICE = "Stadskantoor, Stationsplein 1"


@dataclass(frozen=True)
class SlotSpec:
    day: date  # local date
    at: time  # local time
    mode: str = "telefoon"
    location: Optional[str] = None
    organisation: Optional[str] = None
    minutes: int = 30

    @property
    def starts(self) -> datetime:
        return datetime.combine(self.day, self.at, tzinfo=ZONE)

    @property
    def button(self) -> str:
        """The slot button's title as the bot writes it ("di 8 dec 10.00")."""
        s = self.starts
        return f"{SHORT_WEEKDAYS[s.weekday()]} {s.day} {SHORT_MONTHS[s.month - 1]} {s:%H.%M}"

    @property
    def weekday(self) -> str:
        return WEEKDAYS[self.starts.weekday()]


def days_ahead(days: int) -> date:
    return (datetime.now(ZONE) + timedelta(days=days)).date()


def add_slots(database: Path, specs: Sequence[SlotSpec], team: str = "inkomen_schulden") -> List[int]:
    """Free slots as a casemanager publishes them on /agenda; their ids."""
    ids = []
    with sqlite3.connect(database) as db:
        for spec in specs:
            start = spec.starts.astimezone(timezone.utc).replace(tzinfo=None)
            values = (
                start,
                start + timedelta(minutes=spec.minutes),
                spec.mode,
                team,
                spec.organisation,
                spec.location,
                datetime.now(timezone.utc).replace(tzinfo=None),
            )
            cursor = db.execute(
                "INSERT INTO appointment_slots (starts_at, ends_at, mode, team, organisation, location,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                tuple(v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v for v in values),
            )
            ids.append(int(cursor.lastrowid or 0))
    return ids


def appointments_of(database: Path, channel: str, sender_id: str) -> List[Dict[str, Any]]:
    """The conversation's appointments as the service keeps them, oldest first."""
    with sqlite3.connect(database) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute(
            "SELECT reference, slot_id, status, organisations, reminder_sent_at FROM appointments"
            " WHERE channel = ? AND sender_id = ? ORDER BY id",
            (channel, sender_id),
        ).fetchall()
    return [{**dict(r), "organisations": json.loads(r["organisations"])} for r in rows]


def outbox_intents(database: Path, sender_id: str) -> List[str]:
    """The service's calls to Rasa for this conversation (its outbox), oldest first."""
    with sqlite3.connect(database) as db:
        query = "SELECT intent FROM outbox WHERE sender_id = ? ORDER BY id"
        rows = db.execute(query, (sender_id,)).fetchall()
    return [str(r[0]) for r in rows]


def free_slot_ids(service_url: str, organisation: str = "") -> List[int]:
    """The free slots the bot is offered (bot API, with the bot's secret): those without an
    organisation, and with one that organisation's own days too."""
    query = f"limit=20&organisation={organisation}" if organisation else "limit=20"
    request = urllib.request.Request(
        f"{service_url}/api/appointments/slots?{query}", headers={"Authorization": f"Bearer {SECRET}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return [int(s["id"]) for s in json.loads(answer.read())["slots"]]


class ServiceInstance:
    """Another instance of the handover service on the same database (as a second server would
    run), with its own settings; started and stopped by the test."""

    def __init__(self, base_env: Dict[str, str], work: Path, name: str, **settings: str) -> None:
        self.port = free_port()
        self.log = work / f"{name}.log"
        env = {**base_env, "HANDOVER_PORT": str(self.port), **settings}
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(HANDOVER_PY), "-m", "handover"],
                cwd=HANDOVER,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(f"http://127.0.0.1:{self.port}/healthz", 60, self.process, self.log)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)


def rasa_slots(stack_url: str, token: str, sender_id: str) -> Dict[str, Any]:
    url = f"{stack_url}/conversations/{sender_id}/tracker?token={token}"
    with urllib.request.urlopen(url, timeout=30) as response:
        return dict(json.loads(response.read())["slots"])


def environ_without_handover() -> Dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("HANDOVER_", "WHATSAPP_"))}


def lines_of(ics: str) -> Iterator[str]:
    """The content lines of an iCalendar file, unfolded (RFC 5545 3.1)."""
    return iter(ics.replace("\r\n ", "").replace("\r\n\t", "").split("\r\n"))
