"""Which conversations have a widget connected, on this Rasa instance or on any of them.

One instance (`make run`): socket.io's own rooms tell. Several instances behind a load balancer
(`make scale-up`): a citizen's socket lives on one instance while a casemanager's message may be
handled by another, so presence lives in Redis (`SOCKETIO_REDIS_URL`, the same Redis that carries
socket.io's messages between the instances):

- `intake:widget:<conversation hash>` is a hash of socket id -> instance id, set when a widget joins
  its conversation, removed when it disconnects;
- `intake:instance:<instance id>` exists while that instance lives (renewed every HEARTBEAT seconds,
  expires after TTL), so the sockets of an instance that was killed stop counting within TTL seconds
  and what is sent to them is kept for the widget's return instead of lost.

Only hashes of the conversation id are stored, as in pending.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from typing import Any, Dict, Optional, Protocol

log = logging.getLogger(__name__)

HEARTBEAT = 5.0
TTL = 15
PREFIX = "intake"


def _conversation(room: str) -> str:
    return f"{PREFIX}:widget:{hashlib.sha256(room.encode('utf-8')).hexdigest()}"


def _instance(instance_id: str) -> str:
    return f"{PREFIX}:instance:{instance_id}"


class Presence(Protocol):
    async def joined(self, sid: str, room: str) -> None: ...
    async def left(self, sid: str) -> None: ...
    async def connected(self, room: str) -> bool: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class LocalPresence:
    """One instance: socket.io's rooms are the truth."""

    def __init__(self, sio: Any, namespace: str) -> None:
        self.sio = sio
        self.namespace = namespace

    async def joined(self, sid: str, room: str) -> None:
        return None

    async def left(self, sid: str) -> None:
        return None

    async def connected(self, room: str) -> bool:
        return bool(self.sio.manager.rooms.get(self.namespace, {}).get(room))

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class RedisPresence:
    """Several instances: presence in Redis, with a heartbeat per instance."""

    def __init__(self, redis: Any, local: LocalPresence, instance_id: Optional[str] = None) -> None:
        self.redis = redis
        self.local = local
        self.instance_id = instance_id or uuid.uuid4().hex
        self._rooms: Dict[str, str] = {}  # sid -> conversation key, for the disconnect
        self._beat: Optional[asyncio.Task[None]] = None

    @classmethod
    def from_url(cls, url: str, local: LocalPresence) -> "RedisPresence":
        from redis import asyncio as aioredis

        return cls(aioredis.Redis.from_url(url), local)

    async def joined(self, sid: str, room: str) -> None:
        key = _conversation(room)
        self._rooms[sid] = key
        await self.redis.hset(key, sid, self.instance_id)
        # a conversation nobody touches for a day is gone, even if every cleanup failed
        await self.redis.expire(key, 86400)

    async def left(self, sid: str) -> None:
        key = self._rooms.pop(sid, None)
        if key is not None:
            await self.redis.hdel(key, sid)

    async def connected(self, room: str) -> bool:
        if await self.local.connected(room):
            return True
        sockets = await self.redis.hgetall(_conversation(room))
        instances = {v.decode() if isinstance(v, bytes) else str(v) for v in sockets.values()}
        for instance in instances:
            if instance == self.instance_id:
                continue  # this instance's own sockets are in the local rooms
            if await self.redis.exists(_instance(instance)):
                return True
        return False

    async def start(self) -> None:
        await self.redis.set(_instance(self.instance_id), "1", ex=TTL)
        self._beat = asyncio.ensure_future(self._heartbeat())

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            try:
                await self.redis.set(_instance(self.instance_id), "1", ex=TTL)
            except Exception as e:  # Redis away for a moment: try again at the next beat
                log.warning("website presence heartbeat failed: %s", type(e).__name__)

    async def stop(self) -> None:
        if self._beat is not None:
            self._beat.cancel()
        try:
            await self.redis.delete(_instance(self.instance_id))
            for sid in list(self._rooms):
                await self.left(sid)
        finally:
            await self.redis.close()
