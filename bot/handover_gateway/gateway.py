"""The one door to the handover service (see the package docstring)."""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Dict, Optional, Protocol, Sequence

from bot.handover_gateway.client import (
    CaseClosed,
    HandoverClient,
    HandoverRejected,
    HandoverUnavailable,
    NoSuchCase,
    SlotTaken,
)
from bot.handover_gateway.outbox import HandoverOutbox, Sending, Sent, handover_outbox
from bot.intake.effects import (
    AppointmentMade,
    Availability,
    CaseOpened,
    CaseStatus,
    CaseUnknown,
    Delivered,
    Erased,
    FreeSlots,
    NoOneAvailable,
    Queued,
    Refused,
    Result,
    SlotGone,
    Unavailable,
)
from bot.intake.schedule import office_hours_in_words
from bot.settings import BotSettings

logger = logging.getLogger(__name__)


class HandoverGateway(Protocol):
    configured: bool  # False: there is no handover service; the bot gives the phone route instead

    async def open_case(self, case: Dict[str, Any]) -> Result:
        """CaseOpened, NoOneAvailable or Unavailable."""

    async def request_callback(self, case: Dict[str, Any]) -> Result:
        """Delivered (with the reference), Queued or Refused."""

    async def forward(self, reference: str, sender_id: str, text: str, message_id: str = "") -> Result:
        """Delivered, Queued or Refused (case_gone when the case was closed or erased). The same
        `message_id` (the widget's, sent again after a reconnect) reaches the casemanager once."""

    async def status(self, reference: str) -> Result:
        """CaseStatus, CaseUnknown or Unavailable."""

    async def erase(self, channel: str, sender_id: str) -> Result:
        """Erased; at_gemeente False when the service's part did not happen."""

    async def availability(self) -> Result:
        """Availability, or Unavailable."""

    async def free_slots(self, organisation: Optional[str]) -> Result:
        """FreeSlots, or Unavailable."""

    async def book(
        self, channel: str, sender_id: str, slot_id: int, organisations: Sequence[str] = ()
    ) -> Result:
        """AppointmentMade (with its calendar file when the service gave it), SlotGone (with
        other free slots), Refused or Unavailable."""

    async def change(self, channel: str, sender_id: str, reference: str, slot_id: int) -> Result:
        """AppointmentMade (with its calendar file), SlotGone, Refused or Unavailable."""

    async def cancel(self, channel: str, sender_id: str, reference: str) -> Result:
        """AppointmentMade (status geannuleerd), Refused or Unavailable."""

    async def satisfaction(self, reference: str, sender_id: str, score: int, words: Optional[str]) -> Result:
        """Delivered, Refused (the service said no) or Unavailable; never raises."""


def _sent(sending: Sending) -> Result:
    if sending.status is Sent.DELIVERED:
        reference = sending.answer.get("reference")
        return Delivered(reference if isinstance(reference, str) else None)
    if sending.status is Sent.QUEUED:
        return Queued(first=sending.already_waiting == 0)
    return Refused(case_gone=isinstance(sending.error, (CaseClosed, NoSuchCase)))


class ServiceGateway:
    """The handover service at HANDOVER_URL, with this process's durable outbox."""

    configured = True

    def __init__(self, settings: BotSettings) -> None:
        self.settings = settings
        self.client = HandoverClient(settings)

    def _outbox(self) -> HandoverOutbox:
        # Bound to the running event loop, so it is looked up per call, not kept.
        return handover_outbox(self.settings)

    async def open_case(self, case: Dict[str, Any]) -> Result:
        try:
            if (await self.client.availability()).get("offer") != "live":
                return NoOneAvailable()
            created = await self.client.create_case(case)
        except HandoverUnavailable:
            return Unavailable()
        return CaseOpened(
            reference=str(created["reference"]),
            position=int(created.get("queue_position") or 1),
            wait_minutes=int(created.get("expected_wait_minutes") or 5),
        )

    async def request_callback(self, case: Dict[str, Any]) -> Result:
        return _sent(await self._outbox().request_callback(case))

    async def forward(self, reference: str, sender_id: str, text: str, message_id: str = "") -> Result:
        return _sent(await self._outbox().send_message(reference, sender_id, text, message_id))

    async def availability(self) -> Result:
        try:
            answer = await self.client.availability()
        except HandoverUnavailable:
            return Unavailable()
        next_open, hours = answer.get("next_open"), answer.get("hours")
        # The hours as data, worded here (and translated) for the citizen; the service's own Dutch
        # words only from a service that does not send the data yet.
        worded = office_hours_in_words(answer.get("office_hours"))
        return Availability(
            live=answer.get("offer") == "live",
            next_open=next_open if isinstance(next_open, str) else None,
            hours=worded or (hours if isinstance(hours, str) else None),
        )

    async def status(self, reference: str) -> Result:
        try:
            answer = await self.client.status(reference)
        except NoSuchCase:
            return CaseUnknown()
        except HandoverUnavailable:
            return Unavailable()
        position = answer.get("queue_position")
        return CaseStatus(str(answer.get("status")), position if isinstance(position, int) else None)

    async def erase(self, channel: str, sender_id: str) -> Result:
        try:
            # Waiting messages first: the outbox must not deliver them to the case after it is gone.
            await self._outbox().outbox.forget(sender_id)
            await self.client.erase(channel, sender_id)
        except HandoverUnavailable:
            return Erased(at_gemeente=False)
        except Exception as e:  # e.g. the outbox database: never claim an erasure that did not happen
            logger.error("erasure at the handover service failed: %s", type(e).__name__)
            return Erased(at_gemeente=False)
        return Erased(at_gemeente=True)

    # Appointments: asked while the citizen waits for the answer; no outbox (a booking that
    # arrives later could take a slot the citizen no longer expects).

    async def free_slots(self, organisation: Optional[str]) -> Result:
        try:
            return FreeSlots(tuple(await self.client.free_slots(organisation)))
        except HandoverUnavailable:
            return Unavailable()

    async def book(
        self, channel: str, sender_id: str, slot_id: int, organisations: Sequence[str] = ()
    ) -> Result:
        made = await self._appointment(
            self.client.book_appointment(channel, sender_id, slot_id, organisations=list(organisations))
        )
        return await self._with_calendar(channel, sender_id, made)

    async def change(self, channel: str, sender_id: str, reference: str, slot_id: int) -> Result:
        made = await self._appointment(self.client.change_appointment(channel, sender_id, reference, slot_id))
        return await self._with_calendar(channel, sender_id, made)

    async def _with_calendar(self, channel: str, sender_id: str, made: Result) -> Result:
        """The booked, moved or cancelled appointment with its iCalendar file, for the citizen's
        calendar (a cancelled one's file takes it out). Without it the booking or cancellation
        still stands: the confirmation goes out, the file does not."""
        reference = made.appointment.get("reference") if isinstance(made, AppointmentMade) else None
        if not isinstance(made, AppointmentMade) or not isinstance(reference, str) or not reference:
            return made
        try:
            calendar = await self.client.calendar_file(channel, sender_id, reference)
        except (HandoverUnavailable, NoSuchCase) as e:
            logger.warning("appointment calendar file not fetched: %s", type(e).__name__)
            return made
        return AppointmentMade(made.appointment, calendar)

    async def cancel(self, channel: str, sender_id: str, reference: str) -> Result:
        made = await self._appointment(self.client.cancel_appointment(channel, sender_id, reference))
        return await self._with_calendar(channel, sender_id, made)

    async def satisfaction(self, reference: str, sender_id: str, score: int, words: Optional[str]) -> Result:
        # Asked once and sent at once, no outbox: a lost answer is a pity, not a harm. Logged
        # without the reference or the words.
        try:
            await self.client.satisfaction(reference, sender_id, score, words)
        except (NoSuchCase, CaseClosed, HandoverRejected) as e:
            logger.warning("satisfaction answer refused: %s", type(e).__name__)
            return Refused()
        except HandoverUnavailable as e:
            logger.warning("satisfaction answer not sent: %s", type(e).__name__)
            return Unavailable()
        return Delivered()

    async def _appointment(self, call: Awaitable[Dict[str, Any]]) -> Result:
        try:
            return AppointmentMade(await call)
        except SlotTaken as e:
            return SlotGone(tuple(e.slots))
        except NoSuchCase:
            return Refused(case_gone=True)
        except HandoverRejected:
            return Refused()
        except HandoverUnavailable:
            return Unavailable()


class NoHandoverService:
    """No HANDOVER_URL: nothing can be handed over; the conversation gives the phone route."""

    configured = False

    async def open_case(self, case: Dict[str, Any]) -> Result:
        return Unavailable()

    async def request_callback(self, case: Dict[str, Any]) -> Result:
        return Refused()

    async def forward(self, reference: str, sender_id: str, text: str, message_id: str = "") -> Result:
        return Refused(case_gone=True)

    async def status(self, reference: str) -> Result:
        return Unavailable()

    async def erase(self, channel: str, sender_id: str) -> Result:
        return Erased(at_gemeente=False)

    async def availability(self) -> Result:
        return Unavailable()

    async def free_slots(self, organisation: Optional[str]) -> Result:
        return Unavailable()

    async def book(
        self, channel: str, sender_id: str, slot_id: int, organisations: Sequence[str] = ()
    ) -> Result:
        return Unavailable()

    async def change(self, channel: str, sender_id: str, reference: str, slot_id: int) -> Result:
        return Unavailable()

    async def cancel(self, channel: str, sender_id: str, reference: str) -> Result:
        return Unavailable()

    async def satisfaction(self, reference: str, sender_id: str, score: int, words: Optional[str]) -> Result:
        return Refused()


def gateway_for(settings: Optional[BotSettings] = None) -> HandoverGateway:
    """The gateway for these settings (default: the environment, read once per call of this)."""
    settings = settings or BotSettings.from_env()
    return ServiceGateway(settings) if settings.handover_url else NoHandoverService()
