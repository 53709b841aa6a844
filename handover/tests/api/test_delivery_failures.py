"""POST /api/conversations/{channel}/{sender_id}/delivery-failures: the bot's WhatsApp channel
reports a casemanager's message it could not deliver; the casemanager sees it in the case as a
system message, once per `client_id` (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from handover.keys import sessionmaker_key
from handover.models import Case, Message
from handover.services.delivery_failures import OUTCOMES, DeliveryFailure, describe, load_texts
from tests.api.test_api import login
from tests.conftest import BOT, add_user, case_body

Client = TestClient[Any, Any]
SENDER = "31612345678"


async def new_case(client: Client, sender: str = SENDER) -> str:
    body = case_body(sender, channel="whatsapp", transcript=[])
    resp = await client.post("/api/cases", json=body, headers=BOT)
    assert resp.status == 201, await resp.text()
    reference: str = (await resp.json())["reference"]
    return reference


async def messages(client: Client, role: str) -> list[Message]:
    async with client.app[sessionmaker_key]() as session:
        rows = await session.scalars(select(Message).where(Message.role == role).order_by(Message.id))
        return list(rows)


def url(sender: str = SENDER, channel: str = "whatsapp") -> str:
    return f"/api/conversations/{channel}/{sender}/delivery-failures"


async def test_a_failed_message_is_shown_in_the_case_once(client: Client) -> None:
    reference = await new_case(client)
    body = {"client_id": "a" * 32, "outcome": "failed", "code": 131026, "kind": "staff_message"}
    first = await client.post(url(), json=body, headers=BOT)
    again = await client.post(url(), json=body, headers=BOT)  # the bot's retry after a lost answer
    assert first.status == again.status == 202
    assert (await first.json())["reference"] == reference
    assert (await first.json())["message_id"] == (await again.json())["message_id"]
    [notice] = await messages(client, "system")
    assert notice.name == "WhatsApp"
    assert "niet aangekomen (foutcode 131026)" in notice.text
    assert "andere manier contact" in notice.text


async def test_a_held_message_names_the_casemanagers_message_by_its_text_hash(client: Client) -> None:
    reference = await new_case(client)
    async with client.app[sessionmaker_key]() as session, session.begin():
        case_id = (await session.scalars(select(Case.id).where(Case.reference == reference))).one()
        session.add(Message(case_id=case_id, role="casemanager", name="Sanne", text="Ik bel u morgen."))
    sha = hashlib.sha256(b"Ik bel u morgen.").hexdigest()
    body = {
        "client_id": "b" * 32,
        "outcome": "held",
        "code": 131047,
        "kind": "staff_message",
        "text_sha256": sha,
    }
    resp = await client.post(url(), json=body, headers=BOT)
    assert resp.status == 202, await resp.text()
    [notice] = await messages(client, "system")
    assert notice.text.startswith("Het bericht van Sanne van ")
    assert "langer dan 24 uur" in notice.text and "Ik bel u morgen" not in notice.text


async def test_a_held_message_that_arrived_after_all_is_shown_too(client: Client) -> None:
    await new_case(client)
    for client_id, outcome in (("f" * 32, "held"), ("g" * 32, "delivered")):
        body = {"client_id": client_id, "outcome": outcome, "kind": "staff_message"}
        resp = await client.post(url(), json=body, headers=BOT)
        assert resp.status == 202
    held, arrived = await messages(client, "system")
    assert "nog niet aangekomen" in held.text
    assert (
        arrived.text == "Een bericht van een medewerker is nu toch aangekomen bij de inwoner (via WhatsApp)."
    )


async def test_without_a_case_for_the_conversation_404(client: Client) -> None:
    resp = await client.post(url("31600000000"), json={"client_id": "c", "outcome": "failed"}, headers=BOT)
    assert resp.status == 404
    assert (await resp.json())["error"] == "not_found"


async def test_the_bot_secret_is_required(client: Client) -> None:
    await new_case(client)
    resp = await client.post(url(), json={"client_id": "d", "outcome": "failed"})
    assert resp.status == 401
    assert await messages(client, "system") == []


async def test_bad_input_is_400(client: Client) -> None:
    await new_case(client)
    for body in (
        {"outcome": "failed"},
        {"client_id": "e", "outcome": "lost"},
        {"client_id": "e", "outcome": "failed", "code": "131047"},
        {"client_id": "e", "outcome": "failed", "code": True},
        {"client_id": "e", "outcome": "failed", "kind": "other"},
        {"client_id": "e", "outcome": "failed", "text_sha256": "Ik bel u morgen."},
        {"client_id": "x" * 65, "outcome": "failed"},
    ):
        resp = await client.post(url(), json=body, headers=BOT)
        assert resp.status == 400, body
    assert await messages(client, "system") == []


async def test_a_held_message_whose_template_failed_asks_for_a_callback(client: Client) -> None:
    """The bot held a casemanager's message (24 hours passed) and the template that asks the
    citizen to write failed for good too: the case says in plain Dutch that the citizen was not
    reached on WhatsApp and must be called back, with Meta's code; later the message arrived."""
    reference = await new_case(client)
    async with client.app[sessionmaker_key]() as session, session.begin():
        case_id = (await session.scalars(select(Case.id).where(Case.reference == reference))).one()
        session.add(Message(case_id=case_id, role="casemanager", name="Sanne", text="Ik bel u morgen."))
    sha = hashlib.sha256(b"Ik bel u morgen.").hexdigest()
    for client_id, outcome, code in (("h" * 32, "held", None), ("i" * 32, "unreachable", 132001)):
        body = {"client_id": client_id, "outcome": outcome, "code": code, "kind": "staff_message"}
        resp = await client.post(url(), json={**body, "text_sha256": sha}, headers=BOT)
        assert resp.status == 202, await resp.text()
    again = {"client_id": "i" * 32, "outcome": "unreachable", "code": 132001, "kind": "staff_message"}
    assert (await client.post(url(), json=again, headers=BOT)).status == 202  # stored once
    held, unreachable = await messages(client, "system")
    assert "nog niet aangekomen" in held.text
    text = unreachable.text
    assert text.startswith("De inwoner is niet bereikt via WhatsApp. Het bericht van Sanne van ")
    assert "(foutcode 132001)" in text and "Bel de inwoner terug" in text
    assert "Ik bel u morgen" not in text and "{" not in text and "  " not in text
    # ... and the casemanager reads it on the case page
    await add_user(client.app[sessionmaker_key], "anna")
    token = await login(client, "anna")
    claimed = await client.post(f"/zaken/{reference}/claim", data={"csrf_token": token})
    assert claimed.status == 200
    page = await (await client.get(f"/zaken/{reference}")).text()
    assert "De inwoner is niet bereikt via WhatsApp." in page and "Bel de inwoner terug" in page


def test_every_outcome_has_its_sentence_in_the_data_file() -> None:
    texts = load_texts()
    assert set(texts["uitkomst"]) == OUTCOMES
    failure = DeliveryFailure(client_id="x", outcome="unreachable", code=None, kind="staff_message")
    for outcome in sorted(OUTCOMES):
        said = describe(
            DeliveryFailure(client_id="x", outcome=outcome, code=132015, kind="mode"), "whatsapp", None, "UTC"
        )
        assert said.startswith(("Het bericht dat de zaak is afgesloten", "De inwoner is niet bereikt"))
        assert "{" not in said and "\n" not in said
    assert "foutcode" not in describe(failure, "whatsapp", None, "UTC")
