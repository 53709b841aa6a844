"""Delivery that never loses or doubles a message (issue 13): the durable inbox behind a fast 200,
the outbox with an idempotency key per message, and Meta's error codes. Against the fake Graph API
of helpers.py, which refuses what Meta refuses and can be slow, fail, or post status callbacks.

No test sleeps: each waits for the channel to settle (Server.settled) or for a condition."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Dict, List

import pytest

from bot.channels.whatsapp import WhatsAppConfig, WhatsAppInput, WhatsAppOutput
from bot.channels.whatsapp.channel import LONG_TEXT_NOTICE
from bot.channels.whatsapp.delivery import RATE_LIMIT_FACTOR
from bot.channels.whatsapp.graph import RATE_LIMIT_CODES
from tests.channels.conftest import StartServer
from tests.channels.helpers import (
    PROFILE_NAME,
    WA_ID,
    FakeGraph,
    Server,
    envelope,
    graph_error,
    status,
    text_message,
)

ANSWER = "Antwoord op: "


async def open_window(server: Server) -> WhatsAppOutput:
    """An output channel to a citizen who just wrote (the 24-hour window is open)."""
    await server.channel.state.record_inbound(server.channel.ids.key(WA_ID), time.time())
    return server.channel.get_output_channel()


# -- the inbox: nothing is lost after the 200 ------------------------------------------------------


@pytest.mark.parametrize("failure", [graph_error(131016, 503), graph_error(2, 503), (503, {})])
async def test_send_api_503_three_times_then_ok_answers_once_and_loses_nothing(
    server: Server, graph: FakeGraph, failure: tuple  # type: ignore[type-arg]
) -> None:
    server.agent.echo = True
    graph.fail_with(failure, failure, failure)  # every attempt of the first round
    code, _ = await server.post(envelope([text_message("Ik kan de huur niet betalen")]))
    assert code == 200
    assert server.agent.texts == ["Ik kan de huur niet betalen"]  # one Rasa turn
    assert graph.delivered_texts() == [ANSWER + "Ik kan de huur niet betalen"]  # answered once
    assert len(graph.sent) == 4
    assert await server.channel.state.pending() == 0


async def test_a_failed_turn_is_tried_again_and_answered_once(server: Server, graph: FakeGraph) -> None:
    server.agent.echo = True
    server.agent.failures = 2  # e.g. the action server restarting
    await server.send(text_message("Ik heb een brief van het CJIB"))
    assert server.agent.texts == ["Ik heb een brief van het CJIB"]
    assert graph.delivered_texts() == [ANSWER + "Ik heb een brief van het CJIB"]


async def test_messages_wait_while_rasa_is_not_ready_and_survive_a_restart(
    start_server: StartServer, graph: FakeGraph
) -> None:
    first = await start_server()
    first.agent.ready = False  # the model is still loading: Rasa would drop the message
    for text in ("eerste bericht", "tweede bericht"):
        code, _ = await first.post(envelope([text_message(text)]), settle=False)
        assert code == 200
    assert await first.channel.state.pending() == 2
    await first.stop()
    assert first.agent.messages == []

    second = await start_server()  # same state database: picked up at start, in order
    second.agent.echo = True
    await second.settled()
    assert second.agent.texts == ["eerste bericht", "tweede bericht"]
    assert graph.delivered_texts() == [ANSWER + "eerste bericht", ANSWER + "tweede bericht"]


async def test_a_repeated_webhook_is_answered_once(server: Server, graph: FakeGraph) -> None:
    server.agent.echo = True
    message = text_message("hallo")
    await asyncio.gather(*(server.post(envelope([message]), settle=False) for _ in range(5)))
    await server.settled()
    assert server.agent.texts == ["hallo"]
    assert graph.delivered_texts() == [ANSWER + "hallo"]


async def test_100_webhooks_from_20_users_with_a_slow_api_all_answered_once_in_order(
    server: Server, graph: FakeGraph
) -> None:
    """Every webhook gets its 200 without waiting for a turn or a send (the latency numbers are in
    `make bench`, bench/whatsapp_ack.py); every message is answered once, in order per user."""
    server.agent.echo = True
    graph.latency = 0.05  # every send takes a while
    users = [f"3161234{n:04d}" for n in range(20)]
    codes: List[int] = []

    async def user(wa_id: str) -> None:
        for n in range(5):
            code, _ = await server.post(
                envelope([text_message(f"{wa_id} bericht {n}", sender=wa_id)]), settle=False
            )
            codes.append(code)

    await asyncio.gather(*(user(u) for u in users))
    assert codes == [200] * 100
    await server.settled(timeout=120)
    received: Dict[str, List[str]] = {}
    for message in server.agent.messages:
        received.setdefault(message.sender_id, []).append(message.text or "")
    for wa_id in users:
        expected = [f"{wa_id} bericht {n}" for n in range(5)]
        assert received[wa_id] == expected
        assert graph.delivered_texts(wa_id) == [ANSWER + text for text in expected]


# -- the outbox: no second copy --------------------------------------------------------------------


async def test_a_send_answered_too_late_is_sent_once(start_server: StartServer, graph: FakeGraph) -> None:
    """Meta takes the message but answers after our timeout (the issue's 11 s answer against a
    10 s timeout, here 1 s against 0.2 s). It is not sent again: Meta's status callback names its
    idempotency key."""
    server = await start_server(send_timeout=0.2, confirm_seconds=60.0)
    graph.callbacks_to(server)
    server.agent.echo = True
    graph.slow.append(1.0)
    await server.send(text_message("Wanneer krijg ik antwoord?"))
    assert graph.delivered_texts() == [ANSWER + "Wanneer krijg ik antwoord?"]
    assert len(graph.sent) == 1


async def test_an_unanswered_send_without_status_callback_is_sent_again_after_the_wait(
    start_server: StartServer, graph: FakeGraph
) -> None:
    """No answer and no status callback: Meta most likely never took it, so it goes again (once)
    after `confirm_seconds`; a message is never lost for a lost answer."""
    server = await start_server(send_timeout=0.2, confirm_seconds=0.3, callbacks=False)
    output = await open_window(server)
    graph.slow.append(1.0)
    await output.send_text_message(WA_ID, "Uw afspraak staat.")
    await server.settled()
    assert graph.delivered_texts() == ["Uw afspraak staat.", "Uw afspraak staat."]
    assert len(graph.sent) == 2


async def test_a_hanging_api_never_gets_the_same_message_three_times(
    start_server: StartServer, graph: FakeGraph
) -> None:
    server = await start_server(send_timeout=0.2, confirm_seconds=60.0)
    graph.callbacks_to(server)
    output = await open_window(server)
    graph.slow.extend([1.0, 1.0])
    await output.send_text_message(WA_ID, "Eerste bericht.")
    await output.send_text_message(WA_ID, "Tweede bericht.")
    await server.settled()
    assert graph.delivered_texts() == ["Eerste bericht.", "Tweede bericht."]
    assert len(graph.sent) == 2


async def test_a_casemanager_reply_in_parts_does_not_resend_part_one_when_part_two_fails(
    server: Server, graph: FakeGraph
) -> None:
    output = await open_window(server)
    parts = ["Deel een. " * 300, "Deel twee. " * 300]  # 3000 and 3300 characters: two messages
    graph.pass_first = 1
    graph.fail_with(*[graph_error(131000, 500)] * 3)
    # trigger_intent's send returns normally: the handover service has no reason to send it again
    await output.send_text_message(WA_ID, "\n\n".join(parts))
    assert graph.delivered_texts() == [parts[0].strip()]
    await server.settled()
    assert graph.delivered_texts() == [parts[0].strip(), parts[1].strip()]


async def test_every_message_carries_its_own_idempotency_key(server: Server, graph: FakeGraph) -> None:
    output = await open_window(server)
    for text in ("een", "twee", "een"):
        await output.send_text_message(WA_ID, text)
    await server.settled()  # the second waits for Meta's "sent" of the first (order per citizen)
    keys = graph.keys
    assert len(keys) == 3 and all(keys) and len(set(keys)) == 3


# -- Meta's error codes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, status",
    [(130429, 400), (131056, 400), (131000, 500), (131016, 503), (130429, 429), (4, 400), (80007, 400)],
    ids=["rate limit", "pair rate limit", "something went wrong", "service unavailable",
         "rate limit as 429", "app rate limit", "account rate limit"],
)
async def test_rate_limits_and_temporary_errors_are_retried_with_backoff_and_delivered_once(
    server: Server, graph: FakeGraph, code: int, status: int
) -> None:
    output = await open_window(server)
    graph.fail_with(*[graph_error(code, status)] * 4)  # the whole first round and one more
    await output.send_text_message(WA_ID, "Uw aanvraag is binnen.")
    await server.settled()
    assert graph.delivered_texts() == ["Uw aanvraag is binnen."]
    assert len(graph.sent) == 5
    gaps = [b - a for a, b in zip(graph.attempts_at, graph.attempts_at[1:], strict=False)]
    base = server.channel.config.retry_base_delay
    assert all(gap >= base * 0.9 for gap in gaps)  # never at once
    if code in RATE_LIMIT_CODES:
        assert gaps[2] >= RATE_LIMIT_FACTOR * base * 0.9  # a rate limit gets a longer pause


async def test_a_permanent_error_is_not_retried_and_logged_without_personal_data(
    server: Server, graph: FakeGraph, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.channels")
    output = await open_window(server)
    graph.fail_with(graph_error(131026))  # message undeliverable
    await output.send_text_message(WA_ID, "Mijn BSN is 123456782")
    await server.settled()
    assert len(graph.sent) == 1 and graph.delivered == []
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refused and "code=131026" in refused[0]
    for personal in (WA_ID, PROFILE_NAME, "BSN", "123456782"):
        assert personal not in caplog.text
    await output.send_text_message(WA_ID, "Volgende bericht")  # the next one is not blocked
    assert graph.delivered_texts() == ["Volgende bericht"]


async def test_the_fake_refuses_what_meta_refuses(output_server: Server, graph: FakeGraph) -> None:
    """The fake enforces Meta's documented limits, so the tests above cannot pass on a message
    Meta would refuse: here the channel is bypassed on purpose."""
    sender = output_server.channel.sender
    for body in (
        {"type": "text", "text": {"body": "x" * 4097}},
        {
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": "Klopt dat?"},
                "action": {
                    "buttons": [
                        {"type": "reply", "reply": {"id": "/a", "title": "Ja"}},
                        {"type": "reply", "reply": {"id": "/b", "title": "Ja"}},
                    ]
                },
            },
        },
    ):
        with pytest.raises(Exception, match=r"code=(100|131009)"):
            await sender.send(WA_ID, body)
    assert graph.delivered == []


@pytest.fixture
async def output_server(server: Server) -> Server:
    await open_window(server)
    return server


# -- small defects (issue 13, item 6) --------------------------------------------------------------


async def test_equal_button_titles_are_made_unique_so_meta_takes_the_message(
    output_server: Server, graph: FakeGraph
) -> None:
    output = output_server.channel.get_output_channel()
    await output.send_text_with_buttons(
        WA_ID, "Klopt dat?", [{"title": "Ja", "payload": "/a"}, {"title": "Ja", "payload": "/b"}]
    )
    rows = [
        {"title": f"Schulden{' regelen' if i == 2 else ''}", "payload": f"/s{i}"} for i in range(4)
    ]
    await output.send_text_with_buttons(WA_ID, "Waar gaat het over?", rows)
    await output_server.settled()
    assert graph.delivered_texts() == ["interactive", "interactive"]  # neither refused (131009)
    buttons = graph.delivered[0]["interactive"]["action"]["buttons"]
    assert [(b["reply"]["title"], b["reply"]["id"]) for b in buttons] == [("Ja", "/a"), ("Ja (2)", "/b")]
    listed = graph.delivered[1]["interactive"]["action"]["sections"][0]["rows"]
    assert [r["title"] for r in listed] == ["Schulden", "Schulden (2)", "Schulden regelen", "Schulden (3)"]


async def test_errors_in_the_webhook_value_are_logged_with_their_codes(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.channels")
    payload = envelope([text_message("hallo")])
    payload["entry"][0]["changes"][0]["value"]["errors"] = [
        {"code": 131051, "title": "Unsupported message type", "error_data": {"details": "x"}}
    ]
    code, _ = await server.post(payload)
    assert code == 200 and server.agent.texts == ["hallo"]
    assert any("131051" in r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)


async def test_a_batch_over_1_mib_is_accepted(server: Server) -> None:
    """Meta batches up to 3 MB; a 413 would make it send the same batch again for days."""
    statuses = [status("delivered") for _ in range(5000)]
    payload = envelope([text_message("na een grote batch")], statuses=statuses)
    assert len(json.dumps(payload)) > 1024 * 1024
    code, _ = await server.post(payload)
    assert code == 200
    assert server.agent.texts == ["na een grote batch"]


async def test_a_text_over_4096_characters_is_not_cut_silently(
    server: Server, graph: FakeGraph
) -> None:
    server.agent.reply = {"text": "Waar gaat uw vraag over?"}
    long_text = "Ik heb een probleem met de huur. " * 200  # 6600 characters
    await server.send(text_message(long_text))
    [read] = server.agent.texts
    assert len(read) <= 4096 and long_text.startswith(read)
    assert long_text[len(read)] == " "  # cut between words
    assert graph.delivered_texts() == [LONG_TEXT_NOTICE, "Waar gaat uw vraag over?"]


async def test_without_settings_the_channel_starts_no_delivery_and_no_database(tmp_path: Path) -> None:
    database = tmp_path / "whatsapp.db"
    server = await Server(WhatsAppInput(WhatsAppConfig(state_db=str(database)))).start()
    try:
        assert not server.channel.dispatcher.running
    finally:
        await server.stop()
    assert not database.exists()


async def test_a_message_whose_instance_died_mid_turn_is_taken_over_within_the_turn_lease(
    tmp_path: Path,
) -> None:
    """The turn lease is short and renewed while the turn runs: a live instance keeps the message,
    one that was killed lets another instance take it over after `turn_lease` seconds, not minutes."""
    from bot.channels.whatsapp.delivery import DeliverySettings
    from bot.channels.whatsapp.store import WhatsAppState

    now = [1_000_000.0]
    state = WhatsAppState(f"sqlite:///{tmp_path / 'state.db'}", clock=lambda: now[0])
    lease = DeliverySettings(template_name=None, template_language="nl", hold=True, can_send=True).turn_lease
    assert lease <= 60
    assert await state.enqueue_inbound([("wamid.1", "contact", {"text": "hallo"})]) == 1
    first = await state.claim_inbox_head("contact", lease, "instance-a")
    assert first is not None
    now[0] += lease * 2 / 3
    assert await state.renew_inbox_lease(first.id, "instance-a", lease)  # alive: renewed
    now[0] += lease * 2 / 3
    assert await state.claim_inbox_head("contact", lease, "instance-b") is None  # still held
    assert not await state.renew_inbox_lease(first.id, "instance-b", lease)  # not b's to renew
    now[0] += lease + 1  # instance a was killed: no renewal
    taken = await state.claim_inbox_head("contact", lease, "instance-b")
    assert taken is not None and taken.id == first.id
    state.dispose()


async def test_a_turn_run_twice_after_its_lease_ran_out_is_answered_once(tmp_path: Path) -> None:
    """Instance a is slow (its lease runs out while it is still busy), instance b takes the message
    over and runs the turn too: whichever finishes first answers, the other's replies are dropped."""
    from bot.channels.whatsapp.store import WhatsAppState

    now = [1_000_000.0]
    state = WhatsAppState(f"sqlite:///{tmp_path / 'state.db'}", clock=lambda: now[0])
    assert await state.enqueue_inbound([("wamid.1", "contact", {"text": "hallo"})]) == 1
    first = await state.claim_inbox_head("contact", 30, "instance-a")
    assert first is not None
    now[0] += 31  # a's renewals did not get through
    second = await state.claim_inbox_head("contact", 30, "instance-b")
    assert second is not None and second.id == first.id
    reply = [{"type": "text", "text": {"body": "Antwoord"}}]
    keys = await state.finish_inbound(second.id, "contact", WA_ID, reply)
    assert keys is not None and len(keys) == 1
    assert await state.finish_inbound(first.id, "contact", WA_ID, reply) is None
    assert await state.pending() == 1  # one reply in the outbox, the message out of the inbox
    state.dispose()
