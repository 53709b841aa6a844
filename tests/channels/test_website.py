"""The website widget's channel (bot/channels/website/): what the handover service sends while no
page is connected waits, and reaches the widget when it rejoins the conversation; a real Sanic
server with the channel registered by Rasa's configure_app and a real socket.io client."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any, AsyncIterator, List

import pytest
import rasa.core.run
import socketio
from rasa.core.agent import Agent
from rasa.core.lock_store import LockError
from sanic import Sanic
from socketio.asyncio_pubsub_manager import AsyncPubSubManager

from bot import input_guard as guard
from bot import tracker_store as ts
from bot.action_retry import ActionServerUnavailable
from bot.channels.website import PendingMessages, WebsiteInput, WebsiteOutput
from bot.channels.website import channel as website_channel
from bot.channels.website.channel import MAX_REDELIVERIES

HOLD = 120 * 60.0
CLOSED = {
    "data": {
        "type": "mode",
        "mode": "closed",
        "reference": "HV-TEST",
        "text": "De medewerker heeft het gesprek afgesloten. Uw kenmerk is HV-TEST.",
    }
}
STEPS = "Dit hebben we afgesproken: u belt maandag het CJIB."


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Widget:
    """A socket.io client as the widget uses it: session_request, then bot_uttered events, each
    acknowledged by its `mid` (chat-widget.js); a `mid` seen before is dropped, as the widget does."""

    def __init__(self, base: str, ack: bool = True) -> None:
        self.base = base
        self.ack = ack
        self.seen: set[str] = set()
        self.client = socketio.AsyncClient(reconnection=False)
        self.received: "asyncio.Queue[Any]" = asyncio.Queue()
        self.confirmed: "asyncio.Queue[Any]" = asyncio.Queue()
        self.client.on("bot_uttered", self._got)
        self.client.on("session_confirm", self.confirmed.put_nowait)

    async def _got(self, data: Any) -> None:
        if isinstance(data, dict) and "mid" in data:
            mid = data.pop("mid")
            if self.ack:
                await self.client.emit("bot_uttered_ack", {"mid": mid})
            if mid in self.seen:
                return
            self.seen.add(mid)
        self.received.put_nowait(data)

    async def join(self, session_id: str) -> "Widget":
        await self.client.connect(self.base, transports=["websocket"])
        await self.client.emit("session_request", {"session_id": session_id})
        assert await asyncio.wait_for(self.confirmed.get(), 10) == session_id
        return self

    async def next(self) -> Any:
        return await asyncio.wait_for(self.received.get(), 10)

    async def leave(self) -> None:
        await self.client.disconnect()


class Site:
    """Rasa's app with the website channel and the input guards, as bot/server.py runs it."""

    def __init__(self, pending: PendingMessages) -> None:
        self.channel = WebsiteInput(session_persistence=True, pending=pending)
        self.base = ""
        self._server: Any = None
        self.widgets: List[Widget] = []

    async def start(self, monkeypatch: pytest.MonkeyPatch) -> "Site":
        monkeypatch.setattr(rasa.core.run, "configure_app", rasa.core.run.configure_app)
        monkeypatch.setattr(Agent, "handle_message", Agent.handle_message)
        guard.install_on_rasa()
        app: Sanic = rasa.core.run.configure_app([self.channel], enable_api=False)
        self.app = app
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
        await self._server.startup()
        await self._server.before_start()
        await self._server.after_start()
        return self

    @property
    def output(self) -> WebsiteOutput:
        output = self.channel.get_output_channel()
        assert output is not None
        return output

    async def widget(self, session_id: str, ack: bool = True) -> Widget:
        widget = await Widget(self.base, ack).join(session_id)
        self.widgets.append(widget)
        return widget

    async def stop(self) -> None:
        for widget in self.widgets:
            await widget.leave()
        await self._server.before_stop()
        self._server.close()
        await self._server.wait_closed()
        await self._server.after_stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def pending(tmp_path: Path, clock: Clock) -> PendingMessages:
    return PendingMessages.from_setting(str(tmp_path / "var" / "website.db"), HOLD, clock)


@pytest.fixture
async def site(pending: PendingMessages, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Site]:
    running = await Site(pending).start(monkeypatch)
    yield running
    await running.stop()


async def closing_of_a_case(output: WebsiteOutput, session_id: str) -> None:
    """What Rasa sends for the handover service's terug_naar_bot (bot/domain/medewerker.yml)."""
    await output.send_custom_json(session_id, dict(CLOSED))
    await output.send_text_message(session_id, STEPS)


async def all_acknowledged(pending: PendingMessages, session_id: str) -> None:
    """Wait until the widget's acknowledgements have been handled (they travel on their own)."""
    for _ in range(500):
        if await pending.unacknowledged(session_id) == []:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not acknowledged: {await pending.unacknowledged(session_id)}")


async def test_the_closing_of_a_case_waits_for_the_widget_and_arrives_when_it_rejoins(
    site: Site, pending: PendingMessages
) -> None:
    await closing_of_a_case(site.output, "gesprek-1")  # no page connected
    widget = await site.widget("gesprek-1")
    assert [await widget.next(), await widget.next()] == [CLOSED["data"], {"text": STEPS}]
    # Acknowledged by the widget: a second page of the same conversation gets only what is new.
    await all_acknowledged(pending, "gesprek-1")
    again = await site.widget("gesprek-1")
    await site.output.send_text_message("gesprek-1", "Nog een bericht.")
    assert await again.next() == {"text": "Nog een bericht."}
    assert await widget.next() == {"text": "Nog een bericht."}


async def test_a_connected_widget_gets_messages_at_once_and_nothing_is_kept(
    site: Site, pending: PendingMessages
) -> None:
    widget = await site.widget("gesprek-2")
    await closing_of_a_case(site.output, "gesprek-2")
    assert [await widget.next(), await widget.next()] == [CLOSED["data"], {"text": STEPS}]
    await all_acknowledged(pending, "gesprek-2")


async def test_the_conversation_language_goes_with_every_part_of_a_message(
    site: Site, pending: PendingMessages
) -> None:
    """The bot event's metadata `lang` (bot/actions/messages.py) reaches the widget with each part
    Rasa emits: for its lang and dir="rtl" (Arabic). A message without it is emitted as before."""
    widget = await site.widget("gesprek-taal")
    await site.output.send_response("gesprek-taal", {"text": "أهلاً.\n\nشكراً.", "lang": "ar"})  # noqa: RUF001
    await site.output.send_response("gesprek-taal", {"custom": dict(CLOSED), "lang": "pl"})
    await site.output.send_response("gesprek-taal", {"text": "Zonder taal."})
    assert [await widget.next() for _ in range(4)] == [
        {"text": "أهلاً.", "lang": "ar"},
        {"text": "شكراً.", "lang": "ar"},
        {**CLOSED["data"], "lang": "pl"},
        {"text": "Zonder taal."},
    ]
    await all_acknowledged(pending, "gesprek-taal")


async def test_a_message_sent_to_a_socket_that_was_dying_comes_again_when_the_widget_rejoins(
    site: Site, pending: PendingMessages, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An instance killed while its widget was still counted as connected: the emit reaches nobody,
    the widget reconnects (to another instance) and gets what it never acknowledged, once."""

    async def still_counted(room: str) -> bool:
        return True

    monkeypatch.setattr(site.output.presence, "connected", still_counted)
    await site.output.send_text_message("gesprek-8", "Bericht van de medewerker.")
    unread = await site.widget("gesprek-8", ack=False)  # the reconnect: shown, but not acknowledged
    assert await unread.next() == {"text": "Bericht van de medewerker."}
    await unread.leave()
    widget = await site.widget("gesprek-8")  # the next page gets it again, and acknowledges it
    assert await widget.next() == {"text": "Bericht van de medewerker."}
    await all_acknowledged(pending, "gesprek-8")
    await site.output.send_text_message("gesprek-8", "Nog een.")
    assert await widget.next() == {"text": "Nog een."}  # no repeat of the first
    assert widget.received.empty()


class LostQueue(AsyncPubSubManager):  # type: ignore[misc]
    """The message queue between instances (Redis with several), losing the bot's messages published
    to it: an instance that does not listen yet (just restarted) or whose subscription dropped.
    Every emit of python-socketio's pub/sub manager goes through it, also to this instance's own
    sockets. (Other events pass, so the widget can join.)"""

    async def emit(self, event: str, data: Any, namespace: Any = None, **kwargs: Any) -> Any:
        if event == "bot_uttered" and not kwargs.get("ignore_queue"):
            return None  # published, and never comes back
        return await super().emit(event, data, namespace, **{**kwargs, "ignore_queue": True})

    async def _listen(self) -> AsyncIterator[Any]:
        await asyncio.Event().wait()
        yield None  # never reached: nothing comes back


def lose_published_emits(site: Site) -> LostQueue:
    sio = site.channel.sio
    queue = LostQueue(channel="test-website")
    sio.manager = queue
    queue.set_server(sio)
    queue.initialize()
    return queue


async def test_what_waits_reaches_a_rejoining_widget_even_when_the_message_queue_loses_it(
    site: Site, pending: PendingMessages
) -> None:
    """A widget that reconnects to an instance just restarted: the messages it has not
    acknowledged are emitted to it from here, not through a queue this instance is not yet
    listening to."""
    queue = lose_published_emits(site)
    try:
        await site.output.send_text_message("gesprek-11", "Bericht van de medewerker.")  # no page
        widget = await site.widget("gesprek-11")
        assert await widget.next() == {"text": "Bericht van de medewerker."}
        await all_acknowledged(pending, "gesprek-11")
    finally:
        queue.thread.cancel()


async def test_a_message_whose_emit_got_lost_goes_again_to_the_widget_that_stays_connected(
    pending: PendingMessages, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The widget is connected, so the message is emitted, and lost on the way; the widget does
    not rejoin, so only the instance holding its socket can send it again."""
    site = Site(pending)
    site.channel.redeliver_seconds = 0.05
    await site.start(monkeypatch)
    queue = lose_published_emits(site)
    try:
        widget = await site.widget("gesprek-12")
        await site.output.send_text_message("gesprek-12", "Bericht van de medewerker.")
        clock.now += 1  # older than redeliver_seconds
        assert await widget.next() == {"text": "Bericht van de medewerker."}
        await all_acknowledged(pending, "gesprek-12")
    finally:
        queue.thread.cancel()
        await site.stop()


async def test_the_answer_to_an_acknowledged_message_reaches_the_widget_when_its_emit_got_lost(
    site: Site, pending: PendingMessages
) -> None:
    """The server acknowledges the citizen's message when its turn is done, straight back on the
    socket; the answer goes through the message queue and is lost there (the instance killed before
    it came back, or just restarted and not listening yet). The widget has its acknowledgement, so
    it does not send the message again: the answer must wait for it, and comes when it rejoins."""
    site.app.ctx.agent = ActionServersBack(failures=0, error=RuntimeError())
    queue = lose_published_emits(site)
    try:
        widget = await site.widget("gesprek-15")
        acknowledged = asyncio.Event()
        await widget.client.emit(
            "user_uttered",
            {"message": "Hallo", "session_id": "gesprek-15", "metadata": {"message_id": "m-15-000001"}},
            callback=lambda *_: acknowledged.set(),
        )
        await asyncio.wait_for(acknowledged.wait(), 10)
        await widget.leave()  # its socket died (the instance was killed): nothing came
        assert widget.received.empty()
        again = await site.widget("gesprek-15")  # the reconnect; nothing to send again
        assert await again.next() == {"text": "Antwoord."}
        await all_acknowledged(pending, "gesprek-15")
        assert again.received.empty()
    finally:
        queue.thread.cancel()


async def test_a_widget_that_never_acknowledges_gets_a_message_again_less_often_and_a_few_times_only(
    site: Site, pending: PendingMessages, clock: Clock
) -> None:
    widget = await site.widget("gesprek-13", ack=False)
    kept = clock.now
    await site.output.send_text_message("gesprek-13", "Bericht.")
    assert await widget.next() == {"text": "Bericht."}
    resent: dict[str, tuple[int, float]] = {}
    sent_again_at = []
    for _ in range(200):  # a round every 10 s, as the redelivery loop runs, for over half an hour
        if await site.output.redeliver(10, resent):
            sent_again_at.append(clock.now - kept)
        clock.now += 10
    # After 10 s, then each gap twice the one before; MAX_REDELIVERIES times, then no more.
    assert sent_again_at == [10, 30, 70, 150, 310, 630][:MAX_REDELIVERIES]
    assert len(sent_again_at) == MAX_REDELIVERIES
    assert widget.received.empty()  # the widget dropped the repeats of a mid it had shown
    assert len(await pending.unacknowledged("gesprek-13")) == 1


class ActionServersBack:
    """Rasa's agent for the widget's messages: the first `failures` turns fail as when no action
    server answered (bot/action_retry.py: the turn is not saved) or the conversation's lock expired
    while the turn waited for it (Rasa's LockError), the next ones answer."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures = failures
        self.error = error
        self.turns = 0

    async def handle_message(self, message: Any) -> None:
        self.turns += 1
        if self.turns <= self.failures:
            raise self.error
        await message.output_channel.send_text_message(message.sender_id, "Antwoord.")


@pytest.mark.parametrize(
    "error",
    [ActionServerUnavailable("no action server answered 'action_turn'"), LockError("lock expired")],
    ids=["no action server", "lock expired"],
)
async def test_a_message_whose_turn_failed_runs_again_and_is_acknowledged_after(
    pending: PendingMessages, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    """The widget sends an unacknowledged message again only after a reconnect; with both action
    servers gone for a moment, or the lock of a killed instance in the way, its socket stays
    connected, so the server runs the turn again."""
    monkeypatch.setattr(website_channel, "TURN_FIRST_DELAY", 0.01)
    site = await Site(pending).start(monkeypatch)
    agent = ActionServersBack(failures=2, error=error)
    site.app.ctx.agent = agent
    try:
        widget = await site.widget("gesprek-14")
        acknowledged = asyncio.Event()
        await widget.client.emit(
            "user_uttered",
            {"message": "Hallo", "session_id": "gesprek-14", "metadata": {"message_id": "m-14-000001"}},
            callback=lambda *_: acknowledged.set(),
        )
        await asyncio.wait_for(acknowledged.wait(), 10)
        assert await widget.next() == {"text": "Antwoord."}
        assert agent.turns == 3
        # Still no action server after every attempt: the error goes on, so no acknowledgement.
        site.app.ctx.agent = ActionServersBack(failures=website_channel.TURN_ATTEMPTS, error=error)
        handle = site.channel.sio.handlers["/"]["user_uttered"]
        with pytest.raises(type(error)):
            await handle("sid-x", {"message": "Hallo", "session_id": "gesprek-14"})
        assert site.app.ctx.agent.turns == website_channel.TURN_ATTEMPTS
    finally:
        await site.stop()


async def test_a_widget_can_only_acknowledge_messages_of_its_own_conversation(
    site: Site, pending: PendingMessages
) -> None:
    await site.output.send_text_message("gesprek-9", "Voor gesprek 9.")
    [(mid, _)] = await pending.unacknowledged("gesprek-9")
    intruder = await site.widget("gesprek-10")
    for forged in ({"mid": mid}, {"mid": "x"}, {"mid": "9" * 40}, ["mid"], None):
        await intruder.client.emit("bot_uttered_ack", forged)
    await site.output.send_text_message("gesprek-10", "Voor gesprek 10.")
    assert await intruder.next() == {"text": "Voor gesprek 10."}  # the acks above were handled first
    await all_acknowledged(pending, "gesprek-10")
    assert [data for _, data in await pending.unacknowledged("gesprek-9")] == [{"text": "Voor gesprek 9."}]


async def test_a_message_for_another_conversation_waits_for_that_one(site: Site) -> None:
    widget = await site.widget("gesprek-3")
    await site.output.send_text_message("gesprek-4", "Voor gesprek 4.")
    await site.output.send_text_message("gesprek-3", "Voor gesprek 3.")
    assert await widget.next() == {"text": "Voor gesprek 3."}
    other = await site.widget("gesprek-4")
    assert await other.next() == {"text": "Voor gesprek 4."}


async def test_nothing_waits_longer_than_the_widget_remembers_the_conversation(
    pending: PendingMessages, clock: Clock
) -> None:
    await pending.keep("gesprek-5", {"text": "oud"})
    clock.now += HOLD - 1
    await pending.keep("gesprek-5", {"text": "nieuwer"})
    clock.now += 2  # the first is now older than the widget's session
    assert await pending.take("gesprek-5") == [{"text": "nieuwer"}]


async def test_a_flood_keeps_only_the_newest_messages(pending: PendingMessages) -> None:
    for i in range(60):
        await pending.keep("gesprek-6", {"text": str(i)})
    assert await pending.take("gesprek-6") == [{"text": str(i)} for i in range(10, 60)]


async def test_erasing_the_conversation_erases_its_waiting_messages(site: Site, tmp_path: Path) -> None:
    await closing_of_a_case(site.output, "gesprek-7")
    tracker_store = ts.ErasingSQLTrackerStore(dialect="sqlite", db=str(tmp_path / "tracker.db"))
    await tracker_store.erase("gesprek-7")  # "verwijder mijn gegevens"
    widget = await site.widget("gesprek-7")
    await site.output.send_text_message("gesprek-7", "Na het wissen.")
    assert await widget.next() == {"text": "Na het wissen."}


def test_settings_come_from_credentials_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WIDGET_SESSION_MINUTES", "30")
    credentials = {"session_persistence": True, "pending_db": str(tmp_path / "w.db")}
    channel = WebsiteInput.from_credentials(credentials)
    assert channel.name() == "socketio" and channel.session_persistence
    assert channel.pending.hold_seconds == 30 * 60
    monkeypatch.setenv("WIDGET_SESSION_MINUTES", "nul")
    with pytest.raises(ValueError, match="WIDGET_SESSION_MINUTES"):
        WebsiteInput.from_credentials({})
