"""Delivery in the background: the inbox (each message's Rasa turn) and the outbox (each send).

The webhook only stores a message and answers 200 (Meta wants that fast). Then:

- `Dispatcher` handles the inbox: per citizen one message at a time, in order; several citizens at
  once. A turn that fails is tried again later; the message leaves the inbox only together with
  its replies entering the outbox (one transaction), so nothing is lost after the 200 and a
  finished turn is not run again. Messages left at a stop are picked up at the next start.
- `Sender` sends the outbox, in order per citizen. Each message has an idempotency key stored
  before it is sent and sent along as `biz_opaque_callback_data`; a request that may have reached
  Meta without an answer (timeout) is not sent again until Meta's status callback had time to name
  the key, so a slow answer never makes a second copy. Meta's error code decides what happens:
  rate limits and temporary errors are tried again with backoff, 131047 holds the message for the
  template, anything else is logged (codes only) and dropped.
- Order per citizen: a message goes out only when the citizen's earlier ones are settled (store.py,
  "Order per contact"): while one waits for its retry (a rate limit, a temporary error, a timeout,
  also when Meta reports it `failed` later), the later ones wait too; other citizens do not. Meta
  does not promise to deliver two messages in the order they were sent when they follow each other
  closely, and a `failed` callback comes after the API took the message, so the next message also
  waits for Meta's "sent" callback of the one before (at most `order_wait` seconds). A message that
  failed for good is closed and the next one goes.
- The template that asks the citizen to write again (24-hour window closed) can fail too: a passing
  error is retried like any send; when it fails for good the held messages of a case cannot reach
  the citizen, and the handover service is told ("unreachable"), so the casemanager calls back.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from bot.channels.whatsapp.format import template_body
from bot.channels.whatsapp.graph import (
    TEMPORARY_CODES,
    WINDOW_CLOSED_CODES,
    GraphClient,
    GraphError,
    GraphRejected,
    GraphUnavailable,
    GraphUncertain,
)
from bot.channels.whatsapp.media import with_uploaded_file
from bot.channels.whatsapp.store import META_KEY, InboxRow, OutboxRow, WhatsAppState
from bot.channels.whatsapp.webhook import StatusReport

log = logging.getLogger(__name__)

WINDOW_SECONDS = 24 * 3600.0
# Treat the window as closed a little early: a free-form message that arrives after the 24 hours
# is refused by Meta (131047), and the clocks of Meta and this server are not the same clock.
WINDOW_MARGIN_SECONDS = 300.0
MAX_HELD_PER_CONTACT = 20
# A rate limit needs a longer pause than a hiccup (Meta: pair rate limit about one message per 6 s).
RATE_LIMIT_FACTOR = 4.0


# What the channel stores with an outgoing message besides the Cloud API body, under this key of the
# stored body; removed before the send. {"case": true, "kind": "staff_message" | "mode" | "text",
# "sha": <sha256 of a casemanager's text>, "held": true once it was held} for a message of a case
# (sent through trigger_intent),
# {"template": true} for the template, {"note": "<name>"} for a note of the channel said at most
# once in a while (store.finish_inbound).
META = META_KEY


def meta_of(body: Dict[str, Any]) -> Dict[str, Any]:
    meta = body.get(META)
    return meta if isinstance(meta, dict) else {}


def with_meta(body: Dict[str, Any], **meta: Any) -> Dict[str, Any]:
    return {**body, META: {**meta_of(body), **meta}}


def cloud_message(body: Dict[str, Any]) -> Dict[str, Any]:
    """The body as the Cloud API takes it (without the channel's own fields)."""
    return {k: v for k, v in body.items() if k != META}


class NotReady(Exception):
    """Rasa cannot take a turn yet (model still loading): the message waits, no attempt counted."""


@dataclass(frozen=True)
class DeliverySettings:
    template_name: Optional[str]
    template_language: str
    hold: bool
    can_send: bool
    retry_base_delay: float = 0.5
    max_retry_delay: float = 300.0
    # How long a request without an answer waits for Meta's status callback before it is sent again.
    confirm_seconds: float = 60.0
    # A send is leased for this long; a sender that stops mid-send leaves the message unconfirmed.
    send_lease: float = 60.0
    # An outgoing message still not sent after this long is dropped (logged).
    give_up_seconds: float = 24 * 3600.0
    workers: int = 4
    # The handover service is told when a message of a case (a casemanager's) cannot be delivered.
    notify_handover: bool = False
    # A citizen's message being handled is leased for this long and the lease is renewed every third
    # of it while the turn runs: when an instance dies mid-turn, another takes the message over
    # within this time (a long turn on a live instance keeps its lease).
    turn_lease: float = 30.0
    turn_attempts: int = 20
    poll_seconds: float = 1.0
    # How long a citizen's next message waits for Meta's "sent" callback of the one before (order;
    # see the module's docstring). 0: only for the API's answer.
    order_wait: float = 10.0
    # The languages (Meta's codes, "en_US") in which the template is approved at Meta besides
    # `template_language`; a citizen who talks English gets the English one (template_code).
    template_languages: Tuple[str, ...] = ()

    def template_code(self, conversation_language: Optional[str]) -> str:
        """The template's language for a conversation in `conversation_language` ("en"): an
        approved code of that language ("en" or "en_US"), else `template_language`."""
        if conversation_language:
            for code in self.template_languages:
                if code == conversation_language or code.startswith(f"{conversation_language}_"):
                    return code
        return self.template_language

    def backoff(self, attempt: int, error: Optional[GraphError] = None) -> float:
        """attempt 1, 2, 3 …: base, 2 x base, 4 x base …, longer for a rate limit, at most the cap;
        a Retry-After from Meta counts when it is longer."""
        factor = RATE_LIMIT_FACTOR if error is not None and error.rate_limited else 1.0
        delay = self.retry_base_delay * factor * 2.0 ** max(attempt - 1, 0)
        if error is not None and error.retry_after:
            delay = max(delay, error.retry_after)
        return min(delay, self.max_retry_delay)


class Sender:
    """Sends the outbox of the WhatsApp channel: in order per citizen, each message once."""

    def __init__(
        self,
        settings: DeliverySettings,
        state: WhatsAppState,
        graph: GraphClient,
        key: Callable[[str], str],
        ref: Callable[[str], str],
    ) -> None:
        self.settings = settings
        self.state = state
        self.graph = graph
        self.key = key
        self.ref = ref
        # The conversation language of a WhatsApp id (the channel reads it from the tracker);
        # without it, templates go in `template_language`.
        self.language_of: Optional[Callable[[str], Awaitable[Optional[str]]]] = None
        self.on_queued: Callable[[], None] = lambda: None
        self.owner = uuid.uuid4().hex  # names this process's leases

    async def put(self, recipient_id: str, bodies: list[Dict[str, Any]]) -> None:
        """Queue messages (with their idempotency keys) for one citizen."""
        if not bodies:
            return
        if not self.settings.can_send:
            log.warning(
                "whatsapp: WHATSAPP_ACCESS_TOKEN or WHATSAPP_PHONE_NUMBER_ID missing; message dropped"
            )
            return
        await self.state.put_outbound(self.key(recipient_id), recipient_id, bodies)
        self.on_queued()

    async def put_once(self, message_id: str, recipient_id: str, bodies: list[Dict[str, Any]]) -> bool:
        """`put` for a message that can arrive more than once: queued only the first time its
        `message_id` is seen, claimed and queued together (WhatsAppState.put_outbound_once)."""
        if not bodies:
            return False
        if not self.settings.can_send:
            log.warning(
                "whatsapp: WHATSAPP_ACCESS_TOKEN or WHATSAPP_PHONE_NUMBER_ID missing; message dropped"
            )
            return False
        queued = await self.state.put_outbound_once(message_id, self.key(recipient_id), recipient_id, bodies)
        if queued:
            self.on_queued()
        return queued

    async def flush(self, contact_key: str) -> None:
        """Send what is due for one citizen, oldest first; stops at a message that has to wait."""
        lease = self.settings.send_lease
        while True:
            row = await self.state.claim_outbound_head(
                contact_key, lease, self.settings.confirm_seconds, self.owner
            )
            if row is None or not await self._deliver(row):
                return

    async def _deliver(self, row: OutboxRow) -> bool:
        """Send one message; False when it has to wait (then the citizen's later ones wait too)."""
        ref = self.ref(row.recipient)
        is_template = bool(meta_of(row.body).get("template"))
        if self.state.now() - row.created_at > self.settings.give_up_seconds:
            log.error(
                "whatsapp %s for %s not sent in time; dropped after %s attempts",
                "template" if is_template else "message",
                ref,
                row.attempts,
            )
            if is_template:
                await self.template_failed(row.key, row.contact_key, row.recipient, None)
            else:
                await self.state.fail_outbound(row.key, self.notice(row.body, "failed", None))
            return True
        if not is_template and not await self.window_open(row.contact_key):
            await self.outside_window(row.recipient, row.contact_key, row.body, from_key=row.key)
            return True
        try:
            await self.send(row.recipient, row.body, row.key)
        except GraphRejected as e:
            if e.window_closed and not is_template:
                await self.outside_window(
                    row.recipient, row.contact_key, row.body, from_key=row.key, code=e.code
                )
                return True
            log.error(
                "whatsapp %s for %s refused by Meta, not retried: status=%s code=%s",
                "template" if is_template else "message",
                ref,
                e.status,
                e.code,
            )
            if is_template:
                await self.template_failed(row.key, row.contact_key, row.recipient, e.code)
            else:
                await self.state.fail_outbound(row.key, self.notice(row.body, "failed", e.code))
            return True
        except GraphUncertain as e:
            log.warning(
                "whatsapp send for %s unanswered (%s); waiting for Meta's status before sending again",
                ref,
                e,
            )
            await self.state.outbound_unconfirmed(row.key, self.settings.confirm_seconds)
            # The citizen's next message waits until Meta names this one (or it is sent again).
            return True
        except GraphUnavailable as e:
            delay = self.settings.backoff(row.attempts + 1, e)
            log.warning(
                "whatsapp send for %s postponed %.1f s: status=%s code=%s", ref, delay, e.status, e.code
            )
            await self.state.outbound_retry(row.key, delay)
            return False
        await self.state.outbound_accepted(row.key, self.settings.order_wait)
        return True

    async def template_failed(
        self, key: str, contact_key: str, recipient: Optional[str], code: Optional[int]
    ) -> None:
        """The template failed for good (refused, e.g. 132001 it does not exist, 132000 parameters,
        132015 paused; or reported `failed` later). The held messages stay held (the citizen may
        still write, then they arrive), the next message may try the template again, and for each
        held message of a case the handover service is told that the citizen cannot be reached on
        WhatsApp now (outcome "unreachable", once per message)."""
        told = await self.state.fail_template(
            key, contact_key, lambda body: self.notice(body, "unreachable", code)
        )
        if told is None:
            return  # closed before (another instance, or Meta's repeated callback)
        ref = self.ref(recipient) if recipient else contact_key[:10]
        log.error(
            "whatsapp template for %s failed for good: code=%s; held messages of a case reported: %s",
            ref,
            code,
            told,
        )

    async def statuses(self, reports: List[StatusReport]) -> None:
        """Meta's status callbacks for our messages: sent / delivered / read are recorded; a
        `failed` message is held for the template when the 24-hour window is closed (131047),
        sent again later for a passing error (rate limit, temporary), else closed as failed. For a
        message of a case the handover service is told (held or failed)."""
        progress = [(r.key, r.status) for r in reports if r.status != "failed"]
        if progress:
            await self.state.record_statuses(progress, self._arrived)
        failed: Dict[str, Optional[int]] = {}
        for report in reports:
            # Meta may report the same failure twice (its webhooks are at least once): a message
            # sent again after the first report must not be sent a third time for the second.
            # Each send attempt has its own message id, so a later attempt's failure still counts.
            seen = f"failed:{report.message_id or report.key}"
            if report.status == "failed" and await self.state.claim(seen):
                failed[report.key] = report.code
        for row in await self.state.failed_outbound(list(failed)):
            await self._failed(
                row.key, row.contact_key, row.recipient, row.body, row.attempts, failed[row.key]
            )

    async def _failed(
        self,
        key: str,
        contact_key: str,
        recipient: Optional[str],
        body: Optional[Dict[str, Any]],
        attempts: int,
        code: Optional[int],
    ) -> None:
        ref = self.ref(recipient) if recipient else contact_key[:10]
        is_template = body is not None and bool(meta_of(body).get("template"))
        if body is None or recipient is None:
            # Kept too long to send again (the text is gone): only recorded.
            log.error("whatsapp message for %s failed later, text no longer kept: code=%s", ref, code)
            await self.state.fail_outbound(key)
            return
        if code in TEMPORARY_CODES:
            # Queued again with its old place: the citizen's later messages wait for it.
            error = GraphUnavailable(None, code, "failed status", None)
            delay = self.settings.backoff(attempts + 1, error)
            log.warning(
                "whatsapp %s for %s failed with code=%s; sent again in %.1f s",
                "template" if is_template else "message",
                ref,
                code,
                delay,
            )
            await self.state.requeue_failed(key, delay)
            self.on_queued()
            return
        if is_template:
            await self.template_failed(key, contact_key, recipient, code)
            return
        if code in WINDOW_CLOSED_CODES:
            log.info("whatsapp message for %s failed with code=%s: window closed", ref, code)
            await self.outside_window(recipient, contact_key, body, from_key=key, code=code, meta_said=True)
            return
        log.error("whatsapp message for %s failed for good: code=%s", ref, code)
        await self.state.fail_outbound(key, self.notice(body, "failed", code))

    def _arrived(self, body: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        """A casemanager's message that was held has reached the citizen after all: the handover
        service was told it was held, so it is told it arrived."""
        return self.notice(body, "delivered", None) if meta_of(body).get("held") else None

    def notice(self, body: Dict[str, Any], outcome: str, code: Optional[int]) -> Optional[Dict[str, Any]]:
        """What the handover service is told about a message of a case; None for other messages."""
        meta = meta_of(body)
        if not self.settings.notify_handover or not meta.get("case"):
            return None
        notice: Dict[str, Any] = {"outcome": outcome, "code": code, "kind": meta.get("kind") or "text"}
        if isinstance(meta.get("sha"), str):
            notice["text_sha256"] = meta["sha"]
        return notice

    async def send(self, recipient_id: str, body: Dict[str, Any], key: Optional[str] = None) -> None:
        body = await with_uploaded_file(body, self.graph)  # a document's file goes up first (media.py)
        message: Dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": recipient_id,
            **cloud_message(body),
        }
        if key is not None:
            # Meta returns it in the status callbacks of this message: the idempotency key.
            message["biz_opaque_callback_data"] = key
        await self.graph.send(message)

    async def window_open(self, contact_key: str) -> bool:
        last = await self.state.last_inbound(contact_key)
        return last is not None and self.state.now() - last < WINDOW_SECONDS - WINDOW_MARGIN_SECONDS

    async def outside_window(
        self,
        recipient_id: str,
        key: str,
        body: Dict[str, Any],
        from_key: Optional[str] = None,
        code: Optional[int] = None,
        meta_said: bool = False,
    ) -> None:
        """Only an approved template may go out. The message waits (if holding is on) and is
        delivered when the citizen answers the template or writes again. The template goes
        through the outbox (with its own key), queued in the same transaction that holds the
        message; for a message of a case the handover service is told. `meta_said`: Meta said
        the window is closed (a `failed` 131047), which counts over our own clock."""
        ref = self.ref(recipient_id)
        settings = self.settings
        template = None
        if settings.template_name:
            language = await self.language_of(recipient_id) if self.language_of is not None else None
            template = with_meta(
                template_body(settings.template_name, settings.template_code(language)), template=True
            )
        hold = settings.hold and template is not None
        notice = self.notice(body, "held" if hold else "failed", code)
        done, queued = await self.state.hold_for_template(
            key,
            recipient_id,
            body,
            max_held=MAX_HELD_PER_CONTACT,
            hold=hold,
            template=template,
            pause=WINDOW_SECONDS,
            from_key=from_key,
            notice=notice,
            window_closed=meta_said or code in WINDOW_CLOSED_CODES,
        )
        if not done:
            return
        if template is None:
            log.warning(
                "whatsapp: 24h window closed for %s and WHATSAPP_TEMPLATE_NAME not set; message dropped", ref
            )
        elif queued:
            log.info(
                "whatsapp: 24h window closed for %s; message %s, template queued",
                ref,
                "held" if hold else "dropped",
            )
        else:
            log.info(
                "whatsapp: 24h window closed for %s; template sent before, message %s",
                ref,
                "held" if hold else "dropped",
            )


Process = Callable[[InboxRow], Awaitable[None]]
# The task that tells the handover service about undelivered messages runs next to the citizens'
# tasks under this name (contact keys are 64 hex digits, so it cannot collide).
NOTICES = "handover-notices"


class Dispatcher:
    """Works off the inbox and the outbox in the background: one task per citizen with work, at
    most `workers` at once. Woken by the webhook; otherwise it looks again when the next retry is
    due (at least every `poll_seconds`, for other instances sharing the database)."""

    def __init__(
        self,
        settings: DeliverySettings,
        state: WhatsAppState,
        sender: Sender,
        process: Process,
        notify: Optional[Callable[[], Awaitable[None]]] = None,
    ) -> None:
        self.settings = settings
        self.state = state
        self.sender = sender
        self._process = process
        self._notify = notify
        self._task: Optional[asyncio.Task[None]] = None
        self._stopping = False
        self._active: Dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self._slots = asyncio.Semaphore(max(settings.workers, 1))
        sender.on_queued = self.wake

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start in the running event loop; picks up what an earlier run left in the inbox/outbox."""
        if self.running:
            return
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self._slots = asyncio.Semaphore(max(self.settings.workers, 1))
        self._stopping = False
        self._task = asyncio.create_task(self._run())

    async def stop(self, grace: float = 10.0) -> None:
        """Let the turns and sends in progress finish (at most `grace` seconds), take nothing new,
        then give back the leases: what is left is picked up at the next start."""
        self._stopping = True
        self.wake()
        loop_task, self._task = self._task, None
        if loop_task is not None:
            loop_task.cancel()
            # Bounded: Python 3.10's wait_for can swallow a cancellation; the flag ends the loop then.
            await asyncio.wait([loop_task], timeout=grace)
        working = list(self._active.values())
        if working:
            _, late = await asyncio.wait(working, timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=grace)
        self._active.clear()
        if loop_task is not None or working:
            try:
                await self.state.release_leases(self.sender.owner, self.settings.confirm_seconds)
            except Exception as e:  # the leases then simply run out
                log.warning("whatsapp leases not released: %s", type(e).__name__)

    def wake(self) -> None:
        self._wake.set()

    async def wait_idle(self, timeout: float = 30.0) -> None:
        """Until nothing is left to do: inbox empty, every outgoing message sent or confirmed.
        Looks again after each pass of the loop and each finished task; the loop is woken once
        only, so a message that waits (a retry, Meta's "sent" for the one before) is no busy loop."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        woken = False
        while True:
            self._progress.clear()
            if not self._active and await self.state.pending() == 0:
                return
            remaining = deadline - loop.time()
            if remaining <= 0 or not self.running:
                raise TimeoutError("whatsapp delivery still busy")
            if not woken:
                self.wake()
                woken = True
            await asyncio.wait_for(self._progress.wait(), remaining)

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self._pass()
                wait = await self._wait_seconds()
            except Exception as e:  # a database hiccup must not end delivery
                log.error("whatsapp delivery pass failed: %s", type(e).__name__)
                wait = self.settings.poll_seconds
            self._progress.set()
            try:
                await asyncio.wait_for(self._wake.wait(), wait)
            except asyncio.TimeoutError:
                pass

    async def _pass(self) -> None:
        await self.state.requeue_unconfirmed()
        limit = 4 * max(self.settings.workers, 1)
        for contact in await self.state.inbox_due_contacts(limit):
            self._spawn(contact)
        for contact in await self.state.outbox_due_contacts(limit):
            self._spawn(contact)
        if self._notify is not None and NOTICES not in self._active and not self._stopping:
            self._active[NOTICES] = asyncio.create_task(self._work(NOTICES))

    async def _wait_seconds(self) -> float:
        due = await self.state.next_due()
        poll = self.settings.poll_seconds
        if due is None:
            return poll
        # While tasks run, their end wakes the loop; a due row of theirs must not make it spin.
        floor = 0.05 if self._active else 0.002
        return min(poll, max(due - self.state.now(), floor))

    def _spawn(self, contact: str) -> None:
        if contact not in self._active and not self._stopping:
            self._active[contact] = asyncio.create_task(self._work(contact))

    async def _work(self, contact: str) -> None:
        try:
            if contact == NOTICES:
                if self._notify is not None:
                    await self._notify()
                return
            async with self._slots:
                await self._drain_inbox(contact)
                await self.sender.flush(contact)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.error("whatsapp delivery failed: %s", type(e).__name__)
        finally:
            self._active.pop(contact, None)
            self._wake.set()
            self._progress.set()

    async def _keep_lease(self, row_id: int) -> None:
        lease = self.settings.turn_lease
        while True:
            await asyncio.sleep(lease / 3)
            try:
                await self.state.renew_inbox_lease(row_id, self.sender.owner, lease)
            except Exception as e:  # the database away for a moment: the next renewal may work
                log.warning("whatsapp turn lease not renewed: %s", type(e).__name__)

    async def _drain_inbox(self, contact: str) -> None:
        settings = self.settings
        while not self._stopping:
            row = await self.state.claim_inbox_head(contact, settings.turn_lease, self.sender.owner)
            if row is None:
                return
            renewing = asyncio.create_task(self._keep_lease(row.id))
            try:
                await self._process(row)
            except NotReady:
                await self.state.retry_inbound(row.id, settings.poll_seconds, count=False)
                return
            except Exception as e:
                # The type only: an exception text may contain the message.
                attempts = await self.state.retry_inbound(row.id, settings.backoff(row.attempts + 1))
                if attempts >= settings.turn_attempts:
                    await self.state.drop_inbound(row.id)
                    log.error(
                        "whatsapp message dropped after %s failed turns: %s", attempts, type(e).__name__
                    )
                else:
                    log.warning("whatsapp turn failed (%s), tried again later", type(e).__name__)
                return
            finally:
                renewing.cancel()
            # The replies of this turn go out before the next message of the citizen is read.
            await self.sender.flush(contact)
