"""The insight dashboard (/inzicht, /api/inzicht, CSV, charts): teamleiders only, small cells
suppressed so nothing can be worked out by subtraction, same numbers in every format."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import update

from handover.app import PAGE_CSP
from handover.insight.figures import rounded_total, suppress
from handover.keys import sessionmaker_key
from handover.models import Case, InsightCount, Role, utcnow
from tests.api.test_api import create_case, login
from tests.conftest import add_user

Client = TestClient[Any, Any]
TODAY = utcnow().astimezone(ZoneInfo("Europe/Amsterdam")).date()


def test_one_small_cell_takes_the_smallest_other_with_it() -> None:
    assert suppress({"a": 9, "b": 3, "c": 20}) == {"a": None, "b": None, "c": 20}
    assert suppress({"a": 2, "b": 1, "c": 20}) == {"a": None, "b": None, "c": 20}  # two hidden: enough
    assert suppress({"a": 7, "b": 0}) == {"a": 7, "b": 0}
    assert suppress({"a": 3, "b": 0}) == {"a": None, "b": 0}  # and its total (3) is hidden too
    assert [rounded_total(n) for n in (0, 4, 5, 7, 8, 12, 13)] == [None, None, 5, 5, 10, 10, 15]


async def _counts(client: Client, day: dt.date, counts: dict[str, int]) -> None:
    async with client.app[sessionmaker_key]() as session, session.begin():
        for key, n in counts.items():
            measure, _, value = key.partition(":")
            session.add(InsightCount(day=day, measure=measure, value=value, count=n))


async def test_only_a_teamleider_sees_it(client: Client) -> None:
    sm = client.app[sessionmaker_key]
    assert (await client.get("/api/inzicht", headers={"Accept": "application/json"})).status == 401
    assert (await client.get("/inzicht")).url.path == "/login"
    await add_user(sm, "anna", teams=["inkomen_schulden"])
    await login(client, "anna")
    for path in ("/inzicht", "/api/inzicht", "/inzicht.csv", "/inzicht/grafiek/kanaal.svg"):
        assert (await client.get(path)).status == 403, path


async def test_figures_are_suppressed_alike_in_page_json_csv_and_chart(client: Client) -> None:
    sm = client.app[sessionmaker_key]
    await add_user(sm, "tineke", role=Role.TEAMLEIDER)
    yesterday = TODAY - dt.timedelta(days=1)
    await _counts(
        client,
        TODAY,
        {
            "gesprek:": 8,
            "kanaal:website": 6,
            "kanaal:whatsapp": 2,
            "onderwerp:digid.hulp": 6,
            "vraagtype:1": 5,
            "berichten:": 40,
            "niet_begrepen:": 6,
            "knoop:digid_start": 7,
            "verlaten:digid_start": 3,
        },
    )
    await _counts(client, yesterday, {"gesprek:": 4, "kanaal:website": 4, "onderwerp:digid.hulp": 1})
    # Six chats for one team, claimed after 2..7 minutes: p50 and p90 of the wait can be shown.
    for i in range(6):
        ref = (await create_case(client, f"burger-{i}"))["reference"]
        created = utcnow() - dt.timedelta(minutes=30)
        async with sm() as session, session.begin():
            await session.execute(
                update(Case)
                .where(Case.reference == ref)
                .values(created_at=created, claimed_at=created + dt.timedelta(minutes=2 + i))
            )
    await login(client, "tineke")

    data = await (await client.get("/api/inzicht")).json()
    groups = data["groepen"]
    per_day = {c["sleutel"]: c["aantal"] for c in groups["per_dag"]["cellen"]}
    # Yesterday's 4 is hidden, and today's 8 with it: the total (12 -> 10) gives neither away.
    assert per_day[yesterday.isoformat()] is None and per_day[TODAY.isoformat()] is None
    assert groups["per_dag"]["totaal"] == 10
    channels = {c["sleutel"]: c["aantal"] for c in groups["kanaal"]["cellen"]}
    # whatsapp (2) is hidden, and website (10) with it: else the total would give whatsapp away.
    assert channels == {"website": None, "whatsapp": None}
    topics = {c["sleutel"]: c for c in groups["onderwerp"]["cellen"]}
    assert topics["digid.hulp"]["aantal"] == 7 and topics["digid.hulp"]["aandeel_balie_pct"] == 29
    assert (
        topics["gemeente.bijstand"]["aantal"] == 0 and topics["gemeente.bijstand"]["aandeel_balie_pct"] == 18
    )
    assert data["niet_begrepen_pct"] == 15
    assert data["stroomschema"] == [{"knoop": "digid_start", "bereikt": 7, "verlaten": None, "past_niet": 0}]
    team = data["teams"][0]
    assert team["chats"] == 6 and team["wachttijd_p50_min"] == 4.5 and team["wachttijd_p90_min"] == 6.5

    page = await client.get("/inzicht")
    assert page.headers["Content-Security-Policy"] == PAGE_CSP
    html = await page.text()
    assert (
        '<tr data-sleutel="whatsapp"><th scope="row">whatsapp</th><td class="aantal">verborgen</td>' in html
    )
    assert 'src="/inzicht/grafiek/onderwerp.svg?van=' in html

    rows = list(csv.reader(io.StringIO(await (await client.get("/inzicht.csv")).text())))
    assert ["kanaal", "whatsapp", "whatsapp", "verborgen", "", ""] in rows
    assert ["onderwerp", "digid.hulp", "Hulp bij DigiD", "7", "58", "29"] in rows
    assert ["kanaal", "totaal", "totaal (afgerond op 5)", "10", "", ""] in rows

    chart = await client.get("/inzicht/grafiek/onderwerp.svg")
    assert chart.content_type == "image/svg+xml"
    svg = await chart.text()
    assert "<script" not in svg and "Hulp bij DigiD" in svg
    assert (await client.get("/inzicht/grafiek/bestaat_niet.svg")).status == 404


@pytest.mark.parametrize(
    "query",
    [
        "van=gisteren",
        "van=2026-12-05&tot=2026-12-01",
        "van=2020-01-01&tot=2026-12-01",
        "van=0001-01-01&tot=0001-01-02",
        "van=9999-12-30&tot=9999-12-31",
        "tot=0001-01-01",  # found by the OpenAPI fuzzer: 30 days before it is no date (was a 500)
    ],
)
async def test_a_bad_period_gets_a_dutch_answer(client: Client, query: str) -> None:
    await add_user(client.app[sessionmaker_key], "tineke", role=Role.TEAMLEIDER)
    await login(client, "tineke")
    resp = await client.get(f"/api/inzicht?{query}")
    assert resp.status == 400
    assert (await resp.json())["detail"].startswith(("Geef", "De einddatum", "Kies"))
    assert (await client.get(f"/inzicht/grafiek/kanaal.svg?{query}")).status == 400
    assert (await client.get(f"/inzicht?{query}")).status == 400
