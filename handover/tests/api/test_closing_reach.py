"""Closing a case: the agreed next steps reach the citizen where the channel can deliver them, also
for a callback request, and the close form says beforehand when they cannot (services/closing.py).
Through aiohttp_client on create_app, on SQLite and PostgreSQL, with the fake Rasa of conftest."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import update

from handover.keys import sessionmaker_key
from handover.models import Case
from tests.api.test_api import create_case, login
from tests.conftest import FakeRasa, add_user

Client = TestClient[Any, Any]
STEPS = "U belt maandag het CJIB voor een betalingsregeling."


def close_form_notice(page: str) -> tuple[str, str]:
    """(class, text) of what the close form says about the next steps."""
    found = re.search(r'<p id="afspraken-bereik" class="([^"]+)">([^<]*)</p>', page)
    assert found, "the close form has no notice about the next steps"
    return found[1], unescape(found[2])


async def callback_in_hand(client: Client, sender: str, channel: str) -> tuple[str, str]:
    """A callback request, claimed by Anna: (reference, CSRF token)."""
    await add_user(client.app[sessionmaker_key], "anna")
    token = await login(client, "anna")
    case = await create_case(
        client, sender, channel=channel, kind="callback", consent=False,
        contact={"phone": "+48512345678", "moment": "na 16 uur"},
    )
    claimed = await client.post(f"/zaken/{case['reference']}/claim", data={"csrf_token": token})
    assert claimed.status == 200
    return case["reference"], token


async def close(client: Client, reference: str, token: str) -> str:
    closed = await client.post(
        f"/zaken/{reference}/afronden",
        data={"csrf_token": token, "uitkomst": "Teruggebeld", "afspraken": STEPS},
    )
    assert closed.status == 200
    return unescape(await closed.text())


@pytest.mark.parametrize(
    ("channel", "promise", "confirmation"),
    [
        ("socketio", "De inwoner ziet deze afspraken in de chat op de website",
         "De inwoner ziet de afspraken in de chat op de website."),
        ("whatsapp", "De inwoner krijgt deze afspraken via WhatsApp",
         "De inwoner krijgt de afspraken via WhatsApp."),
    ],
)
async def test_closing_a_callback_request_sends_the_next_steps_to_the_citizen(
    client: Client, fake_rasa: FakeRasa, channel: str, promise: str, confirmation: str
) -> None:
    reference, token = await callback_in_hand(client, "terugbel-1", channel)
    page = await (await client.get(f"/zaken/{reference}")).text()
    kind, notice = close_form_notice(page)
    assert kind == "hint" and notice.startswith(promise)
    assert ">Afronden</button>" in page and "terug naar de chatbot" not in page  # it never was a chat

    done = await close(client, reference, token)
    assert f"Zaak is afgerond. {confirmation}" in done
    await fake_rasa.wait_for(lambda f: bool(f.intents("terug_naar_bot")))
    (back,) = fake_rasa.intents("terug_naar_bot")
    assert (back.sender_id, back.output_channel) == ("terugbel-1", channel)
    assert back.entities == {"referentie": reference, "afspraken": STEPS}
    # Nothing else of the callback request went to the citizen's conversation.
    assert [c.intent for c in fake_rasa.calls] == ["terug_naar_bot"]


async def test_the_form_says_when_the_website_chat_has_forgotten_the_conversation(
    client: Client, fake_rasa: FakeRasa
) -> None:
    reference, token = await callback_in_hand(client, "terugbel-2", "socketio")
    three_hours_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=3)
    async with client.app[sessionmaker_key]() as session, session.begin():
        await session.execute(
            update(Case).where(Case.reference == reference).values(created_at=three_hours_ago)
        )
    page = await (await client.get(f"/zaken/{reference}")).text()
    kind, notice = close_form_notice(page)
    assert kind == "waarschuwing"
    assert "Die tijd is voorbij: de inwoner krijgt deze afspraken niet meer in de chat." in notice
    assert notice.endswith("Geef de afspraken zelf door aan de inwoner.")
    assert "Geef de afspraken zelf door" in await close(client, reference, token)


async def test_the_form_says_when_there_is_no_channel_back_to_the_citizen(client: Client) -> None:
    reference, _ = await callback_in_hand(client, "terugbel-3", "rest")
    kind, notice = close_form_notice(await (await client.get(f"/zaken/{reference}")).text())
    assert kind == "waarschuwing" and "de inwoner krijgt deze afspraken niet" in notice


async def test_a_live_chat_still_promises_the_chat_and_goes_back_to_the_bot(
    client: Client, fake_rasa: FakeRasa
) -> None:
    await add_user(client.app[sessionmaker_key], "anna")
    token = await login(client, "anna")
    reference = (await create_case(client, "chat-1"))["reference"]
    await client.post(f"/zaken/{reference}/claim", data={"csrf_token": token})
    page = await (await client.get(f"/zaken/{reference}")).text()
    assert close_form_notice(page)[0] == "hint" and "Afronden en terug naar de chatbot</button>" in page
    done = await close(client, reference, token)
    assert "Zaak is afgerond; de burger gaat terug naar de chatbot." in done
    await fake_rasa.wait_for(lambda f: bool(f.intents("terug_naar_bot")))
