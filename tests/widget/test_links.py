"""Links in messages, in a real browser (Debian's Chromium via Playwright) against the stand-in for
Rasa's socket.io channel (tests/widget/helpers.py, FakeRasa): web addresses as the bot writes them
("https://www.cjib.nl", "www.toeslagen.nl", "digid.nl") open in a new tab without giving that tab
access to the chat page; Dutch phone numbers can be tapped to call. The message stays text: links
are made with DOM nodes, so markup in a message is shown, never run."""

from __future__ import annotations

from typing import Any, Callable, Dict, List

import pytest
from playwright.sync_api import expect

from tests.widget.helpers import FAKE_WELCOME, FakeRasa, WidgetServer, session_id

pytestmark = [pytest.mark.e2e]

Page = Any
NewPage = Callable[..., Page]

ADVICE = (
    "Kijk op https://www.cjib.nl/contact. Of op www.toeslagen.nl, of ga naar digid.nl.\n"
    "Bel gratis 0800-0113 of de helpdesk: 088-123 65 55. Chat op 113.nl."
)
NOT_LINKS = (
    "Is er nu gevaar? Bel 112. U betaalde 112 euro op 08-09-2024, kenmerk 2024-0012 5541. "
    "Mail naar info@gemeente.nl. Rekening NL91ABNA0417164300. Typ het bijvoorbeeld zo: 06 12345678."
)


def links(page: Page, fragment: str) -> List[Dict[str, str]]:
    """The links in the bot's message containing `fragment`: visible text, href, target, rel."""
    bubble = page.locator(".gcw-log .gcw-msg--bot", has_text=fragment).last
    expect(bubble).to_be_visible()
    return bubble.evaluate(
        """(msg) => [...msg.querySelectorAll('a')].map(a => ({
            text: a.firstChild.textContent, href: a.getAttribute('href'),
            target: a.getAttribute('target') || '', rel: a.getAttribute('rel') || '',
            announced: a.textContent.includes('(opent in een nieuw tabblad)'),
        }))"""
    )


def bot_says(page: Page, fake_rasa: FakeRasa, text: str) -> None:
    fake_rasa.send(session_id(page), {"text": text})


@pytest.fixture
def page(fake_server: WidgetServer, new_page: NewPage) -> Page:
    opened = new_page()
    opened.goto(fake_server.url)
    opened.get_by_role("button", name="Chat met de gemeente").click()
    expect(opened.locator(".gcw-msg--bot", has_text=FAKE_WELCOME)).to_be_visible()
    return opened


def test_web_addresses_and_phone_numbers_are_links(page: Page, fake_rasa: FakeRasa) -> None:
    bot_says(page, fake_rasa, ADVICE)
    web = {"target": "_blank", "rel": "noopener noreferrer", "announced": True}
    phone = {"target": "", "rel": "", "announced": False}
    assert links(page, "Kijk op") == [
        {"text": "https://www.cjib.nl/contact", "href": "https://www.cjib.nl/contact", **web},
        {"text": "www.toeslagen.nl", "href": "https://www.toeslagen.nl", **web},
        {"text": "digid.nl", "href": "https://digid.nl", **web},
        {"text": "0800-0113", "href": "tel:08000113", **phone},
        {"text": "088-123 65 55", "href": "tel:0881236555", **phone},
        {"text": "113.nl", "href": "https://113.nl", **web},
    ]
    # the message reads as it was written, punctuation and line break included
    shown = page.locator(".gcw-log .gcw-msg--bot .gcw-text", has_text="Kijk op").last.evaluate(
        "(t) => { const c = t.cloneNode(true); c.querySelectorAll('.gcw-sr').forEach(s => s.remove());"
        " return c.textContent; }"
    )
    assert shown == ADVICE


def test_numbers_and_addresses_inside_other_text_stay_text(page: Page, fake_rasa: FakeRasa) -> None:
    """Short numbers, amounts, dates, references, e-mail addresses, account numbers and mobile
    numbers are no links: a citizen's "112 euro" repeated in a summary must not call 112 when
    tapped, and an example number ("06 12345678") is nobody's to call."""
    bot_says(page, fake_rasa, NOT_LINKS)
    assert links(page, "Is er nu gevaar?") == []


def test_markup_in_a_message_is_shown_as_text(page: Page, fake_rasa: FakeRasa) -> None:
    hostile = (
        '<img src=x onerror="window.hacked=1"> Zie https://www.voorbeeld.nl/"onmouseover="window.hacked=1 '
        "of javascript:window.hacked=1 en www.voorbeeld.nl/<b>x</b>"
    )
    bot_says(page, fake_rasa, hostile)
    bubble = page.locator(".gcw-log .gcw-msg--bot", has_text="Zie https").last
    expect(bubble).to_be_visible()
    assert bubble.locator("img, b, [onerror], [onmouseover]").count() == 0
    assert [link["href"] for link in links(page, "Zie https")] == [
        "https://www.voorbeeld.nl/", "https://www.voorbeeld.nl/"
    ]
    expect(bubble.locator(".gcw-text")).to_contain_text('<img src=x onerror="window.hacked=1">')
    assert page.evaluate("window.hacked") is None
