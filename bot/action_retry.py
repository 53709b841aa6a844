"""A turn whose action server went away is tried again, or fails as a whole: never answered as done.

Rasa 3.6 runs every turn's custom action (`action_turn`, bot/policy.py) on an action server. When
that server dies during the call (SIGKILL, a crash, a redeploy), Rasa logs "the actions events are
lost", goes on as if the action had returned nothing, and answers its caller as if all went well:

- trigger_intent answers 200, so the handover service marks a casemanager's message delivered that
  the citizen never gets;
- the widget's message is acknowledged, so the widget forgets a message that never reached the
  casemanager (or got no answer);
- a WhatsApp message leaves the inbox unanswered.

Installed by bot/server.py:

- A call whose action server went away without answering (connection refused or dropped, the
  balancer's 502/503/504) is made again, a few times with a short backoff: HAProxy sends it to the
  other server. An action that already ran on the server that died runs again; what it sends on is
  idempotent (the outbox's item keys, the service's client_id, the casemanager message's bericht_id).
- When every attempt failed, or the call timed out (it may still be running: not made again), the
  turn fails: the error leaves the processor instead of being swallowed, so the tracker is not
  saved, trigger_intent answers 500 (the handover service's outbox tries again later), the widget's
  message is not acknowledged (the widget sends it again after its next reconnect), and the
  WhatsApp inbox keeps the message for a later turn.

An action server that answers with an error of its own (400, 500) keeps Rasa's handling.
"""

from __future__ import annotations

import asyncio
import logging
from contextvars import ContextVar
from typing import Any, List, Optional

import aiohttp
from rasa.core.actions.action import RemoteAction
from rasa.core.processor import MessageProcessor
from rasa.shared.exceptions import RasaException

log = logging.getLogger(__name__)

ATTEMPTS = 4
FIRST_DELAY = 0.5  # seconds, doubled after each failed attempt: 0.5 + 1 + 2 s in all
# What a balancer answers when no server answered (HAProxy: 502 server died mid-call, 503 none up,
# 504 too slow).
NO_SERVER_STATUSES = frozenset({502, 503, 504})

# The server went away (killed mid-call, refused): the call can go again, to the other server.
GONE_ERRORS = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError)

# The action calls of the current `_run_action` that no action server answered, even after retries.
_unanswered: ContextVar[Optional[List[BaseException]]] = ContextVar("unanswered_action_calls", default=None)


class ActionServerUnavailable(RasaException):
    """No action server answered the turn's action: the turn did not happen and must be repeated."""


def _causes(error: BaseException) -> List[BaseException]:
    """`error` and what it wraps (Rasa wraps the transport error, with `from` or in its except)."""
    found: List[BaseException] = []
    current: Optional[BaseException] = error
    while current is not None and all(current is not seen for seen in found):
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def server_gone(error: BaseException) -> bool:
    """Whether `error` (from RemoteAction.run) means the action server went away without answering
    (connection refused or dropped, the balancer's 502/503/504): worth calling again."""
    causes = _causes(error)
    if any(isinstance(e, asyncio.TimeoutError) for e in causes):  # aiohttp's ServerTimeoutError too
        return False
    return any(isinstance(e, GONE_ERRORS) or getattr(e, "status", None) in NO_SERVER_STATUSES for e in causes)


def no_answer(error: BaseException) -> bool:
    """Whether no action server answered the call: gone, or no answer in time. A call that timed out
    may still be running, so it is not made again, but the turn fails all the same."""
    return server_gone(error) or any(isinstance(e, asyncio.TimeoutError) for e in _causes(error))


_original_run = RemoteAction.run
_original_run_action = MessageProcessor._run_action


async def run_remote_action(
    self: RemoteAction, output_channel: Any, nlg: Any, tracker: Any, domain: Any
) -> Any:
    """RemoteAction.run, again when no action server answered."""
    delay = FIRST_DELAY
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await _original_run(self, output_channel, nlg, tracker, domain)
        except Exception as e:
            if not no_answer(e):
                raise
            if attempt == ATTEMPTS or not server_gone(e):
                unanswered = _unanswered.get()
                if unanswered is not None:
                    unanswered.append(e)
                raise
            log.warning(
                "action server did not answer %s (attempt %d, %s); trying again",
                self.name(),
                attempt,
                type(e).__name__,
            )
        await asyncio.sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")  # the loop returns or raises


async def run_action(
    self: MessageProcessor, action: Any, tracker: Any, output_channel: Any, nlg: Any, prediction: Any
) -> bool:
    """MessageProcessor._run_action, failing the turn when no action server answered."""
    unanswered: List[BaseException] = []
    token = _unanswered.set(unanswered)
    try:
        again = bool(await _original_run_action(self, action, tracker, output_channel, nlg, prediction))
    finally:
        _unanswered.reset(token)
    if unanswered:
        raise ActionServerUnavailable(f"no action server answered '{action.name()}'") from unanswered[0]
    return again


def install() -> None:
    """Install both in this process (the Rasa server)."""
    RemoteAction.run = run_remote_action
    MessageProcessor._run_action = run_action


def uninstall() -> None:
    """Rasa's own behaviour again (tests)."""
    RemoteAction.run = _original_run
    MessageProcessor._run_action = _original_run_action
