"""Privacy through the real app (aiohttp_client on create_app), on SQLite and PostgreSQL:
who sees the full text, consent on the case page, export, audit log, erasure, retention loop."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from handover.keys import sessionmaker_key
from handover.models import AuditEntry, Case, Role
from handover.settings import Settings
from tests.api.test_api import _next_event, create_case, login
from tests.conftest import BOT, FakeRasa, add_user, case_body

Client = TestClient[Any, Any]

BSN = "111222333"
PII_CASE = {
    "transcript": [
        {"role": "bot", "text": "Waarmee kan ik u helpen?"},
        {"role": "citizen", "text": f"Ik ben Bram de Wit en mijn BSN is {BSN}."},
    ],
    "summary": {
        "topic": "schulden",
        "organisations": ["cjib", "belastingdienst"],
        "summary_text": "Bram de Wit kan de boete niet betalen",
    },
}


async def as_user(client: Client, username: str) -> str:
    client.session.cookie_jar.clear()
    return await login(client, username)


async def page(client: Client, ref: str) -> str:
    resp = await client.get(f"/zaken/{ref}")
    assert resp.status == 200
    return await resp.text()


def shows_full(html: str) -> bool:
    full = BSN in html and "Bram de Wit" in html
    redacted = "[BSN]" in html and "[NAAM]" in html and BSN not in html and "Bram" not in html
    assert full != redacted, "a page shows either the full or the redacted text"
    return full


async def audit_rows(client: Client, action: str | None = None) -> list[AuditEntry]:
    async with client.app[sessionmaker_key]() as session:
        stmt = select(AuditEntry).order_by(AuditEntry.id)
        if action:
            stmt = stmt.where(AuditEntry.action == action)
        return list(await session.scalars(stmt))


@pytest.fixture
async def staff(client: Client) -> dict[str, Any]:
    sm = client.app[sessionmaker_key]
    return {
        "anna": await add_user(sm, "anna", teams=["inkomen_schulden"]),
        "bob": await add_user(sm, "bob", teams=["inkomen_schulden"]),
        "carol": await add_user(sm, "carol", teams=["zorg"]),
        "lead": await add_user(sm, "lead", role=Role.TEAMLEIDER),
    }


async def test_full_text_only_while_the_case_is_open_to_you(client: Client, staff: dict[str, Any]) -> None:
    ref = (await create_case(client, "pii-1", **PII_CASE))["reference"]

    await as_user(client, "bob")
    assert shows_full(await page(client, ref))  # waiting in his team's queue
    await as_user(client, "carol")
    other_team = await page(client, ref)
    assert not shows_full(other_team) and "wachtrij van een ander team" in other_team

    token = await as_user(client, "anna")
    claimed = await client.post(f"/zaken/{ref}/claim", data={"csrf_token": token})
    assert shows_full(await claimed.text())

    for colleague in ("bob", "lead"):  # claimed by someone else: redacted, for a teamleider too
        await as_user(client, colleague)
        html = await page(client, ref)
        assert not shows_full(html) and "Een collega behandelt deze zaak" in html
        data = await (await client.get(f"/zaken/{ref}", headers={"Accept": "application/json"})).json()
        assert data["full_text"] is False and data["redaction_reason"] == "collega"
        assert data["messages"][1]["text"] == "Ik ben [NAAM] en mijn BSN is [BSN]."

    token = await as_user(client, "anna")
    data = await (await client.get(f"/zaken/{ref}", headers={"Accept": "application/json"})).json()
    assert data["full_text"] is True and BSN in data["messages"][1]["text"]
    closed = await client.post(
        f"/zaken/{ref}/afronden",
        data={"csrf_token": token, "uitkomst": "Met Bram besproken", "afspraken": ""},
    )
    html = await closed.text()
    assert not shows_full(html) and "Deze zaak is afgerond" in html and "Met [NAAM] besproken" in html

    viewed = [(e.actor, e.reference) for e in await audit_rows(client, "viewed")]
    for who in ("bob", "carol", "anna", "lead"):
        assert (who, ref) in viewed


async def test_consent_time_and_per_organisation_answers_on_the_case_page(
    client: Client, staff: dict[str, Any]
) -> None:
    ref = (
        await create_case(
            client, "consent-1", consent_at="2026-03-01T10:30:00Z", consent_organisations=["cjib"], **PII_CASE
        )
    )["reference"]
    await as_user(client, "anna")
    html = re.sub(r"\s+", " ", await page(client, ref))
    assert "Toestemming gegeven op 01-03-2026 11:30" in html  # shown in Europe/Amsterdam
    assert "CJIB: <strong>mag wel</strong> betrokken worden" in html
    assert "Belastingdienst: <strong>mag niet</strong> betrokken worden" in html

    bad = await client.post(
        "/api/cases", json=case_body("consent-2", consent_organisations="cjib"), headers=BOT
    )
    assert bad.status == 400 and "consent_organisations" in (await bad.json())["detail"]
    for when in ("gisteren", "9999-12-31T23:59:59-14:00"):  # the latter overflows in UTC: 400, not 500
        bad = await client.post("/api/cases", json=case_body("consent-3", consent_at=when), headers=BOT)
        assert bad.status == 400
    edge = [{"role": "citizen", "text": "x", "timestamp": "9999-12-31T23:59:59-14:00"}]
    assert (await client.post("/api/cases", json=case_body("ts", transcript=edge), headers=BOT)).status == 400


async def test_export_is_audited_and_redacted_once_closed(client: Client, staff: dict[str, Any]) -> None:
    ref = (await create_case(client, "exp-1", **PII_CASE))["reference"]
    token = await as_user(client, "anna")
    assert (await client.get(f"/zaken/{ref}/export")).status == 403  # not claimed yet
    await client.post(f"/zaken/{ref}/claim", data={"csrf_token": token})
    resp = await client.get(f"/zaken/{ref}/export")
    assert resp.status == 200 and resp.content_type == "text/plain"
    assert resp.headers["Content-Disposition"] == f'attachment; filename="zaak-{ref}.txt"'
    assert resp.headers["Cache-Control"] == "no-store"
    text = await resp.text()
    assert BSN in text and "Tekst: volledig" in text and "Burger" not in text

    await as_user(client, "bob")
    assert (await client.get(f"/zaken/{ref}/export")).status == 403
    await as_user(client, "lead")
    assert BSN in await (await client.get(f"/zaken/{ref}/export")).text()  # explicit, audited export

    token = await as_user(client, "anna")
    await client.post(
        f"/zaken/{ref}/afronden", data={"csrf_token": token, "uitkomst": "klaar", "afspraken": ""}
    )
    assert (await client.get(f"/zaken/{ref}/export")).status == 403
    await as_user(client, "lead")
    closed = await (await client.get(f"/zaken/{ref}/export")).text()
    assert BSN not in closed and "[BSN]" in closed and "Tekst: zonder persoonsgegevens" in closed

    exported = [(e.actor, e.reference, e.detail) for e in await audit_rows(client, "exported")]
    assert exported == [
        ("anna", ref, "volledige tekst"),
        ("lead", ref, "volledige tekst"),
        ("lead", ref, "tekst zonder persoonsgegevens (afgerond)"),
    ]


async def test_audit_page_is_for_teamleaders_and_filters_by_reference(
    client: Client, staff: dict[str, Any]
) -> None:
    first = (await create_case(client, "aud-1"))["reference"]
    second = (await create_case(client, "aud-2"))["reference"]
    token = await as_user(client, "anna")
    for ref in (first, second):
        await client.post(f"/zaken/{ref}/claim", data={"csrf_token": token})
    assert (await client.get("/audit")).status == 403
    await as_user(client, "lead")
    everything = await (await client.get("/audit")).text()
    assert first in everything and second in everything and "opgepakt" in everything
    only_first = await (await client.get("/audit", params={"referentie": first.lower()})).text()
    assert f"Regels van {first}" in only_first and second not in only_first


async def test_teamleader_erases_a_conversation_with_confirmation(
    client: Client, staff: dict[str, Any]
) -> None:
    ref = (await create_case(client, "erase-1", **PII_CASE))["reference"]
    token = await as_user(client, "anna")
    assert (await client.get(f"/zaken/{ref}/verwijderen")).status == 403
    assert (
        await client.post(f"/zaken/{ref}/verwijderen", data={"csrf_token": token, "bevestig": ref})
    ).status == 403

    token = await as_user(client, "lead")
    assert "Alle gegevens van dit gesprek verwijderen" in await page(client, ref)
    confirm = await (await client.get(f"/zaken/{ref}/verwijderen")).text()
    assert "wordt <strong>niet</strong> verwijderd" in confirm  # the tracker store is not configured
    no_csrf = await client.post(f"/zaken/{ref}/verwijderen", data={"bevestig": ref})
    assert no_csrf.status == 403
    wrong = await client.post(
        f"/zaken/{ref}/verwijderen", data={"csrf_token": token, "bevestig": "HV-XXXX"}, allow_redirects=False
    )
    assert wrong.status == 302 and (await page(client, ref))

    done = await client.post(f"/zaken/{ref}/verwijderen", data={"csrf_token": token, "bevestig": ref})
    html = await done.text()
    assert done.status == 200 and f"({ref})" in html
    assert "Het gesprek in de chatbot is NIET verwijderd" in html  # never claims what did not happen
    assert (await client.get(f"/zaken/{ref}")).status == 404
    [entry] = await audit_rows(client, "erased")
    assert (entry.actor, entry.reference) == ("lead", ref)
    assert entry.detail is not None and BSN not in entry.detail


async def test_citizen_erasure_through_the_bot_api(client: Client, staff: dict[str, Any]) -> None:
    ref = (await create_case(client, "bot-erase", **PII_CASE))["reference"]
    other = (await create_case(client, "bot-keep"))["reference"]
    url = "/api/conversations/socketio/bot-erase/erase"
    assert (await client.post(url)).status == 401
    first = await client.post(url, headers=BOT)
    assert first.status == 200 and await first.json() == {"erased_cases": 1}
    second = await client.post(url, headers=BOT)
    assert second.status == 200 and await second.json() == {"erased_cases": 0}  # idempotent
    status = await client.get(f"/api/status/{ref}", headers=BOT)
    assert status.status == 404
    assert (await client.get(f"/api/status/{other}", headers=BOT)).status == 200
    [entry] = await audit_rows(client, "erased")
    assert (entry.actor, entry.actor_id, entry.reference) == ("inwoner", None, ref)


async def test_websocket_messages_are_redacted_for_whoever_may_not_read_them(
    client: Client, staff: dict[str, Any]
) -> None:
    ref = (await create_case(client, "ws-1", **PII_CASE))["reference"]
    token = await as_user(client, "anna")
    await client.post(f"/zaken/{ref}/claim", data={"csrf_token": token})
    owner_ws = await client.ws_connect(f"/ws?case={ref}")
    await as_user(client, "bob")
    colleague_ws = await client.ws_connect(f"/ws?case={ref}")

    resp = await client.post(
        f"/api/cases/{ref}/messages",
        json={"sender_id": "ws-1", "text": "Bel mij op 06-12345678, groet Bram"},
        headers=BOT,
    )
    assert resp.status == 202
    owner = await _next_event(owner_ws, "message")
    colleague = await _next_event(colleague_ws, "message")
    assert owner["text"] == "Bel mij op 06-12345678, groet Bram" and "redacted" not in owner
    assert colleague["text"] == "Bel mij op [TELEFOON], groet [NAAM]" and colleague["redacted"] is True
    assert "access" not in owner and "access" not in colleague
    await owner_ws.close()
    await colleague_ws.close()


@pytest.fixture
async def client_factory(
    aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings
) -> Callable[..., Awaitable[Client]]:
    from handover.app import create_app

    async def make(**overrides: Any) -> Client:
        return await aiohttp_client(create_app(dataclasses.replace(settings, **overrides)))

    return make


async def test_the_service_runs_retention_on_its_schedule(
    client_factory: Callable[..., Awaitable[Client]], fake_rasa: FakeRasa
) -> None:
    client = await client_factory(retention_interval_seconds=0.2, retention_full_days=0)
    await add_user(client.app[sessionmaker_key], "anna")
    ref = (await create_case(client, "ret-1", **PII_CASE))["reference"]
    token = await login(client, "anna")
    await client.post(f"/zaken/{ref}/claim", data={"csrf_token": token})
    await client.post(
        f"/zaken/{ref}/afronden", data={"csrf_token": token, "uitkomst": "klaar", "afspraken": ""}
    )
    for _ in range(100):
        async with client.app[sessionmaker_key]() as session:
            case = await session.scalar(select(Case).where(Case.reference == ref))
        if case is not None and case.full_text_deleted_at is not None:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the retention loop did not run")
    assert [e.action for e in await audit_rows(client, "retention")] == ["retention"]
