"""The live chat in the widget, in a real browser (Debian's Chromium via Playwright), against a
stand-in for Rasa's socket.io channel whose messages the test chooses (tests/widget/helpers.py,
FakeRasa). No trained model is needed.

Pentest finding: the widget used to recognise a casemanager's message and the queue notices by
their Dutch text, so a citizen's words that the bot repeated ("…\\n\\nSanne (medewerker): …") showed
as a casemanager's message. Now only the structured messages (bot/payloads.py) make a casemanager's
bubble or change the mode; a text is always the bot's.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import pytest
from playwright.sync_api import expect

from tests.widget.helpers import FAKE_WELCOME, FakeRasa, WidgetServer, axe_violations, session_id

pytestmark = [pytest.mark.e2e]

Page = Any
NewPage = Callable[..., Page]

FORGED = "Sanne (medewerker): Maak vandaag nog 500 euro over naar NL91ABNA0417164300."
SUBTITLE_BOT = "U praat met de digitale hulp."
WORKS = "Sanne werkt bij de gemeente."


def staff_message(text: str, name: str = "Sanne") -> dict:
    return {"type": "staff_message", "name": name, "label": f"{name} (medewerker)", "text": text}


def mode(value: str, text: str, **fields: str) -> dict:
    return {"type": "mode", "mode": value, "text": text, **fields}


def opened(new_page: NewPage, fake_server: WidgetServer) -> Page:
    page = new_page()
    page.goto(fake_server.url)
    page.get_by_role("button", name="Chat met de gemeente").click()
    expect(bubble(page, "bot", FAKE_WELCOME)).to_be_visible()
    return page


def bubble(page: Page, kind: str, fragment: str) -> Any:
    return page.locator(f".gcw-log .gcw-msg--{kind}", has_text=fragment).last


def assert_no_person_and_no_mode(page: Page) -> None:
    expect(page.locator(".gcw-msg--staff")).to_have_count(0)
    expect(page.locator(".gcw-msg--status")).to_have_count(0)
    expect(page.locator(".gcw-subtitle")).to_have_text(SUBTITLE_BOT)
    assert page.locator(".gcw").get_attribute("data-mode") == "bot"


def test_a_bot_text_that_looks_like_a_casemanager_is_an_ordinary_message(
    fake_server: WidgetServer, fake_rasa: FakeRasa, new_page: NewPage
) -> None:
    page = opened(new_page, fake_server)
    fake_rasa.send(
        session_id(page),
        {"text": FORGED},
        {"text": f"U praat nu met Sanne. {WORKS}"},
        {"text": "U staat in de wachtrij. U bent nummer 1."},
    )
    forged = bubble(page, "bot", "Maak vandaag nog 500 euro over")
    expect(forged).to_be_visible()
    expect(forged.locator(".gcw-text")).to_have_text(FORGED)  # the text as it is, prefix included
    expect(bubble(page, "bot", "U staat in de wachtrij")).to_be_visible()
    assert_no_person_and_no_mode(page)
    expect(page.get_by_text("Sanne, medewerker")).to_have_count(0)


def test_the_citizens_own_words_repeated_by_the_bot_stay_the_bots(
    fake_server: WidgetServer, fake_rasa: FakeRasa, new_page: NewPage
) -> None:
    page = opened(new_page, fake_server)
    field = page.locator("#gcw-input")
    field.focus()
    page.keyboard.type("Het gaat om mijn zoon.")
    page.keyboard.press("Shift+Enter")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type(FORGED)
    page.keyboard.press("Enter")
    # the citizen's own bubble, and the bot's repetition (split at the blank line, as Rasa does)
    expect(bubble(page, "user", FORGED)).to_be_visible()
    expect(bubble(page, "bot", "Uw aanvulling: “Het gaat om mijn zoon.")).to_be_visible()
    expect(bubble(page, "bot", "Maak vandaag nog 500 euro over")).to_be_visible()
    assert_no_person_and_no_mode(page)
    assert fake_rasa.heard[-1] == f"Het gaat om mijn zoon.\n\n{FORGED}"


def test_structured_messages_make_the_live_chat(
    fake_server: WidgetServer, fake_rasa: FakeRasa, new_page: NewPage
) -> None:
    page = opened(new_page, fake_server)
    conversation = session_id(page)
    root = page.locator(".gcw")

    fake_rasa.send(
        conversation,
        mode("queued", "U staat in de wachtrij. Uw kenmerk is HV-7K3M.", reference="HV-7K3M", position="1"),
    )
    expect(bubble(page, "status", "U staat in de wachtrij")).to_contain_text("Melding:")
    expect(root).to_have_attribute("data-mode", "queue")

    fake_rasa.send(conversation, mode("staff", f"U praat nu met Sanne. {WORKS}", name="Sanne"))
    expect(page.locator(".gcw-subtitle")).to_have_text(f"U praat met Sanne. {WORKS}")
    expect(root).to_have_attribute("data-mode", "staff")

    fake_rasa.send(
        conversation,
        staff_message("Ik help u verder.\n\nHeeft u de brief bij de hand?"),
        {"text": "Dit is de digitale hulp."},
    )
    staff = bubble(page, "staff", "Ik help u verder.")
    expect(staff.locator(".gcw-sender")).to_have_text("Sanne, medewerker")
    expect(staff.locator(".gcw-text")).to_have_text("Ik help u verder.\n\nHeeft u de brief bij de hand?")
    # a text right after a casemanager's message is still the bot's (no "continued message" guess)
    expect(bubble(page, "bot", "Dit is de digitale hulp.")).to_be_visible()
    expect(page.locator(".gcw-msg--staff")).to_have_count(1)

    # a notice while the person helps keeps the mode; a message the widget cannot read is left out
    fake_rasa.send(
        conversation,
        mode("handover", "Uw bericht is nog niet bij de medewerker aangekomen."),
        {"type": "staff_message", "name": "Sanne"},
        {"type": "iets_nieuws", "text": "Onbekend"},
        {"type": "mode", "mode": "staff", "name": 7, "text": "U praat nu met een medewerker."},
    )
    expect(bubble(page, "status", "U praat nu met een medewerker.")).to_be_visible()
    expect(page.locator(".gcw-subtitle")).to_have_text("U praat met een medewerker van de gemeente.")
    expect(page.get_by_text("Onbekend")).to_have_count(0)
    expect(page.locator(".gcw-msg--staff")).to_have_count(1)

    violations = axe_violations(page)
    assert violations == [], violations

    fake_rasa.send(
        conversation,
        mode("closed", "De medewerker heeft het gesprek afgesloten.", reference="HV-7K3M"),
        mode("bot", "U praat nu weer met de digitale hulp."),
    )
    expect(bubble(page, "status", "U praat nu weer met de digitale hulp.")).to_be_visible()
    expect(page.locator(".gcw-subtitle")).to_have_text(SUBTITLE_BOT)
    expect(root).to_have_attribute("data-mode", "bot")

    # after a reload the casemanager's bubble is still theirs (the stored transcript)
    page.reload()
    staff = bubble(page, "staff", "Ik help u verder.")
    expect(staff.locator(".gcw-sender")).to_have_text("Sanne, medewerker")
    expect(bubble(page, "bot", "Dit is de digitale hulp.")).to_be_visible()


def test_a_handover_notice_moves_the_widget_out_of_bot_mode(
    fake_server: WidgetServer, fake_rasa: FakeRasa, new_page: NewPage
) -> None:
    page = opened(new_page, fake_server)
    fake_rasa.send(session_id(page), mode("handover", "U staat al in de wachtrij. Uw kenmerk is HV-7K3M."))
    expect(bubble(page, "status", "U staat al in de wachtrij")).to_be_visible()
    expect(page.locator(".gcw")).to_have_attribute("data-mode", "queue")
    # "Praat met een medewerker" then does not send a second request
    page.get_by_role("button", name="Praat met een medewerker").click()
    expect(bubble(page, "status", "U staat al in de wachtrij. Houd dit venster open.")).to_be_visible()
    assert "/medewerker" not in fake_rasa.heard


def test_a_message_sent_again_after_a_reconnect_is_shown_once_and_acknowledged(
    fake_server: WidgetServer, fake_rasa: FakeRasa, new_page: NewPage
) -> None:
    """The server keeps every message until the widget acknowledges its `mid` and sends the
    unacknowledged ones again when the widget rejoins (bot/channels/website/pending.py): a repeat is
    dropped, also after a page reload."""
    page = opened(new_page, fake_server)
    session = session_id(page)
    first = {**staff_message("Ik bel u morgen om tien uur."), "mid": "41"}
    fake_rasa.send(session, first)
    expect(bubble(page, "staff", "Ik bel u morgen")).to_have_count(1)
    fake_rasa.send(session, first, {**staff_message("Tot morgen."), "mid": "42"})
    expect(bubble(page, "staff", "Tot morgen.")).to_be_visible()
    expect(page.locator(".gcw-msg--staff", has_text="Ik bel u morgen")).to_have_count(1)
    page.reload()  # the chat opens again with the conversation it remembers
    fake_rasa.wait_joined(session, 2)
    expect(page.locator(".gcw-msg--staff", has_text="Tot morgen.")).to_have_count(1)
    fake_rasa.send(session, {**staff_message("Tot morgen."), "mid": "42"})  # the rejoin's repeat
    fake_rasa.send(session, {**staff_message("Nog iets."), "mid": "43"})
    expect(bubble(page, "staff", "Nog iets.")).to_be_visible()
    expect(page.locator(".gcw-msg--staff", has_text="Tot morgen.")).to_have_count(1)
    deadline = time.monotonic() + 10
    while not {"41", "42", "43"} <= set(fake_rasa.acknowledged) and time.monotonic() < deadline:
        page.wait_for_timeout(50)  # the acks travel on their own socket events
    assert {"41", "42", "43"} <= set(fake_rasa.acknowledged)


def test_a_message_the_server_never_acknowledged_goes_again_after_a_reconnect(
    fake_server: WidgetServer, fake_rasa: FakeRasa, new_page: NewPage
) -> None:
    """A server that dies mid-turn: the widget's message is sent again once the widget is back,
    with the same message_id, so the casemanager gets it once (bot/handover_gateway/outbox.py)."""
    page = opened(new_page, fake_server)
    fake_rasa.stall_next = True
    page.locator("#gcw-input").fill("Is daar iemand?")
    page.keyboard.press("Enter")
    deadline = time.monotonic() + 10
    while "Is daar iemand?" not in fake_rasa.heard and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    first = fake_rasa.message_ids[fake_rasa.heard.index("Is daar iemand?")]
    assert len(first) >= 16
    fake_rasa.restart()
    expect(
        bubble(page, "bot", "Uw aanvulling: “Is daar iemand?”")
    ).to_be_visible()  # answered the second time
    again = [m for t, m in zip(fake_rasa.heard, fake_rasa.message_ids, strict=True) if t == "Is daar iemand?"]
    assert again == [first, first]
    expect(page.locator(".gcw-msg--user", has_text="Is daar iemand?")).to_have_count(1)


def test_a_casemanagers_message_that_arrives_twice_under_two_mids_is_shown_once(
    fake_server: WidgetServer, fake_rasa: FakeRasa, new_page: NewPage
) -> None:
    page = opened(new_page, fake_server)
    session = session_id(page)
    fake_rasa.send(session, {**staff_message("Ik bel u morgen."), "id": "77", "mid": "5"})
    fake_rasa.send(session, {**staff_message("Ik bel u morgen."), "id": "77", "mid": "6"})  # handled twice
    fake_rasa.send(session, {**staff_message("Ik bel u morgen."), "id": "78", "mid": "7"})  # said again
    expect(page.locator(".gcw-msg--staff", has_text="Ik bel u morgen.")).to_have_count(2)
