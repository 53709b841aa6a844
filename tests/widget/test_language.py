"""The conversation language in the widget, in a real browser (Debian's Chromium via Playwright),
against the stand-in for Rasa's socket.io channel (tests/widget/helpers.py, FakeRasa).

The bot sends the conversation language with each message (`lang`, bot/channels/website/channel.py,
issue 15): the widget sets its lang for screen readers and dir="rtl" for Arabic, keeps it for the
conversation (a reload), and ignores a language the bot does not speak."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from playwright.sync_api import expect

from tests.widget.helpers import FAKE_WELCOME, FakeRasa, WidgetServer, session_id

pytestmark = [pytest.mark.e2e]

Page = Any
NewPage = Callable[..., Page]


def opened(new_page: NewPage, fake_server: WidgetServer) -> Page:
    page = new_page()
    page.goto(fake_server.url)
    page.get_by_role("button", name="Chat met de gemeente").click()
    expect(page.locator(".gcw-log .gcw-msg--bot", has_text=FAKE_WELCOME)).to_be_visible()
    return page


def test_the_widget_follows_the_conversation_language_and_reads_arabic_right_to_left(
    fake_server: WidgetServer, fake_rasa: FakeRasa, new_page: NewPage
) -> None:
    page = opened(new_page, fake_server)
    root = page.locator(".gcw")
    expect(root).to_have_attribute("lang", "nl")
    expect(root).to_have_attribute("dir", "ltr")
    conversation = session_id(page)

    fake_rasa.send(conversation, {"text": "أظن أن سؤالكم عن هذا: الديون. هل هذا صحيح؟", "lang": "ar"})
    expect(page.locator(".gcw-log .gcw-msg--bot", has_text="هل هذا صحيح")).to_be_visible()
    expect(root).to_have_attribute("lang", "ar")
    expect(root).to_have_attribute("dir", "rtl")
    # Right to left: the bubble's text starts at the right edge of the log.
    assert page.evaluate(
        "getComputedStyle(document.querySelector('.gcw-log .gcw-msg--bot:last-child')).direction"
    ) == "rtl"

    page.reload()  # the language is part of the conversation the widget remembers
    fake_rasa.wait_joined(conversation, 2)
    expect(page.locator(".gcw")).to_have_attribute("lang", "ar")
    expect(page.locator(".gcw")).to_have_attribute("dir", "rtl")

    fake_rasa.send(conversation, {"text": "Is that right?", "lang": "xx"})  # not one of the six
    expect(page.locator(".gcw-log .gcw-msg--bot", has_text="Is that right?")).to_be_visible()
    expect(page.locator(".gcw")).to_have_attribute("lang", "ar")

    fake_rasa.send(conversation, {"text": "I think your question is about debts.", "lang": "en"})
    expect(page.locator(".gcw")).to_have_attribute("lang", "en")
    expect(page.locator(".gcw")).to_have_attribute("dir", "ltr")


def test_the_interface_texts_follow_the_conversation_language(
    fake_server: WidgetServer, fake_rasa: FakeRasa, new_page: NewPage
) -> None:
    page = opened(new_page, fake_server)
    conversation = session_id(page)
    fake_rasa.send(conversation, {"text": "Witamy w bocie testowym.", "lang": "pl"})
    expect(page.locator(".gcw")).to_have_attribute("lang", "pl")
    expect(page.get_by_role("button", name="Rozmowa z pracownikiem")).to_be_visible()
    expect(page.get_by_role("button", name="Wyślij")).to_be_visible()
    expect(page.get_by_role("textbox", name="Pana/Pani wiadomość")).to_be_visible()
    expect(page.locator(".gcw-title")).to_have_text("Czat z gminą")
    expect(page.locator(".gcw-subtitle")).to_have_text("Rozmawia Pan/Pani z cyfrowym asystentem.")
    # the sender above the bot's earlier (Dutch) welcome follows too; its text stays as written
    expect(page.locator(".gcw-log .gcw-msg--bot .gcw-sender").first).to_have_text("Cyfrowy asystent")
    expect(page.locator(".gcw-log .gcw-msg--bot", has_text=FAKE_WELCOME)).to_be_visible()

    # what the citizen says by pressing the button is in their language
    page.get_by_role("button", name="Rozmowa z pracownikiem").click()
    asked = page.locator(".gcw-log .gcw-msg--user", has_text="Chcę porozmawiać z pracownikiem.")
    expect(asked).to_be_visible()
    fake_rasa.send(
        conversation,
        {"type": "mode", "mode": "staff", "name": "Sanne", "text": "Sanne jest teraz z Panem.", "lang": "pl"},
        {"type": "staff_message", "name": "Sanne", "text": "Dzień dobry!", "lang": "pl"},
    )
    expect(page.locator(".gcw-subtitle")).to_contain_text("Rozmawia Pan/Pani z: Sanne.")
    expect(page.locator(".gcw-log .gcw-msg--staff .gcw-sender")).to_have_text("Sanne, pracownik gminy")

    fake_rasa.send(conversation, {"text": "هل هذا صحيح؟", "lang": "ar"})
    root = page.locator(".gcw")
    expect(root).to_have_attribute("dir", "rtl")
    expect(page.get_by_role("button", name="التحدث مع موظف")).to_be_visible()
    expect(page.get_by_role("button", name="إرسال")).to_be_visible()
    expect(page.locator(".gcw-log .gcw-msg--staff .gcw-sender")).to_have_text("Sanne، من البلدية")
    expect(page.locator(".gcw-subtitle")).to_contain_text("أنتم تتحدثون مع Sanne.")

    page.get_by_role("button", name="إغلاق الدردشة").click()
    expect(page.get_by_role("button", name="الدردشة مع البلدية")).to_be_visible()
    page.reload()  # the interface language is part of the conversation the widget remembers
    expect(page.get_by_role("button", name="الدردشة مع البلدية")).to_be_visible()
    expect(root).to_have_attribute("dir", "rtl")


def test_before_the_bot_speaks_the_interface_is_in_the_host_pages_language(
    fake_server: WidgetServer, fake_rasa: FakeRasa, new_page: NewPage
) -> None:
    page = new_page()
    # The host page is English (<html lang="en-GB">) by the time its deferred scripts run: the
    # document turns "interactive" just before they do.
    page.add_init_script(
        "document.addEventListener('readystatechange', () => {"
        " if (document.readyState === 'interactive') document.documentElement.lang = 'en-GB'; });"
    )
    page.goto(fake_server.url)
    expect(page.locator(".gcw")).to_have_attribute("lang", "en")
    page.get_by_role("button", name="Chat with the gemeente").click()
    expect(page.locator(".gcw-log .gcw-msg--bot", has_text=FAKE_WELCOME)).to_be_visible()
    expect(page.get_by_role("button", name="Talk to a staff member")).to_be_visible()
    # the bot says the conversation is Dutch: the interface follows the conversation, not the page
    fake_rasa.send(session_id(page), {"text": "Waar gaat uw vraag over?", "lang": "nl"})
    expect(page.get_by_role("button", name="Praat met een medewerker")).to_be_visible()
    expect(page.locator(".gcw")).to_have_attribute("lang", "nl")
