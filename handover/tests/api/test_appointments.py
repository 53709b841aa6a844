"""Appointments through the real app (SQLite and PostgreSQL): a casemanager publishes slots in the
workspace, the bot books, changes and cancels for a conversation, the reminder goes out once, and
the casemanager records identification and outcome at the appointment."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from handover import reminders, retention
from handover.app import create_app
from handover.keys import redactor_key, sessionmaker_key
from handover.models import (
    Appointment,
    AppointmentMode,
    AppointmentSlot,
    AppointmentStatus,
    AuditEntry,
    FollowUp,
    OutboxMessage,
    Role,
    utcnow,
)
from handover.services import appointments as service
from handover.settings import OfficeHours
from tests.api.test_api import login
from tests.conftest import BOT, FakeRasa, add_user, case_body, make_settings

Client = TestClient[Any, Any]
ZONE = ZoneInfo("Europe/Amsterdam")
JSON = {"Accept": "application/json"}


def tomorrow_at(hour: int, minute: int = 0, days: int = 1) -> dt.datetime:
    day = dt.datetime.now(ZONE).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZONE)


async def publish(client: Client, csrf: str, when: dt.datetime, **fields: str) -> Any:
    data = {
        "csrf_token": csrf,
        "datum": when.date().isoformat(),
        "tijd": when.strftime("%H:%M"),
        "minuten": "30",
        "soort": "telefoon",
        "team": "inkomen_schulden",
        "voor": "mij",
    } | fields
    return await client.post("/agenda/tijdsloten", data=data, headers=JSON)


async def free_slots(client: Client, **query: str) -> list[dict[str, Any]]:
    resp = await client.get("/api/appointments/slots", params=query, headers=BOT)
    assert resp.status == 200, await resp.text()
    slots: list[dict[str, Any]] = (await resp.json())["slots"]
    return slots


async def book(client: Client, sender: str, slot_id: int, **body: Any) -> Any:
    return await client.post(
        f"/api/conversations/socketio/{sender}/appointments", json={"slot_id": slot_id} | body, headers=BOT
    )


@pytest.fixture
async def anna(client: Client) -> str:
    await add_user(client.app[sessionmaker_key], "anna", teams=["inkomen_schulden"])
    return await login(client, "anna")


async def test_publish_book_and_calendar_file(client: Client, anna: str) -> None:
    assert (await publish(client, anna, tomorrow_at(10))).status == 200
    assert (
        await publish(client, anna, tomorrow_at(11), organisatie="svb", soort="stadskantoor")
    ).status == 200
    agenda = await (await client.get("/agenda?periode=week")).text()
    assert agenda.count(">Vrij<") == 2, agenda
    # Without an organisation only the slots for any question; with SVB its own day too.
    general = await free_slots(client)
    assert [s["mode"] for s in general] == ["telefoon"]
    with_svb = await free_slots(client, organisation="svb")
    assert [s["organisation"] for s in with_svb] == [None, "svb"]
    assert with_svb[1]["location"] == "Stadskantoor" and with_svb[1]["organisation_name"]
    assert general[0]["moment"].endswith("10.00 uur")

    created = await client.post("/api/cases", json=case_body("burger-1"), headers=BOT)
    case_reference = (await created.json())["reference"]
    resp = await book(client, "burger-1", with_svb[1]["id"])
    assert resp.status == 201, await resp.text()
    booked = await resp.json()
    assert booked["reference"].startswith("AF-") and booked["status"] == "gepland"
    # The consented organisations of the intake, and the slot's own organisation.
    assert booked["organisations"] == ["cjib", "belastingdienst", "svb"]
    assert booked["starts_at"] == tomorrow_at(11).isoformat(timespec="seconds")
    assert [s["id"] for s in await free_slots(client, organisation="svb")] == [with_svb[0]["id"]]

    async with client.app[sessionmaker_key]() as session:
        row = await session.scalar(select(Appointment).where(Appointment.reference == booked["reference"]))
        assert row is not None and row.case_id is not None
        entries = list(await session.scalars(select(AuditEntry).where(AuditEntry.reference == row.reference)))
    assert [e.actor for e in entries] == ["inwoner"]

    ics = await client.get(
        f"/api/conversations/socketio/burger-1/appointments/{booked['reference']}/ics", headers=BOT
    )
    assert ics.status == 200 and ics.content_type == "text/calendar"
    event = icalendar.Calendar.from_ical(await ics.read()).walk("VEVENT")[0]
    assert str(event["UID"]).startswith(booked["reference"].lower())
    assert event.decoded("DTSTART") == tomorrow_at(11)
    assert "identiteitskaart" in str(event["DESCRIPTION"]) and case_reference not in str(event["DESCRIPTION"])
    # Another conversation cannot read it.
    other = await client.get(
        f"/api/conversations/socketio/burger-2/appointments/{booked['reference']}/ics", headers=BOT
    )
    assert other.status == 404

    # The erasure of the conversation takes its appointments; the slot is free again.
    assert (await client.post("/api/conversations/socketio/burger-1/erase", headers=BOT)).status == 200
    async with client.app[sessionmaker_key]() as session:
        assert await session.scalar(select(func.count()).select_from(Appointment)) == 0
    assert len(await free_slots(client, organisation="svb")) == 2


async def test_second_citizen_gets_a_named_error_and_other_slots(client: Client, anna: str) -> None:
    await publish(client, anna, tomorrow_at(10))
    await publish(client, anna, tomorrow_at(14))
    first, second = await free_slots(client)
    assert (await book(client, "burger-1", first["id"])).status == 201
    taken = await book(client, "burger-2", first["id"])
    assert taken.status == 409
    body = await taken.json()
    assert body["error"] == "slot_taken" and [s["id"] for s in body["slots"]] == [second["id"]]
    # One appointment per conversation at a time: change or cancel it instead.
    again = await book(client, "burger-1", second["id"])
    assert again.status == 409 and (await again.json())["error"] == "already_booked"
    bad = await book(client, "burger-3", 0)
    assert bad.status == 400
    missing = await book(client, "burger-3", 999_999)
    assert missing.status == 404


async def test_change_and_cancel(client: Client, anna: str) -> None:
    for hour in (10, 11, 12):
        await publish(client, anna, tomorrow_at(hour))
    ten, eleven, twelve = await free_slots(client)
    reference = (await (await book(client, "burger-1", ten["id"])).json())["reference"]
    assert (await book(client, "burger-2", twelve["id"])).status == 201
    base = f"/api/conversations/socketio/burger-1/appointments/{reference}"

    async def calendar_event() -> icalendar.Event:
        ics = await client.get(base + "/ics", headers=BOT)
        return icalendar.Calendar.from_ical(await ics.read()).walk("VEVENT")[0]

    booked_event = await calendar_event()
    moved = await client.post(base + "/change", json={"slot_id": eleven["id"]}, headers=BOT)
    assert moved.status == 200, await moved.text()
    # The same appointment (UID) with a higher SEQUENCE: a calendar updates it instead of adding one.
    moved_event = await calendar_event()
    assert moved_event["UID"] == booked_event["UID"]
    assert (booked_event["SEQUENCE"], moved_event["SEQUENCE"]) == (0, 1)
    assert moved_event.decoded("DTSTART") == tomorrow_at(11)
    assert (await moved.json())["reference"] == reference
    assert [s["id"] for s in await free_slots(client)] == [ten["id"]]
    # A slot that is taken: named error, and the appointment keeps its slot.
    clash = await client.post(base + "/change", json={"slot_id": twelve["id"]}, headers=BOT)
    assert clash.status == 409 and (await clash.json())["error"] == "slot_taken"
    listed = await client.get("/api/conversations/socketio/burger-1/appointments", headers=BOT)
    assert [a["slot_id"] for a in (await listed.json())["appointments"]] == [eleven["id"]]
    # Another conversation cannot cancel it.
    foreign = await client.post(
        f"/api/conversations/socketio/burger-2/appointments/{reference}/cancel", headers=BOT
    )
    assert foreign.status == 404

    cancelled = await client.post(base + "/cancel", headers=BOT)
    assert cancelled.status == 200 and (await cancelled.json())["status"] == "geannuleerd"
    assert (await client.post(base + "/cancel", headers=BOT)).status == 200  # twice is fine
    assert [s["id"] for s in await free_slots(client)] == [ten["id"], eleven["id"]]
    cancelled_event = await calendar_event()
    assert cancelled_event["STATUS"] == "CANCELLED" and cancelled_event["SEQUENCE"] == 2
    assert cancelled_event["UID"] == booked_event["UID"]
    listed = await client.get("/api/conversations/socketio/burger-1/appointments", headers=BOT)
    assert (await listed.json())["appointments"] == []


async def test_office_hours_and_holidays_are_respected(
    aiohttp_client: Any, db_url: str, fake_rasa: FakeRasa
) -> None:
    monday = tomorrow_at(10, days=7 - dt.datetime.now(ZONE).weekday())  # next week's Monday
    settings = make_settings(
        db_url,
        fake_rasa.url,
        office_hours=OfficeHours.parse("mon-fri 09:00-17:00"),
        holidays=frozenset({monday.date()}),
    )
    client: Client = await aiohttp_client(create_app(settings))
    await add_user(client.app[sessionmaker_key], "anna", teams=["inkomen_schulden"])
    csrf = await login(client, "anna")
    tuesday = monday + dt.timedelta(days=1)
    for when, minutes in [
        (monday, "30"),  # a holiday
        (monday + dt.timedelta(days=5), "30"),  # Saturday
        (tuesday.replace(hour=16, minute=45), "30"),  # ends after 17:00
        (tuesday.replace(hour=8, minute=30), "30"),  # starts before 9:00
    ]:
        resp = await publish(client, csrf, when, minuten=minutes)
        assert resp.status == 400, when
        assert (await resp.json())["error"] == "SlotOutsideOfficeHours", (when, await resp.text())
    assert (await publish(client, csrf, tuesday.replace(hour=16, minute=30))).status == 200
    wrong_team = await publish(client, csrf, tuesday, team="zorg")
    assert wrong_team.status == 403
    unknown_org = await publish(client, csrf, tuesday, organisatie="bestaat-niet")
    assert unknown_org.status == 400


async def _slot_in(client: Client, hours: float) -> int:
    """A slot starting ``hours`` from now (written directly: publishing checks office hours, and
    the reminder test needs a moment close to now whatever the time of day)."""
    starts = utcnow().replace(microsecond=0) + dt.timedelta(hours=hours)
    async with client.app[sessionmaker_key]() as session, session.begin():
        slot = AppointmentSlot(
            starts_at=starts,
            ends_at=starts + dt.timedelta(minutes=30),
            mode=AppointmentMode.PHONE,
            team="inkomen_schulden",
        )
        session.add(slot)
        await session.flush()
        return slot.id


async def test_reminder_is_sent_once(client: Client, fake_rasa: FakeRasa) -> None:
    soon, later = await _slot_in(client, 2), await _slot_in(client, 48)
    near = await (await book(client, "burger-1", soon)).json()
    assert (await book(client, "burger-2", later)).status == 201
    # Several rounds at the same time, and again later: one reminder, to the citizen's channel.
    counts = await asyncio.gather(*(reminders.run_reminders(client.app) for _ in range(3)))
    assert sum(counts) == 1
    assert await reminders.run_reminders(client.app) == 0
    await fake_rasa.wait_for(lambda f: len(f.intents(service.REMINDER_INTENT)) == 1)
    call = fake_rasa.intents(service.REMINDER_INTENT)[0]
    assert call.sender_id == "burger-1" and call.output_channel == "socketio"
    assert call.entities["referentie"] == near["reference"] and call.entities["soort"] == "telefoon"
    assert call.entities["moment"] == near["moment"]
    async with client.app[sessionmaker_key]() as session:
        rows = list(
            await session.scalars(select(OutboxMessage).where(OutboxMessage.intent == "afspraak_herinnering"))
        )
    assert len(rows) == 1 and rows[0].sender_id == "burger-1"
    # The other appointment gets its own reminder once it is within a day.
    assert await reminders.run_reminders(client.app, now=utcnow() + dt.timedelta(hours=30)) == 1


async def test_casemanager_records_identification_and_outcome(client: Client, anna: str) -> None:
    await publish(client, anna, tomorrow_at(10))
    (slot,) = await free_slots(client)
    await client.post("/api/cases", json=case_body("burger-1"), headers=BOT)
    reference = (await (await book(client, "burger-1", slot["id"])).json())["reference"]

    page = await client.get(f"/afspraken/{reference}")
    html = await page.text()
    assert page.status == 200
    assert "Samenvatting van de intake" in html and "CJIB" in html
    assert "noteer nooit het nummer" in html

    url = f"/afspraken/{reference}/checklist"
    number = await client.post(
        url, data={"csrf_token": anna, "identiteit": "ja", "document": "NX1234567"}, headers=JSON
    )
    assert number.status == 400
    async with client.app[sessionmaker_key]() as session:
        row = await session.scalar(select(Appointment))
        assert row is not None and row.identity_document is None
    saved = await client.post(
        url,
        data={
            "csrf_token": anna,
            "identiteit": "ja",
            "document": "paspoort",
            "aanwezig": "ja",
            "uitkomst-cjib": "Betalingsregeling van 50 euro per maand",
            "uitkomst-belastingdienst": "",
            "nazorg": "Over twee weken vragen of de regeling loopt",
            "nazorg_datum": (dt.date.today() + dt.timedelta(days=14)).isoformat(),
        },
        headers=JSON,
    )
    assert saved.status == 200, await saved.text()
    async with client.app[sessionmaker_key]() as session:
        row = await session.scalar(select(Appointment))
        assert row is not None
        assert (row.identity_checked, row.identity_document, row.citizen_present) == (True, "paspoort", True)
        assert row.status == AppointmentStatus.HELD
        assert row.outcomes == {"cjib": "Betalingsregeling van 50 euro per maand"}
        tasks = list(await session.scalars(select(FollowUp)))
        details = [e.detail or "" for e in await session.scalars(select(AuditEntry))]
    assert [t.description for t in tasks] == ["Over twee weken vragen of de regeling loopt"]
    checklist = [d for d in details if d.startswith("checklist")]
    assert checklist == ["checklist: identiteit gecontroleerd (paspoort); aanwezig: ja; uitkomst bij cjib"]
    assert not any("50 euro" in d for d in details)

    # A casemanager of another team may not see or fill it in, nor read that team's agenda.
    await add_user(client.app[sessionmaker_key], "zorgvrouw", teams=["zorg"])
    await client.post("/logout", data={"csrf_token": anna})
    other = await login(client, "zorgvrouw")
    assert (await client.get(f"/afspraken/{reference}")).status == 403
    denied = await client.post(
        f"/afspraken/{reference}/checklist", data={"csrf_token": other, "aanwezig": "nee"}, headers=JSON
    )
    assert denied.status == 403
    agenda = await (await client.get("/agenda?periode=week&team=inkomen_schulden")).text()
    assert reference not in agenda and "Agenda: mijn afspraken" in agenda


async def test_no_show_only_after_the_start(client: Client, anna: str) -> None:
    slot_id = await _slot_in(client, 2)
    reference = (await (await book(client, "burger-1", slot_id)).json())["reference"]
    url = f"/afspraken/{reference}/niet-verschenen"
    early = await client.post(url, data={"csrf_token": anna}, headers=JSON)
    assert early.status == 400
    # The appointment began a minute ago (time moved on): now it can be marked.
    async with client.app[sessionmaker_key]() as session, session.begin():
        slot = await session.get(AppointmentSlot, slot_id)
        assert slot is not None
        slot.starts_at = utcnow() - dt.timedelta(minutes=1)
        slot.ends_at = slot.starts_at + dt.timedelta(minutes=30)
    assert (await client.post(url, data={"csrf_token": anna}, headers=JSON)).status == 200
    html = await (await client.get("/agenda?periode=week")).text()
    assert "<strong>Niet verschenen</strong>" in html and reference in html
    async with client.app[sessionmaker_key]() as session:
        row = await session.scalar(select(Appointment))
    assert row is not None and row.status == AppointmentStatus.NO_SHOW
    # The teamleider's overview counts it (no names, counts only).
    await add_user(client.app[sessionmaker_key], "lea", role=Role.TEAMLEIDER)
    await client.post("/logout", data={"csrf_token": anna})
    await login(client, "lea")
    overview = await (await client.get("/overzicht")).text()
    counts = re.search(r'<tr data-team="inkomen_schulden">(.*?)</tr>', overview.split('id="afspraken"')[1])
    assert counts is not None
    assert re.findall(r"<td>(\d+)</td>", counts[1]) == ["1", "0", "1", "0", "0", "0"]


async def test_retention_deletes_appointments_after_the_case_period(client: Client) -> None:
    slot_id = await _slot_in(client, 2)
    reference = (await (await book(client, "burger-1", slot_id)).json())["reference"]
    sessionmaker = client.app[sessionmaker_key]
    redactor = client.app[redactor_key]
    kept = await retention.run_retention(sessionmaker, redactor, full_days=30, case_days=365)
    assert kept.appointments_deleted == []
    later = utcnow() + dt.timedelta(days=366)
    result = await retention.run_retention(sessionmaker, redactor, full_days=30, case_days=365, now=later)
    assert result.appointments_deleted == [reference]
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Appointment)) == 0
        assert await session.scalar(select(func.count()).select_from(AppointmentSlot)) == 0
        actions = list(
            await session.scalars(select(AuditEntry.action).where(AuditEntry.reference == reference))
        )
    assert "retention" in actions
