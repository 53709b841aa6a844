"""The WhatsApp Cloud API channel, end to end: Meta's webhook requests against a real Sanic server
with the channel registered as Rasa registers it, and every send checked at a fake Graph API."""

from __future__ import annotations

import json
import logging
import time
from types import SimpleNamespace
from typing import Any, AsyncIterator, Dict

import pytest
import textstat
from rasa.core.lock_store import InMemoryLockStore
from rasa.shared.core.trackers import DialogueStateTracker

from bot.channels.whatsapp import (
    CHANNEL_NAME as CHANNEL,
)
from bot.channels.whatsapp import (
    PERSON_BUTTON,
    UNSUPPORTED_REPLY,
    WhatsAppConfig,
    WhatsAppInput,
    WhatsAppOutput,
)
from bot.channels.whatsapp.format import (
    DEFAULT_BODY,
    LIST_BUTTON_TEXT,
    MAX_BUTTON_ID,
    MAX_BUTTON_TITLE,
    MAX_BUTTONS,
    MAX_INTERACTIVE_BODY,
    MAX_ROW_DESCRIPTION,
    MAX_ROW_ID,
    MAX_ROW_TITLE,
    MAX_ROWS,
    MAX_TEXT,
    shorten,
    split_text,
)
from bot.channels.whatsapp.texts import TEXTS
from tests.bot.helpers import as_rasa_sends, domain
from tests.channels.conftest import StartServer
from tests.channels.helpers import (
    ACCESS_TOKEN,
    APP_SECRET,
    MEDIA,
    PHONE_NUMBER_ID,
    PROFILE_NAME,
    TEMPLATE,
    VERIFY_TOKEN,
    WA_ID,
    FakeGraph,
    Server,
    button_reply,
    envelope,
    graph_error,
    list_reply,
    make_config,
    media_message,
    sign,
    status,
    template_button,
    text_message,
)

CHOICE_JA = '/kies{"keuze":"toestemming|ja"}'
HOURS = 3600.0


def interactive(message: Dict[str, Any]) -> Dict[str, Any]:
    assert message["type"] == "interactive", message["type"]
    return message["interactive"]


def assert_within_limits(message: Dict[str, Any]) -> None:
    """Every limit of the Cloud API that would make Meta refuse the whole message."""
    assert message["messaging_product"] == "whatsapp"
    if message["type"] == "text":
        assert 0 < len(message["text"]["body"]) <= MAX_TEXT
        return
    if message["type"] != "interactive":
        return
    body = message["interactive"]
    assert 0 < len(body["body"]["text"]) <= MAX_INTERACTIVE_BODY
    if body["type"] == "button":
        buttons = body["action"]["buttons"]
        assert 0 < len(buttons) <= MAX_BUTTONS
        for button in buttons:
            assert 0 < len(button["reply"]["title"]) <= MAX_BUTTON_TITLE
            assert 0 < len(button["reply"]["id"]) <= MAX_BUTTON_ID
    else:
        assert len(body["action"]["button"]) <= 20
        rows = [row for section in body["action"]["sections"] for row in section["rows"]]
        assert 0 < len(rows) <= MAX_ROWS
        for row in rows:
            assert 0 < len(row["title"]) <= MAX_ROW_TITLE
            assert len(row.get("description", "")) <= MAX_ROW_DESCRIPTION
            assert 0 < len(row["id"]) <= MAX_ROW_ID


@pytest.fixture
async def channel(graph: FakeGraph, state_db: str) -> AsyncIterator[WhatsAppInput]:
    """A channel without a server, for the output side. Without a server no status callback can
    come, so the next message to a citizen waits only for the API's answer (order_wait 0)."""
    whatsapp = WhatsAppInput(make_config(graph, state_db, order_wait_seconds=0.0))
    yield whatsapp
    await whatsapp.graph.close()


@pytest.fixture
async def output(channel: WhatsAppInput) -> WhatsAppOutput:
    """Output to a citizen who wrote a minute ago (24-hour window open)."""
    await channel.state.record_inbound(channel.ids.key(WA_ID), time.time() - 60)
    return channel.get_output_channel()


# -- GET verification ------------------------------------------------------------------------------


async def test_verification_answers_the_challenge(server: Server) -> None:
    code, text = await server.get(
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    )
    assert (code, text) == (200, "1158201444")


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN[:-1], "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
    ],
    ids=["wrong token", "token prefix", "wrong mode", "no token"],
)
async def test_verification_refuses(server: Server, params: Dict[str, str]) -> None:
    code, text = await server.get(params)
    assert code == 403 and "1" not in text


async def test_verification_without_configured_token_refuses_empty_token(start_server: StartServer) -> None:
    server = await start_server(verify_token=None)
    code, _ = await server.get({"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"})
    assert code == 403


# -- POST signature --------------------------------------------------------------------------------


async def test_signed_text_reaches_rasa(server: Server) -> None:
    message = text_message("Ik heb een brief van het CJIB")
    code, _ = await server.post(envelope([message]))
    assert code == 200
    [received] = server.agent.messages
    assert received.text == "Ik heb een brief van het CJIB"
    assert received.sender_id == WA_ID
    assert received.input_channel == "whatsapp"
    assert received.message_id == message["id"]
    assert isinstance(received.output_channel, WhatsAppOutput)
    assert received.metadata["whatsapp"]["type"] == "text"
    assert received.metadata["whatsapp"]["phone_number_id"] == PHONE_NUMBER_ID
    assert PROFILE_NAME not in json.dumps(received.metadata)


async def test_signature_is_checked_on_the_raw_bytes(server: Server) -> None:
    # Meta's bytes are not what json.dumps would produce (escapes, spacing, key order): a check
    # over a re-serialised body fails exactly on accents and emoji.
    payload = json.dumps(envelope([text_message("Ik wil mijn toeslag wijzigen \u00e9\u00eb \U0001f600")]))
    raw = payload.replace(", ", ",   ").encode("utf-8")
    code, _ = await server.post_raw(raw, {"X-Hub-Signature-256": sign(raw)})
    assert code == 200
    await server.settled()
    assert server.agent.texts == ["Ik wil mijn toeslag wijzigen éë 😀"]


@pytest.mark.parametrize(
    "make_headers",
    [
        lambda body: {"X-Hub-Signature-256": sign(body, "other-secret")},
        lambda body: {"X-Hub-Signature-256": sign(body + b" ")},
        lambda body: {},
        lambda body: {"X-Hub-Signature-256": sign(body).replace("sha256=", "sha1=")},
        lambda body: {"X-Hub-Signature-256": "sha256="},
        lambda body: {"X-Hub-Signature-256": "sha256=" + "0" * 64},
        lambda body: {"X-Hub-Signature": sign(body)},
    ],
    ids=["other secret", "other body", "missing", "wrong scheme", "empty", "zeros", "old header name"],
)
async def test_forged_or_missing_signature_is_refused(server: Server, make_headers: Any) -> None:
    body = json.dumps(envelope([text_message("hallo")])).encode()
    code, _ = await server.post_raw(body, make_headers(body))
    assert code == 403
    assert server.agent.messages == []


@pytest.mark.parametrize("secret", [APP_SECRET, ""])
async def test_without_app_secret_every_post_is_refused(start_server: StartServer, secret: str) -> None:
    server = await start_server(app_secret=None)
    code, _ = await server.post(envelope([text_message("hallo")]), secret=secret)
    assert code == 403
    assert server.agent.messages == []


# -- malformed bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b'{"object": "whatsapp_business_account", "entry": [',
        b'{"object": "\xff\xfe whatsapp"}',
        '{"entry": []}'.encode("utf-16"),
        b"[1, 2, 3]",
        b'{"entry": {"id": "1"}}',
        b"[" * 100_000 + b"]" * 100_000,
        b"",
    ],
    ids=["truncated json", "not utf-8", "utf-16", "array", "entry not a list", "deeply nested", "empty"],
)
async def test_malformed_signed_bodies_get_400(server: Server, raw: bytes) -> None:
    code, _ = await server.post_raw(raw, {"X-Hub-Signature-256": sign(raw)})
    assert code == 400
    # the server is still fine afterwards
    await server.send(text_message("nog steeds daar"))
    assert server.agent.texts == ["nog steeds daar"]


async def test_huge_body_gets_413(server: Server) -> None:
    raw = b'{"entry": [], "x": "' + b"a" * (5 * 1024 * 1024) + b'"}'
    code, _ = await server.post_raw(raw, {"X-Hub-Signature-256": sign(raw)})
    assert code == 413


async def test_huge_chunked_body_gets_413(server: Server) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"a" * (1024 * 1024)

    code, _ = await server.post_raw(chunks(), {"X-Hub-Signature-256": "sha256=" + "0" * 64})
    assert code == 413
    await server.send(text_message("daarna gewoon verder"))
    assert server.agent.texts == ["daarna gewoon verder"]


async def test_odd_entries_are_skipped_without_losing_the_rest(server: Server) -> None:
    payload = envelope([text_message("eerste"), {"id": "wamid.x"}, "geen object", text_message("tweede")])
    payload["entry"].insert(0, "geen object")
    payload["entry"][1]["changes"].append({"field": "account_update", "value": {"event": "x"}})
    code, _ = await server.post(payload)
    assert code == 200
    assert server.agent.texts == ["eerste", "tweede"]


async def test_a_lone_surrogate_is_replaced_and_the_rest_of_the_message_kept(server: Server) -> None:
    """Valid signed JSON may still carry "\\ud800"; the citizen's message must not be lost."""
    code, _ = await server.post(envelope([text_message("\ud800 ik kan de huur niet betalen")]))
    assert code == 200
    assert server.agent.texts == ["\ufffd ik kan de huur niet betalen"]


async def test_senders_outside_the_shared_id_rule_are_skipped(server: Server) -> None:
    odd = [text_message("a", sender=f" {WA_ID}"), text_message("b", sender=f"{WA_ID}\n")]
    code, _ = await server.post(envelope([*odd, text_message("c")]))
    assert code == 200
    assert server.agent.texts == ["c"]


# -- statuses --------------------------------------------------------------------------------------


async def test_status_callbacks_are_acknowledged_and_ignored(server: Server, graph: FakeGraph) -> None:
    payload = envelope(
        statuses=[status("sent"), status("delivered"), status("read"), status("failed", 131047)]
    )
    code, _ = await server.post(payload)
    assert code == 200
    assert server.agent.messages == []
    assert graph.sent == []


# -- duplicates ------------------------------------------------------------------------------------


async def test_duplicate_message_id_is_handled_once(server: Server) -> None:
    message = text_message("Ik wil een medewerker")
    await server.send(message)
    await server.send(message)  # Meta's retry: acknowledged, not processed again
    await server.send(message, message)
    assert server.agent.texts == ["Ik wil een medewerker"]


async def test_duplicate_is_recognised_after_a_restart(start_server: StartServer) -> None:
    first = await start_server()
    message = text_message("Hoe vraag ik huurtoeslag aan?")
    await first.send(message)
    await first.stop()

    second = await start_server()  # new channel instance, same state database
    await second.send(message)
    assert second.agent.messages == []
    await second.send(text_message("Nog een vraag"))
    assert second.agent.texts == ["Nog een vraag"]


# -- interactive replies ---------------------------------------------------------------------------


async def test_button_reply_sends_its_payload(server: Server) -> None:
    await server.send(button_reply(CHOICE_JA, "Ja, dat mag"))
    [received] = server.agent.messages
    assert received.text == CHOICE_JA
    assert received.input_channel == "whatsapp"


async def test_list_reply_sends_its_payload(server: Server) -> None:
    payload = '/kies{"keuze":"onderwerp:toeslagen.recht"}'
    await server.send(list_reply(payload, "Heb ik recht op…", "Heb ik recht op toeslag?"))
    assert server.agent.texts == [payload]


async def test_payload_longer_than_an_id_survives_the_round_trip(
    start_server: StartServer, graph: FakeGraph
) -> None:
    first = await start_server()
    await first.send(text_message("hallo"))
    long_payload = '/kies{"keuze":"' + "x" * 300 + '"}'
    await first.channel.get_output_channel().send_text_with_buttons(
        WA_ID, "Kies", [{"title": "Ja", "payload": long_payload}, {"title": "Nee", "payload": "/nee"}]
    )
    buttons = interactive(graph.sent[-1])["action"]["buttons"]
    token = buttons[0]["reply"]["id"]
    assert token != long_payload and len(token) <= MAX_BUTTON_ID
    assert buttons[1]["reply"]["id"] == "/nee"
    await first.stop()

    second = await start_server()  # the mapping is in the state database, not in memory
    await second.send(button_reply(token, "Ja"))
    assert second.agent.texts == [long_payload]


async def test_list_row_ids_respect_their_own_limit(output: WhatsAppOutput, graph: FakeGraph) -> None:
    payload = "/" + "y" * 230  # fits a button id (256), not a row id (200)
    buttons = [{"title": f"Keuze {i}", "payload": payload if i == 0 else f"/k{i}"} for i in range(4)]
    await output.send_text_with_buttons(WA_ID, "Kies", buttons)
    rows = interactive(graph.sent[-1])["action"]["sections"][0]["rows"]
    assert rows[0]["id"] != payload and len(rows[0]["id"]) <= MAX_ROW_ID
    assert [r["id"] for r in rows[1:]] == ["/k1", "/k2", "/k3"]


async def test_typed_text_cannot_inject_an_intent(server: Server) -> None:
    await server.send(text_message('/medewerker_bericht{"naam":"Gemeente","tekst":"betaal nu"}'))
    [text] = server.agent.texts
    assert not text.startswith("/")


async def test_message_for_another_business_number_is_ignored(server: Server) -> None:
    code, _ = await server.post(envelope([text_message("hallo")], phone_number_id="999999"))
    assert code == 200
    assert server.agent.messages == []


# -- media -----------------------------------------------------------------------------------------


# A photo, video or document with a caption: the caption is read (test_whatsapp_status.py).
WITHOUT_CAPTION = sorted(
    k for k, (_, content) in MEDIA.items() if not isinstance(content, dict) or "caption" not in content
)


@pytest.mark.parametrize("kind", WITHOUT_CAPTION)
async def test_media_gets_the_dutch_reply_and_never_reaches_nlu(
    server: Server, graph: FakeGraph, kind: str
) -> None:
    await server.send(media_message(kind))
    assert server.agent.messages == []
    [reply] = graph.sent
    assert reply["to"] == WA_ID
    body = interactive(reply)
    assert body["type"] == "button"
    assert body["body"]["text"] == UNSUPPORTED_REPLY
    assert body["action"]["buttons"] == [
        {"type": "reply", "reply": {"id": "/medewerker", "title": "Praat met medewerker"}}
    ]
    assert_within_limits(reply)


async def test_the_person_button_of_the_media_reply_asks_for_a_person(
    server: Server, graph: FakeGraph
) -> None:
    await server.send(media_message("voice note"))
    button = interactive(graph.sent[-1])["action"]["buttons"][0]["reply"]
    await server.send(button_reply(button["id"], button["title"]))
    assert server.agent.texts == [PERSON_BUTTON["payload"]]


async def test_reactions_are_ignored(server: Server, graph: FakeGraph) -> None:
    reaction = {
        "from": WA_ID,
        "id": "wamid.reaction1",
        "timestamp": str(int(time.time())),
        "type": "reaction",
        "reaction": {"message_id": "wamid.out1", "emoji": "\U0001f44d"},
    }
    await server.send(reaction)
    assert server.agent.messages == [] and graph.sent == []


# -- output ----------------------------------------------------------------------------------------


async def test_text_goes_out_as_a_text_message(output: WhatsAppOutput, graph: FakeGraph) -> None:
    await output.send_response(WA_ID, {"text": "Ik denk dat uw vraag hierover gaat."})
    assert graph.sent == [
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": WA_ID,
            "type": "text",
            "text": {"body": "Ik denk dat uw vraag hierover gaat.", "preview_url": False},
        }
    ]
    assert graph.auth == [f"Bearer {ACCESS_TOKEN}"]


async def test_long_text_is_split_between_paragraphs(output: WhatsAppOutput, graph: FakeGraph) -> None:
    paragraphs = [f"Alinea {i}. " + "Dit is een zin. " * 40 for i in range(12)]
    await output.send_text_message(WA_ID, "\n\n".join(paragraphs))
    assert len(graph.sent) >= 2
    for message in graph.sent:
        assert_within_limits(message)
    bodies = [m["text"]["body"] for m in graph.sent]
    assert " ".join(" ".join(bodies).split()) == " ".join(" ".join(paragraphs).split())
    assert all(body.startswith("Alinea") for body in bodies)


async def test_three_short_buttons_become_reply_buttons(output: WhatsAppOutput, graph: FakeGraph) -> None:
    buttons = [
        {"title": "Ja", "payload": CHOICE_JA},
        {"title": "Nee", "payload": "/nee"},
        {"title": "Dit past niet", "payload": "/past_niet"},
    ]
    await output.send_response(WA_ID, {"text": "Klopt dat?", "buttons": buttons})
    [message] = graph.sent
    assert_within_limits(message)
    body = interactive(message)
    assert body["type"] == "button"
    assert body["body"]["text"] == "Klopt dat?"
    assert [(b["reply"]["title"], b["reply"]["id"]) for b in body["action"]["buttons"]] == [
        ("Ja", CHOICE_JA),
        ("Nee", "/nee"),
        ("Dit past niet", "/past_niet"),
    ]


async def test_four_buttons_become_a_list(output: WhatsAppOutput, graph: FakeGraph) -> None:
    buttons = [{"title": f"Onderwerp {i}", "payload": f"/kies{i}"} for i in range(4)]
    await output.send_text_with_buttons(WA_ID, "Waar gaat uw vraag over?", buttons)
    [message] = graph.sent
    assert_within_limits(message)
    body = interactive(message)
    assert body["type"] == "list"
    assert body["action"]["button"] == LIST_BUTTON_TEXT
    assert [(r["title"], r["id"]) for r in body["action"]["sections"][0]["rows"]] == [
        (f"Onderwerp {i}", f"/kies{i}") for i in range(4)
    ]


async def test_a_long_title_makes_a_list_and_keeps_the_full_title(
    output: WhatsAppOutput, graph: FakeGraph
) -> None:
    long_title = "Aanvragen of wijzigen van toeslagen"
    buttons = [{"title": long_title, "payload": "/a"}, {"title": "Iets anders", "payload": "/b"}]
    await output.send_text_with_buttons(WA_ID, "Kies", buttons)
    [message] = graph.sent
    assert_within_limits(message)
    rows = interactive(message)["action"]["sections"][0]["rows"]
    assert interactive(message)["type"] == "list"
    assert rows[0]["title"] == "Aanvragen of wijzigen…"
    assert rows[0]["description"] == long_title
    assert rows[1] == {"id": "/b", "title": "Iets anders"}


async def test_more_than_ten_choices_continue_as_numbered_lines(
    output: WhatsAppOutput, graph: FakeGraph
) -> None:
    buttons = [{"title": f"Onderwerp {i}", "payload": f"/kies{i}"} for i in range(1, 13)]
    await output.send_text_with_buttons(WA_ID, "Waar gaat uw vraag over?", buttons)
    [message] = graph.sent
    assert_within_limits(message)
    body = interactive(message)
    assert [r["title"] for r in body["action"]["sections"][0]["rows"]] == [
        f"Onderwerp {i}" for i in range(1, 11)
    ]
    assert body["body"]["text"] == "Waar gaat uw vraag over?\n\n11. Onderwerp 11\n12. Onderwerp 12"


async def test_text_too_long_for_buttons_goes_first(output: WhatsAppOutput, graph: FakeGraph) -> None:
    text = "\n\n".join(["Dit is uitleg over uw situatie. " * 10] * 6) + "\n\nKlopt dat?"
    await output.send_text_with_buttons(WA_ID, text, [{"title": "Ja", "payload": "/ja"}])
    assert graph.types()[-1] == "interactive"
    assert set(graph.types()[:-1]) == {"text"}
    for message in graph.sent:
        assert_within_limits(message)
    assert interactive(graph.sent[-1])["body"]["text"].endswith("Klopt dat?")


async def test_image_and_attachment_go_out_as_links(output: WhatsAppOutput, graph: FakeGraph) -> None:
    await output.send_response(WA_ID, {"image": "https://www.example.nl/uitleg.png"})
    await output.send_response(
        WA_ID, {"attachment": {"type": "file", "payload": {"src": "https://www.example.nl/a.pdf"}}}
    )
    assert [m["text"] for m in graph.sent] == [
        {"body": "https://www.example.nl/uitleg.png", "preview_url": True},
        {"body": "https://www.example.nl/a.pdf", "preview_url": True},
    ]


async def test_custom_payloads(output: WhatsAppOutput, graph: FakeGraph) -> None:
    await output.send_response(WA_ID, {"custom": {"socketio": {"something": 1}}})
    assert graph.sent == []
    location = {"type": "location", "location": {"latitude": 52.37, "longitude": 4.89, "name": "Stadhuis"}}
    await output.send_response(WA_ID, {"custom": {"whatsapp": location}})
    assert graph.sent[-1]["location"]["name"] == "Stadhuis" and graph.sent[-1]["to"] == WA_ID


LIVE_CHAT = sorted(
    name for name, variations in domain()["responses"].items()
    # the appointment's calendar file (type "agenda") is a document: test_whatsapp_calendar.py
    if any(((v.get("custom") or {}).get("data") or {}).get("type") in ("staff_message", "mode")
           for v in variations)
)


@pytest.mark.parametrize("name", LIVE_CHAT)
async def test_live_chat_messages_go_out_as_plain_text(
    output: WhatsAppOutput, graph: FakeGraph, name: str
) -> None:
    """The live chat's structured messages (bot/payloads.py), rendered from the domain by Rasa."""
    values = {"naam": "Sanne", "tekst": "Ik bel het CJIB nu voor u.", "positie": "2", "wachttijd": "5",
              "referentie": "HV-7K3M"}
    (event,) = await as_rasa_sends([{"response": name, **values}], CHANNEL)
    await output.send_response(WA_ID, event.message())
    (message,) = graph.sent
    assert message["type"] == "text"
    data = event.data["custom"]["data"]
    if data["type"] == "staff_message":  # as WhatsApp citizens have always seen it
        assert message["text"]["body"] == "Sanne (medewerker): Ik bel het CJIB nu voor u."
    else:
        assert message["text"]["body"] == data["text"] and "{" not in data["text"]


async def test_a_live_chat_payload_without_text_or_for_the_widget_sends_nothing(
    output: WhatsAppOutput, graph: FakeGraph
) -> None:
    await output.send_response(WA_ID, {"custom": {"data": {"type": "mode", "mode": "bot"}}})
    await output.send_response(WA_ID, {"custom": {"data": {"type": "other", "text": "x"}}})
    await output.send_response(WA_ID, {"custom": {"data": {"gemeente_chat": "vergeet_gesprek"}}})
    assert graph.sent == []


# -- 24-hour window --------------------------------------------------------------------------------


async def test_reply_within_the_window_is_sent(server: Server, graph: FakeGraph) -> None:
    server.agent.reply = {"text": "Waar gaat uw vraag over?"}
    await server.send(text_message("hallo"))
    assert graph.types() == ["text"]


async def test_after_24_hours_only_the_template_goes_out(server: Server, graph: FakeGraph) -> None:
    server.agent.reply = {"text": "Waar gaat uw vraag over?"}
    # Meta delivers a message from 25 hours ago (e.g. after an outage): the window is closed.
    await server.send(text_message("hallo", timestamp=time.time() - 25 * HOURS))
    assert graph.sent == [
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": WA_ID,
            "type": "template",
            "template": {"name": TEMPLATE, "language": {"code": "nl"}},
        }
    ]


async def test_unknown_contact_gets_only_the_template(output: WhatsAppOutput, graph: FakeGraph) -> None:
    await output.send_text_message("31687654321", "Bericht van de medewerker")
    assert graph.types() == ["template"]
    assert graph.sent[0]["to"] == "31687654321"


async def test_held_messages_are_delivered_when_the_citizen_answers_the_template(
    server: Server, graph: FakeGraph
) -> None:
    output = server.channel.get_output_channel()
    await output.send_text_message(WA_ID, "Anna: uw aanvraag is binnen.")
    await output.send_text_with_buttons(WA_ID, "Wilt u verder?", [{"title": "Ja", "payload": "/ja"}])
    await server.settled()  # the template goes through the outbox (the background may send it)
    assert graph.types() == ["template"]  # one template for both messages

    await server.send(template_button("Bericht lezen", "Bericht lezen"))
    assert graph.types() == ["template", "text", "interactive"]
    assert graph.sent[1]["text"]["body"] == "Anna: uw aanvraag is binnen."
    assert all(m["to"] == WA_ID for m in graph.sent)
    assert server.agent.messages == []  # the tap only opened the window

    await output.send_text_message(WA_ID, "Fijn dat u er weer bent.")
    await server.settled()  # it may wait for Meta's "sent" of the one before (order per citizen)
    assert graph.types()[-1] == "text"


async def test_a_held_message_survives_a_graph_outage(server: Server, graph: FakeGraph) -> None:
    held = "Anna: uw aanvraag is binnen."
    await server.channel.get_output_channel().send_text_message(WA_ID, held)
    await server.settled()  # the template went out (through the outbox) before the outage
    graph.fail_with(*[graph_error(2, 500)] * 3)
    await server.send(text_message("hallo"))  # delivering the held message fails three times
    await server.send(text_message("hallo?"))  # kept, so it goes out now
    attempts = [m for m in graph.sent if m["type"] == "text" and m["text"]["body"] == held]
    assert len(attempts) == 4


async def test_forget_erases_window_and_held_messages(server: Server, graph: FakeGraph) -> None:
    output = server.channel.get_output_channel()
    await output.send_text_message(WA_ID, "Anna: uw aanvraag is binnen.")  # held, template sent
    await server.channel.forget(WA_ID)
    await server.send(text_message("hallo"))
    assert graph.types() == ["template"]  # the held message is gone
    await server.channel.forget(WA_ID)
    await output.send_text_message(WA_ID, "Nog iets")  # the window is forgotten too
    await server.settled()
    assert graph.types() == ["template", "template"]


async def test_without_holding_outside_the_window_only_the_template_goes_out(
    start_server: StartServer, graph: FakeGraph
) -> None:
    server = await start_server(hold_hours=0)
    await server.channel.get_output_channel().send_text_message(WA_ID, "Anna: uw aanvraag is binnen.")
    await server.send(text_message("Wat is er?"))
    assert graph.types() == ["template"]
    assert server.agent.texts == ["Wat is er?"]


async def test_without_template_nothing_is_sent_and_the_warning_has_no_personal_data(
    start_server: StartServer, graph: FakeGraph, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.channels")
    server = await start_server(template_name=None)
    await server.channel.get_output_channel().send_text_message(WA_ID, "Anna: uw aanvraag is binnen.")
    assert graph.sent == []
    warnings = [
        r for r in caplog.records if r.name.startswith("bot.channels") and r.levelno == logging.WARNING
    ]
    assert any("WHATSAPP_TEMPLATE_NAME" in r.getMessage() for r in warnings)
    assert WA_ID not in caplog.text and "aanvraag" not in caplog.text


async def test_graph_window_error_falls_back_to_the_template(
    output: WhatsAppOutput, graph: FakeGraph
) -> None:
    graph.fail_with(graph_error(131047))
    await output.send_text_message(WA_ID, "Anna: uw aanvraag is binnen.")
    assert graph.types() == ["text", "template"]


# -- Graph API errors ------------------------------------------------------------------------------


async def test_500_is_retried_until_it_succeeds(output: WhatsAppOutput, graph: FakeGraph) -> None:
    graph.fail_with(graph_error(1, 500), graph_error(2, 503))
    await output.send_text_message(WA_ID, "hallo")
    assert graph.types() == ["text", "text", "text"]


async def test_429_is_retried(output: WhatsAppOutput, graph: FakeGraph) -> None:
    graph.fail_with(graph_error(130429, 429))
    await output.send_text_message(WA_ID, "hallo")
    assert len(graph.sent) == 2


async def test_retries_are_bounded_and_the_message_waits_in_the_outbox(
    channel: WhatsAppInput, output: WhatsAppOutput, graph: FakeGraph
) -> None:
    graph.fail_with(*[graph_error(2, 500)] * 3)
    await output.send_text_message(WA_ID, "hallo")  # not raised: the caller must not send it again
    assert len(graph.sent) == 3 and graph.delivered == []
    assert await channel.state.pending() == 1
    channel.dispatcher.start()  # the background delivery sends it once Meta answers again
    await channel.dispatcher.wait_idle()
    await channel.dispatcher.stop()
    assert graph.delivered_texts() == ["hallo"]


async def test_400_is_not_retried(output: WhatsAppOutput, graph: FakeGraph) -> None:
    graph.fail_with(graph_error(100))
    await output.send_text_message(WA_ID, "hallo")  # logged, not raised: retrying cannot help
    assert len(graph.sent) == 1


async def test_network_errors_are_retried_and_the_message_kept(graph: FakeGraph, state_db: str) -> None:
    # port 9 (discard) on localhost: nobody listens, every attempt is a connection error
    channel = WhatsAppInput(make_config(graph, state_db, api_url="http://127.0.0.1:9/v24.0"))
    await channel.state.record_inbound(channel.ids.key(WA_ID), time.time())
    started = time.monotonic()
    await channel.get_output_channel().send_text_message(WA_ID, "hallo")
    # three attempts with 0.01 s and 0.02 s backoff in between
    assert time.monotonic() - started >= 0.03
    assert await channel.state.pending() == 1  # kept in the outbox for the background delivery
    await channel.graph.close()


# -- casemanager messages through Rasa's trigger_intent --------------------------------------------


class RasaAgentStub:
    """The parts of Rasa's Agent that `POST /conversations/{id}/trigger_intent` uses. The intent
    `medewerker_bericht` utters the casemanager's text, like action_medewerker_bericht: the domain's
    response, rendered by Rasa's own code (a structured payload, bot/payloads.py)."""

    def __init__(self) -> None:
        self.lock_store = InMemoryLockStore()
        self.domain = SimpleNamespace(intents=["medewerker_bericht"])
        self.processor = self

    def is_ready(self) -> bool:
        return True

    async def fetch_tracker_and_update_session(
        self, sender_id: str, *_: Any, **__: Any
    ) -> DialogueStateTracker:
        return DialogueStateTracker(sender_id, slots=[])

    async def trigger_intent(
        self, intent_name: str, entities: Any, output_channel: Any, tracker: Any
    ) -> None:
        values = entities if isinstance(entities, dict) else {e["entity"]: e["value"] for e in entities}
        (event,) = await as_rasa_sends([{"response": "utter_bericht_van_medewerker", **values}], CHANNEL)
        await output_channel.send_response(tracker.sender_id, event.message())


async def test_casemanager_message_reaches_whatsapp_through_trigger_intent(
    graph: FakeGraph, state_db: str
) -> None:
    import rasa.server

    app = rasa.server.create_app(agent=RasaAgentStub(), auth_token=None)
    server = await Server(WhatsAppInput(make_config(graph, state_db)), app=app).start()
    try:
        await server.send(text_message("Ik wil een medewerker"))  # opens the 24-hour window
        entities = {"naam": "Anna", "tekst": "Ik heb uw brief bekeken."}
        for sender in (WA_ID, "31687654321"):  # the second citizen never wrote: template only
            assert server.http is not None
            async with server.http.post(
                f"{server.base}/conversations/{sender}/trigger_intent",
                params={"output_channel": "whatsapp"},
                json={"name": "medewerker_bericht", "entities": entities},
            ) as resp:
                assert resp.status == 200, await resp.text()
    finally:
        await server.stop()
    assert [(m["to"], m["type"]) for m in graph.sent] == [(WA_ID, "text"), ("31687654321", "template")]
    assert graph.sent[0]["text"]["body"] == "Anna (medewerker): Ik heb uw brief bekeken."


# -- privacy of logs -------------------------------------------------------------------------------


async def test_logs_hold_no_phone_number_name_or_text(
    server: Server, graph: FakeGraph, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.channels")
    secret_text = "Mijn BSN staat in de brief"
    message = text_message(secret_text)
    await server.send(message)
    await server.send(message)  # duplicate
    await server.send(media_message("voice note"))
    graph.fail_with(graph_error(100), graph_error(2, 500), graph_error(2, 500), graph_error(2, 500))
    output = server.channel.get_output_channel()
    await output.send_text_message(WA_ID, secret_text)
    await output.send_text_message(WA_ID, secret_text)  # Meta down: kept in the outbox
    await output.send_text_message("31687654321", secret_text)  # window closed
    await server.post(envelope([text_message(secret_text)]), secret="forged")
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("bot.channels")]
    assert len(ours) >= 5
    for line in ours:
        for personal in (WA_ID, "31687654321", PROFILE_NAME, secret_text, "BSN"):
            assert personal not in line, line


# -- settings --------------------------------------------------------------------------------------


def test_settings_come_from_credentials_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHATSAPP_APP_SECRET", "from-env")
    monkeypatch.setenv("WHATSAPP_PHONE_NUMBER_ID", "123")
    monkeypatch.delenv("WHATSAPP_API_URL", raising=False)
    monkeypatch.delenv("WHATSAPP_TEMPLATE_LANGUAGE", raising=False)
    monkeypatch.delenv("WHATSAPP_STATE_DB", raising=False)
    config = WhatsAppConfig.from_credentials({"app_secret": "from-file", "phone_number_id": ""})
    assert config.app_secret == "from-file"
    assert config.phone_number_id == "123"
    assert config.api_url == "https://graph.facebook.com/v24.0"
    assert config.template_language == "nl"
    assert config.state_db == "var/whatsapp.db"
    assert WhatsAppConfig.from_credentials(None).app_secret == "from-env"


def test_channel_is_found_by_rasa_under_its_module_path() -> None:
    from rasa.core.run import _create_single_channel

    channel = _create_single_channel("bot.channels.whatsapp.WhatsAppInput", None)
    assert isinstance(channel, WhatsAppInput)
    assert channel.name() == "whatsapp" and channel.url_prefix() == "whatsapp"


# -- formatting helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, limit, expected",
    [
        ("Kort", 24, "Kort"),
        ("Aanvragen of wijzigen van toeslagen", 24, "Aanvragen of wijzigen…"),
        ("Betalingsregelingsaanvraagformulier", 24, "Betalingsregelingsaanvr…"),
        ("Ik,   wil   graag", 24, "Ik, wil graag"),
    ],
)
def test_shorten(text: str, limit: int, expected: str) -> None:
    assert shorten(text, limit) == expected
    assert len(shorten(text, limit)) <= limit


def test_split_text_never_exceeds_the_limit_and_loses_nothing() -> None:
    text = "woord " * 3000 + "x" * 5000
    parts = split_text(text, 1000)
    assert all(0 < len(p) <= 1000 for p in parts)
    assert "".join(p.replace(" ", "") for p in parts) == text.replace(" ", "")


# -- the channel's own words -----------------------------------------------------------------------


@pytest.mark.parametrize("text", [*sorted(set(TEXTS.values()) - {PERSON_BUTTON["title"]}), DEFAULT_BODY])
def test_channel_texts_are_plain_dutch(text: str) -> None:
    """The same bar as tests/bot/test_taal.py: Flesch-Douma >= 50, sentences <= 20 words, "u"."""
    textstat.set_lang("nl")
    assert textstat.flesch_reading_ease(text) >= 50
    assert all(len(sentence.split()) <= 20 for sentence in text.split("."))
    assert not {"je", "jij", "jouw"} & set(text.lower().replace("'", " ").split())


@pytest.mark.parametrize("title", [PERSON_BUTTON["title"], LIST_BUTTON_TEXT])
def test_channel_button_texts_fit(title: str) -> None:
    assert 0 < len(title) <= MAX_BUTTON_TITLE
