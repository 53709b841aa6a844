"""Appointments in the chat, the pure part (bot/intake/appointments.py): the citizen's wish in
their own words, the slots that fit it, change and cancel in free text, and the replies. Plain
functions, no Rasa. The service side: handover/tests/api/test_appointments.py."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import List
from zoneinfo import ZoneInfo

import pytest

from bot.intake import appointments as a
from bot.intake.conversation import APPOINTMENT_REMINDER_INTENT, SERVICE_INTENTS, Context, Conversation
from bot.intake.engine import Intake
from bot.intake.knowledge import knowledge
from bot.intake.schema import schema
from tests.bot.helpers import NOW, domain
from tests.bot.test_conversation import event

ZONE = ZoneInfo("Europe/Amsterdam")
SUNDAY = date(2026, 12, 6)  # a Sunday: "volgende week" is the week from Monday 7 December


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE)


def slot(slot_id: int, when: datetime, mode: str = "telefoon") -> a.Slot:
    return a.Slot(id=slot_id, starts_at=when, mode=mode, moment=f"moment {slot_id}")


@pytest.mark.parametrize(
    "text, first, last, start, end",
    [
        ("volgende week dinsdagmiddag", date(2026, 12, 8), date(2026, 12, 8), time(12), time(17)),
        ("Volgende week dinsdag 's middags", date(2026, 12, 8), date(2026, 12, 8), time(12), time(17)),
        ("morgenochtend", date(2026, 12, 7), date(2026, 12, 7), time(0), time(12)),
        ("kan het donderdag?", date(2026, 12, 10), date(2026, 12, 10), None, None),
        ("volgende week", date(2026, 12, 7), date(2026, 12, 13), None, None),
        ("op 15 december", date(2026, 12, 15), date(2026, 12, 15), None, None),
        ("3-1 graag", date(2027, 1, 3), date(2027, 1, 3), None, None),
        ("liefst 's avonds", SUNDAY, SUNDAY + timedelta(days=13), time(17), time.max),
    ],
)
def test_the_wish_in_the_citizens_words(
    text: str, first: date, last: date, start: time | None, end: time | None
) -> None:
    wish = a.parse_wish(text, SUNDAY)
    assert wish is not None
    assert (wish.first, wish.last) == (first, last)
    assert wish.part == (None if start is None else (start, end))


def test_an_hour_and_no_moment_at_all() -> None:
    wish = a.parse_wish("dinsdag om 10 uur", SUNDAY)
    assert wish is not None and wish.hour == time(10)
    assert wish.fits(at(date(2026, 12, 8), 10, 30)) and not wish.fits(at(date(2026, 12, 8), 11))
    assert a.parse_wish("ik heb een brief van het CJIB", SUNDAY) is None
    assert a.parse_wish("op 31 februari", SUNDAY) is None  # a day that does not exist: no wish
    assert a.parse_wish("", SUNDAY) is None


SLOTS = [
    slot(1, at(date(2026, 12, 7), 10)),
    slot(2, at(date(2026, 12, 8), 9, 30)),
    slot(3, at(date(2026, 12, 8), 14)),
    slot(4, at(date(2026, 12, 8), 15)),
    slot(5, at(date(2026, 12, 10), 13)),
]


def ids(slots: List[a.Slot]) -> List[int]:
    return [s.id for s in slots]


def test_the_slots_that_fit_the_wish() -> None:
    assert ids(a.fitting(SLOTS, a.parse_wish("volgende week dinsdagmiddag", SUNDAY), ZONE)) == [3, 4]
    assert ids(a.fitting(SLOTS, None, ZONE)) == [1, 2, 3]  # at most three offered
    (reply,) = a.answer_to_wish(SLOTS, a.parse_wish("vrijdag", SUNDAY), ZONE)
    assert reply.response == "utter_afspraak_niets_op_dat_moment"
    assert [t for t, _ in reply.buttons] == [
        "ma 7 dec 10.00",
        "di 8 dec 09.30",
        "di 8 dec 14.00",
        "Ander moment",
    ]
    (fits,) = a.answer_to_wish(SLOTS, a.parse_wish("donderdagmiddag", SUNDAY), ZONE)
    assert fits.response == "utter_afspraak_ander_aanbod" and len(fits.buttons) == 2
    (none,) = a.answer_to_wish([], a.parse_wish("donderdag", SUNDAY), ZONE)
    assert none.response == "utter_afspraak_geen_tijdsloten" and none.buttons == ()


def test_buttons_are_short_and_come_back_as_the_slot() -> None:
    reply = a.offer(SLOTS[:3], ZONE)
    assert reply.response == "utter_afspraak_aanbod"
    for title, payload in reply.buttons:
        assert len(title) <= 20
        assert payload.startswith("/kies{")
        choice = json.loads(payload[len("/kies") :])["keuze"]
        if title != "Ander moment":
            assert a.chosen_slot(choice) in {1, 2, 3}
        else:
            assert a.chosen_slot(choice) is None and choice == a.OTHER_MOMENT
    assert a.chosen_slot("toestemming|ja") is None and a.chosen_slot("afspraak|x") is None
    assert a.slot_taken([], ZONE).response == "utter_afspraak_geen_tijdsloten"
    assert a.slot_taken(SLOTS[1:2], ZONE).response == "utter_afspraak_bezet"


BOOKED = at(date(2026, 12, 8), 14)  # Tuesday afternoon


@pytest.mark.parametrize(
    "text, cancel",
    [
        ("ik kan dinsdag niet", False),
        ("Dinsdagmiddag lukt me toch niet", False),
        ("kan ik de afspraak verzetten?", False),
        ("Ik wil de afspraak afzeggen", True),
        ("ik zeg de afspraak af", True),
        ("het hoeft niet meer, het is opgelost", True),
    ],
)
def test_change_and_cancel_in_free_text(text: str, cancel: bool) -> None:
    request = a.read_change(text, BOOKED, SUNDAY, ZONE)
    assert request is not None and request.cancel is cancel


def test_not_about_the_appointment() -> None:
    assert a.read_change("ik kan donderdag niet naar de bank", BOOKED, SUNDAY, ZONE) is None
    assert a.read_change("wat moet ik meenemen?", BOOKED, SUNDAY, ZONE) is None


def test_confirmation_says_reference_moment_place_who_and_what_to_bring() -> None:
    booked = {
        "reference": "AF-7K3M2P",
        "moment": "dinsdag 8 december, 14.00 uur",
        "mode": "stadskantoor",
        "location": "Stadskantoor, balie 3",
        "organisation_names": ["CJIB", "SVB"],
    }
    reply = a.confirmation(booked)
    assert reply.response == "utter_afspraak_bevestigd"
    assert {k: str(v) for k, v in reply.variables.items()} == {
        "referentie": "AF-7K3M2P",
        "moment": "dinsdag 8 december, 14.00 uur",
        "waar": "U komt naar Stadskantoor, balie 3.",
        "wie": "de gemeente, CJIB, SVB",
    }
    text = domain()["responses"]["utter_afspraak_bevestigd"][0]["text"]
    assert "identiteitskaart" in text and "brieven" in text
    phone = a.confirmation(booked | {"mode": "telefoon"})
    assert str(phone.variables["waar"]).startswith("Wij bellen u")
    nowhere = a.confirmation(booked | {"location": None, "organisation_names": []})
    assert (str(nowhere.variables["waar"]), str(nowhere.variables["wie"])) == (
        "U komt naar het stadskantoor.", "de gemeente"
    )


def test_the_reminder_of_the_service_reaches_the_citizen() -> None:
    assert APPOINTMENT_REMINDER_INTENT in SERVICE_INTENTS
    talk = Conversation(Intake(knowledge(), schema()))
    from bot.intake.conversation import ConversationState

    context = Context(now=NOW, handover_configured=True)
    step = talk.handle(
        ConversationState(),
        event(
            APPOINTMENT_REMINDER_INTENT,
            referentie="AF-7K3M2P",
            moment="dinsdag 8 december, 14.00 uur",
            soort="telefoon",
            plaats="",
        ),
        context,
    )
    assert [r.response for r in step.replies] == ["utter_afspraak_herinnering"]
    assert step.replies[0].variables["referentie"] == "AF-7K3M2P"
    # Without its facts nothing is said (never an empty reminder).
    empty = talk.handle(ConversationState(), event(APPOINTMENT_REMINDER_INTENT), context)
    assert empty.replies == ()


# --- the conversation: ask, choose, book, move, cancel (pure, effects and results) ----------

SUNDAY_NOON = datetime(2026, 12, 6, 11, 0, tzinfo=ZONE)
IN_DECEMBER = Context(now=SUNDAY_NOON, handover_configured=True)


@pytest.fixture(scope="module")
def talk() -> Conversation:
    return Conversation(Intake(knowledge(), schema()))


def test_asking_choosing_and_booking(talk: Conversation) -> None:
    from bot.intake.conversation import ConversationState
    from bot.intake.effects import AppointmentMade, BookSlot, FindSlots, FreeSlots, SlotGone
    from tests.bot.fakes import APPOINTMENT, SLOTS
    from tests.bot.test_conversation import msg, press

    step = talk.handle(ConversationState(), msg("Kan ik een afspraak maken?", "medewerker"), IN_DECEMBER)
    assert step.effect == FindSlots(None, None) and step.state.afspraak_fase == a.CHOOSING
    offered = talk.after(step.state, step.effect, FreeSlots(SLOTS))
    (reply,) = offered.replies
    assert reply.response == "utter_afspraak_aanbod"
    assert [t for t, _ in reply.buttons] == [
        "di 8 dec 10.00",
        "di 8 dec 14.00",
        "do 10 dec 09.00",
        "Ander moment",
    ]

    # "Ander moment", then a typed wish: only the slots that fit it.
    other = talk.handle(offered.state, press(a.OTHER_MOMENT), IN_DECEMBER)
    assert [r.response for r in other.replies] == ["utter_afspraak_wanneer"] and other.effect is None
    typed = talk.handle(other.state, msg("donderdagochtend", "nlu_fallback"), IN_DECEMBER)
    assert isinstance(typed.effect, FindSlots) and typed.effect.wish is not None
    fits = talk.after(typed.state, typed.effect, FreeSlots(SLOTS))
    assert [t for t, _ in fits.replies[0].buttons] == ["do 10 dec 09.00", "Ander moment"]

    # A slot button books it; someone else was first: the other slots.
    chosen = talk.handle(fits.state, press(f"{a.CHOICE_PREFIX}12"), IN_DECEMBER)
    assert chosen.effect == BookSlot(12)
    gone = talk.after(chosen.state, chosen.effect, SlotGone(SLOTS[2:]))
    assert gone.replies[0].response == "utter_afspraak_bezet"
    booked = talk.after(chosen.state, chosen.effect, AppointmentMade(APPOINTMENT))
    assert booked.replies[0].response == "utter_afspraak_bevestigd"
    assert str(booked.replies[0].variables["wie"]) == "de gemeente, CJIB"
    assert (booked.state.afspraak_referentie, booked.state.afspraak_fase) == ("AF-7K3M2P", None)
    assert booked.state.afspraak_begin == APPOINTMENT["starts_at"]
    # The state survives the slots round trip (Rasa keeps it between messages).
    assert ConversationState.from_slots(booked.state.as_slots()) == booked.state


def test_moving_and_cancelling_by_free_text(talk: Conversation) -> None:
    from bot.intake.conversation import ConversationState
    from bot.intake.effects import AppointmentMade, CancelAppointment, ChangeAppointment, FindSlots, FreeSlots
    from tests.bot.fakes import APPOINTMENT, SLOTS
    from tests.bot.test_conversation import msg, press

    booked = ConversationState(afspraak_referentie="AF-7K3M2P", afspraak_begin=APPOINTMENT["starts_at"])
    cannot = talk.handle(booked, msg("ik kan dinsdag niet", "nlu_fallback"), IN_DECEMBER)
    assert [r.response for r in cannot.replies] == ["utter_afspraak_verzetten_vraag"]
    move = talk.handle(cannot.state, press(a.MOVE), IN_DECEMBER)
    assert move.effect == FindSlots(None) and move.state.afspraak_fase == a.MOVING
    offered = talk.after(move.state, move.effect, FreeSlots(SLOTS))
    moved = talk.handle(offered.state, press(f"{a.CHOICE_PREFIX}13"), IN_DECEMBER)
    assert moved.effect == ChangeAppointment("AF-7K3M2P", 13)

    cancel = talk.handle(booked, msg("Ik wil de afspraak afzeggen", "nlu_fallback"), IN_DECEMBER)
    assert cancel.effect == CancelAppointment("AF-7K3M2P")
    done = talk.after(cancel.state, cancel.effect, AppointmentMade({**APPOINTMENT, "status": "geannuleerd"}))
    assert [r.response for r in done.replies] == ["utter_afspraak_afgezegd"]
    assert done.state.afspraak_referentie is None and done.state.afspraak_begin is None


def test_without_a_handover_service_the_intake_goes_on(talk: Conversation) -> None:
    from bot.intake.conversation import ConversationState
    from bot.intake.effects import FindSlots, Unavailable
    from tests.bot.test_conversation import msg

    off = Context(now=SUNDAY_NOON, handover_configured=False)
    step = talk.handle(ConversationState(), msg("Kan ik een afspraak maken?", "medewerker"), off)
    assert not isinstance(step.effect, FindSlots)
    down = talk.after(ConversationState(), FindSlots(None), Unavailable())
    assert [r.response for r in down.replies] == ["utter_afspraak_niet_gelukt"]


async def test_action_turn_books_through_the_gateway() -> None:
    from tests.bot.fakes import FakeGateway
    from tests.bot.helpers import CHANNEL, SENDER, apply, responses_of, take_turn, tracker

    gateway = FakeGateway()
    dispatcher, events = await take_turn(
        gateway, tracker("Ik wil graag een afspraak", "medewerker"), lambda: SUNDAY_NOON
    )
    assert gateway.methods == ["free_slots"] and responses_of(dispatcher) == ["utter_afspraak_aanbod"]
    slots = apply({}, events)
    choice = f"{a.CHOICE_PREFIX}12"
    pressed = tracker(f'/kies{{"keuze": "{choice}"}}', "kies", slots, [{"entity": "keuze", "value": choice}])
    dispatcher, events = await take_turn(gateway, pressed, lambda: SUNDAY_NOON)
    assert gateway.called("book") == [
        {"channel": CHANNEL, "sender_id": SENDER, "slot_id": 12, "organisations": ()}
    ]
    assert responses_of(dispatcher) == ["utter_afspraak_bevestigd"]
    assert apply(slots, events)["afspraak_referentie"] == "AF-7K3M2P"


def test_only_a_request_for_a_meeting_is_one(talk: Conversation) -> None:
    from bot.intake.conversation import ConversationState
    from bot.intake.effects import FindSlots
    from tests.bot.test_conversation import msg

    arrangement = "Ik heb een achterstand bij het CAK en wil een afspraak maken om in delen te betalen"
    for text, intent in [
        (arrangement, "medewerker"),  # a payment arrangement
        ("Kan ik een afspraak maken?", "cak.betalingsregeling"),  # NLU does not read "a person"
        ("ik heb een afspraak met de verzekeringsarts, wat moet ik meenemen", "uwv.ziektewet"),
    ]:
        step = talk.handle(ConversationState(), msg(text, intent), IN_DECEMBER)
        assert not isinstance(step.effect, FindSlots), text
    asked = talk.handle(
        ConversationState(),
        msg("ik wil een afspraak op het gemeentehuis over mijn schulden", "medewerker"),
        IN_DECEMBER,
    )
    assert isinstance(asked.effect, FindSlots)


def test_a_question_of_several_organisations_offers_an_appointment(talk: Conversation) -> None:
    from dataclasses import replace

    from bot.intake.conversation import ConversationState
    from bot.intake.effects import FindSlots
    from tests.bot.test_conversation import CONSENTED, press

    intake = Intake(knowledge(), schema())
    for qtype, offered in [(1, False), (2, True), (3, True)]:
        choice = intake._final_choice(replace(CONSENTED.intake, vraagtype=qtype))
        assert (a.APPOINTMENT_BUTTON in choice.buttons) is offered
    state = replace(CONSENTED, intake=replace(CONSENTED.intake, vraagtype=3))
    step = talk.handle(state, press(a.ASK), IN_DECEMBER)
    assert step.effect == FindSlots("cjib") and step.state.afspraak_fase == a.CHOOSING
    off = talk.handle(state, press(a.ASK), Context(now=SUNDAY_NOON, handover_configured=False))
    assert [r.response for r in off.replies] == ["utter_afspraak_niet_gelukt"] and off.effect is None
    assert ConversationState.from_slots(step.state.as_slots()) == step.state
