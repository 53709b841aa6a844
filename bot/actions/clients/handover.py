"""Client for the handover service's bot API (handover/README.md, "Bot API").

Every failure to reach the service becomes `HandoverUnavailable`, so an action can tell the citizen
honestly and offer the phone route; no personal data is logged.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional
from urllib.parse import quote

import aiohttp

from bot.settings import BotSettings

logger = logging.getLogger(__name__)


class HandoverUnavailable(Exception):
    """The handover service could not be reached or answered with an error."""


class CaseNotFound(Exception):
    """No case with that reference (or it is not this citizen's)."""


class CaseClosed(Exception):
    """The case is closed; messages are no longer accepted."""


class HandoverClient:
    """Calls the handover service with the shared secret."""

    def __init__(self, settings: BotSettings) -> None:
        if not settings.handover_url:
            raise ValueError("HANDOVER_URL is not set")
        self.base = settings.handover_url
        self.headers = {"Authorization": f"Bearer {settings.handover_secret or ''}"}
        self.timeout = aiohttp.ClientTimeout(total=settings.handover_timeout)

    async def _call(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        try:
            async with aiohttp.ClientSession(timeout=self.timeout, headers=self.headers) as session:
                async with session.request(method, f"{self.base}{path}", json=body) as response:
                    if response.status == 404:
                        raise CaseNotFound(path.rsplit("/", 1)[-1])
                    if response.status == 409:
                        raise CaseClosed(path)
                    if response.status >= 400:
                        logger.warning("handover %s %s answered %s", method, path.split("/")[2], response.status)
                        raise HandoverUnavailable(f"status {response.status}")
                    return dict(await response.json())
        except (aiohttp.ClientError, TimeoutError) as e:
            logger.warning("handover service unreachable: %s", type(e).__name__)
            raise HandoverUnavailable(type(e).__name__) from e

    async def availability(self) -> Dict[str, Any]:
        """Office hours and online casemanagers: `{"open", "online_casemanagers", "offer"}`."""
        return await self._call("GET", "/api/availability")

    async def create_case(self, case: Dict[str, Any]) -> Dict[str, Any]:
        """Create (or find the open) case: `{"reference", "status", "queue_position", ...}`."""
        return await self._call("POST", "/api/cases", case)

    async def conversation(self, channel: str, sender_id: str) -> Dict[str, Any]:
        """Whether this conversation has an active case."""
        return await self._call("GET", f"/api/conversations/{quote(channel, safe='')}/{quote(sender_id, safe='')}")

    async def forward(self, reference: str, sender_id: str, text: str) -> None:
        """Pass a citizen message on to the casemanager."""
        await self._call("POST", f"/api/cases/{quote(reference, safe='')}/messages", {"sender_id": sender_id, "text": text})

    async def status(self, reference: str) -> Dict[str, Any]:
        """Status of a case by reference, nothing personal."""
        return await self._call("GET", f"/api/status/{quote(reference, safe='')}")
