"""Login rate limit: failed attempts per username and per client address.

Counters live in Redis when ``REDIS_URL`` is set, so every instance sees the same counts;
otherwise they live in this process (fine for one instance). Fixed windows: the first failure
starts a window of ``window_seconds``; once a key has ``limit`` failures in it, every further
attempt for that key is refused until the window ends, without checking the password.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class Counter(Protocol):
    async def get(self, key: str) -> tuple[int, float]:
        """Failures in the current window and the seconds left in it."""

    async def add(self, key: str, window_seconds: int) -> None: ...

    async def clear(self, key: str) -> None: ...


class MemoryCounter:
    """Per-process counters; expired windows are dropped as new ones arrive."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[int, float]] = {}  # key -> (failures, window end)

    async def get(self, key: str) -> tuple[int, float]:
        count, end = self._windows.get(key, (0, 0.0))
        left = end - self._clock()
        return (count, left) if left > 0 else (0, 0.0)

    async def add(self, key: str, window_seconds: int) -> None:
        now = self._clock()
        if len(self._windows) > 10_000:  # bound memory when many names are tried
            self._windows = {k: v for k, v in self._windows.items() if v[1] > now}
        count, end = self._windows.get(key, (0, 0.0))
        if end <= now:
            count, end = 0, now + window_seconds
        self._windows[key] = (count + 1, end)

    async def clear(self, key: str) -> None:
        self._windows.pop(key, None)


class RedisCounter:
    """Shared counters: INCR plus an expiry that only the first failure of a window sets."""

    def __init__(self, redis: Redis, prefix: str = "handover:login:") -> None:
        self._redis = redis
        self._prefix = prefix

    async def get(self, key: str) -> tuple[int, float]:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(self._prefix + key)
            pipe.pttl(self._prefix + key)
            raw, ttl_ms = await pipe.execute()
        if raw is None or ttl_ms is None or ttl_ms <= 0:
            return 0, 0.0
        return int(raw), ttl_ms / 1000

    async def add(self, key: str, window_seconds: int) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(self._prefix + key)
            pipe.expire(self._prefix + key, window_seconds, nx=True)
            await pipe.execute()

    async def clear(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)


def _key(kind: str, value: str) -> str:
    """A counter key; ``surrogatepass`` because form fields may hold lone surrogates."""
    # Hashed: keys in Redis or memory dumps should not show who tried to log in from where.
    return f"{kind}:{hashlib.sha256(value.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}"


class LoginLimiter:
    def __init__(
        self,
        counter: Counter,
        *,
        per_user: int,
        per_address: int,
        window_seconds: int,
        fallback: Counter | None = None,
    ) -> None:
        self._counter = counter
        # Used when Redis fails: a per-instance limit is better than none or a lock-out.
        self._fallback = fallback
        self._limits = {"user": per_user, "ip": per_address}
        self.window_seconds = window_seconds

    def _keys(self, username: str, address: str) -> dict[str, str]:
        return {"user": _key("user", username.casefold()), "ip": _key("ip", address)}

    @staticmethod
    def _warn(e: Exception) -> None:
        log.warning("login limit: shared counter unavailable (%s); using this instance's", type(e).__name__)

    async def _get(self, key: str) -> tuple[int, float]:
        try:
            return await self._counter.get(key)
        except (RedisError, OSError) as e:
            if self._fallback is None:
                raise
            self._warn(e)
            return await self._fallback.get(key)

    async def _add(self, key: str) -> None:
        try:
            await self._counter.add(key, self.window_seconds)
        except (RedisError, OSError) as e:
            if self._fallback is None:
                raise
            self._warn(e)
        # Also counted locally, so a Redis outage mid-attack does not reset the count.
        if self._fallback is not None:
            await self._fallback.add(key, self.window_seconds)

    async def _clear(self, key: str) -> None:
        try:
            await self._counter.clear(key)
        except (RedisError, OSError) as e:
            if self._fallback is None:
                raise
            self._warn(e)
        if self._fallback is not None:
            await self._fallback.clear(key)

    async def retry_after(self, username: str, address: str) -> int | None:
        """Seconds until this username and address may try again, or None when allowed."""
        wait = 0.0
        for kind, key in self._keys(username, address).items():
            count, left = await self._get(key)
            if count >= self._limits[kind]:
                wait = max(wait, left)
        return max(math.ceil(wait), 1) if wait > 0 else None

    async def failed(self, username: str, address: str) -> None:
        for key in self._keys(username, address).values():
            await self._add(key)

    async def succeeded(self, username: str) -> None:
        # Only the username's counter: one colleague's success must not reset an attacker's address.
        await self._clear(_key("user", username.casefold()))
