"""Rasa's socket.io channel for the website widget, plus: what is sent while no page is connected
waits, and reaches the citizen when their widget rejoins the conversation.

credentials.yml:

    bot.channels.website.WebsiteInput:
      user_message_evt: user_uttered
      bot_message_evt: bot_uttered
      session_persistence: true

The channel keeps Rasa's name, "socketio": the widget, the input guards (bot/input_guard.py) and
the handover service's `trigger_intent?output_channel=socketio` see no difference.

Why: the handover service reaches a citizen through Rasa's trigger_intent (a casemanager's message,
the agreed next steps when a case is closed). Rasa emits that to the conversation's socket.io room;
when no widget is in it (the page is closed, or reloading) Rasa's own channel drops it. Here it
waits in `PendingMessages` for as long as the widget remembers the conversation, and goes out
right after the widget's `session_request` for that conversation. The answers to the citizen's own
messages go the same way (Rasa's own handler would emit them through its plain SocketIOOutput): the
server acknowledges the citizen's message when its turn is done, so the widget never sends it
again, while the answer may still be lost on its way (through Redis, back to an instance killed a
moment later, or to one just restarted that does not listen yet; or the socket dropped meanwhile).

With several instances every emit travels through Redis (python-socketio's pub/sub manager) and
comes back to the instance that holds the socket. An instance just restarted may not listen yet,
and a subscription can drop: such an emit reaches nobody while the widget stays connected, so it
would not rejoin to fetch it. Hence: what goes to a socket of this instance on its rejoin is
emitted here directly, not through Redis; and every REDELIVER_SECONDS each instance sends its own
sockets again what they have not acknowledged after that long, then after twice as long each time
(10, 20, 40 ... s; at most MAX_REDELIVERIES times a message, about 10 minutes: a slow moment under
load does not use them up at once; the widget drops a `mid` it has shown).

The other way round: a citizen's message whose turn failed because no action server answered
(bot/action_retry.py), or because the conversation's lock expired while it waited (the turn was not
saved either way), runs again here after 2, 4 and 8 s, since the widget sends an unacknowledged
message again only after a reconnect, and its socket stays connected.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from contextvars import ContextVar
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text, Tuple

import socketio
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from rasa.core.lock_store import LockError
from sanic import Blueprint

from bot.action_retry import ActionServerUnavailable
from bot.channels.website.pending import PendingMessages
from bot.channels.website.presence import PREFIX, LocalPresence, Presence, RedisPresence
from bot.payloads import LANG
from bot.tracker_store import forget_hook, on_erase

log = logging.getLogger(__name__)

DEFAULT_PENDING_DB = "var/website.db"
# Every message to the widget carries its number as `mid`; the widget answers with this event.
MID = "mid"
ACK_EVENT = "bot_uttered_ack"
# The widget's `data-session-minutes` (and Rasa's session_expiration_time): after this long without
# activity the widget starts a new conversation, so an older waiting message can never be shown.
DEFAULT_SESSION_MINUTES = 120.0
# A message a connected widget has not acknowledged after this long is sent to it again; an
# acknowledgement normally takes well under a second.
REDELIVER_SECONDS = 10.0
# The gap doubles after each time; an old widget that never acknowledges (it would show every
# repeat) gets a message at most this often again, over about 10 minutes.
MAX_REDELIVERIES = 6
# A citizen's message whose turn failed because no action server answered runs again after 2, 4, 8 s.
TURN_ATTEMPTS = 4
TURN_FIRST_DELAY = 2.0
# The conversation language of the bot message being sent (its metadata `lang`, bot/payloads.py).
# Rasa hands the metadata to send_response only; the parts it emits (text split at blank lines,
# buttons, a custom payload) each get it here, for the widget's lang and dir="rtl" (Arabic).
_SENDING_LANGUAGE: ContextVar[Optional[str]] = ContextVar("website_sending_language", default=None)


def _setting(credentials: Dict[str, Any], key: str, env: str, default: str) -> str:
    """credentials.yml first, then the environment, then the default; empty counts as absent."""
    value = str(credentials.get(key) or "").strip() or os.environ.get(env, "").strip()
    return value or default


def pending_from(credentials: Dict[str, Any]) -> PendingMessages:
    """The store for these settings (`pending_db` / WIDGET_PENDING_DB, `session_minutes` /
    WIDGET_SESSION_MINUTES)."""
    minutes = _setting(credentials, "session_minutes", "WIDGET_SESSION_MINUTES", str(DEFAULT_SESSION_MINUTES))
    try:
        hold = float(minutes) * 60
    except ValueError:
        raise ValueError("WIDGET_SESSION_MINUTES must be a number of minutes") from None
    if not hold > 0:
        raise ValueError("WIDGET_SESSION_MINUTES must be more than 0")
    return PendingMessages.from_setting(
        _setting(credentials, "pending_db", "WIDGET_PENDING_DB", DEFAULT_PENDING_DB), hold
    )


class WebsiteOutput(SocketIOOutput):
    """Emits to the conversation's room when a widget is in it; otherwise keeps the message."""

    def __init__(
        self,
        sio: Any,
        bot_message_evt: Text,
        namespace: Optional[str],
        pending: PendingMessages,
        presence: Optional[Presence] = None,
    ):
        super().__init__(sio, bot_message_evt)
        self.namespace = namespace or "/"
        self.pending = pending
        self.presence: Presence = presence or LocalPresence(sio, self.namespace)

    async def connected(self, room: str) -> bool:
        """Whether a widget of this conversation is connected (to this server, or with several
        instances to any of them)."""
        return await self.presence.connected(room)

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        language = message.get(LANG)
        token = _SENDING_LANGUAGE.set(language if isinstance(language, str) else None)
        try:
            await super().send_response(recipient_id, message)
        finally:
            _SENDING_LANGUAGE.reset(token)

    async def _send_message(self, socket_id: Text, response: Any) -> None:
        await self._emit_or_keep(socket_id, response)

    async def send_custom_json(
        self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any
    ) -> None:
        # Rasa emits a custom payload as emit(event, **payload): {"data": …} is the message itself.
        if set(json_message) <= {"data", "room"} and json_message.get("room", recipient_id) == recipient_id:
            await self._emit_or_keep(recipient_id, json_message.get("data"))
        else:
            await super().send_custom_json(recipient_id, json_message, **kwargs)

    async def _emit_or_keep(self, room: str, data: Any) -> None:
        language = _SENDING_LANGUAGE.get()
        if language is not None and isinstance(data, dict) and LANG not in data:
            data = {**data, LANG: language}
        if not isinstance(data, dict):  # nothing to number: emitted when a widget is there, else kept
            if await self.connected(room):
                await self.sio.emit(self.bot_message_evt, data, room=room, namespace=self.namespace)
            else:
                await self.pending.keep(room, data)
            return
        # Kept until the widget acknowledges it: a socket that dies while this is on its way (an
        # instance killed) gets it again when the widget rejoins; the widget drops a repeat.
        mid = await self.pending.keep(room, data)
        if await self.connected(room):
            await self.sio.emit(self.bot_message_evt, {**data, MID: mid}, room=room, namespace=self.namespace)

    async def deliver_pending(self, room: str) -> int:
        """Send the conversation's unacknowledged messages, oldest first; the count sent. Called
        right after a socket of this instance joined the room: emitted here, not through Redis
        (this instance may not listen there yet, just after a restart)."""
        waiting = await self.pending.unacknowledged(room)
        for mid, data in waiting:
            numbered = isinstance(data, dict)
            await self.sio.emit(
                self.bot_message_evt,
                {**data, MID: mid} if numbered else data,
                room=room,
                namespace=self.namespace,
                ignore_queue=True,
            )
            if not numbered:
                await self.pending.acknowledge(room, mid)
        if waiting:
            log.info("website: %d waiting message(s) sent when the widget rejoined", len(waiting))
        return len(waiting)

    def _local_rooms(self) -> List[str]:
        """The rooms with a socket of this instance (conversations, and each socket's own room)."""
        rooms = self.sio.manager.rooms.get(self.namespace, {})
        return [room for room, members in rooms.items() if isinstance(room, str) and members]

    async def redeliver(self, older_than: float, resent: Dict[str, Tuple[int, float]]) -> int:
        """Send the sockets of this instance again what they have not acknowledged `older_than`
        seconds after it was kept, then each time after twice the gap before; `resent` holds per
        `mid` how often and when next (kept by the caller across rounds). Returns the count sent."""
        waiting = await self.pending.unacknowledged_in(self._local_rooms(), older_than)
        still = {mid for messages in waiting.values() for mid, _ in messages}
        for mid in [m for m in resent if m not in still]:  # acknowledged (or gone) since
            del resent[mid]
        now, sent = self.pending.clock(), 0
        for room, messages in waiting.items():
            for mid, data in messages:
                times, due = resent.get(mid, (0, now))
                if not isinstance(data, dict) or times >= MAX_REDELIVERIES or now < due:
                    continue
                resent[mid] = (times + 1, now + older_than * 2 ** (times + 1))
                await self.sio.emit(
                    self.bot_message_evt,
                    {**data, MID: mid},
                    room=room,
                    namespace=self.namespace,
                    ignore_queue=True,
                )
                sent += 1
        if sent:
            log.info("website: %d unacknowledged message(s) sent again", sent)
        return sent

    async def acknowledge(self, sid: str, data: Any) -> None:
        """The widget on socket `sid` has shown message `mid`: in its own conversation only."""
        mid = data.get(MID) if isinstance(data, dict) else None
        if not isinstance(mid, str):
            return
        for room in self.sio.rooms(sid, namespace=self.namespace):
            if await self.pending.acknowledge(room, mid):
                return


class WebsiteInput(SocketIOInput):
    """Rasa's socket.io input channel with the waiting messages of `WebsiteOutput`."""

    def __init__(
        self,
        *args: Any,
        pending: Optional[PendingMessages] = None,
        redis_url: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.pending = pending if pending is not None else pending_from({})
        # Several Rasa instances: socket.io messages and widget presence go through this Redis.
        self.redis_url = redis_url
        self.presence: Optional[Presence] = None
        self.redeliver_seconds = REDELIVER_SECONDS
        self._redelivery: Optional["asyncio.Task[None]"] = None

    async def _redeliver_loop(self) -> None:
        resent: Dict[str, Tuple[int, float]] = {}
        while True:
            await asyncio.sleep(self.redeliver_seconds)
            output = self.get_output_channel()
            try:
                if output is not None:
                    await output.redeliver(self.redeliver_seconds, resent)
            except Exception as e:  # the database away for a moment: the next round tries again
                log.warning("website: sending unacknowledged messages again failed: %s", type(e).__name__)

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "WebsiteInput":
        channel = super().from_credentials(credentials)
        assert isinstance(channel, WebsiteInput)  # Rasa's from_credentials builds `cls`
        channel.pending = pending_from(dict(credentials or {}))
        channel.redis_url = _setting(dict(credentials or {}), "redis_url", "SOCKETIO_REDIS_URL", "")
        return channel

    def get_output_channel(self) -> Optional[WebsiteOutput]:
        """Also what Rasa uses for trigger_intent?output_channel=socketio (the handover service)."""
        if self.sio is None:
            return None
        return WebsiteOutput(self.sio, self.bot_message_evt, self.namespace, self.pending, self.presence)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook: Blueprint = super().blueprint(on_new_message)
        namespace = self.namespace or "/"
        local = LocalPresence(self.sio, namespace)
        presence: Presence = local
        if self.redis_url:
            # Any instance can then emit to a widget connected to another (python-socketio's
            # pub/sub manager). Set before the first connection, when the server starts it.
            manager = socketio.AsyncRedisManager(self.redis_url, channel=f"{PREFIX}-socketio")
            self.sio.manager = manager
            manager.set_server(self.sio)
            presence = RedisPresence.from_url(self.redis_url, local)
        self.presence = presence
        handlers = self.sio.handlers[namespace]
        rejoin = handlers["session_request"]
        rasa_disconnect = handlers["disconnect"]

        async def session_request(sid: str, data: Any) -> None:
            await rejoin(sid, data)  # Rasa's handler: the socket joins the conversation's room
            session_id = data.get("session_id") if isinstance(data, dict) else None
            output = self.get_output_channel()
            if self.session_persistence and isinstance(session_id, str) and output is not None:
                await presence.joined(sid, session_id)
                await output.deliver_pending(session_id)

        async def disconnect(sid: str) -> None:
            await rasa_disconnect(sid)
            await presence.left(sid)

        async def acknowledge(sid: str, data: Any) -> None:
            output = self.get_output_channel()
            if output is not None:
                await output.acknowledge(sid, data)

        rasa_user_message = handlers[self.user_message_evt]

        async def handle_message(sid: str, data: Any) -> Any:
            # Rasa's handler, but the answers go through WebsiteOutput: kept until the widget
            # acknowledges them, sent again when it rejoins (or after REDELIVER_SECONDS). The
            # acknowledgement of the message itself goes straight back on the socket while an
            # answer takes the way through Redis, so a turn acknowledged is no answer delivered.
            session_id = data.get("session_id") if isinstance(data, dict) else None
            output = self.get_output_channel()
            ours = self.session_persistence and isinstance(session_id, str) and bool(session_id)
            if not ours or output is None:
                return await rasa_user_message(sid, data)  # Rasa's: a warning, or the socket's room
            metadata = data.get(self.metadata_key, {})
            if isinstance(metadata, str):
                metadata = json.loads(metadata)
            message = UserMessage(
                data.get("message", ""), output, session_id, input_channel=self.name(), metadata=metadata
            )
            await on_new_message(message)

        async def user_message(sid: str, data: Any) -> Any:
            # A turn that failed because no action server answered (bot/action_retry.py), or that
            # could not get the conversation's lock (it expired while waiting), was not saved, and
            # the widget sends an unacknowledged message again only after a reconnect: so it runs
            # again here, a few times. Still failing: no acknowledgement (error raised).
            delay = TURN_FIRST_DELAY
            for attempt in range(1, TURN_ATTEMPTS + 1):
                try:
                    return await handle_message(sid, data)
                except (ActionServerUnavailable, LockError) as e:
                    if attempt == TURN_ATTEMPTS:
                        raise
                    log.warning("website: turn failed (%s, attempt %d), again", type(e).__name__, attempt)
                await asyncio.sleep(delay)
                delay *= 2
            raise AssertionError("unreachable")  # the loop returns or raises

        handlers[self.user_message_evt] = user_message
        handlers["session_request"] = session_request
        handlers["disconnect"] = disconnect
        handlers[ACK_EVENT] = acknowledge

        async def open_(*_: Any) -> None:
            if not self.sio.manager_initialized:  # start listening before any widget connects
                self.sio.manager_initialized = True
                self.sio.manager.initialize()
            await presence.start()
            if self.session_persistence and self._redelivery is None:
                self._redelivery = asyncio.ensure_future(self._redeliver_loop())

        webhook.listener(open_, "after_server_start")
        # "Verwijder mijn gegevens" erases the tracker (bot/tracker_store.py); waiting messages go too.
        on_erase(self.pending.forget)

        async def close(*_: Any) -> None:
            if self._redelivery is not None:
                self._redelivery.cancel()
                self._redelivery = None
            forget_hook(self.pending.forget)
            self.pending.dispose()
            await presence.stop()

        webhook.listener(close, "after_server_stop")
        return webhook
