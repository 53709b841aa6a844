"""Readable, correctable cases (SQLite and PostgreSQL): names instead of ids for topics, life
events and organisations; only the organisations the citizen agreed to in the queue, the case and
the professional lines; the casemanager corrects topic and organisations (audited, in the
history, live), and the professional lines follow."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from handover.keys import sessionmaker_key
from handover.models import AuditEntry
from handover.settings import default_contacts_file
from tests.api.test_api import _next_event, client_factory, create_case, login
from tests.api.test_inbox import second_browser
from tests.conftest import add_user

Client = TestClient[Any, Any]
__all__ = ["client_factory"]  # the fixture, used here too
JSON = {"Accept": "application/json"}


def lines_of(page: str) -> list[str]:
    """The organisation headings under "Professionele lijnen"."""
    section = page.split('id="lijnen-kop"', 1)[1].split("</section>", 1)[0]
    return re.findall(r"<h3 class=\"org-naam\">([^<]+)</h3>", section)


async def test_names_not_ids_and_only_consented_organisations(client: Client) -> None:
    await add_user(client.app[sessionmaker_key], "anna", first_name="Anna", teams=["inkomen_schulden"])
    await login(client, "anna")
    summary = {
        "topic": "cjib.betalingsregeling",
        "organisations": ["cjib", "svb"],
        "life_event": "overlijden_naaste",
        "question_type": 2,
    }
    ref = (await create_case(client, "burger-1", summary=summary, consent_organisations=["cjib"]))[
        "reference"
    ]
    # The citizen named CJIB and Toeslagen, the summary listed none (a life event).
    named = {"topic": "overlijden_naaste", "organisations": []}
    other = (
        await create_case(client, "burger-2", summary=named, consent_organisations=["cjib", "toeslagen"])
    )["reference"]

    queue = await (await client.get("/wachtrij?team=")).text()
    assert "Een boete in delen betalen" in queue and "cjib.betalingsregeling" not in queue
    row = queue.split(f">{ref}</a>", 1)[1].split("</tr>", 1)[0]
    assert "<td>CJIB</td>" in row and "SVB" not in row and "svb" not in row
    row = queue.split(f">{other}</a>", 1)[1].split("</tr>", 1)[0]
    assert "Iemand is overleden" in row and "<td>CJIB, Dienst Toeslagen</td>" in row
    listing = await (await client.get("/wachtrij.json?team=")).json()
    assert {c["reference"]: c["organisations"] for c in listing["cases"]} == {
        ref: ["cjib"],
        other: ["cjib", "toeslagen"],
    }

    page = await (await client.get(f"/zaken/{ref}")).text()
    assert '<dd id="intake-onderwerp">Een boete in delen betalen</dd>' in page
    assert "<dd>Iemand is overleden</dd>" in page and '<dd id="intake-organisaties">CJIB</dd>' in page
    assert "SVB: <strong>mag niet</strong> betrokken worden" in page
    assert lines_of(page) == ["CJIB"]
    page = await (await client.get(f"/zaken/{other}")).text()
    assert '<dd id="intake-organisaties">CJIB, Dienst Toeslagen</dd>' in page
    assert lines_of(page) == ["CJIB", "Dienst Toeslagen"]


async def test_the_casemanager_corrects_topic_and_organisations(client: Client) -> None:
    sm = client.app[sessionmaker_key]
    await add_user(sm, "anna", first_name="Anna", teams=["inkomen_schulden"])
    await add_user(sm, "bert", first_name="Bert", teams=["inkomen_schulden"])
    token = await login(client, "anna")
    summary = {"topic": "cjib.betalingsregeling", "organisations": ["cjib"]}
    ref = (await create_case(client, "burger-1", summary=summary))["reference"]
    correct = {"csrf_token": token, "onderwerp": "svb.kinderbijslag"}

    # Only a case in progress, only by whoever handles it.
    waiting = await client.post(f"/zaken/{ref}/intake", data=correct, headers=JSON)
    assert waiting.status == 409
    await client.post(f"/zaken/{ref}/claim", data={"csrf_token": token})
    page = await (await client.get(f"/zaken/{ref}")).text()
    assert "Onderwerp of organisaties aanpassen" in page and lines_of(page) == ["CJIB"]
    async with second_browser(client) as bert:
        bert_token = await login(bert, "bert")
        resp = await bert.post(
            f"/zaken/{ref}/intake", data=correct | {"csrf_token": bert_token}, headers=JSON
        )
        assert resp.status == 409 and (await resp.json())["error"] == "NotClaimedByYou"
    for bad in ({"onderwerp": "bestaat.niet"}, {"onderwerp": "svb.kinderbijslag", "organisatie": "nasa"}):
        resp = await client.post(f"/zaken/{ref}/intake", data={"csrf_token": token} | bad, headers=JSON)
        assert resp.status == 400 and (await resp.json())["error"] == "InvalidInput"

    ws = await client.ws_connect("/ws")
    # A new topic owned by the SVB; CJIB unticked: the lines follow.
    resp = await client.post(f"/zaken/{ref}/intake", data=correct, headers=JSON)
    assert await resp.json() == {"status": "ok", "detail": "Intake aangepast."}
    event = await _next_event(ws, "case_updated")
    assert (event["reference"], event["change"]) == (ref, "intake")
    await ws.close()
    page = await (await client.get(f"/zaken/{ref}")).text()
    assert '<dd id="intake-onderwerp">Kinderbijslag aanvragen</dd>' in page
    assert '<dd id="intake-organisaties">SVB</dd>' in page and lines_of(page) == ["SVB"]
    assert (
        "intake aangepast: onderwerp cjib.betalingsregeling → svb.kinderbijslag; organisaties cjib → svb"
        in page
    )
    # Nothing changed is said so, and not audited.
    same = await client.post(f"/zaken/{ref}/intake", data=correct | {"organisatie": "svb"}, headers=JSON)
    assert (await same.json())["detail"] == "Er is niets veranderd."
    # Organisations alone, several at once.
    both = [
        ("csrf_token", token),
        ("onderwerp", "svb.kinderbijslag"),
        ("organisatie", "svb"),
        ("organisatie", "uwv"),
    ]
    assert (await client.post(f"/zaken/{ref}/intake", data=both, headers=JSON)).status == 200
    page = await (await client.get(f"/zaken/{ref}")).text()
    assert lines_of(page) == ["SVB", "UWV"]

    async with sm() as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.reference == ref, AuditEntry.action == "corrected")
        )
        trail = [(e.actor, e.detail) for e in rows]
    assert trail == [
        ("anna", "onderwerp cjib.betalingsregeling → svb.kinderbijslag; organisaties cjib → svb"),
        ("anna", "organisaties svb → svb, uwv"),
    ]


async def test_professional_lines_are_links_and_numbers(client_factory: Any) -> None:
    """With the bot's organisation file: websites and confirmed phone numbers can be clicked."""
    client = await client_factory(contacts_file=default_contacts_file())
    await add_user(client.app[sessionmaker_key], "anna", first_name="Anna", teams=["inkomen_schulden"])
    await login(client, "anna")
    summary = {"topic": "belastingdienst.betalingsregeling", "organisations": ["belastingdienst", "cak"]}
    ref = (await create_case(client, "burger-1", summary=summary))["reference"]
    page = await (await client.get(f"/zaken/{ref}")).text()
    assert lines_of(page) == ["Belastingdienst", "CAK"]
    assert '<a href="tel:08000543">0800-0543</a>' in page
    assert '<a href="https://www.belastingdienst.nl" rel="noopener noreferrer">' in page
    assert '<a href="https://www.hetcak.nl/contact" rel="noopener noreferrer">' in page
    # The CAK has no confirmed public number in the knowledge file: none is shown.
    cak = page.split('org-naam">CAK</h3>', 1)[1].split("</ul>", 1)[0]
    assert "tel:" not in cak
