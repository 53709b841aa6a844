"""The live inbox (werkbak) in Chromium: two casemanagers, a teamleider and three citizens at once.

Against the real service process: a message in a background chat raises its unread count and
the tab title without a reload; the open chat follows new messages unless the casemanager
scrolled up ("1 nieuw bericht"); Enter sends, Shift+Enter makes a new line, the focus returns to
the reply box; the shortcuts work without a mouse; a note, a transfer, a claim and a release
update every open page live, keep the half-typed reply and take away buttons that no longer
apply. axe-core checks every page state. Each wait is on a condition, never a fixed sleep.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from playwright.async_api import Browser, BrowserContext, Page, expect

from handover.db import make_engine, make_sessionmaker
from handover.models import Role
from tests.browser.conftest import Service, save_path
from tests.browser.test_workspace_browser import assert_no_axe_violations, focused
from tests.conftest import BOT, PASSWORD, FakeRasa, add_user, case_body

TIMEOUT_MS = 20_000  # a busy machine: two cores shared with other work


async def add_staff(service: Service) -> None:
    """Bert (casemanager, same team as anna) and Tineke (teamleider)."""
    engine = make_engine(service.database_url)
    try:
        sm = make_sessionmaker(engine)
        await add_user(sm, "bert", first_name="Bert", teams=["inkomen_schulden"])
        await add_user(sm, "tineke", first_name="Tineke", role=Role.TEAMLEIDER)
    finally:
        await engine.dispose()


@asynccontextmanager
async def logged_in(browser: Browser, service: Service, username: str) -> AsyncIterator[BrowserContext]:
    # bypass_csp only so that axe can be injected (test_workspace_browser checks the real CSP).
    context = await browser.new_context(base_url=service.base_url, bypass_csp=True, locale="nl-NL")
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    await page.goto("/login?next=/werkbak")
    await page.locator("#username").fill(username)
    await page.locator("#password").fill(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{service.base_url}/werkbak")
    await page.close()
    try:
        yield context
    finally:
        await context.close()


async def open_page(context: BrowserContext, path: str, errors: list[str]) -> Page:
    page = await context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(path)
    await expect(page.locator("body")).to_have_attribute("data-live", "open")
    # Set once; a reload would lose it.
    await page.evaluate("() => { window.__zelfdePagina = true; }")
    return page


async def not_reloaded(page: Page) -> bool:
    return bool(await page.evaluate("() => window.__zelfdePagina === true"))


async def new_case(bot: aiohttp.ClientSession, sender: str, **summary: Any) -> str:
    body = case_body(sender)
    body["summary"] |= summary
    resp = await bot.post("/api/cases", json=body)
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["reference"])


async def citizen_says(bot: aiohttp.ClientSession, ref: str, sender: str, text: str) -> None:
    resp = await bot.post(f"/api/cases/{ref}/messages", json={"sender_id": sender, "text": text})
    assert resp.status == 202, await resp.text()


def chat_item(page: Page, ref: str) -> Any:
    return page.locator(f'#mijn-chats li[data-reference="{ref}"]')


async def transcript_at_bottom(page: Page) -> bool:
    return bool(
        await page.evaluate(
            "() => { const t = document.getElementById('transcript');"
            " return t.scrollHeight - t.scrollTop - t.clientHeight < 40; }"
        )
    )


async def test_inbox_unread_title_scroll_and_keyboard(
    browser: Browser, service: Service, fake_rasa: FakeRasa
) -> None:
    errors: list[str] = []
    async with aiohttp.ClientSession(base_url=service.base_url, headers=BOT) as bot:
        first = await new_case(bot, "burger-1")
        second = await new_case(bot, "burger-2", topic="toeslagen")
        async with logged_in(browser, service, "anna") as anna:
            page = await open_page(anna, "/werkbak", errors)
            await expect(page).to_have_title("Werkbak – Gemeente")
            await expect(page.get_by_role("heading", name="Geen gesprek geopend")).to_be_visible()
            await assert_no_axe_violations(page, "empty inbox")

            # --- claim both from the queue beside the chats: each opens in the panel -----------
            for ref in (first, second):
                await page.locator("#wachtrij-kort").get_by_role("button", name=f"Oppakken {ref}").click()
                await expect(page.locator("#zaak-kop")).to_have_text(f"Zaak {ref}")
                await expect(chat_item(page, ref)).to_be_visible()
                await expect(page).to_have_url(f"{service.base_url}/werkbak?zaak={ref}")
                await expect(page.locator("#tekst")).to_be_focused()
            await expect(page.locator("#wachtrij-kort")).to_contain_text("Geen wachtende zaken.")
            # Nobody answered yet: both citizens wait for anna, and it says how long.
            await expect(chat_item(page, first).locator(".chat-wacht")).to_contain_text("Wacht op u:")

            # --- a message in the background chat: unread count and tab title, no reload --------
            await citizen_says(bot, first, "burger-1", "Ik heb nog een vraag over de boete.")
            await expect(chat_item(page, first).locator(".ongelezen")).to_have_text("1 ongelezen")
            await expect(chat_item(page, first)).to_contain_text("Burger: Ik heb nog een vraag over")
            await expect(page).to_have_title("(1) Werkbak – Gemeente")
            assert await not_reloaded(page)
            # The tab of another page (a case page) counts it too.
            other = await open_page(anna, f"/zaken/{second}", errors)
            await expect(other).to_have_title(f"(1) Zaak {second} – Gemeente")

            # --- Alt+ArrowDown / Alt+ArrowUp open the next chat; reading it clears the count ----
            await page.bring_to_front()
            order = await page.locator("#mijn-chats .chat-link").evaluate_all(
                "links => links.map(a => a.dataset.reference)"
            )
            assert sorted(order) == sorted([first, second])
            # Second is open; Alt+ArrowDown steps through the list, wrapping at the end.
            for _ in range(2):
                before = await page.locator("#zaak-kop").inner_text()
                await page.keyboard.press("Alt+ArrowDown")
                await expect(page.locator("#zaak-kop")).not_to_have_text(before)
                if await page.locator("#zaak-kop").inner_text() == f"Zaak {first}":
                    break
            await expect(page.locator("#zaak-kop")).to_have_text(f"Zaak {first}")
            await page.keyboard.press("Alt+ArrowUp")
            await expect(page.locator("#zaak-kop")).to_have_text(f"Zaak {second}")
            await page.keyboard.press("Alt+ArrowDown")
            await expect(page.locator("#zaak-kop")).to_have_text(f"Zaak {first}")
            await expect(page.locator("#tekst")).to_be_focused()
            await expect(page.locator("#transcript li.citizen").last).to_contain_text("nog een vraag")
            await expect(chat_item(page, first).locator(".ongelezen")).to_have_count(0)
            await expect(page).to_have_title("Werkbak – Gemeente")
            await expect(other).to_have_title(f"Zaak {second} – Gemeente")

            # --- Enter sends, Shift+Enter is a new line, the focus stays in the reply box ----------
            await page.keyboard.type("Goedemorgen, u spreekt met Anna.")
            await page.keyboard.press("Shift+Enter")
            await page.keyboard.type("Ik kijk met u mee.")
            await page.keyboard.press("Enter")
            await fake_rasa.wait_for(lambda f: bool(f.intents("medewerker_bericht")), timeout=15)
            entities = fake_rasa.intents("medewerker_bericht")[0].entities
            assert (entities["tekst"], entities["naam"]) == (
                "Goedemorgen, u spreekt met Anna.\nIk kijk met u mee.",
                "Anna",
            )
            await expect(page.locator("#tekst")).to_have_value("")
            await expect(page.locator("#tekst")).to_be_focused()
            own = page.locator("#transcript li.casemanager").last
            await expect(own).to_contain_text("Ik kijk met u mee.")
            # Anna answered last: the citizen no longer waits for her.
            await expect(chat_item(page, first).locator(".chat-wacht")).to_have_count(0)
            await expect(chat_item(page, first)).to_contain_text("U: Goedemorgen")

            # --- the chat follows new messages while at the bottom --------------------------------
            for i in range(1, 16):
                await citizen_says(bot, first, "burger-1", f"Bericht nummer {i} van de burger.")
            await expect(page.locator("#transcript li.citizen").last).to_contain_text("Bericht nummer 15")
            await page.wait_for_function(
                "() => { const t = document.getElementById('transcript');"
                " return t.scrollHeight > t.clientHeight + 100; }"
            )
            assert await transcript_at_bottom(page)
            await expect(page.locator("#nieuwe-berichten")).to_be_hidden()
            await expect(chat_item(page, first).locator(".ongelezen")).to_have_count(0)

            # --- ... but not when the casemanager scrolled up: "1 nieuw bericht" ------------------
            await page.evaluate("() => { document.getElementById('transcript').scrollTop = 0; }")
            await citizen_says(bot, first, "burger-1", "Bent u er nog?")
            await expect(page.locator("#nieuwe-berichten")).to_have_text("1 nieuw bericht")
            await expect(page.locator("#nieuwe-berichten")).to_be_visible()
            assert not await transcript_at_bottom(page)
            # Not seen yet, so not read.
            await expect(chat_item(page, first).locator(".ongelezen")).to_have_text("1 ongelezen")
            await page.locator("#nieuwe-berichten").focus()
            await page.keyboard.press("Enter")
            await expect(page.locator("#nieuwe-berichten")).to_be_hidden()
            assert await transcript_at_bottom(page)
            await expect(chat_item(page, first).locator(".ongelezen")).to_have_count(0)
            await page.screenshot(path=save_path("10-werkbak-gesprek"), full_page=True)
            await assert_no_axe_violations(page, "inbox with an open chat")

            # --- standard texts: "/afsp" + Enter fills the reply box (not sent), edit, Enter sends ---
            sent_before = len(fake_rasa.intents("medewerker_bericht"))
            await page.locator("#tekst").focus()
            await page.keyboard.type("/afsp")
            await page.keyboard.press("Enter")
            agreed = "Dit spreken we af:\n1. \n2. \nKlopt dat zo voor u?"
            await expect(page.locator("#tekst")).to_have_value(agreed)
            await expect(page.locator("#chat-status")).to_contain_text(
                "Standaardtekst Afspraken staat in het berichtvak"
            )
            await page.keyboard.type(" Ik hoor het graag.")
            # Enter empties the box at once, before the service confirms: what the casemanager types
            # next is a new message, not added to this one (which was then sent again with it).
            left = await page.evaluate(
                "() => { const box = document.getElementById('tekst');"
                " box.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));"
                " return box.value; }"
            )
            assert left == ""
            await fake_rasa.wait_for(
                lambda f: len(f.intents("medewerker_bericht")) == sent_before + 1, timeout=15
            )
            assert (
                fake_rasa.intents("medewerker_bericht")[-1].entities["tekst"]
                == agreed + " Ik hoor het graag."
            )
            await page.keyboard.type("/onbekend")
            await page.keyboard.press("Enter")
            await expect(page.locator("#chat-status")).to_have_text(
                "Geen standaardtekst met een titel die begint met onbekend."
            )
            await page.locator("#tekst").fill("")
            # The list under the reply box, without a mouse.
            await page.get_by_label("Standaardtekst invoegen").select_option(label="Afsluiten")
            await page.get_by_label("Standaardtekst invoegen").focus()
            await page.keyboard.press("Tab")
            assert await focused(page) == "button#standaardtekst-invoegen"
            await page.keyboard.press("Enter")
            await expect(page.locator("#tekst")).to_have_value(
                "Dank u wel. Heeft u later nog een vraag? Stel die dan gerust in de chat."
            )
            await expect(page.locator("#tekst")).to_be_focused()
            await page.locator("#tekst").fill("")
            assert len(fake_rasa.intents("medewerker_bericht")) == sent_before + 1

            # --- shortcuts: Alt+A to the outcome, Alt+B back to the reply box, Alt+N claim next ---
            await page.keyboard.press("Alt+A")
            assert await focused(page) == "textarea#uitkomst"
            await page.keyboard.press("Alt+B")
            assert await focused(page) == "textarea#tekst"
            await page.keyboard.press("Alt+N")
            empty = "Er staan geen wachtende zaken in de wachtrij"
            await expect(page.locator(".melding")).to_have_text(empty)
            third = await new_case(bot, "burger-3", urgent=True)
            await expect(page.locator("#wachtrij-kort")).to_contain_text(third)
            await page.keyboard.press("Alt+N")
            await expect(page.locator("#zaak-kop")).to_have_text(f"Zaak {third}")
            await expect(chat_item(page, third).locator(".label-urgent")).to_have_text("Urgent")
            await expect(page.locator("#tekst")).to_be_focused()
            # Urgent first in my chats.
            assert await page.locator("#mijn-chats .chat-link").first.get_attribute("data-reference") == third
            assert await not_reloaded(page)
            await assert_no_axe_violations(page, "inbox after claim-next")

            # --- a per-user choice: Enter makes a new line, Ctrl+Enter sends (stored with the user) ---
            await page.get_by_label("Enter maakt een nieuwe regel (versturen met Ctrl+Enter)").check()
            await expect(page.locator("#tekst-uitleg")).to_contain_text("Ctrl+Enter verstuurt.")
            before = len(fake_rasa.intents("medewerker_bericht"))
            await page.locator("#tekst").focus()
            await page.keyboard.type("Regel een")
            await page.keyboard.press("Enter")
            await page.keyboard.type("Regel twee")
            await expect(page.locator("#tekst")).to_have_value("Regel een\nRegel twee")
            await page.keyboard.press("Control+Enter")
            await fake_rasa.wait_for(lambda f: len(f.intents("medewerker_bericht")) == before + 1, timeout=15)
            assert fake_rasa.intents("medewerker_bericht")[-1].entities["tekst"] == "Regel een\nRegel twee"
            await expect(page.locator("#tekst")).to_have_value("")
            await page.reload()
            await expect(
                page.get_by_label("Enter maakt een nieuwe regel (versturen met Ctrl+Enter)")
            ).to_be_checked()
        # On the server, not in one browser: anna in another browser has the same choice.
        async with logged_in(browser, service, "anna") as elsewhere:
            other = await open_page(elsewhere, f"/werkbak?zaak={third}", errors)
            await expect(other.locator("body")).to_have_attribute("data-enter", "regel")
            await expect(
                other.get_by_label("Enter maakt een nieuwe regel (versturen met Ctrl+Enter)")
            ).to_be_checked()
            await expect(other.locator("#tekst-uitleg")).to_contain_text("Ctrl+Enter verstuurt.")
    assert errors == [], f"JavaScript errors: {errors}"


async def test_note_transfer_claim_and_release_update_every_page_live(
    browser: Browser, service: Service, fake_rasa: FakeRasa
) -> None:
    await add_staff(service)
    errors: list[str] = []
    async with aiohttp.ClientSession(base_url=service.base_url, headers=BOT) as bot:
        first = await new_case(bot, "burger-1")
        second = await new_case(bot, "burger-2")
        third = await new_case(bot, "burger-3")
        async with (
            logged_in(browser, service, "anna") as anna_ctx,
            logged_in(browser, service, "bert") as bert_ctx,
            logged_in(browser, service, "tineke") as tl_ctx,
        ):
            anna = await open_page(anna_ctx, "/werkbak", errors)
            for ref in (first, second):
                await anna.locator("#wachtrij-kort").get_by_role("button", name=f"Oppakken {ref}").click()
                await expect(chat_item(anna, ref)).to_be_visible()

            # --- a claim takes the "Zaak oppakken" button away on a colleague's open page --------
            bert_case = await open_page(bert_ctx, f"/zaken/{third}", errors)
            await expect(bert_case.get_by_role("button", name="Zaak oppakken", exact=True)).to_be_visible()
            await anna.bring_to_front()
            await anna.keyboard.press("Alt+N")
            await expect(anna.locator("#zaak-kop")).to_have_text(f"Zaak {third}")
            await expect(bert_case.get_by_role("button", name="Zaak oppakken", exact=True)).to_have_count(0)
            await expect(bert_case.locator("#zaak-status")).to_contain_text("in behandeling bij Anna Tester")
            hint = bert_case.locator("#privacy-melding")
            await expect(hint).to_contain_text("Een collega behandelt deze zaak.")
            assert await not_reloaded(bert_case)
            await assert_no_axe_violations(bert_case, "case page of a colleague's case")

            # --- a teamleider's note shows at once; anna's half-typed reply and focus stay ------------
            await chat_item(anna, first).locator("a").click()
            await expect(anna.locator("#zaak-kop")).to_have_text(f"Zaak {first}")
            await anna.locator("#tekst").press_sequentially("Half getypt antwoord")
            tl_case = await open_page(tl_ctx, f"/zaken/{first}", errors)
            await tl_case.get_by_label("Nieuwe notitie").fill("@anna Bel eerst het CJIB.")
            await tl_case.get_by_role("button", name="Notitie opslaan").click()
            await expect(tl_case.locator(".melding")).to_have_text("Notitie opgeslagen.")
            await expect(tl_case.locator("#notities")).to_contain_text(
                "Tineke Tester: @anna Bel eerst het CJIB."
            )
            await expect(anna.locator("#notities")).to_contain_text(
                "Tineke Tester: @anna Bel eerst het CJIB."
            )
            await expect(anna.locator(".melding")).to_have_text(
                f"U bent genoemd in een notitie bij zaak {first}."
            )
            await expect(anna.locator("#tekst")).to_have_value("Half getypt antwoord")
            assert await focused(anna) == "textarea#tekst"
            assert await not_reloaded(anna) and await not_reloaded(tl_case)

            # --- a release by the teamleider: anna's page can no longer send, the draft waits -----
            await tl_case.get_by_role("button", name="Vrijgeven (terug in de wachtrij)").click()
            await expect(tl_case.locator("#zaak-status")).to_contain_text("wachtend")
            await expect(anna.locator("#zaak-status")).to_contain_text("wachtend")
            await expect(anna.locator("#tekst")).to_have_count(0)
            await expect(anna.get_by_role("button", name="Zaak oppakken", exact=True)).to_be_visible()
            await expect(anna.locator(".melding")).to_have_text(
                f"Zaak {first} is door een ander teruggezet in de wachtrij."
            )
            await expect(chat_item(anna, first)).to_have_count(0)
            await expect(anna.locator("#wachtrij-kort")).to_contain_text(first)
            await assert_no_axe_violations(anna, "inbox after a release by the teamleider")
            await anna.get_by_role("button", name="Zaak oppakken", exact=True).click()
            await expect(anna.locator("#tekst")).to_have_value("Half getypt antwoord")
            await expect(chat_item(anna, first)).to_be_visible()

            # --- a transfer to bert: both pages follow, bert gets a signal ---------------------------
            bert_inbox = await open_page(bert_ctx, "/werkbak", errors)
            await expect(chat_item(bert_inbox, second)).to_have_count(0)
            await anna.bring_to_front()
            await chat_item(anna, second).locator("a").click()
            await expect(anna.locator("#zaak-kop")).to_have_text(f"Zaak {second}")
            await anna.get_by_label("Aan collega").select_option(label="Bert Tester")
            await anna.get_by_label("Reden (de ontvanger leest die bij de notities)").fill(
                "Bert kent deze vraag."
            )
            await anna.get_by_role("button", name="Overdragen", exact=True).click()
            await expect(anna.locator(".melding")).to_have_text("Zaak is overgedragen aan uw collega.")
            await expect(anna.locator("#zaak-status")).to_contain_text("in behandeling bij Bert Tester")
            await expect(anna.locator("#tekst")).to_have_count(0)
            await expect(chat_item(anna, second)).to_have_count(0)
            await expect(chat_item(bert_inbox, second)).to_be_visible()
            await expect(bert_inbox.locator(".melding")).to_have_text(f"Zaak {second} is aan u overgedragen.")
            await fake_rasa.wait_for(
                lambda f: any(c.entities == {"naam": "Bert"} for c in f.intents("medewerker_gekoppeld")), 15
            )
            # A citizen message now counts for bert, in his tab title.
            await citizen_says(bot, second, "burger-2", "Hallo, is er iemand?")
            await expect(chat_item(bert_inbox, second).locator(".ongelezen")).to_have_text("1 ongelezen")
            await expect(bert_inbox).to_have_title("(1) Werkbak – Gemeente")
            await expect(anna).to_have_title("Werkbak – Gemeente")
            # The reason waits for him in the notes, with who wrote it.
            await chat_item(bert_inbox, second).locator("a").click()
            await expect(bert_inbox.locator("#notities")).to_contain_text(
                "Anna Tester: Reden van overdracht aan Bert Tester: Bert kent deze vraag."
            )
            await expect(bert_inbox).to_have_title("Werkbak – Gemeente")
            # Bert hands it to the team: his colleagues get a signal, the case is back in their queue.
            await bert_inbox.bring_to_front()
            await bert_inbox.get_by_label("Of aan team (terug in de wachtrij)").select_option(
                label="Inkomen en schulden"
            )
            await bert_inbox.get_by_role("button", name="Overdragen", exact=True).click()
            await expect(anna.locator(".melding")).to_have_text(
                f"Zaak {second} is overgedragen aan uw team en staat in de wachtrij."
            )
            await expect(anna.locator("#wachtrij-kort")).to_contain_text(second)
            await expect(chat_item(bert_inbox, second)).to_have_count(0)
            for page in (anna, bert_case, bert_inbox, tl_case):
                assert await not_reloaded(page)
            await assert_no_axe_violations(bert_inbox, "inbox of the receiving colleague")
            await assert_no_axe_violations(tl_case, "case page of the teamleider")
            await anna.screenshot(path=save_path("11-werkbak-na-overdracht"), full_page=True)
    assert errors == [], f"JavaScript errors: {errors}"


async def test_axe_reports_no_violations_on_any_workspace_page(
    browser: Browser, service: Service, fake_rasa: FakeRasa
) -> None:
    """Every page a casemanager or teamleider can open, in the states that have something on
    them: queue with an overdue follow-up task, inbox, case waiting / in progress / closed,
    audit log (all and one reference), erasure confirmation and its result, an error page."""
    await add_staff(service)
    errors: list[str] = []
    async with aiohttp.ClientSession(base_url=service.base_url, headers=BOT) as bot:
        first = await new_case(bot, "burger-1", urgent=True)
        second = await new_case(bot, "burger-2")
        async with logged_in(browser, service, "tineke") as tl_ctx:
            page = await open_page(tl_ctx, f"/zaken/{second}", errors)
            await assert_no_axe_violations(page, "waiting case (teamleider)")
            await page.goto("/werkbak")
            await page.locator("#wachtrij-kort").get_by_role("button", name=f"Oppakken {first}").click()
            await expect(page.locator("#zaak-kop")).to_have_text(f"Zaak {first}")
            await page.get_by_label("Datum").fill("2020-01-31")
            await page.get_by_label("Wat moet er gebeuren?").fill("Terugbellen over de regeling")
            await page.get_by_role("button", name="Nazorgtaak aanmaken").click()
            await expect(page.locator("#nazorg")).to_contain_text("31-01-2020: Terugbellen over de regeling")
            await assert_no_axe_violations(page, "inbox with a case in progress")
            await page.goto("/wachtrij")
            await expect(page.locator(".te-laat strong")).to_have_text("te laat")
            await assert_no_axe_violations(page, "queue with an overdue follow-up task")
            await page.goto(f"/zaken/{first}")
            await assert_no_axe_violations(page, "case in progress (case page)")
            await page.get_by_label("Soort uitkomst").select_option(label="Opgelost")
            await page.get_by_label("Uitkomst van het gesprek").fill("Regeling afgesproken")
            await page.get_by_role("button", name="Afronden en terug naar de chatbot").click()
            await expect(page.get_by_role("heading", name="Afgerond", exact=True)).to_be_visible()
            await assert_no_axe_violations(page, "closed case")
            await page.goto("/zoeken?uitkomst=opgelost")
            result = page.locator(f'#resultaten tr[data-reference="{first}"]')
            await expect(result).to_contain_text("Opgelost")
            await assert_no_axe_violations(page, "search results")
            for path, name in (
                ("/standaardteksten", "standard texts (teamleider)"),
                ("/lijnen", "professional-lines directory"),
                ("/lijnen?zoek=nasa", "directory without a result"),
                ("/overzicht", "teamleider overview"),
                ("/zoeken", "search form"),
                ("/audit", "audit log"),
                (f"/audit?referentie={first}", "audit log of one case"),
                (f"/zaken/{first}/verwijderen", "erasure confirmation"),
                ("/zaken/HV-ZZZZ", "error page (unknown case)"),
            ):
                await page.goto(path)
                await assert_no_axe_violations(page, name)
            await page.goto(f"/zaken/{first}/verwijderen")
            await page.get_by_label(f"Typ ter bevestiging het kenmerk over ({first})").fill(first)
            await page.get_by_role("button", name="Definitief verwijderen").click()
            await expect(page).to_have_title(f"Verwijderd – {first} – Gemeente")
            await assert_no_axe_violations(page, "erasure result")
    assert errors == [], f"JavaScript errors: {errors}"


async def test_correcting_the_topic_updates_the_professional_lines_live(
    browser: Browser, service: Service, fake_rasa: FakeRasa
) -> None:
    await add_staff(service)
    errors: list[str] = []
    async with aiohttp.ClientSession(base_url=service.base_url, headers=BOT) as bot:
        body = case_body("burger-1")
        body["summary"] |= {"topic": "cjib.betalingsregeling", "organisations": ["cjib"], "life_event": None}
        resp = await bot.post("/api/cases", json=body)
        ref = (await resp.json())["reference"]
        async with (
            logged_in(browser, service, "anna") as anna_ctx,
            logged_in(browser, service, "tineke") as tl_ctx,
        ):
            anna = await open_page(anna_ctx, "/werkbak", errors)
            queue = anna.locator("#wachtrij-kort")
            # Names, not ids, in the queue beside the chats.
            await expect(queue).to_contain_text("Een boete in delen betalen")
            await expect(queue).not_to_contain_text("cjib.betalingsregeling")
            await queue.get_by_role("button", name=f"Oppakken {ref}").click()
            await expect(anna.locator("#zaak-kop")).to_have_text(f"Zaak {ref}")
            await expect(chat_item(anna, ref)).to_contain_text("Een boete in delen betalen")
            await expect(anna.locator("#lijnen .org-naam")).to_have_text(["CJIB"])
            tl_case = await open_page(tl_ctx, f"/zaken/{ref}", errors)
            await expect(tl_case.locator("#lijnen .org-naam")).to_have_text(["CJIB"])

            await anna.locator("#tekst").press_sequentially("Een half antwoord")
            await anna.get_by_text("Onderwerp of organisaties aanpassen").click()
            await anna.get_by_label("Onderwerp", exact=True).select_option(label="Kinderbijslag aanvragen")
            await anna.get_by_label("CJIB").uncheck()
            await assert_no_axe_violations(anna, "inbox with the correction form open")
            await anna.get_by_role("button", name="Aanpassing opslaan").click()
            await expect(anna.locator(".melding")).to_have_text("Intake aangepast.")
            await expect(anna.locator("#intake-onderwerp")).to_have_text("Kinderbijslag aanvragen")
            await expect(anna.locator("#lijnen .org-naam")).to_have_text(["SVB"])
            # The form shows the new state, not what it held before it was sent.
            await expect(anna.get_by_label("CJIB")).not_to_be_checked()
            await expect(anna.get_by_label("SVB")).to_be_checked()
            await expect(anna.locator("#tekst")).to_have_value("Een half antwoord")
            await expect(chat_item(anna, ref)).to_contain_text("Kinderbijslag aanvragen")
            # The teamleider's open page follows, without a reload.
            await expect(tl_case.locator("#intake-onderwerp")).to_have_text("Kinderbijslag aanvragen")
            await expect(tl_case.locator("#lijnen .org-naam")).to_have_text(["SVB"])
            await expect(tl_case.locator("#historie")).to_contain_text("intake aangepast")
            assert await not_reloaded(anna) and await not_reloaded(tl_case)
    assert errors == [], f"JavaScript errors: {errors}"


async def test_the_teamleiders_overview_follows_claims_live(
    browser: Browser, service: Service, fake_rasa: FakeRasa
) -> None:
    await add_staff(service)
    errors: list[str] = []
    async with aiohttp.ClientSession(base_url=service.base_url, headers=BOT) as bot:
        ref = await new_case(bot, "burger-1", topic="gemeente.schuldhulp")
        async with (
            logged_in(browser, service, "tineke") as tl_ctx,
            logged_in(browser, service, "anna") as anna_ctx,
        ):
            overview = await open_page(tl_ctx, "/overzicht", errors)
            row = overview.locator(f'#overzicht tr[data-reference="{ref}"]')
            await expect(row).to_contain_text("Hulp bij schulden")
            await expect(overview.locator("#overzicht")).to_contain_text("In de wachtrij: 1")
            await assert_no_axe_violations(overview, "teamleider overview")
            anna = await open_page(anna_ctx, "/werkbak", errors)
            await anna.locator("#wachtrij-kort").get_by_role("button", name=f"Oppakken {ref}").click()
            await expect(row).to_contain_text("Anna Tester")
            await expect(overview.locator("#overzicht")).to_contain_text("In behandeling: 1")
            await expect(overview.locator("#overzicht")).to_contain_text("In de wachtrij: 0")
            assert await not_reloaded(overview)
            await assert_no_axe_violations(overview, "teamleider overview with a case in progress")
    assert errors == [], f"JavaScript errors: {errors}"
