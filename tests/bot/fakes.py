"""A handover gateway for tests: records every call, answers with scripted results.

`FakeGateway` implements bot/handover_gateway/gateway.py's `HandoverGateway`. Inject it into
`ActionTurn(gateway=...)`; then assert on `calls` (what reached the handover service, with which
payload, and what did not) and on what the citizen reads. How the real gateway turns HTTP answers
and outbox outcomes into these results: tests/bot/test_gateway.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from bot.intake.effects import (
    AppointmentMade,
    Availability,
    CaseOpened,
    CaseStatus,
    Delivered,
    Erased,
    FreeSlots,
    Refused,
    Result,
    Unavailable,
)

REFERENCE = "HV-7K3M"
METHODS = (
    "open_case",
    "request_callback",
    "forward",
    "status",
    "erase",
    "availability",
    "free_slots",
    "book",
    "change",
    "cancel",
    "satisfaction",
)
# What the handover service answers for appointments (handover/README.md, "Appointments").
SLOTS = (
    {
        "id": 11,
        "starts_at": "2026-12-08T10:00:00+01:00",
        "moment": "dinsdag 8 december, 10.00 uur",
        "mode": "telefoon",
    },
    {
        "id": 12,
        "starts_at": "2026-12-08T14:00:00+01:00",
        "moment": "dinsdag 8 december, 14.00 uur",
        "mode": "telefoon",
    },
    {
        "id": 13,
        "starts_at": "2026-12-10T09:00:00+01:00",
        "moment": "donderdag 10 december, 9.00 uur",
        "mode": "stadskantoor",
        "location": "Stadskantoor",
    },
)
APPOINTMENT = {
    "reference": "AF-7K3M2P",
    "status": "gepland",
    "starts_at": "2026-12-08T14:00:00+01:00",
    "moment": "dinsdag 8 december, 14.00 uur",
    "mode": "telefoon",
    "location": None,
    "organisations": ["cjib"],
    "organisation_names": ["CJIB"],
    "slot_id": 12,
}


@dataclass(frozen=True)
class Call:
    """One call of the gateway: the method and its arguments by name."""

    method: str
    args: Mapping[str, Any]


def successes() -> Dict[str, Result]:
    """What a handover service that is up and staffed answers."""
    return {
        "open_case": CaseOpened(reference=REFERENCE, position=2, wait_minutes=8),
        "request_callback": Delivered(REFERENCE),
        "forward": Delivered(),
        "status": CaseStatus("wachtend", 1),
        "erase": Erased(at_gemeente=True),
        "availability": Availability(live=True, hours="maandag tot en met vrijdag van 9.00 tot 17.00 uur"),
        "free_slots": FreeSlots(SLOTS),
        "book": AppointmentMade(APPOINTMENT),
        "change": AppointmentMade(APPOINTMENT),
        "cancel": AppointmentMade({**APPOINTMENT, "status": "geannuleerd"}),
        "satisfaction": Delivered(),
    }


def no_service() -> Dict[str, Result]:
    """What bot/handover_gateway/gateway.py's NoHandoverService answers (no HANDOVER_URL)."""
    return {
        "open_case": Unavailable(),
        "request_callback": Refused(),
        "forward": Refused(case_gone=True),
        "status": Unavailable(),
        "erase": Erased(at_gemeente=False),
        "availability": Unavailable(),
        "free_slots": Unavailable(),
        "book": Unavailable(),
        "change": Unavailable(),
        "cancel": Unavailable(),
        "satisfaction": Refused(),
    }


Script = Union[Result, Sequence[Result]]


class FakeGateway:
    """A HandoverGateway that records each call and answers from a script.

    `FakeGateway(forward=Queued(first=True))` answers every forward with that result;
    `FakeGateway(forward=[Queued(first=True), Queued(first=False)])` answers the calls in turn (the
    last one repeats). Methods without a script answer as a working service would (`successes`), or,
    when `configured=False`, as the bot without a handover service does (`no_service`).
    """

    def __init__(self, configured: bool = True, **script: Script) -> None:
        unknown = set(script) - set(METHODS)
        if unknown:
            raise TypeError(f"no such gateway method: {sorted(unknown)}")
        self.configured = configured
        self.calls: List[Call] = []
        self._script: Dict[str, List[Result]] = {
            name: [result] for name, result in (successes() if configured else no_service()).items()
        }
        for name, results in script.items():
            self.answer(name, results)

    def answer(self, method: str, results: Script) -> None:
        """From now on, answer `method` with these results (one, or several in turn)."""
        if method not in METHODS:
            raise TypeError(f"no such gateway method: {method}")
        listed = list(results) if isinstance(results, (list, tuple)) else [results]
        if not listed:
            raise ValueError("a script needs at least one result")
        self._script[method] = listed

    def _record(self, method: str, **args: Any) -> Result:
        self.calls.append(Call(method, args))
        queue = self._script[method]
        return queue.pop(0) if len(queue) > 1 else queue[0]

    # --- what the tests look at -------------------------------------------------------------------
    @property
    def methods(self) -> List[str]:
        """The methods called, in order."""
        return [call.method for call in self.calls]

    def called(self, method: str) -> List[Mapping[str, Any]]:
        """The arguments of every call of `method`, in order."""
        return [call.args for call in self.calls if call.method == method]

    @property
    def cases(self) -> List[Dict[str, Any]]:
        """Every case payload sent (a live chat or a callback request), in order."""
        return [dict(c.args["case"]) for c in self.calls if c.method in ("open_case", "request_callback")]

    # --- HandoverGateway ---------------------------------------------------------------------------
    async def open_case(self, case: Dict[str, Any]) -> Result:
        return self._record("open_case", case=case)

    async def request_callback(self, case: Dict[str, Any]) -> Result:
        return self._record("request_callback", case=case)

    async def forward(self, reference: str, sender_id: str, text: str, message_id: str = "") -> Result:
        kwargs = {"message_id": message_id} if message_id else {}
        return self._record("forward", reference=reference, sender_id=sender_id, text=text, **kwargs)

    async def status(self, reference: str) -> Result:
        return self._record("status", reference=reference)

    async def erase(self, channel: str, sender_id: str) -> Result:
        return self._record("erase", channel=channel, sender_id=sender_id)

    async def availability(self) -> Result:
        return self._record("availability")

    async def free_slots(self, organisation: Optional[str]) -> Result:
        return self._record("free_slots", organisation=organisation)

    async def book(
        self, channel: str, sender_id: str, slot_id: int, organisations: Sequence[str] = ()
    ) -> Result:
        return self._record(
            "book", channel=channel, sender_id=sender_id, slot_id=slot_id, organisations=tuple(organisations)
        )

    async def change(self, channel: str, sender_id: str, reference: str, slot_id: int) -> Result:
        return self._record(
            "change", channel=channel, sender_id=sender_id, reference=reference, slot_id=slot_id
        )

    async def cancel(self, channel: str, sender_id: str, reference: str) -> Result:
        return self._record("cancel", channel=channel, sender_id=sender_id, reference=reference)

    async def satisfaction(self, reference: str, sender_id: str, score: int, words: Optional[str]) -> Result:
        return self._record(
            "satisfaction", reference=reference, sender_id=sender_id, score=score, words=words
        )
