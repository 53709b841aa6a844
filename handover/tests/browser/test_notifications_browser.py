"""Browser notifications and sound, and a corrected topic that moves the case to another team, in
Chromium against the real service process.

Notifications: the permission is granted in the browser context; ``window.Notification`` and the
Web Audio oscillator are spied on, and ``document.visibilityState`` is steered, by an init
script. Off by default; when the casemanager turns them on (stored on the server with the user),
a citizen's message in a chat that is not open, or in any chat while the tab is hidden, and a
case handed to them raise a notification that names only the case reference, with a short
tone; the open chat in a visible tab does not; turned off, nothing fires. Every wait is on a
condition, never a fixed sleep.
"""

from __future__ import annotations

import aiohttp
from playwright.async_api import Browser, Page, expect

from handover.db import make_engine, make_sessionmaker
from tests.browser.conftest import Service, save_path
from tests.browser.test_live_inbox import (
    add_staff,
    chat_item,
    citizen_says,
    logged_in,
    new_case,
    not_reloaded,
    open_page,
)
from tests.browser.test_workspace_browser import assert_no_axe_violations
from tests.conftest import BOT, FakeRasa, add_user

SPY = """
(() => {
  window.__meldingen = [];
  window.__geluiden = 0;
  const Real = window.Notification;
  function Spy(title, options) {
    window.__meldingen.push({title: String(title), body: String((options || {}).body || ""),
                             tag: String((options || {}).tag || "")});
    try { return new Real(title, options); } catch (e) { return {close() {}}; }
  }
  Object.defineProperty(Spy, "permission", {get: () => Real.permission});
  Spy.requestPermission = (...args) => Real.requestPermission(...args);
  window.Notification = Spy;
  const start = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function (...args) {
    window.__geluiden++;
    return start.apply(this, args);
  };
  window.__verborgen = false;
  Object.defineProperty(Document.prototype, "visibilityState",
    {configurable: true, get() { return window.__verborgen ? "hidden" : "visible"; }});
  Object.defineProperty(Document.prototype, "hidden",
    {configurable: true, get() { return window.__verborgen; }});
})();
"""


async def notifications(page: Page) -> list[dict[str, str]]:
    found: list[dict[str, str]] = await page.evaluate("() => window.__meldingen")
    return found


async def tones(page: Page) -> int:
    return int(await page.evaluate("() => window.__geluiden"))


async def test_notifications_fire_when_on_and_not_when_off(
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
        ):
            await anna_ctx.grant_permissions(["notifications"], origin=service.base_url)
            await anna_ctx.add_init_script(SPY)
            anna = await open_page(anna_ctx, "/werkbak", errors)
            assert await anna.evaluate("() => Notification.permission") == "granted"
            # Off by default.
            await expect(anna.locator("body")).to_have_attribute("data-meldingen", "uit")
            await anna.get_by_text("Meldingen en geluid").click()
            await expect(anna.get_by_label("Melding van de browser", exact=False)).not_to_be_checked()
            await expect(anna.get_by_label("Kort geluid", exact=False)).not_to_be_checked()
            for ref in (first, second):
                await anna.locator("#wachtrij-kort").get_by_role("button", name=f"Oppakken {ref}").click()
                await expect(anna.locator("#zaak-kop")).to_have_text(f"Zaak {ref}")

            # --- off: a message in the background chat raises the count, but nothing fires -------
            await citizen_says(bot, first, "burger-1", "Mijn buurman Jan de Vries helpt mij.")
            await expect(chat_item(anna, first).locator(".ongelezen")).to_have_text("1 ongelezen")
            assert await notifications(anna) == [] and await tones(anna) == 0

            # --- on: stored on the server, so it holds after a reload ----------------------------
            await anna.get_by_label("Melding van de browser", exact=False).check()
            await expect(anna.locator("#meldingen-status")).to_have_text("Meldingen staan aan.")
            await anna.get_by_label("Kort geluid", exact=False).check()
            await expect(anna.locator("#meldingen-status")).to_have_text("Geluid staat aan.")
            await assert_no_axe_violations(anna, "inbox with the notification settings open")
            await anna.reload()
            await expect(anna.locator("body")).to_have_attribute("data-live", "open")
            await expect(anna.locator("body")).to_have_attribute("data-meldingen", "aan")
            await expect(anna.locator("body")).to_have_attribute("data-geluid", "aan")
            await anna.get_by_text("Meldingen en geluid").click()
            await expect(anna.get_by_label("Melding van de browser", exact=False)).to_be_checked()
            await anna.evaluate("() => { window.__zelfdePagina = true; }")
            await expect(anna.locator("#zaak-kop")).to_have_text(f"Zaak {second}")
            await anna.locator("#tekst").click()  # a user action: the page may now play sound

            # A message in a chat that is not open: one notification, only the reference.
            await citizen_says(bot, first, "burger-1", "Mijn BSN is 123456782, bel me op 0612345678.")
            await anna.wait_for_function("() => window.__meldingen.length === 1")
            shown = (await notifications(anna))[0]
            assert shown == {
                "title": "Werkplek casemanager",
                "body": f"Nieuw bericht in zaak {first}",
                "tag": f"werkplek-{first}",
            }
            assert await tones(anna) == 1

            # The open chat in a visible tab: she reads it there, nothing fires.
            await citizen_says(bot, second, "burger-2", "Dank u voor uw hulp.")
            await expect(anna.locator("#transcript li.citizen").last).to_contain_text("Dank u voor uw hulp.")
            assert len(await notifications(anna)) == 1 and await tones(anna) == 1

            # The same chat while the tab is hidden: it fires.
            await anna.evaluate(
                "() => { window.__verborgen = true; document.dispatchEvent(new Event('visibilitychange')); }"
            )
            await citizen_says(bot, second, "burger-2", "Bent u er nog?")
            await anna.wait_for_function("() => window.__meldingen.length === 2")
            assert (await notifications(anna))[1]["body"] == f"Nieuw bericht in zaak {second}"
            await anna.evaluate(
                "() => { window.__verborgen = false; document.dispatchEvent(new Event('visibilitychange')); }"
            )

            # A case a colleague hands to her.
            bert = await open_page(bert_ctx, "/werkbak", errors)
            await bert.locator("#wachtrij-kort").get_by_role("button", name=f"Oppakken {third}").click()
            await expect(bert.locator("#zaak-kop")).to_have_text(f"Zaak {third}")
            await bert.get_by_label("Aan collega").select_option(label="Anna Tester")
            await bert.get_by_role("button", name="Overdragen", exact=True).click()
            await anna.wait_for_function("() => window.__meldingen.length === 3")
            assert (await notifications(anna))[2]["body"] == f"Zaak {third} is aan u overgedragen"
            await expect(chat_item(anna, third)).to_be_visible()
            # Nothing in any notification but the reference: no names, numbers or message text.
            for note in await notifications(anna):
                assert "Jan" not in note["body"] and "BSN" not in note["body"] and "06" not in note["body"]
            await anna.screenshot(path=save_path("12-werkbak-meldingen"), full_page=True)

            # --- off again: nothing fires ------------------------------------------------------
            await anna.get_by_label("Melding van de browser", exact=False).uncheck()
            await expect(anna.locator("#meldingen-status")).to_have_text("Meldingen staan uit.")
            await anna.get_by_label("Kort geluid", exact=False).uncheck()
            await expect(anna.locator("#meldingen-status")).to_have_text("Geluid staat uit.")
            before = await tones(anna)
            await citizen_says(bot, first, "burger-1", "Hallo?")
            await expect(chat_item(anna, first).locator(".ongelezen")).to_have_text("3 ongelezen")
            assert len(await notifications(anna)) == 3 and await tones(anna) == before
            assert await not_reloaded(anna)
    assert errors == [], f"JavaScript errors: {errors}"


async def test_a_corrected_topic_of_another_team_moves_the_case_there_live(
    browser: Browser, service: Service, fake_rasa: FakeRasa
) -> None:
    """anna (Inkomen en schulden) corrects the topic to one of team Zorg: she does not work there,
    so the case goes to Zorg's queue; zoe's (Zorg) inbox shows it at once with a message, and it
    leaves anna's chats and her team's queue."""
    engine = make_engine(service.database_url)
    try:
        await add_user(make_sessionmaker(engine), "zoe", first_name="Zoe", teams=["zorg"])
    finally:
        await engine.dispose()
    errors: list[str] = []
    async with aiohttp.ClientSession(base_url=service.base_url, headers=BOT) as bot:
        ref = await new_case(bot, "burger-1", topic="cjib.betalingsregeling", organisations=["cjib"])
        async with (
            logged_in(browser, service, "anna") as anna_ctx,
            logged_in(browser, service, "zoe") as zoe_ctx,
        ):
            anna = await open_page(anna_ctx, "/werkbak", errors)
            zoe = await open_page(zoe_ctx, "/werkbak", errors)
            await expect(zoe.locator("#wachtrij-kort")).to_contain_text("Geen wachtende zaken.")
            await anna.locator("#wachtrij-kort").get_by_role("button", name=f"Oppakken {ref}").click()
            await expect(anna.locator("#zaak-kop")).to_have_text(f"Zaak {ref}")
            await anna.locator("#tekst").press_sequentially("Een half antwoord")

            await anna.get_by_text("Onderwerp of organisaties aanpassen").click()
            await expect(anna.locator("#onderwerp-team-uitleg")).to_contain_text(
                "Werkt de behandelaar niet in dat team"
            )
            await anna.get_by_label("Onderwerp", exact=True).select_option(
                label="Wat u zelf betaalt voor zorg"
            )
            await anna.get_by_role("button", name="Aanpassing opslaan").click()
            await expect(anna.locator(".melding")).to_have_text(
                "Intake aangepast. Dit onderwerp hoort bij team Zorg en ondersteuning. U werkt niet in dat "
                "team, dus de zaak staat nu in hun wachtrij. "
                "U kunt de inwoner in deze zaak niet meer schrijven."
            )
            await expect(anna.locator("#zaak-status")).to_contain_text("wachtend")
            await expect(anna.locator("#zaak-status")).to_contain_text("team Zorg en ondersteuning")
            await expect(anna.locator("#tekst")).to_have_count(0)
            await expect(chat_item(anna, ref)).to_have_count(0)
            await expect(anna.locator("#wachtrij-kort")).not_to_contain_text(ref)

            # The receiving team's page, live: a message and the case in its queue.
            await expect(zoe.locator(".melding")).to_have_text(
                f"Zaak {ref} hoort na een aanpassing van het onderwerp bij uw team en staat in de wachtrij."
            )
            queued = zoe.locator("#wachtrij-kort").locator(f'li[data-reference="{ref}"]')
            await expect(queued).to_contain_text("Wat u zelf betaalt voor zorg")
            assert await not_reloaded(anna) and await not_reloaded(zoe)
            await assert_no_axe_violations(anna, "inbox after the case moved to another team")
            await assert_no_axe_violations(zoe, "inbox of the receiving team")
            # zoe takes it; the draft anna kept is hers alone (in her browser), not zoe's.
            await queued.get_by_role("button", name=f"Oppakken {ref}").click()
            await expect(zoe.locator("#zaak-kop")).to_have_text(f"Zaak {ref}")
            await expect(zoe.locator("#tekst")).to_have_value("")
            await expect(zoe.locator("#historie")).to_contain_text("naar team zorg: onderwerp aangepast")
    assert errors == [], f"JavaScript errors: {errors}"
