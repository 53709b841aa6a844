"""Contact details for a callback, and the transcript the casemanager reads."""

from __future__ import annotations

import pytest

from bot.intake.contact import find_contact
from bot.intake.state import choice_payload
from bot.intake.transcript import transcript


@pytest.mark.parametrize(
    "text,phone,email",
    [
        # Dutch numbers, stored in E.164
        ("06-12345678 morgenochtend", "+31612345678", None),
        ("bel me op +31 6 1234 5678 na 14 uur", "+31612345678", None),
        ("020 123 4567", "+31201234567", None),
        ("0031 20 123 4567", "+31201234567", None),
        ("(020) 123 45 67 na de lunch", "+31201234567", None),
        # foreign numbers, written with their country code
        ("+48 512 345 678", "+48512345678", None),
        ("proszę dzwonić +48 512 345 678 po 16", "+48512345678", None),
        ("+32 470 12 34 56 in de middag", "+32470123456", None),
        ("0049 30 1234567", "+49301234567", None),
        # a number followed by more digits is still found
        ("06 12345678 2 keer proberen", "+31612345678", None),
        ("mail naar annie.jansen@example.nl graag", None, "annie.jansen@example.nl"),
        ("0612345678@example.nl", None, "0612345678@example.nl"),
        ("06-12345678 of annie@example.nl", "+31612345678", "annie@example.nl"),
        ("ik heb geen telefoon", None, None),
        # not valid numbers
        ("mijn nummer is 12345", None, None),
        ("06-123", None, None),
        ("+48 512 345 67", None, None),
        ("mijn bsn is 123456782", None, None),  # nine digits without a leading 0 are not a phone number
        ("morgen om 10:30 of op 12-03-2025", None, None),
    ],
)
def test_find_contact(text: str, phone, email) -> None:
    found = find_contact(text)
    assert (found.phone, found.email) == (phone, email)
    assert found.reachable == bool(phone or email)


def test_the_rest_of_the_message_is_the_preferred_moment() -> None:
    assert find_contact("06 12345678, morgenochtend na 10 uur").moment == "morgenochtend na 10 uur"
    assert find_contact("Bel +48 512 345 678 po 16:00").moment == "Bel po 16:00"
    assert find_contact("06 12345678 2 keer proberen").moment == "2 keer proberen"
    assert find_contact("a@b.nl, 06-12345678").moment is None


def test_transcript_shows_buttons_as_their_titles_and_skips_program_intents() -> None:
    payload = choice_payload("bevestig|cjib.openstaande_boetes")
    events = [
        {"event": "user", "text": "/begroeten", "timestamp": 1},
        {"event": "user", "text": "ik heb een boete", "timestamp": 2},
        {"event": "bot", "text": "Klopt dat?", "timestamp": 3,
         "data": {"buttons": [{"title": "Ja, dat klopt", "payload": payload}]}},
        {"event": "slot", "name": "x", "value": 1},
        {"event": "user", "text": payload, "timestamp": 4},
        {"event": "bot", "text": "Kunt u de boete betalen?", "timestamp": 5},
    ]
    assert transcript(events) == [
        {"role": "citizen", "text": "ik heb een boete", "timestamp": 2},
        {"role": "bot", "text": "Klopt dat?", "timestamp": 3},
        {"role": "citizen", "text": "[knop] Ja, dat klopt", "timestamp": 4},
        {"role": "bot", "text": "Kunt u de boete betalen?", "timestamp": 5},
    ]


def test_transcript_shows_an_earlier_live_chat_as_text_and_skips_the_services_events() -> None:
    staff = {"data": {"type": "staff_message", "name": "Sanne", "label": "Sanne (medewerker)",
                      "text": "Ik bel u."}}
    closed = {"data": {"type": "mode", "mode": "closed",
                       "text": "De medewerker heeft het gesprek afgesloten."}}
    events = [
        {"event": "user", "text": "EXTERNAL: medewerker_bericht", "timestamp": 1,
         "metadata": {"is_external": True}},
        {"event": "bot", "text": None, "timestamp": 2, "data": {"custom": staff}},
        {"event": "user", "text": "Dank u", "timestamp": 3},
        {"event": "bot", "text": None, "timestamp": 4, "data": {"custom": closed}},
        {"event": "bot", "text": None, "timestamp": 5, "data": {"custom": {"data": {"gemeente_chat": "x"}}}},
    ]
    assert transcript(events) == [
        {"role": "bot", "text": "Sanne (medewerker): Ik bel u.", "timestamp": 2},
        {"role": "citizen", "text": "Dank u", "timestamp": 3},
        {"role": "bot", "text": "De medewerker heeft het gesprek afgesloten.", "timestamp": 4},
    ]
