"""The named domain errors: a queue rule that a request breaks.

The services raise them; web/http_errors.py is the one place that turns them into HTTP errors.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class for queue rule violations."""


class CaseNotFound(DomainError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"Zaak {reference} bestaat niet")


class AlreadyClaimed(DomainError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"Zaak {reference} is al in behandeling genomen")


class NotClaimedByYou(DomainError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"Zaak {reference} is niet door u in behandeling genomen")


class InvalidTransition(DomainError):
    def __init__(self, reference: str, current: str, action: str) -> None:
        super().__init__(f"Zaak {reference} heeft status {current}; {action} kan niet")


class QueueEmpty(DomainError):
    def __init__(self) -> None:
        super().__init__("Er staan geen wachtende zaken in de wachtrij")


class NotYourTeam(DomainError):
    def __init__(self, team: str) -> None:
        super().__init__(f"Team {team} is niet uw team; alleen een teamleider kan hier iets doen")


class SenderMismatch(DomainError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"Afzender hoort niet bij zaak {reference}")


class NotAChat(DomainError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"Zaak {reference} is een terugbelverzoek, geen live chat")


class UnknownUser(DomainError):
    def __init__(self, username: str) -> None:
        super().__init__(f"Medewerker {username} bestaat niet")


class UnknownTeam(DomainError):
    def __init__(self, team: str) -> None:
        super().__init__(f"Team {team} bestaat niet")


class FollowUpNotFound(DomainError):
    def __init__(self, follow_up_id: int) -> None:
        super().__init__(f"Nazorgtaak {follow_up_id} bestaat niet")


class ExportNotAllowed(DomainError):
    def __init__(self, reference: str) -> None:
        super().__init__(
            f"Zaak {reference} kan alleen worden gedownload door wie de zaak in behandeling heeft "
            "of door een teamleider"
        )


class InvalidInput(DomainError):
    """Input that parses but breaks a rule (empty text, unknown channel ...)."""


# --- appointments (services/appointments.py) ---------------------------------------------


class SlotNotFound(DomainError):
    def __init__(self, slot_id: int) -> None:
        super().__init__(f"Tijdslot {slot_id} bestaat niet")


class SlotTaken(DomainError):
    """Another citizen booked the slot first (possibly on another service instance)."""

    def __init__(self, slot_id: int) -> None:
        super().__init__(f"Tijdslot {slot_id} is net door iemand anders gekozen")
        self.slot_id = slot_id


class SlotUnavailable(DomainError):
    def __init__(self, slot_id: int) -> None:
        super().__init__(f"Tijdslot {slot_id} is voorbij of ingetrokken")


class SlotOutsideOfficeHours(DomainError):
    def __init__(self, when: str) -> None:
        super().__init__(f"{when} valt buiten de kantoortijden of op een feestdag")


class AppointmentNotFound(DomainError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"Afspraak {reference} bestaat niet")


class AlreadyBooked(DomainError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"Er staat al een afspraak ({reference}); verzet die of zeg die af")
        self.reference = reference


class AppointmentNotChangeable(DomainError):
    def __init__(self, reference: str, status: str) -> None:
        super().__init__(f"Afspraak {reference} heeft status {status}; dat kan niet meer")
