"""Rasa's Redis lock store, with every change of a conversation's lock made atomically.

Why: with several Rasa instances one conversation is often handled by two at once: the citizen's
socket sits on one, and a casemanager's message (the handover service's trigger_intent, through the
load balancer) arrives at the other. Rasa's `RedisLockStore` changes a lock by reading it, changing
it in Python and writing it back. When one instance hands its ticket back while the other takes a
new one, the later write wins: the waiting ticket is gone, the lock is deleted, and the waiting turn
fails with `LockError`. The citizen's message was then never handled (the short soak lost one in
December 2026). Here each change runs in a Redis transaction (WATCH/MULTI) that is tried again when
the lock changed in between, so no ticket is ever lost.

And a waiting turn keeps its own ticket alive. Rasa counts a ticket's lifetime from its issue, also
while it waits: when the turn ahead was on an instance that was killed, its ticket and the one
issued just after it (the citizen's next message, on the other instance) expire in the same check,
and the waiting turn, its ticket gone, is never served; it fails only when another turn deletes the
lock, or it waits forever. Here each check, in the same transaction, renews the waiting ticket's
lifetime first, so only the tickets of instances that stopped checking expire. A ticket that is gone
anyway (the instance stalled longer than the lifetime) ends the wait with `LockError`; the channels
run that message again (bot/channels/website/channel.py, the WhatsApp inbox).

endpoints.scale.yml: `lock_store: type: bot.lock_store.AtomicRedisLockStore` with Rasa's `redis`
settings (url, port, password, db, key_prefix).
"""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, Callable, Optional, Text, Tuple, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

T = TypeVar("T")
# What a change does with the stored lock: write it, delete it, or leave it as it is.
Outcome = Tuple[Optional[TicketLock], bool, T]  # (lock to write or None to delete, write?, result)


class AtomicRedisLockStore(RedisLockStore):
    """Tickets issued, served and cleaned up in Redis transactions."""

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, **kwargs: Any) -> None:
        if endpoint_config is not None:  # built by Rasa from endpoints.yml
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)

    def _change(self, conversation_id: Text, change: Callable[[Optional[TicketLock]], Outcome[T]]) -> T:
        """Read the lock, change it and write it back in one transaction; again if it changed."""
        import redis

        key = self.key_prefix + conversation_id
        with self.red.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    lock = TicketLock.from_dict(json.loads(raw)) if raw else None
                    new, write, result = change(lock)
                    if write:
                        pipe.multi()
                        if new is None:
                            pipe.delete(key)
                        else:
                            pipe.set(key, new.dumps())
                        pipe.execute()
                    else:
                        pipe.unwatch()
                    return result
                except redis.WatchError:
                    continue  # another instance changed this lock in between: read it again

    @asynccontextmanager
    async def lock(
        self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME, wait_time_in_seconds: float = 1
    ) -> AsyncGenerator[TicketLock, None]:
        """Rasa's, waiting with `_wait_for_turn`."""
        ticket = self.issue_ticket(conversation_id, lock_lifetime)
        try:
            yield await self._wait_for_turn(conversation_id, ticket, lock_lifetime, wait_time_in_seconds)
        finally:
            self.cleanup(conversation_id, ticket)

    async def _wait_for_turn(
        self, conversation_id: Text, ticket: int, lifetime: float, wait: float
    ) -> TicketLock:
        """Until `ticket` is served: each check renews its lifetime, then drops expired tickets."""

        def check(lock: Optional[TicketLock]) -> Outcome[Optional[TicketLock]]:
            if lock is None:
                return None, False, None
            mine = [t for t in lock.tickets if t.number == ticket]
            for own in mine:
                own.expires = time.time() + lifetime
            lock.remove_expired_tickets()
            return lock, True, (lock if mine else None)

        while True:
            lock = self._change(conversation_id, check)
            if lock is None:
                raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
            if not lock.is_locked(ticket):
                return lock
            await asyncio.sleep(wait)

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def take(lock: Optional[TicketLock]) -> Outcome[int]:
            lock = lock or TicketLock(conversation_id)
            number = lock.issue_ticket(lock_lifetime)
            return lock, True, number

        return self._change(conversation_id, take)

    def update_lock(self, conversation_id: Text) -> None:
        def expire(lock: Optional[TicketLock]) -> Outcome[None]:
            if lock is None:
                return None, False, None
            lock.remove_expired_tickets()
            return lock, True, None

        self._change(conversation_id, expire)

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        self._hand_back(conversation_id, ticket_number, delete_when_free=False)

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Hand the ticket back; the lock goes when nobody waits, decided in the same transaction."""
        self._hand_back(conversation_id, ticket_number, delete_when_free=True)

    def _hand_back(self, conversation_id: Text, ticket_number: int, delete_when_free: bool) -> None:
        def hand_back(lock: Optional[TicketLock]) -> Outcome[None]:
            if lock is None:
                return None, False, None
            lock.remove_ticket_for(ticket_number)
            free = delete_when_free and not lock.is_someone_waiting()
            return (None if free else lock), True, None

        self._change(conversation_id, hand_back)
