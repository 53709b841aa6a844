"""The insight dashboard in Chromium: axe finds nothing, the charts load under the real CSP, and
every chart has its data table."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from playwright.async_api import Browser, expect

from handover.db import make_engine, make_sessionmaker
from handover.models import InsightCount, Role, utcnow
from tests.browser.conftest import Service, save_path
from tests.browser.test_workspace_browser import TIMEOUT_MS, assert_no_axe_violations
from tests.conftest import PASSWORD, add_user

COUNTS = {
    "gesprek:": 23,
    "kanaal:website": 17,
    "kanaal:whatsapp": 6,
    "taal:nl": 15,
    "taal:en": 5,
    "onderwerp:digid.hulp": 9,
    "onderwerp:gemeente.bijstand": 6,
    "onderwerp:gemeente.energietoeslag": 2,
    "vraagtype:1": 12,
    "vraagtype:2": 6,
    "uitkomst:opgelost": 8,
    "uitkomst:overgedragen": 7,
    "uitkomst:afgebroken": 5,
    "knoop:digid_start": 9,
    "verlaten:digid_start": 5,
    "past_niet:digid_start": 1,
    "berichten:": 80,
    "niet_begrepen:": 8,
    "urgent:": 5,
}


async def test_the_dashboard_is_accessible_and_its_charts_load_under_the_csp(
    browser: Browser, service: Service
) -> None:
    engine = make_engine(service.database_url)
    try:
        sm = make_sessionmaker(engine)
        await add_user(sm, "tineke", first_name="Tineke", role=Role.TEAMLEIDER)
        today = utcnow().astimezone(ZoneInfo("Europe/Amsterdam")).date()
        async with sm() as session, session.begin():
            for key, n in COUNTS.items():
                measure, _, value = key.partition(":")
                session.add(
                    InsightCount(day=today - dt.timedelta(days=1), measure=measure, value=value, count=n)
                )
    finally:
        await engine.dispose()

    errors: list[str] = []
    for bypass in (True, False):  # axe needs its script injected; then the real CSP
        context = await browser.new_context(base_url=service.base_url, bypass_csp=bypass, locale="nl-NL")
        context.set_default_timeout(TIMEOUT_MS)
        page = await context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        # Every answer for the page, its styles and charts succeeds (the browser's own favicon aside).
        page.on(
            "response",
            lambda r: (
                errors.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico")
                else None
            ),
        )
        await page.goto("/inzicht")
        await page.fill("#username", "tineke")
        await page.fill("#password", PASSWORD)
        await page.press("#password", "Enter")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Inzicht")
        topics = page.locator('section[data-groep="onderwerp"] table')
        await expect(topics.locator('tr[data-sleutel="digid.hulp"] td').first).to_have_text("9")
        # energietoeslag (2) is hidden, and so is the next smallest, bijstand (6).
        await expect(topics.locator('tr[data-sleutel="gemeente.energietoeslag"] td').first).to_have_text(
            "verborgen"
        )
        await expect(topics.locator('tr[data-sleutel="gemeente.bijstand"] td').first).to_have_text(
            "verborgen"
        )
        images = page.locator("section.inzicht img")
        assert await images.count() == await page.locator("section.inzicht figure + table").count() == 8
        for i in range(await images.count()):
            image = images.nth(i)
            await image.scroll_into_view_if_needed()
            await expect(image).to_have_js_property("complete", True)
            assert await image.evaluate("img => img.naturalWidth") > 0, await image.get_attribute("src")
        if bypass:
            await assert_no_axe_violations(page, "inzicht")
            await page.screenshot(path=save_path("inzicht"), full_page=True)
        assert errors == [], errors
        await context.close()
