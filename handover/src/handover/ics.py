"""The appointment as an iCalendar file (RFC 5545) for the citizen and the casemanager, made with
the ``icalendar`` library. A moved appointment gives the same UID with a higher SEQUENCE, so a
calendar that imported it updates it; a cancelled one the same UID with STATUS:CANCELLED, so the
calendar removes it."""

from __future__ import annotations

import datetime as dt

from icalendar import Calendar, Event

from .directory import Directory
from .models import Appointment, AppointmentMode, AppointmentStatus

PRODID = "-//Gemeente//Digitaal loket afspraken//NL"
MODE_WORDS = {
    AppointmentMode.OFFICE: "op het stadskantoor",
    AppointmentMode.PHONE: "aan de telefoon: wij bellen u",
    AppointmentMode.VIDEO: "met video",
}


def appointment_ics(appointment: Appointment, directory: Directory, *, for_staff: bool = False) -> bytes:
    slot = appointment.slot
    names = [org.name for org in directory.for_organisations(appointment.organisations)]
    event = Event()
    event.add("uid", f"{appointment.reference.lower()}@afspraken.gemeente")
    event.add("dtstamp", dt.datetime.now(dt.timezone.utc))
    event.add("dtstart", slot.starts_at)
    event.add("dtend", slot.ends_at)
    event.add("summary", f"Afspraak met de gemeente ({appointment.reference})")
    if slot.location:
        event.add("location", slot.location)
    lines = [f"Afspraak {MODE_WORDS[slot.mode]}. Kenmerk: {appointment.reference}."]
    if names:
        lines.append("Wie doen mee: de gemeente en " + ", ".join(names) + ".")
    if for_staff:
        lines.append("Zie de afspraakpagina in de werkplek voor de intake en de checklist.")
    else:
        lines.append("Neem mee: uw paspoort, identiteitskaart of rijbewijs, en de brieven over uw vraag.")
    event.add("description", "\n".join(lines))
    cancelled = appointment.status == AppointmentStatus.CANCELLED
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("sequence", appointment.revision)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    calendar.add_component(event)
    return bytes(calendar.to_ical())
