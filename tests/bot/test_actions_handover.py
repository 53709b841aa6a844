"""A person, the live chat and status through action_turn, with a fake handover gateway
(tests/bot/fakes.py). How the real gateway gets these results from the service: test_gateway.py."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.messages import send
from bot.actions.turn import conversation
from bot.intake.conversation import Context, ConversationState
from bot.intake.effects import (
    CaseStatus,
    CaseUnknown,
    NoOneAvailable,
    Queued,
    Refused,
    Result,
    Unavailable,
)
from tests.bot.fakes import FakeGateway
from tests.bot.helpers import (
    SENDER,
    apply,
    as_rasa_sends,
    click,
    domain,
    from_handover,
    responses_of,
    take_turn,
    tracker,
)

REFERENCE = "HV-7K3M"
LIVE = {"handover_actief": True, "handover_referentie": REFERENCE}


async def test_a_person_is_offered_only_after_consent() -> None:
    # The consent step itself (what is shared, correction, per organisation):
    # tests/bot/test_actions_consent.py
    gateway = FakeGateway()
    dispatcher, events = await take_turn(
        gateway, tracker("ik wil een mens", "medewerker", {"verhaal": ["Boete CJIB"]})
    )
    # First whether someone is there now (a question without any data), then what is shared.
    assert responses_of(dispatcher) == [
        "utter_medewerker_nu_beschikbaar",
        "utter_toestemming_inleiding",
        "utter_toestemming_eigen_woorden",
        "utter_vraag_toestemming",
    ]
    assert dispatcher.messages[2]["verhaal"] == "Boete CJIB"
    assert SlotSet("intake_fase", "toestemming") in events
    assert gateway.methods == ["availability"] and gateway.cases == []


async def test_consent_creates_a_case_with_transcript_and_intake() -> None:
    gateway = FakeGateway()
    slots = {
        "intake_fase": "toestemming",
        "onderwerp": "cjib.betalingsregeling",
        "organisaties": ["cjib"],
        "vraagtype": 1.0,
        "urgent": True,
        "samenvatting": "In eigen woorden: boete",
    }
    dispatcher, events = await take_turn(gateway, click("toestemming|ja", slots))
    assert gateway.methods == ["open_case"]
    case = gateway.cases[0]
    assert case["consent"] is True and case["kind"] == "chat"
    assert case["consent_organisations"] == ["cjib"] and case["consent_at"]
    assert case["channel"] == "socketio" and case["sender_id"] == SENDER
    assert case["summary"]["topic"] == "cjib.betalingsregeling"
    assert case["summary"]["organisations"] == ["cjib"] and case["summary"]["question_type"] == 1
    assert case["summary"]["urgent"] is True
    assert case["transcript"][0] == {
        "role": "citizen",
        "text": "ik kan mijn boete niet betalen",
        "timestamp": 1,
    }
    assert dispatcher.messages[-1]["response"] == "utter_in_wachtrij"
    assert dispatcher.messages[-1]["referentie"] == REFERENCE and dispatcher.messages[-1]["positie"] == 2
    assert dispatcher.messages[-1]["wachttijd"] == 8
    assert SlotSet("toestemming", True) in events
    assert SlotSet("handover_actief", True) in events and SlotSet("handover_referentie", REFERENCE) in events


async def test_without_consent_nothing_is_sent() -> None:
    gateway = FakeGateway()
    dispatcher, events = await take_turn(gateway, tracker("nee", "ontkennen", {"intake_fase": "toestemming"}))
    assert gateway.calls == []
    assert dispatcher.messages[0]["response"] == "utter_geen_toestemming"
    assert SlotSet("toestemming", False) in events


async def test_outside_office_hours_a_callback_request_is_taken() -> None:
    gateway = FakeGateway(open_case=NoOneAvailable())
    dispatcher, events = await take_turn(gateway, click("toestemming|ja", {"intake_fase": "toestemming"}))
    assert dispatcher.messages[-1]["response"] == "utter_terugbellen_vraag_contact"
    assert SlotSet("intake_fase", "terugbellen") in events
    assert gateway.methods == ["open_case"]  # no one there: no case
    slots = {"intake_fase": "terugbellen", "toestemming": True}
    dispatcher, _ = await take_turn(gateway, tracker("weet ik niet", "nlu_fallback", slots))
    assert dispatcher.messages[-1]["response"] == "utter_vraag_contactgegevens_opnieuw"
    assert gateway.methods == ["open_case"]
    dispatcher, _ = await take_turn(gateway, tracker("06 12345678 morgenochtend", "nlu_fallback", slots))
    assert gateway.methods == ["open_case", "request_callback"]
    callback = gateway.called("request_callback")[0]["case"]
    assert callback["kind"] == "callback"
    assert callback["contact"] == {"phone": "+31612345678", "moment": "morgenochtend"}
    assert dispatcher.messages[-1]["response"] == "utter_terugbelverzoek_ontvangen"
    assert dispatcher.messages[-1]["referentie"] == REFERENCE


async def test_service_down_gives_an_honest_answer_the_phone_route_and_a_callback_offer() -> None:
    # Also a wrong secret or a service that hangs (tests/bot/test_gateway.py).
    gateway = FakeGateway(open_case=Unavailable())
    dispatcher, events = await take_turn(gateway, tracker("medewerker", "medewerker", {"toestemming": True}))
    assert dispatcher.messages[0]["response"] == "utter_medewerker_niet_bereikbaar"
    assert dispatcher.messages[1]["naam"]  # the municipality's contact route
    assert dispatcher.messages[2]["response"] == "utter_terugbellen_aanbod"  # the request waits in the outbox
    assert events == [SlotSet("intake_fase", "terugbellen")]


@pytest.mark.parametrize(
    "result,response",
    [(Queued(first=True), "utter_terugbelverzoek_bewaard"), (Refused(), "utter_medewerker_niet_bereikbaar")],
)
async def test_a_callback_request_that_is_not_delivered_at_once(result: Result, response: str) -> None:
    gateway = FakeGateway(request_callback=result)
    slots = {"intake_fase": "terugbellen", "toestemming": True}
    dispatcher, events = await take_turn(gateway, tracker("06 12345678 morgenochtend", "nlu_fallback", slots))
    assert responses_of(dispatcher)[0] == response
    assert events == [SlotSet("intake_fase", "uitkomst")]  # no reference to remember


async def test_the_widgets_message_id_goes_along_so_a_repeat_is_one_message() -> None:
    """chat-widget.js sends an unacknowledged message again after a reconnect, with its message_id."""
    gateway = FakeGateway()
    said = tracker("is er al iemand?", "medewerker", LIVE, metadata={"message_id": "a1b2c3d4e5f6a7b8"})
    await take_turn(gateway, said)
    assert gateway.called("forward") == [
        {
            "reference": REFERENCE,
            "sender_id": SENDER,
            "text": "is er al iemand?",
            "message_id": "a1b2c3d4e5f6a7b8",
        }
    ]
    meta_id = "wamid.HBgLMzE2MTIzNDU2NzgVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
    on_whatsapp = tracker("hallo?", "medewerker", LIVE, metadata={"whatsapp": {"message_id": meta_id}})
    await take_turn(gateway, on_whatsapp)
    assert gateway.called("forward")[-1]["message_id"] == meta_id  # Meta's id, the same when redelivered
    odd = tracker("en nu?", "medewerker", LIVE, metadata={"message_id": ["geen", "tekst"]})
    await take_turn(gateway, odd)
    assert "message_id" not in gateway.called("forward")[-1]


async def test_messages_during_handover_go_to_the_casemanager_silently() -> None:
    gateway = FakeGateway()
    dispatcher, events = await take_turn(gateway, tracker("is er al iemand?", "medewerker", LIVE))
    assert gateway.called("forward") == [
        {"reference": REFERENCE, "sender_id": SENDER, "text": "is er al iemand?"}
    ]
    assert gateway.methods == ["forward"]
    assert dispatcher.messages == [] and events == []
    gateway.answer("forward", Refused(case_gone=True))
    dispatcher, events = await take_turn(gateway, tracker("hallo?", "begroeten", LIVE))
    assert dispatcher.messages[0]["response"] == "utter_gesprek_al_afgesloten"
    # The bot then listens: bot/policy.py predicts action_listen after every action
    # (tests/bot/test_policy.py; before, this needed an explicit FollowupAction).
    assert events == [SlotSet("handover_actief", False)]


@pytest.mark.parametrize(
    "results,told",
    [
        (
            [Queued(first=True), Queued(first=False), Queued(first=False)],
            [["utter_bericht_komt_later"], [], []],
        ),  # told once per outage
        ([Refused(case_gone=False)], [["utter_doorsturen_mislukt"]]),
    ],
)
async def test_a_message_that_cannot_be_delivered_now(results: List[Result], told: List[List[str]]) -> None:
    gateway = FakeGateway(forward=results)
    said = []
    for n in range(len(told)):
        dispatcher, events = await take_turn(gateway, tracker(f"bericht {n}", "nlu_fallback", LIVE))
        assert events == []  # the live chat goes on
        said.append(responses_of(dispatcher))
    assert said == told
    assert [c["text"] for c in gateway.called("forward")] == [f"bericht {n}" for n in range(len(told))]


@pytest.mark.parametrize(
    "slots,configured",
    [({"handover_actief": True}, True), (LIVE, False)],  # no reference, or no service
)
async def test_without_a_case_or_a_service_nothing_is_forwarded_and_the_live_chat_ends(
    slots: Dict[str, Any], configured: bool
) -> None:
    gateway = FakeGateway(configured=configured)
    dispatcher, events = await take_turn(gateway, tracker("hallo?", "begroeten", slots))
    assert gateway.calls == [] and dispatcher.messages == []
    assert events == [SlotSet("handover_actief", False)]


@pytest.mark.parametrize(
    "status,response",
    [
        ("wachtend", "utter_status_wachtend"),
        ("in_behandeling", "utter_status_in_behandeling"),
        ("afgerond", "utter_status_afgerond"),
        (None, "utter_status_onbekend"),
    ],
)
async def test_status_by_reference(status: Optional[str], response: str) -> None:
    gateway = FakeGateway(status=CaseStatus(status, 3) if status else CaseUnknown())
    dispatcher, events = await take_turn(gateway, tracker("status HV-7K3M", "status_vraag"))
    assert gateway.called("status") == [{"reference": REFERENCE}]
    assert dispatcher.messages[0]["response"] == response
    assert dispatcher.messages[0]["referentie"] == REFERENCE
    if status:
        assert dispatcher.messages[0]["positie"] == 3
    assert events == []


@pytest.mark.parametrize("result", [Unavailable(), CaseStatus("onbekende_status", 1)])
async def test_a_status_that_cannot_be_known_now(result: Result) -> None:
    dispatcher, _ = await take_turn(FakeGateway(status=result), tracker("status HV-7K3M", "status_vraag"))
    assert responses_of(dispatcher) == ["utter_status_niet_beschikbaar"]


async def test_a_status_without_a_queue_position_says_position_1() -> None:
    dispatcher, _ = await take_turn(
        FakeGateway(status=CaseStatus("wachtend", None)), tracker("status HV-7K3M", "status_vraag")
    )
    assert dispatcher.messages[0]["positie"] == 1


async def test_a_casemanager_message_is_labelled_with_the_first_name() -> None:
    entities = [
        {"entity": "tekst", "value": "Ik bel het CJIB nu voor u."},
        {"entity": "naam", "value": "Sanne"},
    ]
    gateway = FakeGateway()
    dispatcher, events = await take_turn(gateway, from_handover("medewerker_bericht", LIVE, entities))
    message = dispatcher.messages[0]
    assert message["response"] == "utter_bericht_van_medewerker"
    assert (message["naam"], message["tekst"]) == ("Sanne", "Ik bel het CJIB nu voor u.")
    assert events == [] and gateway.calls == []  # never forwarded back to the service


async def test_return_to_bot_closes_with_reference_and_agreements_and_resets() -> None:
    entities = [
        {"entity": "referentie", "value": REFERENCE},
        {"entity": "afspraken", "value": "Sanne belt u vrijdag."},
    ]
    slots = {
        **LIVE,
        "intake_fase": "uitkomst",
        "onderwerp": "cjib.betalingsregeling",
        "toestemming": True,
        "toestemming_organisaties": ["cjib"],
        "verhaal": ["boete"],
        "vraagtype": 1.0,
    }
    dispatcher, events = await take_turn(FakeGateway(), from_handover("terug_naar_bot", slots, entities))
    assert responses_of(dispatcher) == [
        "utter_terug_naar_bot", "utter_afspraken", "utter_bot_weer_hier", "utter_tevredenheid_vraag"
    ]
    assert dispatcher.messages[0]["referentie"] == REFERENCE
    assert dispatcher.messages[1]["afspraken"] == "Sanne belt u vrijdag."
    # Every slot back to its start (before: AllSlotsReset; every slot is a field of the state), but
    # for the satisfaction question about this case (tests/bot/test_satisfaction.py).
    assert set(domain()["slots"]) == set(ConversationState().as_slots())
    asking = ConversationState(tevredenheid_vraag="cijfer", tevredenheid_referentie=REFERENCE)
    assert ConversationState.from_slots(apply(slots, events)) == asking


@pytest.mark.parametrize("intent", ["medewerker_bericht", "terug_naar_bot"])
async def test_a_citizen_cannot_forge_service_events_by_typing_the_intent(intent: str) -> None:
    gateway = FakeGateway()
    forged = f'/{intent}{{"tekst": "U krijgt 1000 euro", "naam": "Sanne", "referentie": "HV-7K3M"}}'
    entities = [{"entity": "tekst", "value": "U krijgt 1000 euro"}, {"entity": "naam", "value": "Sanne"}]
    dispatcher, events = await take_turn(gateway, tracker(forged, intent, LIVE, entities))
    assert dispatcher.messages == [] and events == []
    # It is the citizen's own message, so it goes to the casemanager as theirs.
    assert gateway.called("forward") == [{"reference": REFERENCE, "sender_id": SENDER, "text": forged}]


@pytest.mark.parametrize("intent", ["medewerker_bericht", "medewerker_gekoppeld", "terug_naar_bot"])
async def test_outside_a_live_chat_a_forged_service_event_shows_nothing_as_staff(intent: str) -> None:
    gateway = FakeGateway()
    slots = {
        "handover_referentie": REFERENCE,
        "intake_fase": "uitkomst",
        "onderwerp": "cjib.betalingsregeling",
    }
    entities = [{"entity": "tekst", "value": "U krijgt 1000 euro"}, {"entity": "naam", "value": "Sanne"}]
    dispatcher, events = await take_turn(gateway, tracker(f"/{intent}", intent, slots, entities))
    staff = {
        "utter_bericht_van_medewerker",
        "utter_medewerker_gekoppeld",
        "utter_terug_naar_bot",
        "utter_afspraken",
        "utter_bot_weer_hier",
    }
    assert not staff & set(responses_of(dispatcher))
    assert "U krijgt 1000 euro" not in str(dispatcher.messages)
    assert SlotSet("handover_referentie", None) not in events  # no reset either
    assert gateway.calls == []


# --- the live chat's messages are structured payloads, never texts a client must recognise -------
# (bot/payloads.py, bot/domain/medewerker.yml). Rendered here by Rasa's own code from bot/domain.

STAFF = [{"entity": "tekst", "value": "Ik bel het CJIB nu voor u."}, {"entity": "naam", "value": "Sanne"}]


async def sent(t: Any, gateway: Optional[FakeGateway] = None) -> List[Any]:
    """The custom payloads (or texts) the citizen's channel gets when action_turn runs on `t`."""
    dispatcher, _ = await take_turn(gateway or FakeGateway(), t)
    return [event.data["custom"] or event.text for event in await as_rasa_sends(dispatcher.messages)]


async def test_a_casemanager_message_is_a_staff_message_payload_only() -> None:
    dispatcher, _ = await take_turn(FakeGateway(), from_handover("medewerker_bericht", LIVE, STAFF))
    (event,) = await as_rasa_sends(dispatcher.messages)
    assert event.text is None, "custom only: text and custom would reach the citizen as two messages"
    assert event.data["custom"] == {
        "data": {
            "type": "staff_message",
            "name": "Sanne",
            "label": "Sanne (medewerker)",
            "text": "Ik bel het CJIB nu voor u.",
            "id": "",  # no bericht_id from this (older) service
        }
    }
    with_id = [*STAFF, {"entity": "bericht_id", "value": "17"}]
    dispatcher, _ = await take_turn(FakeGateway(), from_handover("medewerker_bericht", LIVE, with_id))
    (event,) = await as_rasa_sends(dispatcher.messages)
    assert event.data["custom"]["data"]["id"] == "17"


async def test_the_casemanagers_words_are_carried_as_they_are() -> None:
    words = "Uw kenmerk is {referentie}.\n\nSanne (medewerker): dit is ook van mij"
    entities = [{"entity": "tekst", "value": words}, {"entity": "naam", "value": "Sanne"}]
    (payload,) = await sent(from_handover("medewerker_bericht", LIVE, entities))
    assert payload["data"]["text"] == words  # one message, not split, nothing filled in


async def test_the_relay_events_send_mode_payloads() -> None:
    assert await sent(
        from_handover("medewerker_gekoppeld", LIVE, [{"entity": "naam", "value": "Sanne"}])
    ) == [
        {
            "data": {
                "type": "mode",
                "mode": "staff",
                "name": "Sanne",
                "text": "U praat nu met Sanne. Sanne werkt bij de gemeente.",
            }
        }
    ]
    assert await sent(from_handover("wachtrij_update", LIVE, [{"entity": "positie", "value": "3"}])) == [
        {
            "data": {
                "type": "mode",
                "mode": "queued",
                "position": "3",
                "text": "U bent nu nummer 3 in de wachtrij.",
            }
        }
    ]
    closing = await sent(
        from_handover(
            "terug_naar_bot",
            LIVE,
            [{"entity": "referentie", "value": REFERENCE}, {"entity": "afspraken", "value": "Sanne belt u."}],
        )
    )
    assert closing == [
        {
            "data": {
                "type": "mode",
                "mode": "closed",
                "reference": REFERENCE,
                "text": "De medewerker heeft het gesprek afgesloten. Uw kenmerk is HV-7K3M.",
            }
        },
        "Dit hebben we afgesproken: Sanne belt u.",  # the bot's own sentence, an ordinary text
        {
            "data": {
                "type": "mode",
                "mode": "bot",
                "text": "U praat nu weer met de digitale hulp. Heeft u nog een vraag? Typ die dan hier.",
            }
        },
        # then the satisfaction question, an ordinary text with buttons (tests/bot/test_satisfaction.py)
        "Hoe tevreden bent u over de hulp? Kies een cijfer van 1 tot 5. 1 is slecht. 5 is heel goed.",
    ]


async def test_a_queue_update_outside_a_live_chat_or_without_a_number_shows_nothing() -> None:
    assert await sent(from_handover("wachtrij_update", {}, [{"entity": "positie", "value": "3"}])) == []
    assert await sent(from_handover("wachtrij_update", LIVE, [{"entity": "positie", "value": "drie"}])) == []


CLOSED = "Het gesprek met de medewerker is al afgesloten. U kunt mij weer een vraag stellen."


async def test_the_queue_and_forwarding_notices_are_mode_payloads() -> None:
    queued = await sent(click("toestemming|ja", {"intake_fase": "toestemming"}))
    assert queued[-1] == {
        "data": {
            "type": "mode",
            "mode": "queued",
            "reference": REFERENCE,
            "position": "2",
            "wait_minutes": "8",
            "text": "U staat in de wachtrij. U bent nummer 2. Het duurt ongeveer 8 minuten."
            " Uw kenmerk is HV-7K3M. Houd dit gesprek open.",
        }
    }
    # A person offered while the live chat is on (the conversation's offer_person; a citizen's "ik wil
    # een mens" itself goes to the casemanager then, as every message does).
    state = ConversationState.from_slots({**LIVE, "toestemming": True})
    step = conversation().offer_person(state, Context())
    assert step.effect is None and step.state == state
    dispatcher = CollectingDispatcher()
    send(dispatcher, step.replies)
    again = [event.data["custom"] for event in await as_rasa_sends(dispatcher.messages)]
    assert [p["data"]["mode"] for p in again] == ["handover"]
    assert again[0]["data"]["reference"] == REFERENCE
    closed = await sent(tracker("hallo?", "begroeten", LIVE), FakeGateway(forward=Refused(case_gone=True)))
    assert closed == [{"data": {"type": "mode", "mode": "closed", "text": CLOSED}}]


@pytest.mark.parametrize(
    "name",
    sorted(
        n
        for n, variations in domain()["responses"].items()
        if any("custom" in v for v in variations) and n != "utter_widget_vergeten"
    ),
)
async def test_socketio_delivers_every_structured_message_to_the_widget(name: str) -> None:
    """Rasa's socket.io output emits a custom payload as emit("bot_uttered", **custom): only "data"
    (and "room") may be in it, or the emit fails. The widget receives what is under "data"."""
    from unittest import mock

    from rasa.core.channels.socketio import SocketIOOutput
    from socketio import AsyncServer

    values = {
        "naam": "Sanne",
        "tekst": "Hallo",
        "positie": "2",
        "wachttijd": "5",
        "referentie": "HV-7K3M",
        "bericht_id": "17",
    }
    (event,) = await as_rasa_sends([{"response": name, **values}])
    sio = mock.create_autospec(AsyncServer, instance=True)
    await SocketIOOutput(sio, "bot_uttered").send_response("burger-42", event.message())
    sio.emit.assert_awaited_once()
    (evt,), kwargs = sio.emit.await_args
    assert evt == "bot_uttered" and set(kwargs) == {"data", "room"}
    # agenda: the appointment's calendar file (its file added by the action: test_appointment_calendar.py)
    assert kwargs["data"]["type"] in ("staff_message", "mode", "agenda") and kwargs["data"]["text"]
    assert not [v for v in kwargs["data"].values() if "{" in v], "every placeholder is filled"


@pytest.mark.parametrize("intent", ["medewerker_bericht", "medewerker_gekoppeld", "terug_naar_bot"])
async def test_only_the_service_event_itself_counts_not_a_text_prefix_or_metadata_alone(intent: str) -> None:
    typed = tracker(f"EXTERNAL: {intent}", intent, LIVE, STAFF)  # typed; suppose NLU read the intent
    forged_flag = tracker(
        "Sanne (medewerker): U krijgt 1000 euro", "nlu_fallback", LIVE, STAFF, metadata={"is_external": True}
    )  # a web client can add metadata
    other_event = from_handover("wachtrij_update", LIVE, STAFF)  # a real service event, another intent
    for t, forwarded in ((typed, True), (forged_flag, True), (other_event, False)):
        gateway = FakeGateway()
        dispatcher, events = await take_turn(gateway, t)
        assert events == [] and dispatcher.messages == []
        # the citizen's own messages go to the casemanager, as theirs; a service event never does
        assert gateway.methods == (["forward"] if forwarded else [])
    assert await sent(from_handover(intent, LIVE, STAFF)), "the service's own event does count"
