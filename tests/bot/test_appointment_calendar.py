"""The appointment's calendar file in the chat (issue 18): after the confirmation of a booking or a
move the citizen gets the iCalendar file the handover service makes, as a structured message
(bot/domain/afspraken.yml, utter_afspraak_agenda) that the widget shows as a download link and the
WhatsApp channel sends as a document. The file itself rides along untouched; the words around it are
translated. Who joins: the organisations of the intake's outcome, not one the citizen refused.
Through the real processes: tests/widget/test_appointment_widget.py and
tests/e2e/test_appointment_whatsapp.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, Dict, List

import pytest
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.messages import send
from bot.intake import appointments as a
from bot.intake.conversation import Context, Conversation, ConversationState
from bot.intake.effects import AppointmentMade, BookSlot, CancelAppointment, ChangeAppointment
from bot.intake.engine import Intake
from bot.intake.knowledge import knowledge
from bot.intake.schema import schema
from bot.intake.state import Reply
from tests.bot.fakes import APPOINTMENT, FakeGateway
from tests.bot.helpers import Chat, as_rasa_sends

ZONE = a.ZONE
NOW = datetime(2026, 12, 6, 11, 0, tzinfo=ZONE)
IN_DECEMBER = Context(now=NOW, handover_configured=True)
# As the handover service makes it (handover/src/handover/ics.py): CRLF lines, folded at 75 octets.
ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Gemeente//Digitaal loket afspraken//NL\r\n"
    "METHOD:PUBLISH\r\nBEGIN:VEVENT\r\nSUMMARY:Afspraak met de gemeente (AF-7K3M2P)\r\n"
    "DTSTART;TZID=Europe/Amsterdam:20261208T140000\r\nUID:af-7k3m2p@afspraken.gemeente\r\n"
    "DESCRIPTION:Afspraak aan de telefoon: wij bellen u. Kenmerk: AF-7K3M2P.\\nNeem mee:\r\n"
    " uw paspoort\\, identiteitskaart of rijbewijs.\r\nSTATUS:CONFIRMED\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)


@pytest.fixture(scope="module")
def talk() -> Conversation:
    return Conversation(Intake(knowledge(), schema()))


def sent(replies: List[Reply], language: str) -> List[Dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    send(dispatcher, replies, language)
    return dispatcher.messages


def test_the_calendar_file_is_named_after_the_reference_only() -> None:
    reply = a.calendar_file(ICS, "AF-7K3M2P")
    assert reply.response == "utter_afspraak_agenda"
    assert dict(reply.attachment) == {"filename": "afspraak-AF-7K3M2P.ics", "ics": ICS}
    # A reference the bot did not expect never becomes part of a file name.
    assert a.calendar_file(ICS, "../../etc/passwd").attachment["filename"] == "afspraak.ics"
    assert a.calendar_file(ICS, "").attachment["filename"] == "afspraak.ics"


@pytest.mark.parametrize(
    "language,text,label",
    [
        ("nl", "Wilt u de afspraak in uw agenda zetten? Open dan dit bestand.", "In mijn agenda zetten"),
        (
            "en",
            "Do you want to put the appointment in your calendar? Then open this file.",
            "Add to my calendar",
        ),
        (
            "uk",
            "Бажаєте додати зустріч до свого календаря? Тоді відкрийте цей файл.",
            "Додати до мого календаря",
        ),
    ],
)
def test_the_file_rides_along_untouched_and_the_words_are_in_the_language(
    language: str, text: str, label: str
) -> None:
    [message] = sent([a.calendar_file(ICS, "AF-7K3M2P")], language)
    data = message["custom"]["data"]
    assert data == {
        "type": "agenda",
        "text": text,
        "label": label,
        "filename": "afspraak-AF-7K3M2P.ics",
        "ics": ICS,
    }
    assert message["utter_action"] == "utter_afspraak_agenda"
    if language != "nl":
        assert message["lang"] == language


async def test_rasa_sends_it_as_a_custom_payload_under_data() -> None:
    [message] = sent([a.calendar_file(ICS, "AF-7K3M2P")], "nl")
    [event] = await as_rasa_sends([message])
    custom = event.data["custom"]
    assert set(custom) == {"data"} and custom["data"]["ics"] == ICS  # what the website channel emits


def test_booked_and_moved_get_the_file_after_the_confirmation(talk: Conversation) -> None:
    choosing = ConversationState(afspraak_fase=a.CHOOSING)
    booked = talk.after(choosing, BookSlot(12), AppointmentMade(APPOINTMENT, ICS))
    assert [r.response for r in booked.replies] == ["utter_afspraak_bevestigd", "utter_afspraak_agenda"]
    assert booked.replies[1].attachment["ics"] == ICS
    moving = replace(booked.state, afspraak_fase=a.MOVING)
    moved = talk.after(moving, ChangeAppointment("AF-7K3M2P", 13), AppointmentMade(APPOINTMENT, ICS))
    assert [r.response for r in moved.replies] == ["utter_afspraak_bevestigd", "utter_afspraak_agenda"]
    # No file from the service: the booking stands, the confirmation goes out alone.
    alone = talk.after(choosing, BookSlot(12), AppointmentMade(APPOINTMENT))
    assert [r.response for r in alone.replies] == ["utter_afspraak_bevestigd"]
    # Cancelled: the service's cancelling file (same UID, METHOD:CANCEL) takes it out of the calendar.
    cancelling = ICS.replace("METHOD:PUBLISH", "METHOD:CANCEL").replace("CONFIRMED", "CANCELLED")
    cancelled = AppointmentMade({**APPOINTMENT, "status": "geannuleerd"}, cancelling)
    gone = talk.after(booked.state, CancelAppointment("AF-7K3M2P"), cancelled)
    assert [r.response for r in gone.replies] == ["utter_afspraak_afgezegd", "utter_afspraak_agenda_weg"]
    assert dict(gone.replies[1].attachment) == {"filename": "afspraak-AF-7K3M2P.ics", "ics": cancelling}
    assert gone.state.afspraak_referentie is None
    without_file = AppointmentMade({**APPOINTMENT, "status": "geannuleerd"})
    alone_gone = talk.after(booked.state, CancelAppointment("AF-7K3M2P"), without_file)
    assert [r.response for r in alone_gone.replies] == ["utter_afspraak_afgezegd"]


@pytest.mark.parametrize(
    "language,label",
    [("nl", "Uit mijn agenda halen"), ("en", "Remove from calendar"), ("pl", "Usuń z mojego kalendarza")],
)
def test_the_cancelling_file_says_it_takes_the_appointment_out(language: str, label: str) -> None:
    [message] = sent([a.calendar_file(ICS, "AF-7K3M2P", cancelled=True)], language)
    data = message["custom"]["data"]
    assert data["type"] == "agenda" and data["label"] == label and data["ics"] == ICS
    assert message["utter_action"] == "utter_afspraak_agenda_weg"


def test_who_joins_is_the_outcomes_organisations_without_a_refused_one(talk: Conversation) -> None:
    from tests.bot.test_conversation import press

    intake = replace(
        ConversationState().intake,
        organisaties=("uwv", "svb", "belastingdienst"),
        geweigerde_organisaties=("svb",),
        vraagtype=3,
    )
    state = ConversationState(intake=intake, afspraak_fase=a.CHOOSING)
    step = talk.handle(state, press(f"{a.CHOICE_PREFIX}12"), IN_DECEMBER)
    assert step.effect == BookSlot(12, ("uwv", "belastingdienst"))


async def test_action_turn_sends_the_confirmation_and_the_file() -> None:
    gateway = FakeGateway(book=AppointmentMade(APPOINTMENT, ICS))
    chat = Chat(gateway, slots={"afspraak_fase": a.CHOOSING}, clock=lambda: NOW)
    await chat.press(f"{a.CHOICE_PREFIX}12")
    assert chat.responses == ["utter_afspraak_bevestigd", "utter_afspraak_agenda"]
    assert chat.messages[1]["custom"]["data"]["filename"] == "afspraak-AF-7K3M2P.ics"
    assert chat.slots["afspraak_referentie"] == "AF-7K3M2P"
