"""A citizen books an appointment in the website widget (Debian's Chromium) with the real processes
running (issue 18): Rasa with the website channel, the action server and the handover service
(SQLite; tests/e2e/conftest.py handover_system).

The citizen asks for an appointment in their own words, gets the free slots as buttons, picks one,
and reads the B1 confirmation: reference, the place, who joins, what to bring; a download link gives
the appointment's iCalendar file (made by the service, handed over in the message: the browser makes
the file, no address with the appointment exists). The slot is taken in the service. "Ik kan
<dag> niet" moves the appointment to another slot (a new file for the same event), "ik wil de
afspraak afzeggen" cancels it and frees the slot. axe finds no violation on the way."""

from __future__ import annotations

from datetime import time as clock
from pathlib import Path
from typing import Any, Callable, Dict, Iterator

import pytest
from playwright.sync_api import expect

from tests.e2e.appointment_helpers import (
    ALWAYS_OPEN,
    OFFICE,
    SlotSpec,
    add_slots,
    appointments_of,
    days_ahead,
    free_slot_ids,
    lines_of,
)
from tests.e2e.conftest import handover_system
from tests.widget.helpers import WidgetServer, axe_violations, screenshot, session_id

pytestmark = [pytest.mark.e2e, pytest.mark.model]

Page = Any
NewPage = Callable[..., Page]
WELCOME = "Welkom! Ik ben de digitale hulp van de gemeente."
ASK = "Ik wil graag een afspraak maken met iemand van de gemeente."
BRING = "Neem mee: uw paspoort, identiteitskaart of rijbewijs. En de brieven over uw vraag."
LINK = "In mijn agenda zetten"


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Any]]:
    work = Path(tmp_path_factory.mktemp("afspraak-widget"))
    with handover_system(work, ALWAYS_OPEN) as running:
        server = WidgetServer(running["stack"].url, work)
        try:
            yield {**running, "widget": server, "db": work / "handover.db"}
        finally:
            server.stop()


def bot_says(page: Page, fragment: str) -> Any:
    found = page.locator(".gcw-log .gcw-msg--bot", has_text=fragment).last
    expect(found).to_be_visible()
    return found


def say(page: Page, text: str) -> None:
    page.locator("#gcw-input").fill(text)
    page.keyboard.press("Enter")
    expect(page.locator(".gcw-log .gcw-msg--user", has_text=text).last).to_be_visible()


def press(page: Page, title: str) -> None:
    page.locator(".gcw-reply", has_text=title).last.click()
    expect(page.locator(".gcw-log .gcw-msg--user", has_text=title).last).to_be_visible()


def download(page: Page, link: Any) -> str:
    with page.expect_download() as info:
        link.click()
    with open(info.value.path(), encoding="utf-8", newline="") as saved:
        return saved.read()


def test_a_citizen_books_moves_and_cancels_an_appointment_in_the_widget(
    system: Dict[str, Any], new_page: NewPage
) -> None:
    office = SlotSpec(days_ahead(3), clock(10, 0), mode="stadskantoor", location=OFFICE)
    phone = SlotSpec(days_ahead(3), clock(14, 0))
    next_day = SlotSpec(days_ahead(4), clock(11, 30))
    office_id, phone_id, next_id = add_slots(system["db"], [office, phone, next_day])

    page = new_page()
    page.goto(system["widget"].url)
    page.get_by_role("button", name="Chat met de gemeente").click()
    bot_says(page, WELCOME)
    say(page, ASK)
    bot_says(page, "U kunt een afspraak maken.")
    for slot in (office, phone, next_day):
        expect(page.locator(".gcw-reply", has_text=slot.button)).to_be_visible()
    expect(page.locator(".gcw-reply", has_text="Ander moment")).to_be_visible()
    assert axe_violations(page) == []

    press(page, office.button)
    confirmation = bot_says(page, "Uw afspraak staat vast.")
    conversation = session_id(page)
    [booked] = appointments_of(system["db"], "socketio", conversation)
    reference = booked["reference"]
    expect(confirmation).to_contain_text(f"Uw kenmerk is {reference}.")
    expect(confirmation).to_contain_text(f"U komt naar {OFFICE}.")
    expect(confirmation).to_contain_text("10.00 uur")
    expect(confirmation).to_contain_text("Wie doen mee: de gemeente.")
    expect(confirmation).to_contain_text(BRING)
    # Taken at the service, no longer offered to anyone.
    assert (booked["status"], booked["slot_id"]) == ("gepland", office_id)
    assert office_id not in free_slot_ids(system["service_url"])

    # The calendar file: a link right after the confirmation, the service's iCalendar file.
    link = page.get_by_role("link", name=LINK)
    expect(link).to_have_count(1)
    assert link.get_attribute("download") == f"afspraak-{reference}.ics"
    assert (link.get_attribute("href") or "").startswith("blob:")
    ics = download(page, link)
    assert ics.startswith("BEGIN:VCALENDAR\r\n") and f"UID:{reference.lower()}@afspraken.gemeente" in ics
    unfolded = list(lines_of(ics))
    assert "LOCATION:" + OFFICE.replace(",", "\\,") in unfolded and "STATUS:CONFIRMED" in unfolded
    screenshot(page, "afspraak-bevestigd")
    assert axe_violations(page) == []

    # "Ik kan <dag> niet": another moment, from the buttons.
    say(page, f"ik kan {office.weekday} niet")
    bot_says(page, "Wat wilt u doen met uw afspraak?")
    press(page, "Ander moment")
    expect(page.locator(".gcw-reply", has_text=next_day.button)).to_be_visible()
    press(page, next_day.button)
    expect(page.locator(".gcw-log .gcw-msg--bot", has_text="Uw afspraak staat vast.")).to_have_count(2)
    moved = page.locator(".gcw-log .gcw-msg--bot", has_text="Uw afspraak staat vast.").last
    expect(moved).to_contain_text(f"Uw kenmerk is {reference}.")
    expect(moved).to_contain_text("Wij bellen u op dat moment.")
    [still] = appointments_of(system["db"], "socketio", conversation)
    assert (still["reference"], still["slot_id"]) == (reference, next_id)
    assert office_id in free_slot_ids(system["service_url"]) and next_id not in free_slot_ids(
        system["service_url"]
    )
    links = page.get_by_role("link", name=LINK)
    expect(links).to_have_count(2)
    again = download(page, links.last)
    assert f"UID:{reference.lower()}@afspraken.gemeente" in again and "LOCATION:" not in again

    # Cancelled in the citizen's own words: the slot is free again.
    say(page, "Ik wil de afspraak afzeggen")
    bot_says(page, "Uw afspraak is afgezegd.")
    [cancelled] = appointments_of(system["db"], "socketio", conversation)
    assert cancelled["status"] == "geannuleerd"
    # A file that takes it out of the calendar it was put in: the same event, cancelled.
    remove = page.get_by_role("link", name="Uit mijn agenda halen")
    expect(remove).to_have_count(1)
    gone = download(page, remove)
    assert f"UID:{reference.lower()}@afspraken.gemeente" in gone
    assert {"METHOD:CANCEL", "STATUS:CANCELLED"} <= set(lines_of(gone))
    assert {office_id, phone_id, next_id} <= set(free_slot_ids(system["service_url"]))
    assert axe_violations(page) == []
