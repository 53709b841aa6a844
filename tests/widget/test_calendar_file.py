"""The appointment's calendar file in the widget, in Chromium against the stand-in for Rasa
(tests/widget/helpers.py FakeRasa; no model needed). The bot's structured message
{"type": "agenda", "text", "label", "filename", "ics"} shows as the bot's text with a download
link; the file is made in the browser from the message (a blob: URL of the page), so no address
with the appointment in it exists on any server. A message that is no sane calendar file shows
nothing. The whole path through the real processes: test_appointment_widget.py."""

from __future__ import annotations

from typing import Any, Callable, Dict

import pytest
from playwright.sync_api import expect

from tests.bot.test_appointment_calendar import ICS
from tests.widget.helpers import FAKE_WELCOME, FakeRasa, WidgetServer, axe_violations, session_id

pytestmark = [pytest.mark.e2e]

Page = Any
NewPage = Callable[..., Page]
TEXT = "Wilt u de afspraak in uw agenda zetten? Open dan dit bestand."


def agenda(**changes: Any) -> Dict[str, Any]:
    return {
        "type": "agenda",
        "text": TEXT,
        "label": "In mijn agenda zetten",
        "filename": "afspraak-AF-7K3M2P.ics",
        "ics": ICS,
        **changes,
    }


def opened(new_page: NewPage, fake_server: WidgetServer) -> Page:
    page = new_page()
    page.goto(fake_server.url)
    page.get_by_role("button", name="Chat met de gemeente").click()
    expect(page.locator(".gcw-msg--bot", has_text=FAKE_WELCOME)).to_be_visible()
    return page


def test_the_calendar_file_is_a_download_link_made_in_the_browser(
    fake_server: WidgetServer, fake_rasa: FakeRasa, new_page: NewPage
) -> None:
    page = opened(new_page, fake_server)
    fake_rasa.send(session_id(page), agenda())
    link = page.get_by_role("link", name="In mijn agenda zetten")
    expect(link).to_be_visible()
    expect(page.locator(".gcw-msg--bot", has_text=TEXT)).to_be_visible()
    assert link.get_attribute("download") == "afspraak-AF-7K3M2P.ics"
    assert (link.get_attribute("href") or "").startswith("blob:")  # nothing on a server
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename == "afspraak-AF-7K3M2P.ics"
    with open(download.path(), encoding="utf-8", newline="") as saved:
        assert saved.read() == ICS
    assert axe_violations(page) == []

    # After a reload the link is still there (the transcript keeps the message) and still works.
    page.reload()
    fake_rasa.wait_joined(session_id(page), 2)
    link = page.get_by_role("link", name="In mijn agenda zetten")
    expect(link).to_be_visible()
    with page.expect_download() as again:
        link.click()
    with open(again.value.path(), encoding="utf-8", newline="") as saved:
        assert saved.read() == ICS


@pytest.mark.parametrize(
    "changes",
    [
        {"filename": "../../afspraak.ics"},
        {"filename": "afspraak.html"},
        {"ics": "<script>alert(1)</script>"},
        {"ics": "BEGIN:VCALENDAR" + "x" * 20_000},
    ],
    ids=["path", "not-ics", "not-a-calendar", "too-large"],
)
def test_a_message_that_is_no_sane_calendar_file_shows_nothing(
    fake_server: WidgetServer, fake_rasa: FakeRasa, new_page: NewPage, changes: Dict[str, Any]
) -> None:
    page = opened(new_page, fake_server)
    fake_rasa.send(session_id(page), agenda(**changes), {"text": "Daarna."})
    expect(page.locator(".gcw-msg--bot", has_text="Daarna.")).to_be_visible()
    expect(page.locator(".gcw-file")).to_have_count(0)
    expect(page.locator(".gcw-msg--bot", has_text=TEXT)).to_have_count(0)
