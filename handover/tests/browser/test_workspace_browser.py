"""The casemanager workspace in a real browser (Debian's Chromium through Playwright).

One casemanager's whole path against the real service process: log in and claim with the
keyboard only, chat over the WebSocket, see a citizen message arrive live, close the case.
The fake Rasa checks what the citizen would receive; axe-core checks the login, queue and
case pages; screenshots go to handover/var/artifacts/.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import AXE_JS, Service, save_path
from tests.conftest import BOT, PASSWORD, FakeRasa, case_body

TIMEOUT_MS = 15_000


async def assert_no_axe_violations(page: Page, name: str) -> None:
    """Run axe-core (all rules axe enables by default: WCAG 2 A/AA and best practices)."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE_JS))
    violations: list[dict[str, Any]] = await page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target, summary: n.failureSummary})),
            }));
        }"""
    )
    assert violations == [], f"axe found violations on the {name} page:\n" + json.dumps(
        violations, indent=2, ensure_ascii=False
    )


async def focused(page: Page) -> str:
    """A short description of the focused element: tag#id, else tag[action of its form]."""
    return str(
        await page.evaluate(
            """() => {
                const el = document.activeElement;
                if (!el) return "";
                const form = el.form ? `[${el.form.getAttribute("action")}]` : "";
                return el.tagName.toLowerCase() + (el.id ? "#" + el.id : form);
            }"""
        )
    )


async def tab_to(page: Page, wanted: str, max_presses: int = 40) -> None:
    """Press Tab until ``focused(page) == wanted``; fails if the element is not reachable."""
    seen = []
    for _ in range(max_presses):
        await page.keyboard.press("Tab")
        now = await focused(page)
        seen.append(now)
        if now == wanted:
            # The focus style must be visible for keyboard users.
            outline = await page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none", f"{wanted} has no visible focus outline"
            return
    raise AssertionError(f"{wanted} not reachable with Tab; focus went through {seen}")


async def test_casemanager_main_path_in_chromium(
    browser: Browser, service: Service, fake_rasa: FakeRasa
) -> None:
    base = service.base_url
    async with aiohttp.ClientSession(base_url=base, headers=BOT) as bot:
        resp = await bot.post("/api/cases", json=case_body("burger-1", channel="whatsapp"))
        assert resp.status == 201, await resp.text()
        ref = (await resp.json())["reference"]

        # bypass_csp only so that axe can be injected; the end of this test loads the pages
        # again in a context that enforces the real Content-Security-Policy.
        context = await browser.new_context(base_url=base, bypass_csp=True, locale="nl-NL")
        context.set_default_timeout(TIMEOUT_MS)
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))

        # --- login, keyboard only (a wrong password first) ------------------------------------
        await page.goto("/wachtrij")
        await expect(page).to_have_url(f"{base}/login?next=/wachtrij")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Inloggen")
        await assert_no_axe_violations(page, "login")
        await page.screenshot(path=save_path("01-login"), full_page=True)
        for password in ("verkeerd wachtwoord", PASSWORD):
            assert await focused(page) == "input#username", "the username field should have autofocus"
            await page.keyboard.type("anna")
            await page.keyboard.press("Tab")
            assert await focused(page) == "input#password"
            await page.keyboard.type(password)
            await page.keyboard.press("Enter")
            if password != PASSWORD:
                await expect(page.get_by_role("alert")).to_have_text("Onjuiste gebruikersnaam of wachtwoord.")
                await assert_no_axe_violations(page, "failed login")

        # --- the queue shows the case; a new case appears live --------------------------
        await expect(page).to_have_url(f"{base}/wachtrij")
        queue = page.locator("#wachtrij")
        await expect(queue.get_by_role("link", name=ref)).to_be_visible()
        await expect(page.locator("body")).to_have_attribute("data-live", "open")
        urgent = {"topic": "schulden", "organisations": ["cjib"], "urgent": True}
        resp = await bot.post("/api/cases", json=case_body("burger-2", summary=urgent))
        assert resp.status == 201
        second = (await resp.json())["reference"]
        await expect(page.locator("#wachtrij").get_by_role("link", name=second)).to_be_visible()
        await assert_no_axe_violations(page, "queue")
        await page.screenshot(path=save_path("02-wachtrij"), full_page=True)

        # --- claim, keyboard only: skip link, then Tab to this case's button ----------------
        await page.keyboard.press("Tab")
        assert await focused(page) == "a", "the first Tab stop should be the skip link"
        await expect(page.locator(".skip-link")).to_be_in_viewport()
        await page.keyboard.press("Enter")
        assert await focused(page) == "main#inhoud"
        await tab_to(page, f"button[/zaken/{ref}/claim]")
        await page.keyboard.press("Enter")
        await expect(page).to_have_url(f"{base}/zaken/{ref}?melding=Zaak+is+nu+van+u.")
        await expect(page.get_by_role("heading", level=1)).to_have_text(f"Zaak {ref}")
        await expect(page.locator(".melding")).to_have_text("Zaak is nu van u.")
        await fake_rasa.wait_for(lambda f: bool(f.intents("medewerker_gekoppeld")), timeout=10)
        linked = fake_rasa.intents("medewerker_gekoppeld")[0]
        assert (linked.sender_id, linked.output_channel, linked.entities) == (
            "burger-1",
            "whatsapp",
            {"naam": "Anna"},
        )

        # --- chat over the WebSocket -----------------------------------------------------
        await expect(page.locator("body")).to_have_attribute("data-live", "open")
        await page.get_by_label("Bericht aan de burger").fill("Goedemorgen, u spreekt met Anna.")
        await page.get_by_role("button", name="Versturen").click()
        await expect(page.locator("#chat-status")).to_have_text("Verstuurd")  # not the POST fallback
        await expect(page.get_by_label("Bericht aan de burger")).to_have_value("")
        await fake_rasa.wait_for(lambda f: bool(f.intents("medewerker_bericht")), timeout=10)
        sent = fake_rasa.intents("medewerker_bericht")[0]
        assert (sent.sender_id, sent.output_channel, sent.token, sent.entities) == (
            "burger-1",
            "whatsapp",
            "rasa-token",
            {
                "tekst": "Goedemorgen, u spreekt met Anna.",
                "naam": "Anna",
                "bericht_id": sent.entities["bericht_id"],
            },
        )
        assert sent.entities["bericht_id"].isdigit()
        transcript = page.locator("#transcript")
        await expect(transcript.locator("li.casemanager")).to_contain_text("Goedemorgen, u spreekt met Anna.")

        # --- a citizen message arrives live -----------------------------------------------
        resp = await bot.post(
            f"/api/cases/{ref}/messages", json={"sender_id": "burger-1", "text": "Het gaat om een boete."}
        )
        assert resp.status == 202
        await expect(transcript.locator("li.citizen").last).to_contain_text("Het gaat om een boete.")
        await expect(page.locator("#live-status")).to_have_text("Nieuw bericht van de burger")
        live_time = await transcript.locator("li.citizen time").last.inner_text()
        await assert_no_axe_violations(page, "case")
        await page.screenshot(path=save_path("03-zaak-gesprek"), full_page=True)

        # --- close with an outcome: the citizen goes back to the bot ---------------------------
        await page.get_by_label("Uitkomst van het gesprek").fill("Betalingsregeling besproken")
        await page.get_by_label("Afspraken / vervolgstappen").fill("U belt maandag het CJIB.")
        await page.get_by_role("button", name="Afronden en terug naar de chatbot").click()
        await expect(page.locator(".melding")).to_contain_text("Zaak is afgerond")
        await expect(page.get_by_role("heading", name="Afgerond", exact=True)).to_be_visible()
        # Server-rendered now: the live message showed the same time in the same format.
        assert await transcript.locator("li.citizen time").last.inner_text() == live_time
        await fake_rasa.wait_for(lambda f: bool(f.intents("terug_naar_bot")), timeout=10)
        back = fake_rasa.intents("terug_naar_bot")[0]
        assert (back.sender_id, back.output_channel, back.entities) == (
            "burger-1",
            "whatsapp",
            {"referentie": ref, "afspraken": "U belt maandag het CJIB."},
        )
        await assert_no_axe_violations(page, "closed case")
        await page.screenshot(path=save_path("04-zaak-afgerond"), full_page=True)
        status = await (await bot.get(f"/api/status/{ref}")).json()
        assert status == {"reference": ref, "status": "afgerond"}

        # --- the page scripts run under the real Content-Security-Policy -------------------------
        strict = await browser.new_context(
            base_url=base, storage_state=await context.storage_state(), locale="nl-NL"
        )
        strict.set_default_timeout(TIMEOUT_MS)
        csp_page = await strict.new_page()
        console: list[str] = []
        csp_page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
        csp_page.on("pageerror", lambda e: errors.append(str(e)))
        for path in ("/wachtrij", f"/zaken/{second}"):
            await csp_page.goto(path)
            await expect(csp_page.locator("body")).to_have_attribute("data-live", "open")
        assert console == [], f"console errors under the CSP: {console}"
        await strict.close()

        assert errors == [], f"JavaScript errors: {errors}"
        await context.close()
