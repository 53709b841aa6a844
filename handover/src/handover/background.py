"""Stopping background loops (outbox drainer, presence) at a safe point.

A background loop is never cancelled in the middle of a database call. With aiosqlite a
cancelled call keeps running on the driver's worker thread and reports back to the event
loop later; SQLAlchemy then also terminates the connection without waiting for it. When
the loop closes first (the end of a test, or process exit), the worker thread raises
"RuntimeError: Event loop is closed". So shutdown sets the loop's stop event, the loop
finishes its current round and returns, and only then is the engine disposed.
Cancellation is the fallback for a round that does not finish within the grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger(__name__)


async def wait_or_stop(stop: asyncio.Event, timeout: float) -> bool:
    """Sleep up to ``timeout`` seconds; True when ``stop`` was set (return at once)."""
    if stop.is_set():
        return True
    try:
        await asyncio.wait_for(stop.wait(), timeout=timeout)
    except asyncio.TimeoutError:
        return False
    return True


async def stop_gracefully(task: asyncio.Task[None], stop: asyncio.Event, grace_seconds: float) -> None:
    """Ask ``task`` to stop, wait for it to return, and cancel it only after the grace period."""
    stop.set()
    done, _ = await asyncio.wait({task}, timeout=grace_seconds)
    if not done:
        log.warning("%s did not stop within %.1f s; cancelling it", task.get_name(), grace_seconds)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("%s ended with an error", task.get_name(), exc_info=error)
