"""Tells the handover service that a message of a case could not be delivered on WhatsApp.

A casemanager's message that Meta refused or reported as failed (or that waits for the template
because the 24-hour window is closed, arrived after all, or waits while that template failed for
good) is stored as a notice in the state database in the same transaction as its outcome
(store.py, `whatsapp_case_notice`); this module sends the notices:

    POST {HANDOVER_URL}/api/conversations/whatsapp/{wa_id}/delivery-failures
    Authorization: Bearer {HANDOVER_SHARED_SECRET}
    {"client_id": "<key>", "outcome": "held" | "failed" | "delivered" | "unreachable",
     "code": 131047 | 132001 | null,
     "kind": "staff_message" | "mode" | "text", "text_sha256": "<sha256 of the casemanager's text>"}

as the action server calls the service (bot/handover_gateway/client.py; this runs in the Rasa
server, which may not import that package). The service stores a notice once per `client_id`,
so sending it again after a lost answer is harmless. Not reachable: tried again with backoff for
a day (NOTICE_RETENTION). Logs carry the HTTP status only, never the number or a text.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Optional
from urllib.parse import quote

import aiohttp

from bot.channels.whatsapp.store import NOTICE_RETENTION, CaseNotice, WhatsAppState

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
# The service answers these when the notice itself cannot be taken (no case for this conversation,
# bad input): sending it again cannot help.
GIVE_UP_STATUSES = frozenset({400, 403, 404, 409, 413, 422})


@dataclass(frozen=True)
class HandoverTarget:
    url: str
    secret: str
    timeout: float = 5.0


class CaseNotifier:
    """Sends the stored notices to the handover service; a no-op without HANDOVER_URL."""

    def __init__(
        self, state: WhatsAppState, target: Optional[HandoverTarget], retry_base: float = 1.0
    ) -> None:
        self.state = state
        self.target = target
        self.retry_base = retry_base
        self.lease = (target.timeout if target else 5.0) + 30.0

    @property
    def enabled(self) -> bool:
        return self.target is not None

    async def flush(self) -> None:
        if self.target is None:
            return
        for notice in await self.state.take_notices(self.lease):
            await self._send(self.target, notice)

    async def _send(self, target: HandoverTarget, notice: CaseNotice) -> None:
        if self.state.now() - notice.created_at > NOTICE_RETENTION:
            log.error("whatsapp: handover service not told of an undelivered message (gave up after a day)")
            await self.state.notice_done(notice.id)
            return
        url = (
            f"{target.url.rstrip('/')}/api/conversations/{CHANNEL}/"
            f"{quote(notice.recipient, safe='')}/delivery-failures"
        )
        body = {"client_id": notice.key, **notice.body}
        headers = {"Authorization": f"Bearer {target.secret}"}
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=target.timeout)) as http:
                async with http.post(url, json=body, headers=headers) as response:
                    status = response.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            status = None
            log.warning("whatsapp: handover service unreachable for a delivery notice (%s)", type(e).__name__)
        if status is not None and status < 300:
            log.info(
                "whatsapp: handover service told of an undelivered message (%s)", notice.body.get("outcome")
            )
            await self.state.notice_done(notice.id)
        elif status in GIVE_UP_STATUSES:
            log.warning("whatsapp: handover service refused a delivery notice: status=%s", status)
            await self.state.notice_done(notice.id)
        else:
            if status is not None:
                log.warning("whatsapp: delivery notice answered %s; tried again later", status)
            delay = min(self.retry_base * 2.0**notice.attempts, 300.0)
            await self.state.notice_retry(notice.id, delay)
