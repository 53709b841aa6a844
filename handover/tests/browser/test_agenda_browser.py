"""The agenda and the appointment page in Chromium against the real service process: a
casemanager publishes a slot, the bot books it for a citizen, the casemanager opens the
appointment from the agenda and fills in the checklist. axe-core finds no violations."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import aiohttp
from playwright.async_api import Browser, expect

from tests.browser.conftest import Service, save_path
from tests.browser.test_workspace_browser import TIMEOUT_MS, assert_no_axe_violations
from tests.conftest import BOT, PASSWORD, FakeRasa, case_body

ZONE = ZoneInfo("Europe/Amsterdam")


async def test_agenda_and_appointment_page_in_chromium(
    browser: Browser, service: Service, fake_rasa: FakeRasa
) -> None:
    base = service.base_url
    tomorrow = dt.datetime.now(ZONE).date() + dt.timedelta(days=1)
    context = await browser.new_context(base_url=base, bypass_csp=True, locale="nl-NL")
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    await page.goto("/login?next=/agenda")
    await page.get_by_label("Gebruikersnaam").fill("anna")
    await page.get_by_label("Wachtwoord").fill(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{base}/agenda")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Agenda: mijn afspraken")
    await assert_no_axe_violations(page, "empty agenda")

    # --- publish a slot by phone, for the CJIB -------------------------------------------------
    await page.get_by_label("Datum").fill(tomorrow.isoformat())
    await page.get_by_label("Begintijd").fill("10:00")
    await page.get_by_label("Soort afspraak").select_option("telefoon")
    await page.get_by_label("Alleen voor deze organisatie").select_option("cjib")
    await page.get_by_role("button", name="Publiceren").click()
    await expect(page.get_by_role("status").first).to_have_text("Tijdslot gepubliceerd.")
    await expect(page.locator("#agenda tbody tr")).to_have_count(1)
    await expect(page.locator("#agenda tbody tr").first).to_contain_text("Vrij")

    # --- the bot books it for a citizen ---------------------------------------------------------
    async with aiohttp.ClientSession(base_url=base, headers=BOT) as bot:
        assert (await bot.post("/api/cases", json=case_body("burger-1", channel="whatsapp"))).status == 201
        slots = (await (await bot.get("/api/appointments/slots", params={"organisation": "cjib"})).json())[
            "slots"
        ]
        assert len(slots) == 1
        resp = await bot.post(
            "/api/conversations/whatsapp/burger-1/appointments", json={"slot_id": slots[0]["id"]}
        )
        assert resp.status == 201, await resp.text()
        reference = (await resp.json())["reference"]

    await page.goto("/agenda?periode=week")
    row = page.locator(f"#agenda tr[data-reference='{reference}']")
    await expect(row).to_contain_text("Gepland")
    await assert_no_axe_violations(page, "agenda")
    await page.screenshot(path=save_path("agenda-01-week"), full_page=True)

    # --- the appointment page: intake, professional lines, checklist ---------------------------
    await row.get_by_role("link", name=reference).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Afspraak {reference}")
    await expect(page.get_by_role("heading", name="CJIB")).to_be_visible()
    await assert_no_axe_violations(page, "appointment")
    await page.get_by_label("Ja").first.check()
    await page.get_by_label("Soort identiteitsbewijs").select_option("identiteitskaart")
    await page.locator("#aanwezig-ja").check()
    await page.get_by_label("Uitkomst bij CJIB").fill("Betalingsregeling afgesproken")
    await page.get_by_role("button", name="Checklist opslaan").click()
    await expect(page.get_by_role("status").first).to_have_text("Checklist opgeslagen.")
    await expect(page.locator("#afspraak-status")).to_have_text("Gehouden")
    await expect(page.get_by_label("Uitkomst bij CJIB")).to_have_value("Betalingsregeling afgesproken")
    await assert_no_axe_violations(page, "appointment after the checklist")
    await page.screenshot(path=save_path("agenda-02-afspraak"), full_page=True)
    assert errors == []
    await context.close()
