"""The casemanager's live inbox with citizens who come in through the widget, all real processes.

Rasa, the action server and the handover service (tests/e2e/conftest.py: handover_system), the
widget's static server and Debian's Chromium. Three citizens in three widgets (each a browser
context of its own) tell their story and ask for a person at the same time; two casemanagers
have the werkbak open and a teamleider the overview. Issue 14's Done-when: the cases appear live
on all three staff pages, a claim reaches the citizen's widget, a message in a background chat
raises the unread count and the tab title without a reload, and the casemanager's reply reaches
the citizen's widget. axe-core checks every page involved. Every wait is on a condition.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import HANDOVER, HANDOVER_PY, PASSWORD, handover_system
from tests.widget.helpers import WidgetServer, axe_violations, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.model]

Page = Any
INBOX_TITLE = "Werkbak \u2013 Gemeente"  # an en dash, as in base.html

# Three stories of team "Inkomen en schulden" (teams.yml), told differently.
STORIES = (
    "Ik heb een brief van het CJIB en ik kan de boete niet betalen",
    "Ik heb een stapel boetes van het CJIB en ik kan ze niet betalen",
    "Het CJIB stuurt mij steeds aanmaningen voor een verkeersboete die ik niet kan betalen",
)
STAFF: Tuple[Tuple[str, str, str, List[str]], ...] = (
    # username, first name, role, teams
    ("anna", "Anna", "casemanager", ["inkomen_schulden"]),
    ("bert", "Bert", "casemanager", ["inkomen_schulden"]),
    ("tineke", "Tineke", "teamleider", []),
)
ADD_STAFF = """
import asyncio, json, sys
from handover.auth import create_user
from handover.db import make_engine, make_sessionmaker
from handover.models import Role
from handover.settings import Settings

async def main():
    engine = make_engine(Settings.from_env().database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            for username, first, role, teams in json.loads(sys.argv[1]):
                await create_user(session, username=username, password=sys.argv[2],
                                  display_name=first + " Tester", first_name=first,
                                  role=Role(role), teams=teams)
    finally:
        await engine.dispose()

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Any]]:
    work = Path(tmp_path_factory.mktemp("werkbak-widget"))
    with handover_system(work, "mon-sun 00:00-24:00") as running:
        subprocess.run(
            [str(HANDOVER_PY), "-c", ADD_STAFF, json.dumps(STAFF), PASSWORD],
            cwd=HANDOVER,
            env=running["service_env"],
            check=True,
            capture_output=True,
        )
        widget = WidgetServer(running["stack"].url, work)
        try:
            yield {**running, "widget": widget}
        finally:
            widget.stop()


def assert_no_axe_violations(page: Page, name: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"axe op {name}: {violations}"


# --- staff ---------------------------------------------------------------------------------


def staff_page(browser: Any, base_url: str, username: str, path: str, errors: List[str]) -> Page:
    """A logged-in staff member's page at `path`, its WebSocket open. bypass_csp only so that axe
    can be injected (handover/tests/browser checks the real CSP)."""
    context = browser.new_context(base_url=base_url, bypass_csp=True, locale="nl-NL")
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(f"{username}: {e}"))
    page.goto(f"/login?next={path}")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(re.escape(base_url + path) + "$"))
    expect(page.locator("body")).to_have_attribute("data-live", "open")
    page.evaluate("() => { window.__zelfdePagina = true; }")  # a reload would lose it
    return page


def not_reloaded(page: Page) -> bool:
    return bool(page.evaluate("() => window.__zelfdePagina === true"))


def chat_item(page: Page, ref: str) -> Any:
    return page.locator(f'#mijn-chats li[data-reference="{ref}"]')


# --- citizens ------------------------------------------------------------------------------


def bubble(page: Page, kind: str, fragment: str) -> Any:
    return page.locator(f".gcw-log .gcw-msg--{kind}", has_text=fragment).last


def widget_page(browser: Any, url: str, errors: List[str], name: str) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="nl-NL")
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(f"{name}: {e}"))
    page.goto(url)
    page.get_by_role("button", name="Chat met de gemeente").click()
    expect(page.locator("#gcw-input")).to_be_focused()
    return page


def say(page: Page, text: str) -> None:
    page.locator("#gcw-input").fill(text)
    page.keyboard.press("Enter")
    expect(bubble(page, "user", text)).to_be_visible()


def reply(page: Page, title: str) -> None:
    """Press the answer button `title` of the bot's last question."""
    page.locator(".gcw-reply", has_text=title).last.click()
    expect(bubble(page, "user", title)).to_be_visible()


def wait_for_next_question(page: Page, after: str) -> None:
    """The bot answered the citizen's `after` with a next question (with answer buttons)."""
    page.wait_for_function(
        """(said) => {
            const all = [...document.querySelectorAll('.gcw-log .gcw-msg')];
            const mine = all.map(m => m.matches('.gcw-msg--user') && m.innerText.trim().endsWith(said));
            return all.slice(mine.lastIndexOf(true) + 1).some(m => m.querySelector('.gcw-reply'));
        }""",
        arg=after,
    )


def reference_of(page: Page) -> str:
    queued = bubble(page, "status", "U staat in de wachtrij")
    expect(queued).to_contain_text(re.compile(r"HV-[A-Z0-9]{4}"))
    found = re.search(r"HV-[A-Z0-9]{4}", queued.inner_text())
    assert found is not None
    return found.group(0)


def test_three_citizens_through_the_widget_reach_the_live_inbox(browser: Any, system: Dict[str, Any]) -> None:
    base = system["service_url"]
    errors: List[str] = []

    # --- the staff open their pages first: casemanagers online, so the bot offers a live chat ---
    anna = staff_page(browser, base, "anna", "/werkbak", errors)
    bert = staff_page(browser, base, "bert", "/werkbak", errors)
    tineke = staff_page(browser, base, "tineke", "/overzicht", errors)
    assert_no_axe_violations(anna, "de lege werkbak")

    # --- three citizens at once: each step in all three widgets before the next step ---------
    citizens = [widget_page(browser, system["widget"].url, errors, f"burger {i}") for i in (1, 2, 3)]
    for page in citizens:
        expect(bubble(page, "bot", "Welkom")).to_be_visible()
    for page, story in zip(citizens, STORIES, strict=True):
        say(page, story)
    for page in citizens:
        expect(bubble(page, "bot", "Klopt dat?")).to_be_visible()
    # The topic confirmed, so the case goes to the team of its topic (teams.yml).
    for page in citizens:
        reply(page, "Ja, dat klopt")
    for page in citizens:  # the next question of the intake (urgency, or the topic's first)
        wait_for_next_question(page, after="Ja, dat klopt")
    for page in citizens:
        page.get_by_role("button", name="Praat met een medewerker").click()
    for page in citizens:
        expect(bubble(page, "bot", "Mag de medewerker dit lezen?")).to_be_visible()
    assert_no_axe_violations(citizens[0], "de widget bij de toestemmingsvraag")
    for page in citizens:
        reply(page, "Ja, dat mag")
    refs: Tuple[str, ...] = tuple(reference_of(page) for page in citizens)
    assert len(set(refs)) == 3
    for page in citizens:
        expect(page.locator(".gcw")).to_have_attribute("data-mode", "queue")

    # --- the cases appear live: both casemanagers' queues and the teamleider's overview ------
    for ref in refs:
        for page in (anna, bert):
            expect(page.locator("#wachtrij-kort").locator(f'li[data-reference="{ref}"]')).to_be_visible()
        expect(tineke.locator(f'#overzicht tr[data-reference="{ref}"]')).to_be_visible()
    expect(tineke.locator("#overzicht")).to_contain_text("In de wachtrij: 3")
    # What the bot read is shown by name, never as an id.
    expect(anna.locator("#wachtrij-kort")).not_to_contain_text("cjib.")
    screenshot(anna, "werkbak-drie-burgers")
    assert_no_axe_violations(anna, "de werkbak met drie wachtende burgers")
    assert_no_axe_violations(tineke, "het overzicht met drie wachtende burgers")

    # --- claims: anna takes the first two, bert the third; each citizen hears who helps ----------
    first, second, third = refs
    for ref in (first, second):
        anna.locator("#wachtrij-kort").get_by_role("button", name=f"Oppakken {ref}").click()
        expect(anna.locator("#zaak-kop")).to_have_text(f"Zaak {ref}")
        expect(chat_item(anna, ref)).to_be_visible()
    expect(bert.locator("#wachtrij-kort").locator(f'li[data-reference="{first}"]')).to_have_count(0)
    bert.locator("#wachtrij-kort").get_by_role("button", name=f"Oppakken {third}").click()
    expect(bert.locator("#zaak-kop")).to_have_text(f"Zaak {third}")
    for page, name in zip(citizens, ("Anna", "Anna", "Bert"), strict=True):
        expect(page.locator(".gcw")).to_have_attribute("data-mode", "staff")
        expect(page.locator(".gcw-subtitle")).to_contain_text(f"U praat met {name}.")
    for ref, handler in ((first, "Anna Tester"), (second, "Anna Tester"), (third, "Bert Tester")):
        expect(tineke.locator(f'#overzicht tr[data-reference="{ref}"]')).to_contain_text(handler)
    expect(tineke.locator("#overzicht")).to_contain_text("In de wachtrij: 0")

    # --- a citizen writes in anna's background chat: unread count and tab title, no reload ------
    expect(anna.locator("#zaak-kop")).to_have_text(f"Zaak {second}")  # the first is in the background
    say(citizens[0], "Ik heb de brief van het CJIB hier bij me.")
    expect(chat_item(anna, first).locator(".ongelezen")).to_have_text("1 ongelezen")
    expect(chat_item(anna, first)).to_contain_text("Burger: Ik heb de brief van het CJIB hier bij me.")
    expect(anna).to_have_title(f"(1) {INBOX_TITLE}")
    expect(bert).to_have_title(INBOX_TITLE)  # not bert's chat
    assert_no_axe_violations(anna, "de werkbak met een ongelezen bericht")

    # --- anna opens it, reads it and answers: the reply reaches the citizen's widget ----------
    chat_item(anna, first).locator("a").click()
    expect(anna.locator("#zaak-kop")).to_have_text(f"Zaak {first}")
    expect(anna.locator("#transcript li.citizen").last).to_contain_text("Ik heb de brief van het CJIB hier")
    expect(chat_item(anna, first).locator(".ongelezen")).to_have_count(0)
    expect(anna).to_have_title(INBOX_TITLE)
    expect(anna.locator("#tekst")).to_be_focused()
    anna.keyboard.type("Dank u. Welk kenmerk staat rechtsboven op de brief?")
    anna.keyboard.press("Enter")
    expect(anna.locator("#tekst")).to_have_value("")
    answer = bubble(citizens[0], "staff", "Welk kenmerk staat rechtsboven op de brief?")
    expect(answer.locator(".gcw-sender")).to_have_text("Anna, medewerker")
    # The other citizens did not get it.
    for page in citizens[1:]:
        expect(page.locator(".gcw-msg--staff", has_text="Welk kenmerk")).to_have_count(0)

    # --- bert's chat runs beside it, both ways -----------------------------------------------
    say(citizens[2], "Hallo Bert, ik ben er.")
    expect(bert.locator("#transcript li.citizen").last).to_contain_text("Hallo Bert, ik ben er.")
    bert.locator("#tekst").fill("Goedemiddag, ik kijk met u mee.")
    bert.keyboard.press("Enter")
    from_bert = bubble(citizens[2], "staff", "Goedemiddag, ik kijk met u mee.")
    expect(from_bert.locator(".gcw-sender")).to_have_text("Bert, medewerker")

    for page in (anna, bert, tineke):
        assert not_reloaded(page)
    screenshot(anna, "werkbak-antwoord-verstuurd")
    screenshot(citizens[0], "widget-antwoord-van-anna")
    assert_no_axe_violations(anna, "de werkbak met een open gesprek")
    assert_no_axe_violations(bert, "de werkbak van de tweede casemanager")
    assert_no_axe_violations(tineke, "het overzicht met drie zaken in behandeling")
    assert_no_axe_violations(citizens[0], "de widget met een bericht van de casemanager")
    for page in [anna, bert, tineke, *citizens]:
        page.context.close()
    assert errors == [], f"JavaScript-fouten: {errors}"
