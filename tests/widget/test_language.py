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
