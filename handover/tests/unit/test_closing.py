"""What the close form promises about the agreed next steps, per channel and time (no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from handover.models import Case, Channel, Kind
from handover.services.closing import closing_reach

UTC = dt.timezone.utc
# Monday 5 January 2026, 13:00 in Amsterdam
LAST = dt.datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def reach(channel: Channel, after: dt.timedelta, kind: Kind = Kind.CALLBACK) -> tuple[bool, str, str]:
    case = Case(channel=channel, kind=kind, created_at=LAST)
    found = closing_reach(case, LAST, LAST + after, widget_session_minutes=120, timezone="Europe/Amsterdam")
    return found.promised, found.notice, found.confirmation


def test_whatsapp_within_the_24_hour_window_says_until_when() -> None:
    promised, notice, confirmation = reach(Channel.WHATSAPP, dt.timedelta(hours=2))
    assert promised
    assert notice == (
        "De inwoner krijgt deze afspraken via WhatsApp, als u afrondt vóór morgen om 12.55 uur. "
        "Daarna pas als de inwoner weer iets stuurt."
    )
    assert confirmation == "Zaak is afgerond. De inwoner krijgt de afspraken via WhatsApp."


@pytest.mark.parametrize("after", [dt.timedelta(hours=23, minutes=55), dt.timedelta(days=3)])
def test_whatsapp_after_the_window_promises_nothing(after: dt.timedelta) -> None:
    promised, notice, confirmation = reach(Channel.WHATSAPP, after)
    assert not promised
    assert "meer dan 24 uur oud" in notice and notice.endswith("Geef de afspraken zelf door aan de inwoner.")
    assert confirmation == (
        "Zaak is afgerond. De afspraken komen via WhatsApp niet meteen aan. "
        "Geef de afspraken zelf door aan de inwoner."
    )


def test_the_website_while_the_widget_remembers_the_conversation() -> None:
    promised, notice, confirmation = reach(Channel.SOCKETIO, dt.timedelta(minutes=30))
    assert promised and "weer opent vóór vandaag om 15.00 uur. Daarna niet meer." in notice
    assert confirmation == "Zaak is afgerond. De inwoner ziet de afspraken in de chat op de website."


def test_the_website_after_the_widget_forgot_the_conversation() -> None:
    promised, notice, _ = reach(Channel.SOCKETIO, dt.timedelta(minutes=120))
    assert not promised and notice.startswith("De chat op de website onthoudt een gesprek 120 minuten")


def test_rest_has_nobody_to_show_it_to() -> None:
    promised, notice, _ = reach(Channel.REST, dt.timedelta(0))
    assert not promised and "de inwoner krijgt deze afspraken niet" in notice


def test_a_live_chat_goes_back_to_the_bot() -> None:
    _, _, confirmation = reach(Channel.SOCKETIO, dt.timedelta(minutes=1), Kind.CHAT)
    assert confirmation.startswith("Zaak is afgerond; de burger gaat terug naar de chatbot.")
