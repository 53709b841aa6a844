"""Meta's status callbacks close the loop (issue 13, item 5) and the small defects of item 6 that
were left: several photos and captions, an edited message, the template button with nothing held.

Against the fake Graph API of helpers.py and a fake handover service that records what the
channel tells it. No test sleeps: each waits for the channel to settle (Server.settled, which
includes the notices for the handover service) or for a condition."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from typing import Any, AsyncIterator, Dict, Iterator, List, Optional, Tuple

import pytest
from aiohttp import web

from bot.channels.whatsapp import store as store_module
from bot.channels.whatsapp.channel import (
    CAPTION_NOTICE,
    EDITED_NOTICE,
    NOTHING_HELD_REPLY,
    PERSON_BUTTON,
    UNSUPPORTED_REPLY,
    WhatsAppInput,
    WhatsAppOutput,
)
from tests.channels.conftest import StartServer
from tests.channels.helpers import (
    TEMPLATE,
    WA_ID,
    FakeGraph,
    Server,
    envelope,
    make_config,
    media_message,
    status,
    template_button,
    text_message,
    wamid,
)

SECRET = "handover-test-secret"
STAFF_TEXT = "Ik heb het CJIB gebeld. U krijgt een betalingsregeling."


class FakeHandover:
    """Records the delivery notices the channel posts; answers 202 (or what `answers` says)."""

    def __init__(self) -> None:
        self.notices: List[Tuple[str, Dict[str, Any]]] = []
        self.auth: List[Optional[str]] = []
        self.answers: List[int] = []
        self.url = ""
        self._runner: Optional[web.AppRunner] = None

    async def start(self) -> "FakeHandover":
        app = web.Application()
        app.router.add_post("/api/conversations/{channel}/{sender_id}/delivery-failures", self._notice)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _notice(self, request: web.Request) -> web.Response:
        self.auth.append(request.headers.get("Authorization"))
        if self.answers:
            return web.json_response({"error": "down"}, status=self.answers.pop(0))
        assert request.match_info["channel"] == "whatsapp"
        self.notices.append((request.match_info["sender_id"], await request.json()))
        return web.json_response({"status": "recorded"}, status=202)


@pytest.fixture
async def handover() -> AsyncIterator[FakeHandover]:
    fake = await FakeHandover().start()
    yield fake
    await fake.stop()


@pytest.fixture
async def server(start_server: StartServer, handover: FakeHandover, graph: FakeGraph) -> Server:
    running = await start_server(handover_url=handover.url, handover_secret=SECRET)
    graph.callbacks_to(running)  # Meta's "sent" callback for every message it takes
    return running


def staff_message(text: str = STAFF_TEXT) -> Dict[str, Any]:
    """A casemanager's message as the handover service has Rasa send it (bot/payloads.py)."""
    return {"data": {"type": "staff_message", "name": "Sanne", "label": "Sanne (medewerker)", "text": text}}


async def open_window(server: Server) -> WhatsAppOutput:
    await server.channel.state.record_inbound(server.channel.ids.key(WA_ID), time.time())
    return server.channel.get_output_channel()


async def report(server: Server, key: Optional[str], state: str, code: Optional[int] = None) -> None:
    """Meta's status callback for the message with this idempotency key."""
    entry = status(state, code)
    entry["biz_opaque_callback_data"] = key
    code_, _ = await server.post(envelope(statuses=[entry]))
    assert code_ == 200


async def until(condition: Any, timeout: float = 30.0) -> None:
    """Wait for a condition of something outside the channel (the fake's callbacks)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def key_of(graph: FakeGraph, index: int) -> str:
    key = graph.keys[index]
    assert key is not None
    return key


# -- failed: the 24-hour window closed ---------------------------------------------------------------


async def test_failed_131047_on_a_casemanager_message_holds_it_sends_the_template_and_tells_handover(
    server: Server, graph: FakeGraph, handover: FakeHandover
) -> None:
    output = await open_window(server)  # our clock says open; Meta knows better
    await output.send_custom_json(WA_ID, staff_message())
    await server.settled()
    assert graph.delivered_texts() == [f"Sanne (medewerker): {STAFF_TEXT}"]
    key = key_of(graph, 0)

    await report(server, key, "failed", 131047)
    await server.settled()
    # held, and the approved template went out (once, with its own idempotency key)
    assert graph.types() == ["text", "template"]
    assert graph.sent[-1]["template"]["name"] == TEMPLATE
    assert graph.keys[-1] not in (None, key)
    assert await server.channel.state.outbound_status(key) == ("held", False)
    assert await server.channel.state.held_count(server.channel.ids.key(WA_ID)) == 1
    # the handover service was told, with the shared secret, which message and why
    assert handover.auth == [f"Bearer {SECRET}"]
    [(sender, notice)] = handover.notices
    assert sender == WA_ID
    assert notice["outcome"] == "held" and notice["code"] == 131047
    assert notice["kind"] == "staff_message"
    assert notice["text_sha256"] == hashlib.sha256(STAFF_TEXT.encode()).hexdigest()
    assert STAFF_TEXT not in str(notice) and len(notice["client_id"]) == 32

    # a repeat of Meta's callback changes nothing
    await report(server, key, "failed", 131047)
    await server.settled()
    assert graph.types() == ["text", "template"] and len(handover.notices) == 1

    # the citizen taps the template's button: the held message arrives, Rasa is not asked
    await server.send(template_button("Bericht lezen", "Bericht lezen"))
    assert graph.delivered_texts()[-1] == f"Sanne (medewerker): {STAFF_TEXT}"
    assert graph.types() == ["text", "template", "text"]
    assert server.agent.messages == []

    # Meta reports it delivered: the handover service, told it was held, is told it arrived
    await report(server, key_of(graph, 2), "delivered")
    await server.settled()
    assert [n["outcome"] for _, n in handover.notices] == ["held", "delivered"]
    assert handover.notices[1][1]["text_sha256"] == notice["text_sha256"]
    await report(server, key_of(graph, 2), "read")  # told once
    await server.settled()
    assert len(handover.notices) == 2


async def test_a_message_after_131047_is_held_too_without_a_second_template(
    server: Server, graph: FakeGraph, handover: FakeHandover
) -> None:
    output = await open_window(server)
    await output.send_custom_json(WA_ID, staff_message("Eerste bericht."))
    await server.settled()
    await report(server, key_of(graph, 0), "failed", 131047)
    await server.settled()
    # Meta said the window is closed: the next message is not tried as free text
    await output.send_custom_json(WA_ID, staff_message("Tweede bericht."))
    await server.settled()
    assert graph.types() == ["text", "template"]
    assert [n["outcome"] for _, n in handover.notices] == ["held", "held"]
    await server.send(text_message("Hallo, ik ben er weer"))
    assert graph.delivered_texts()[-2:] == [
        "Sanne (medewerker): Eerste bericht.",
        "Sanne (medewerker): Tweede bericht.",
    ]
    assert server.agent.texts == ["Hallo, ik ben er weer"]


async def test_failed_131047_on_a_bot_reply_is_held_but_handover_is_not_told(
    server: Server, graph: FakeGraph, handover: FakeHandover
) -> None:
    server.agent.echo = True
    await server.send(text_message("Ik heb een vraag over de huur"))
    [reply] = graph.delivered_texts()
    await report(server, key_of(graph, 0), "failed", 131047)
    await server.settled()
    assert graph.types() == ["text", "template"]
    assert handover.notices == []
    await server.send(template_button("Bericht lezen", "Bericht lezen"))
    assert graph.delivered_texts()[-1] == reply


# -- failed: other codes -----------------------------------------------------------------------------


@pytest.mark.parametrize("code", [131000, 130429, 131016])
async def test_failed_with_a_passing_error_is_sent_again_once(
    server: Server, graph: FakeGraph, handover: FakeHandover, code: int
) -> None:
    output = await open_window(server)
    await output.send_custom_json(WA_ID, staff_message())
    await server.settled()
    first = key_of(graph, 0)
    await report(server, first, "failed", code)
    await server.settled()
    assert graph.delivered_texts() == [f"Sanne (medewerker): {STAFF_TEXT}"] * 2
    assert graph.keys[1] == first  # the same message again, with its own key
    assert await server.channel.state.outbound_status(first) in (("accepted", True), ("sent", True))
    assert handover.notices == []


async def test_the_same_failure_reported_twice_sends_the_message_again_only_once(
    server: Server, graph: FakeGraph
) -> None:
    output = await open_window(server)
    await output.send_text_message(WA_ID, "Uw aanvraag is binnen.")
    await server.settled()
    entry = status("failed", 131000)
    entry["biz_opaque_callback_data"] = key_of(graph, 0)
    for _ in range(2):  # Meta's webhooks are "at least once"
        code, _ = await server.post(envelope(statuses=[entry]))
        assert code == 200
    assert graph.delivered_texts() == ["Uw aanvraag is binnen."] * 2


async def test_failed_for_good_is_not_sent_again_and_handover_is_told(
    server: Server, graph: FakeGraph, handover: FakeHandover, caplog: pytest.LogCaptureFixture
) -> None:
    output = await open_window(server)
    await output.send_custom_json(WA_ID, staff_message())
    await server.settled()
    key = key_of(graph, 0)
    await report(server, key, "failed", 131026)  # message undeliverable (e.g. not on WhatsApp)
    await server.settled()
    assert graph.types() == ["text"]
    assert await server.channel.state.outbound_status(key) == ("failed", False)
    [(_, notice)] = handover.notices
    assert notice["outcome"] == "failed" and notice["code"] == 131026
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "131026" in logged and WA_ID not in logged and STAFF_TEXT not in logged


async def test_a_notice_waits_while_the_handover_service_is_down(
    server: Server, graph: FakeGraph, handover: FakeHandover
) -> None:
    handover.answers = [503, 503]
    output = await open_window(server)
    await output.send_custom_json(WA_ID, staff_message())
    await server.settled()
    await report(server, key_of(graph, 0), "failed", 131047)
    await server.settled()  # includes the notice: tried until the service took it
    assert len(handover.auth) == 3
    assert [n["outcome"] for _, n in handover.notices] == ["held"]


async def test_queue_notices_are_no_case_messages_for_the_handover_service(
    server: Server, graph: FakeGraph, handover: FakeHandover
) -> None:
    output = await open_window(server)
    queued = {"data": {"type": "mode", "mode": "queued", "text": "U bent nu nummer 2 in de wachtrij."}}
    await output.send_custom_json(WA_ID, queued)
    await server.settled()
    await report(server, key_of(graph, 0), "failed", 131026)
    await server.settled()
    assert handover.notices == []


# -- delivered and read ------------------------------------------------------------------------------


async def test_delivered_and_read_are_recorded_and_the_text_is_then_dropped(
    server: Server, graph: FakeGraph
) -> None:
    output = await open_window(server)
    await output.send_text_message(WA_ID, "Uw aanvraag is binnen.")
    await server.settled()
    key = key_of(graph, 0)
    state = server.channel.state
    assert (await state.outbound_status(key) or ("",))[0] in ("accepted", "sent")
    assert (await state.outbound_status(key) or ("", False))[1]  # kept: a later `failed` may need it
    await report(server, key, "read")  # Meta does not promise the order
    await report(server, key, "delivered")
    assert await state.outbound_status(key) == ("read", False)
    await report(server, key, "failed", 131047)  # too late to matter: it was read
    await server.settled()
    assert graph.types() == ["text"] and await state.outbound_status(key) == ("read", False)


# -- item 6: photos, captions, edits, the template button --------------------------------------------


def photo(caption: Optional[str] = None) -> Dict[str, Any]:
    message = media_message("photo")
    message["image"] = dict(message["image"])  # helpers.MEDIA is shared
    if caption is None:
        del message["image"]["caption"]
    else:
        message["image"]["caption"] = caption
    return message


async def test_several_photos_at_once_get_one_answer(server: Server, graph: FakeGraph) -> None:
    await server.send(photo(), photo(), photo(), photo())
    assert server.agent.messages == []
    [reply] = graph.sent
    assert reply["interactive"]["body"]["text"] == UNSUPPORTED_REPLY
    assert reply["interactive"]["action"]["buttons"][0]["reply"]["id"] == PERSON_BUTTON["payload"]
    # one more a moment later (a separate webhook) is part of the same batch
    await server.send(photo())
    assert len(graph.sent) == 1


async def test_photos_with_a_caption_the_caption_is_read_and_answered_once(
    server: Server, graph: FakeGraph
) -> None:
    server.agent.echo = True
    await server.send(photo("Deze brief kreeg ik van de Belastingdienst"), photo(), photo())
    assert server.agent.texts == ["Deze brief kreeg ik van de Belastingdienst"]
    assert graph.delivered_texts() == [
        CAPTION_NOTICE,
        "Antwoord op: Deze brief kreeg ik van de Belastingdienst",
    ]


async def test_a_caption_after_the_photos_is_still_read(server: Server, graph: FakeGraph) -> None:
    server.agent.echo = True
    await server.send(photo(), photo(), photo("Wat moet ik hiermee?"))
    assert server.agent.texts == ["Wat moet ik hiermee?"]
    assert [m["type"] for m in graph.sent] == ["interactive", "text"]
    assert graph.delivered_texts()[-1] == "Antwoord op: Wat moet ik hiermee?"


def edited(new_text: str, original_id: str) -> Dict[str, Any]:
    """Meta's `edit` webhook message: the message as it reads now."""
    return {
        "from": WA_ID,
        "id": wamid(),
        "timestamp": str(int(time.time())),
        "type": "edit",
        "edit": {"original_message_id": original_id, "message": {"type": "text", "text": {"body": new_text}}},
    }


async def test_an_edited_message_is_read_as_its_new_text(server: Server, graph: FakeGraph) -> None:
    server.agent.echo = True
    original = text_message("Ik kan de huur niet betalne")
    await server.send(original)
    await server.send(edited("Ik kan de huur niet betalen", original["id"]))
    assert server.agent.texts == ["Ik kan de huur niet betalne", "Ik kan de huur niet betalen"]
    assert graph.delivered_texts()[1:] == [EDITED_NOTICE, "Antwoord op: Ik kan de huur niet betalen"]
    assert UNSUPPORTED_REPLY not in str(graph.sent)


async def test_an_edit_without_text_is_ignored(server: Server, graph: FakeGraph) -> None:
    odd = edited("x", "wamid.original")
    odd["edit"]["message"] = {"type": "sticker", "sticker": {"id": "1"}}
    await server.send(odd)
    assert server.agent.messages == [] and graph.sent == []


async def test_the_template_button_with_nothing_held_gets_a_plain_answer(
    server: Server, graph: FakeGraph
) -> None:
    await server.send(template_button("Bericht lezen", "Bericht lezen"))
    assert server.agent.messages == []  # not "Sorry, dat begrijp ik nog niet goed"
    [reply] = graph.sent
    assert reply["interactive"]["body"]["text"] == NOTHING_HELD_REPLY
    assert reply["interactive"]["action"]["buttons"][0]["reply"]["id"] == PERSON_BUTTON["payload"]


# -- several instances ---------------------------------------------------------------------------------


PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_state(request: pytest.FixtureRequest, state_db: str) -> Iterator[str]:
    """The state database two instances share: the SQLite file, or a fresh PostgreSQL database
    (docs/whatsapp.md, "Several instances"); skipped when no PostgreSQL runs on 127.0.0.1."""
    if request.param == "sqlite":
        yield state_db
        return
    psycopg2 = pytest.importorskip("psycopg2")
    name = f"wa_state_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg2.connect(PG_ADMIN, connect_timeout=3)
    except psycopg2.OperationalError:
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
async def two_instances(
    shared_state: str, graph: FakeGraph, handover: FakeHandover
) -> AsyncIterator[Tuple[Server, Server]]:
    servers: List[Server] = []
    try:
        for _ in range(2):
            config = make_config(graph, shared_state, handover_url=handover.url, handover_secret=SECRET)
            servers.append(await Server(WhatsAppInput(config)).start())
        yield servers[0], servers[1]
    finally:
        for server in servers:
            await server.stop()


async def test_two_instances_on_one_state_database_answer_each_message_once_in_order(
    two_instances: Tuple[Server, Server], graph: FakeGraph, handover: FakeHandover
) -> None:
    first, second = two_instances
    graph.callbacks_to(first)
    for server in (first, second):
        server.agent.echo = True
    users = [f"3161234{i:04d}" for i in range(4)]
    for round_ in range(3):
        for n, user in enumerate(users):
            target = (first, second)[(n + round_) % 2]
            code, _ = await target.post(
                envelope([text_message(f"bericht {round_}", sender=user)]), settle=False
            )
            assert code == 200
    for server in (first, second):
        await server.settled()
    for user in users:
        assert graph.delivered_texts(to=user) == [f"Antwoord op: bericht {r}" for r in range(3)]
    assert sorted(first.agent.texts + second.agent.texts) == sorted(
        f"bericht {r}" for r in range(3) for _ in users
    )

    # a failed 131047 reported to one instance: held once, one template, one notice
    output = second.channel.get_output_channel()
    await output.send_custom_json(users[0], staff_message())
    for server in (first, second):
        await server.settled()
    key = graph.keys[-1]
    await report(first, key, "failed", 131047)
    await report(second, key, "failed", 131047)
    for server in (first, second):
        await server.settled()
    assert [m["type"] for m in graph.sent if m["to"] == users[0]][-2:] == ["text", "template"]
    assert len(handover.notices) == 1


async def test_a_casemanagers_message_that_rasa_handled_twice_is_sent_once(
    server: Server, graph: FakeGraph, handover: FakeHandover
) -> None:
    """The handover service's id (bericht_id) of a casemanager's message: a second Rasa instance
    handling the same call again (the first was killed before it answered) sends nothing new."""
    output = await open_window(server)
    said = {"data": {**staff_message()["data"], "id": "41"}}
    await output.send_custom_json(WA_ID, said)
    await output.send_custom_json(WA_ID, said)  # the same message, handled again
    await output.send_custom_json(WA_ID, {"data": {**said["data"], "id": "42"}})  # said again: a new one
    await server.settled()
    assert graph.delivered_texts() == [f"Sanne (medewerker): {STAFF_TEXT}"] * 2


async def test_a_casemanagers_message_cut_off_before_it_was_queued_is_sent_when_it_comes_again(
    server: Server, graph: FakeGraph, handover: FakeHandover, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Rasa call that carries a casemanager's message ends after its id was taken and before
    the message was queued (the instance killed, or the call cancelled because the service's
    request timed out or its instance died). The service sends it again; that must reach the
    citizen, not be dropped as 'sent already'."""
    output = await open_window(server)
    said = {"data": {**staff_message()["data"], "id": "43"}}
    real_rows = store_module._outbox_rows
    cut_off = []

    def dies_while_queueing(*args: Any, **kwargs: Any) -> Any:
        if not cut_off:
            cut_off.append(True)
            raise RuntimeError("the process ends here")
        return real_rows(*args, **kwargs)

    monkeypatch.setattr(store_module, "_outbox_rows", dies_while_queueing)
    with pytest.raises(RuntimeError):
        await output.send_custom_json(WA_ID, said)
    await output.send_custom_json(WA_ID, said)  # the handover service's outbox: again
    await output.send_custom_json(WA_ID, said)  # and once more: still one message
    await server.settled()
    assert graph.delivered_texts() == [f"Sanne (medewerker): {STAFF_TEXT}"]
