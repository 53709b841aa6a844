"""Client for the handover service's bot API (handover/README.md, "Bot API").

Every failure to reach the service becomes `HandoverUnavailable`, so an action can tell the citizen
honestly and offer the phone route; no personal data is logged.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Optional
from urllib.parse import quote

import aiohttp

from bot.settings import BotSettings

logger = logging.getLogger(__name__)


class HandoverUnavailable(Exception):
    """The handover service could not be reached or answered with an error."""


class HandoverRejected(HandoverUnavailable):
    """The service refused the request itself (bad input, wrong citizen): sending it again cannot help."""


# An appointment's calendar file is well under 2 kB; anything larger is not one of ours.
MAX_CALENDAR_BYTES = 16_384

# 401 stays HandoverUnavailable: a wrong secret is fixed in the configuration, after which a retry works.
REJECTED_STATUSES = frozenset({400, 403, 413, 422})


class NoSuchCase(Exception):
    """No case with that reference (or it is not this citizen's)."""


class CaseClosed(Exception):
    """The case is closed; messages are no longer accepted."""


class SlotTaken(Exception):
    """Another citizen booked the slot first (409 slot_taken); `slots`: other free ones."""

    def __init__(self, slots: List[Dict[str, Any]]) -> None:
        super().__init__("slot_taken")
        self.slots = slots


def _conflict(answer: Any) -> Exception:
    if isinstance(answer, dict) and answer.get("error") == "slot_taken":
        slots = answer.get("slots")
        return SlotTaken(list(slots) if isinstance(slots, list) else [])
    return HandoverRejected("conflict")


class HandoverClient:
    """Calls the handover service with the shared secret."""

    def __init__(self, settings: BotSettings) -> None:
        if not settings.handover_url:
            raise ValueError("HANDOVER_URL is not set")
        self.base = settings.handover_url
        self.headers = {"Authorization": f"Bearer {settings.handover_secret or ''}"}
        self.timeout = aiohttp.ClientTimeout(total=settings.handover_timeout)

    async def _call(
        self,
        method: str,
        path: str,
        body: Optional[Dict[str, Any]] = None,
        *,
        explain_conflict: bool = False,
    ) -> Dict[str, Any]:
        """`explain_conflict` (appointments): a 409 says why; slot_taken (with other free slots) is
        SlotTaken, another conflict (started, already booked) HandoverRejected."""
        try:
            async with aiohttp.ClientSession(timeout=self.timeout, headers=self.headers) as session:
                async with session.request(method, f"{self.base}{path}", json=body) as response:
                    if response.status == 404:
                        raise NoSuchCase(path.rsplit("/", 1)[-1])
                    if response.status == 409 and explain_conflict:
                        raise _conflict(await response.json(content_type=None))
                    if response.status == 409:
                        raise CaseClosed(path)
                    if response.status in REJECTED_STATUSES:
                        logger.warning("handover %s %s: %s", method, path.split("/")[2], response.status)
                        raise HandoverRejected(f"status {response.status}")
                    if response.status >= 400:
                        logger.warning(
                            "handover %s %s answered %s", method, path.split("/")[2], response.status
                        )
                        raise HandoverUnavailable(f"status {response.status}")
                    return dict(await response.json())
        # On Python 3.10 aiohttp's total timeout raises asyncio.TimeoutError, not the builtin one.
        # ValueError: an answer that is not JSON.
        except (aiohttp.ClientError, asyncio.TimeoutError, TimeoutError, ValueError) as e:
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
        return await self._call(
            "GET", f"/api/conversations/{quote(channel, safe='')}/{quote(sender_id, safe='')}"
        )

    async def forward(
        self, reference: str, sender_id: str, text: str, client_id: Optional[str] = None
    ) -> None:
        """Pass a citizen message on to the casemanager; the service stores it once per `client_id`."""
        body = {"sender_id": sender_id, "text": text}
        if client_id:
            body["client_id"] = client_id
        await self._call("POST", f"/api/cases/{quote(reference, safe='')}/messages", body)

    async def satisfaction(
        self, reference: str, sender_id: str, score: int, text: Optional[str] = None
    ) -> None:
        """The citizen's answer to the satisfaction question of a closed case (1-5, optional words);
        a later answer replaces the earlier one. 409 (CaseClosed): the case is still open."""
        body: Dict[str, Any] = {"sender_id": sender_id, "score": score}
        if text:
            body["text"] = text
        await self._call("POST", f"/api/cases/{quote(reference, safe='')}/tevredenheid", body)

    async def status(self, reference: str) -> Dict[str, Any]:
        """Status of a case by reference, nothing personal."""
        return await self._call("GET", f"/api/status/{quote(reference, safe='')}")

    async def erase(self, channel: str, sender_id: str) -> int:
        """Delete everything the service keeps of this conversation; the number of cases erased.

        Idempotent on the service's side (nothing there: 0). Any other answer, including a 404 from
        a service without this route, is HandoverUnavailable: the citizen must not be told that
        something was erased when it was not."""
        path = f"/api/conversations/{quote(channel, safe='')}/{quote(sender_id, safe='')}/erase"
        try:
            result = await self._call("POST", path)
        except (NoSuchCase, CaseClosed) as e:
            raise HandoverUnavailable(type(e).__name__) from e
        erased = result.get("erased_cases")
        if not isinstance(erased, int) or isinstance(erased, bool):
            raise HandoverUnavailable("unexpected answer to erase")
        return erased

    # --- appointments (handover/README.md, "Appointments") ----------------------------------

    def _conversation_path(self, channel: str, sender_id: str) -> str:
        return f"/api/conversations/{quote(channel, safe='')}/{quote(sender_id, safe='')}/appointments"

    async def free_slots(self, organisation: Optional[str] = None, limit: int = 10) -> List[Dict[str, Any]]:
        """The first free appointment slots (for this organisation's days too, when given)."""
        query = f"?limit={limit}" + (f"&organisation={quote(organisation, safe='')}" if organisation else "")
        answer = await self._call("GET", f"/api/appointments/slots{query}")
        slots = answer.get("slots")
        return list(slots) if isinstance(slots, list) else []

    async def book_appointment(
        self,
        channel: str,
        sender_id: str,
        slot_id: int,
        reference: Optional[str] = None,
        organisations: Optional[List[str]] = None,
    ) -> Dict[str, Any]:
        body: Dict[str, Any] = {"slot_id": slot_id}
        if reference:
            body["reference"] = reference
        if organisations:
            body["organisations"] = organisations
        return await self._call(
            "POST", self._conversation_path(channel, sender_id), body, explain_conflict=True
        )

    async def change_appointment(
        self, channel: str, sender_id: str, appointment: str, slot_id: int
    ) -> Dict[str, Any]:
        path = f"{self._conversation_path(channel, sender_id)}/{quote(appointment, safe='')}/change"
        return await self._call("POST", path, {"slot_id": slot_id}, explain_conflict=True)

    async def cancel_appointment(self, channel: str, sender_id: str, appointment: str) -> Dict[str, Any]:
        path = f"{self._conversation_path(channel, sender_id)}/{quote(appointment, safe='')}/cancel"
        return await self._call("POST", path, explain_conflict=True)

    async def calendar_file(self, channel: str, sender_id: str, appointment: str) -> str:
        """The appointment's iCalendar file (text/calendar, made by the service with `icalendar`).
        HandoverUnavailable when it cannot be had or is not an iCalendar file of a sane size."""
        path = f"{self._conversation_path(channel, sender_id)}/{quote(appointment, safe='')}/ics"
        try:
            async with aiohttp.ClientSession(timeout=self.timeout, headers=self.headers) as session:
                async with session.get(f"{self.base}{path}") as response:
                    if response.status >= 300:
                        raise HandoverUnavailable(f"status {response.status}")
                    body = await response.content.read(MAX_CALENDAR_BYTES + 1)
        except (aiohttp.ClientError, asyncio.TimeoutError, TimeoutError) as e:
            raise HandoverUnavailable(type(e).__name__) from e
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise HandoverUnavailable("calendar file not UTF-8") from e
        if len(body) > MAX_CALENDAR_BYTES or not text.startswith("BEGIN:VCALENDAR"):
            raise HandoverUnavailable("not a calendar file")
        return text
