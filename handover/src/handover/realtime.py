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


@dataclass(eq=False)
class Connection:
    ws: web.WebSocketResponse
    user_id: int
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
    ) -> None:
        self._redis = redis
        self._channel = channel
        self._message_payloads = message_payloads or _hide_texts
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

    async def deliver(self, event: dict[str, Any]) -> None:
        """Send to local sockets; message events only to those who have the case open, with
        the text each of them may read."""
        targets = [c for c in self._connections if not c.ws.closed]
        if event.get("type") == "message":
            targets = [c for c in targets if event.get("reference") in c.references]
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
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001, message=b"server shutdown")
        self._connections.clear()
