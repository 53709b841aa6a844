"""The login limiter on its own: windows, per-key limits, and Redis falling back to memory."""

from __future__ import annotations

from redis.asyncio import Redis

from handover.login_limit import LoginLimiter, MemoryCounter, RedisCounter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_window_blocks_then_expires() -> None:
    clock = Clock()
    limiter = LoginLimiter(MemoryCounter(clock), per_user=3, per_address=100, window_seconds=900)
    for _ in range(3):
        assert await limiter.retry_after("anna", "10.0.0.1") is None
        await limiter.failed("anna", "10.0.0.1")
    clock.now += 100
    assert await limiter.retry_after("anna", "10.0.0.2") == 800  # the username, from anywhere
    assert await limiter.retry_after("ANNA", "10.0.0.2") == 800  # not bypassed by case
    assert await limiter.retry_after("bob", "10.0.0.1") is None
    clock.now += 800
    assert await limiter.retry_after("anna", "10.0.0.1") is None
    await limiter.failed("anna", "10.0.0.1")  # a new window starts with one failure
    assert await limiter.retry_after("anna", "10.0.0.1") is None


async def test_success_clears_only_the_username() -> None:
    limiter = LoginLimiter(MemoryCounter(Clock()), per_user=2, per_address=2, window_seconds=60)
    await limiter.failed("anna", "10.0.0.1")
    await limiter.failed("bob", "10.0.0.1")
    await limiter.succeeded("anna")
    assert await limiter.retry_after("carla", "10.0.0.1") == 60  # the address keeps its count


async def test_redis_down_falls_back_to_this_instance() -> None:
    # Nothing listens on port 9: every Redis call fails with a connection error.
    redis = Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.2)
    limiter = LoginLimiter(
        RedisCounter(redis), per_user=2, per_address=100, window_seconds=60, fallback=MemoryCounter()
    )
    try:
        for _ in range(2):
            assert await limiter.retry_after("anna", "10.0.0.1") is None
            await limiter.failed("anna", "10.0.0.1")
        assert await limiter.retry_after("anna", "10.0.0.1") is not None
    finally:
        await redis.aclose()


def test_keys_hold_no_usernames_or_addresses() -> None:
    from handover.login_limit import _key

    key = _key("user", "anna.de.vries")
    assert "anna" not in key and key.startswith("user:") and len(key) == len("user:") + 32
    assert "10.0.0.1" not in _key("ip", "10.0.0.1")
