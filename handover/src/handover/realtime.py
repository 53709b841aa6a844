"""Fan-out of workspace events to casemanager WebSockets.

Without Redis every instance delivers its own events to its own sockets. With Redis each
event is published on one channel and every instance (including the publisher) delivers it
from its subscription, so a casemanager sees events no matter which instance serves them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from redis.asyncio import Redis

log = logging.getLogger(__name__)


# Turns one message event into the payload for each viewer (access.message_payloads): the
# full text only for whoever may read it. Injected by the app; this module stays free of rules.
MessagePayloads = Callable[[dict[str, Any], list[Any]], Awaitable[list[dict[str, Any]]]]
# The current viewer of each login session that is still alive, by session id (app.py, from
# auth.live_sessions). A socket whose session ended, or whose user now has another role or
# other teams, is closed instead of being sent anything.
SessionViewers = Callable[[set[int]], Awaitable[dict[int, Any]]]

# Published on logout: every instance closes the sockets of that login session.
SESSION_ENDED = "session_ended"
# Close code for a socket whose login session ended (4000-4999 are for applications).
CLOSE_SESSION_ENDED = 4401


@dataclass(eq=False)
class Connection:
    ws: web.WebSocketResponse
    user_id: int
    session_id: int  # the login session (StaffSession.id) that opened the socket
    references: set[str] = field(default_factory=set)
    viewer: Any = None  # access.Viewer of the logged-in casemanager


async def _hide_texts(event: dict[str, Any], viewers: list[Any]) -> list[dict[str, Any]]:
    """Without a rule nobody gets message text (safe default)."""
    base = {k: v for k, v in event.items() if k != "access"} | {"text": "", "redacted": True}
    return [base for _ in viewers]


class Hub:
    def __init__(
        self,
        redis: Redis | None = None,
        channel: str = "handover:events",
        message_payloads: MessagePayloads | None = None,
        session_viewers: SessionViewers | None = None,
    ) -> None:
        self._redis = redis
        self._channel = channel
        self._message_payloads = message_payloads or _hide_texts
        self._session_viewers = session_viewers
        self._closing: set[asyncio.Task[None]] = set()
        self._connections: set[Connection] = set()
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    @property
    def uses_redis(self) -> bool:
        return self._redis is not None

    def add(self, conn: Connection) -> None:
        self._connections.add(conn)

    def remove(self, conn: Connection) -> None:
        self._connections.discard(conn)

    def user_ids(self) -> set[int]:
        return {c.user_id for c in self._connections}

    async def publish(self, event: dict[str, Any]) -> None:
        if self._redis is None:
            await self.deliver(event)
            return
        try:
            await self._redis.publish(self._channel, json.dumps(event))
        except Exception:  # Redis down: still serve the sockets on this instance
            log.exception("redis publish failed for event %s; delivering locally", event.get("type"))
            await self.deliver(event)

    async def end_session(self, session_id: int) -> None:
        """Close the sockets of a login session, on every instance (logout)."""
        await self.publish({"type": SESSION_ENDED, "session_id": session_id})

    def drop(self, conn: Connection) -> None:
        """Send nothing more to a socket whose login session ended, and close it.

        In a task of its own: closing waits for the browser's answer, and a publisher (the bot's
        API call, say) must not wait for that.
        """
        self._connections.discard(conn)
        task = asyncio.create_task(self._close(conn.ws, CLOSE_SESSION_ENDED, b"session ended"))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    @staticmethod
    async def _close(ws: web.WebSocketResponse, code: int, message: bytes) -> None:
        with contextlib.suppress(Exception):
            await ws.close(code=code, message=message)

    async def check_sessions(self) -> None:
        """Close the sockets whose session ended without an event to notice it (expiry, idle)."""
        await self._live(list(self._connections))

    async def _live(self, conns: list[Connection]) -> list[Connection]:
        """Those of ``conns`` whose session is alive and whose user is unchanged; drops the rest."""
        if self._session_viewers is None or not conns:
            return conns
        try:
            current = await self._session_viewers({c.session_id for c in conns})
        except Exception:  # cannot check: send nothing rather than to a session that may have ended
            log.exception("checking the sessions of %d sockets failed", len(conns))
            return []
        live = [c for c in conns if current.get(c.session_id) == c.viewer]
        for conn in set(conns) - set(live):
            self.drop(conn)
        return live

    async def deliver(self, event: dict[str, Any]) -> None:
        """Send to local sockets of live sessions; message events only to those who have the
        case open, with the text each of them may read."""
        if event.get("type") == SESSION_ENDED:
            for conn in [c for c in self._connections if c.session_id == event.get("session_id")]:
                self.drop(conn)
            return
        targets = [c for c in self._connections if not c.ws.closed]
        if event.get("type") == "message":
            # Those who have the case open, and whoever handles it (their inbox counts unread
            # messages of every chat they handle, whichever page is open).
            access = event.get("access")
            owner = access.get("claimed_by_id") if isinstance(access, dict) else None
            targets = [
                c
                for c in targets
                if event.get("reference") in c.references or (owner is not None and c.user_id == owner)
            ]
        # Checked before every push: logout elsewhere, expiry or a role change ends the stream.
        targets = await self._live(targets)
        if event.get("type") == "message":
            if not targets:
                return
            per_viewer = await self._message_payloads(event, [c.viewer for c in targets])
            payloads = [json.dumps(p) for p in per_viewer]
        else:
            payloads = [json.dumps(event)] * len(targets)
        if not targets:
            return
        sends = (c.ws.send_str(payload) for c, payload in zip(targets, payloads, strict=True))
        results = await asyncio.gather(*sends, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                log.debug("dropping event for a closing socket: %r", result)

    async def start(self) -> None:
        if self._redis is None:
            return
        self._listener = asyncio.create_task(self._listen(), name="hub-redis-listener")
        # Don't report ready before the subscription exists, or early events are lost.
        await asyncio.wait_for(self._subscribed.wait(), timeout=10)

    async def _listen(self) -> None:
        assert self._redis is not None
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                self._subscribed.set()
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        event = json.loads(message["data"])
                    except (TypeError, ValueError):
                        log.warning("ignoring malformed event on %s", self._channel)
                        continue
                    await self.deliver(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("redis subscription lost; reconnecting")
                await asyncio.sleep(1)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        for conn in list(self._connections):
            await self._close(conn.ws, 1001, b"server shutdown")
        self._connections.clear()
        await asyncio.gather(*self._closing)
