"""The one dialogue manager: what a message means depends on where the conversation stands.

Every message (the citizen's, or an event of the handover service) comes here through one action
(bot/actions/turn.py). First: words of a crisis (suicide, violence at home, no place to sleep
tonight, a child in danger; `hulplijn` in bot/knowledge/signalen.yml) get the help line at once and
a person is offered, before any routine question (not during a live chat). Then, in this order:

1. an event of the handover service (a casemanager took the case, a message, a queue update, the
   case was closed) is shown to the citizen; it never answers an open question. After the case was
   closed, the bot asks one satisfaction question (bot/intake/satisfaction.py);
1a. while that question is open, a score, "Liever niet", words or "Klaar" answer it; anything else
   drops the question and goes on below as a new message;
2. while the erasure question is open, the answer erases or cancels; anything else drops the question;
3. "verwijder mijn gegevens" asks that question (also during a live chat: it is the citizen's right);
4. during a live chat every other message is for the casemanager;
5. while the citizen types a correction of the summary, the message is that correction (only asking
   for a person interrupts);
6. a status question, a request for a person, a greeting, thanks or goodbye (only when that is all
   the message says: content is never answered with the welcome);
7. everything else is the intake (bot/intake/engine.py).

Pure: no I/O, no clock. Talking to the handover service is an effect (bot/intake/effects.py) that the
action carries out; its result comes back through `after`, which decides what the citizen reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Dict, Mapping, Optional, Tuple, Union

from typing_extensions import assert_never

from bot.intake import appointments, satisfaction
from bot.intake.advice import GEMEENTE, contact, privacy_note
from bot.intake.appointments import reminder as appointment_reminder
from bot.intake.consent import typed_yes_no
from bot.intake.contact import find_contact
from bot.intake.effects import (
    AppointmentMade,
    Availability,
    BookSlot,
    CancelAppointment,
    CaseOpened,
    CaseStatus,
    CaseUnknown,
    ChangeAppointment,
    CheckAvailability,
    Delivered,
    Effect,
    EraseConversation,
    Erased,
    FindSlots,
    ForwardToCasemanager,
    FreeSlots,
    LookUpStatus,
    NoOneAvailable,
    OpenCase,
    Queued,
    Refused,
    RequestCallback,
    Result,
    SendSatisfaction,
    SlotGone,
)
from bot.intake.engine import Intake
from bot.intake.language import DUTCH, ConversationLanguage
from bot.intake.routing import (
    WANTS_HUMAN_SIGNAL,
    detected_signals,
    find_signals,
    is_strong_new_topic,
)
from bot.intake.schedule import when_in_words
from bot.intake.state import (
    ASKING_CONTACT,
    CALLBACK_STEP,
    CHOICE_INTENT,
    CORRECTING,
    DONE,
    HANDOVER_STEP,
    IN_TREE,
    IntakeState,
    Reply,
    Turn,
    UserInput,
    merge,
)

PERSON_INTENT = "medewerker"
WANTS_PERSON_SIGNAL = "wil_persoon"  # bot/knowledge/signalen.yml
STATUS_INTENT = "status_vraag"
ERASE_INTENT = "verwijder_gegevens"
# Longer than this, or naming an organisation, a regeling or a signal, a greeting carries content.
MAX_SMALL_TALK_WORDS = 4
CONTENT_ENTITIES = frozenset({"organisatie", "regeling", "bedrag", "referentie"})
SMALL_TALK = {
    "begroeten": "utter_welkom",
    "afscheid": "utter_tot_ziens",
    "bedankt": "utter_graag_gedaan",
    "buiten_bereik": "utter_buiten_bereik",
}
# Events of the handover service (Rasa's trigger_intent); a citizen cannot produce these intents.
STAFF_JOINED_INTENT = "medewerker_gekoppeld"
STAFF_MESSAGE_INTENT = "medewerker_bericht"
QUEUE_UPDATE_INTENT = "wachtrij_update"
BACK_TO_BOT_INTENT = "terug_naar_bot"
APPOINTMENT_REMINDER_INTENT = "afspraak_herinnering"  # the day before (handover reminders.py)
SERVICE_INTENTS = frozenset(
    {
        STAFF_JOINED_INTENT,
        STAFF_MESSAGE_INTENT,
        QUEUE_UPDATE_INTENT,
        BACK_TO_BOT_INTENT,
        APPOINTMENT_REMINDER_INTENT,
    }
)

# Button choices of utter_verwijderen_uitleg (payload /kies{"keuze": ...})
ERASE_YES = "verwijderen|ja"
ERASE_NO = "verwijderen|nee"
# Typed answers: the first word decides, as NLU may read "ja, verwijder alles" as a new request. Fewer
# words than for consent ("ok", "prima"): erasing cannot be undone.
ERASE_YES_WORDS = frozenset({"ja", "jazeker", "jawel", "yes"})
ERASE_NO_WORDS = frozenset({"nee", "neen", "no"})
FORGET_RESPONSE = "utter_widget_vergeten"  # socket.io only: the widget clears its localStorage

STATUS_RESPONSES = {
    "wachtend": "utter_status_wachtend",
    "in_behandeling": "utter_status_in_behandeling",
    "afgerond": "utter_status_afgerond",
}
REFERENCE = re.compile(r"\bHV-[A-HJ-KM-NP-Z2-9]{4}\b", re.IGNORECASE)


def _moment(state: "ConversationState") -> datetime:
    """The booked appointment's start (afspraak_begin); far in the past when unknown."""
    try:
        return datetime.fromisoformat(state.afspraak_begin or "")
    except ValueError:
        return datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class ConversationState:
    """The intake plus where the conversation stands with the handover service; each field a slot."""

    intake: IntakeState = field(default_factory=IntakeState)
    handover_actief: bool = False  # the live chat is on: messages go to the casemanager
    handover_referentie: Optional[str] = None
    verwijderen_gevraagd: bool = False  # the erasure question is open
    gegevens_wissen: bool = False  # read by bot/tracker_store.py: erase the chat instead of saving it
    # From the handover service, when it was asked: the office hours in words, and (outside them)
    # when a person is there again (ISO 8601). For "wanneer bellen jullie?".
    kantoortijden: Optional[str] = None
    volgende_opening: Optional[str] = None
    # Appointments (bot/intake/appointments.py): offered or moving, and the booked one.
    afspraak_fase: Optional[str] = None
    afspraak_referentie: Optional[str] = None
    afspraak_begin: Optional[str] = None  # ISO 8601 with offset
    # The conversation language when it is not Dutch (set by the action from Context.language, for
    # the handover service's insight counts through Rasa's event broker); decides nothing here.
    taal: Optional[str] = None
    # The satisfaction question after closing (bot/intake/satisfaction.py): which part is open, for
    # which case, and the score already given.
    tevredenheid_vraag: Optional[str] = None
    tevredenheid_referentie: Optional[str] = None
    tevredenheid_cijfer: Optional[int] = None

    @classmethod
    def from_slots(cls, slots: Mapping[str, Any]) -> "ConversationState":
        score = slots.get("tevredenheid_cijfer")
        return cls(
            intake=IntakeState.from_slots(slots),
            handover_actief=bool(slots.get("handover_actief")),
            handover_referentie=slots.get("handover_referentie") or None,
            verwijderen_gevraagd=bool(slots.get("verwijderen_gevraagd")),
            gegevens_wissen=bool(slots.get("gegevens_wissen")),
            kantoortijden=slots.get("kantoortijden") or None,
            volgende_opening=slots.get("volgende_opening") or None,
            afspraak_fase=slots.get("afspraak_fase") or None,
            afspraak_referentie=slots.get("afspraak_referentie") or None,
            afspraak_begin=slots.get("afspraak_begin") or None,
            taal=slots.get("taal") or None,
            tevredenheid_vraag=slots.get("tevredenheid_vraag") or None,
            tevredenheid_referentie=slots.get("tevredenheid_referentie") or None,
            tevredenheid_cijfer=int(score) if isinstance(score, (int, float)) else None,  # a float slot
        )

    def as_slots(self) -> Dict[str, Any]:
        return {
            **self.intake.as_slots(),
            "handover_actief": self.handover_actief,
            "handover_referentie": self.handover_referentie,
            "verwijderen_gevraagd": self.verwijderen_gevraagd,
            "gegevens_wissen": self.gegevens_wissen,
            "kantoortijden": self.kantoortijden,
            "volgende_opening": self.volgende_opening,
            "afspraak_fase": self.afspraak_fase,
            "afspraak_referentie": self.afspraak_referentie,
            "afspraak_begin": self.afspraak_begin,
            "taal": self.taal,
            "tevredenheid_vraag": self.tevredenheid_vraag,
            "tevredenheid_referentie": self.tevredenheid_referentie,
            "tevredenheid_cijfer": self.tevredenheid_cijfer,
        }

    def without_satisfaction_question(self) -> "ConversationState":
        return replace(self, tevredenheid_vraag=None, tevredenheid_referentie=None, tevredenheid_cijfer=None)


@dataclass(frozen=True)
class Message:
    """A message as the conversation sees it: what the citizen sent, or an event of the service."""

    user: UserInput
    entities: Mapping[str, str] = field(default_factory=dict)  # first value per entity name
    from_service: bool = False  # Rasa's trigger_intent mark; proves nothing on its own


@dataclass(frozen=True)
class Context:
    """What the conversation may know of the world: the time, and whether a handover service exists."""

    now: Optional[datetime] = None
    handover_configured: bool = True
    # The conversation language after this message (bot/intake/language.py; the action works it out
    # from what the citizen typed, bot/intake/transcript.py). Every text is still Dutch (issue 15).
    language: ConversationLanguage = field(default_factory=ConversationLanguage)


@dataclass(frozen=True)
class Step:
    """The result of a message or of an effect: what the citizen reads, the new state, what to do next."""

    replies: Tuple[Reply, ...]
    state: ConversationState
    effect: Optional[Effect] = None


def say(response: str, **variables: Any) -> Reply:
    """A domain response by name (wording lives in bot/domain/), with its variables."""
    return Reply(response=response, variables=variables)


def reference_in(message: Message) -> Optional[str]:
    """The case reference the citizen typed (HV-7K3M), in capitals."""
    typed = message.entities.get("referentie", "")
    if REFERENCE.fullmatch(typed):
        return typed.upper()
    found = REFERENCE.search(message.user.text)
    return found.group(0).upper() if found else None


def erase_answer(message: Message) -> Optional[bool]:
    """True for yes, False for no, None when the message is no answer to the erasure question."""
    user = message.user
    if user.intent == CHOICE_INTENT:
        return {ERASE_YES: True, ERASE_NO: False}.get(str(user.choice))
    return typed_yes_no(user, ERASE_YES_WORDS, ERASE_NO_WORDS)


class Conversation:
    """Runs the conversation of one installation on top of its intake."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self.kb = intake.kb

    # --- one message -----------------------------------------------------------------------------
    def handle(self, state: ConversationState, message: Message, context: Context) -> Step:
        # The signals its words name (once per message: several rules ask), then with the detectors.
        word_signals = () if message.from_service else find_signals(message.user.text, self.kb)
        signals = () if message.from_service else detected_signals(message.user.parse, word_signals, self.kb)
        crisis = self._crisis(state, message, signals)
        if crisis is not None and any(s in word_signals for s in crisis.state.intake.crisis):
            return crisis
        routed = self._route(state, message, signals, word_signals, context)
        step = self._urgent_first(state, message, signals, routed)
        if crisis is None:
            return step
        # Only the detector read a crisis (no words of one): the help line first, and the citizen's
        # question is still answered, so a worried money story is not derailed by a false alarm.
        lines = tuple(r for r in crisis.replies if r.response != "utter_crisis_medewerker")
        intake = replace(
            step.state.intake,
            crisis=crisis.state.intake.crisis,
            urgent=True,
            signalen=merge(step.state.intake.signalen, crisis.state.intake.signalen),
        )
        return replace(step, replies=(*lines, *step.replies), state=replace(step.state, intake=intake))

    def _urgent_first(
        self, state: ConversationState, message: Message, signals: Tuple[str, ...], step: Step
    ) -> Step:
        """Urgency acted on: the citizen hears at once that it is urgent and what to do today
        (`vandaag` in signalen.yml), before any other question; once per signal. Not in a live chat."""
        if message.from_service or state.handover_actief or step.state.gegevens_wissen:
            return step
        intake = step.state.intake
        new = [s for s in signals if self.kb.signals[s].vandaag and s not in intake.dringend_gemeld]
        if not new:
            return step
        intake = replace(
            intake,
            urgent=True,
            signalen=merge(intake.signalen, new),
            dringend_gemeld=merge(intake.dringend_gemeld, new),
        )
        replies = (say("utter_urgent_gezien"), *(Reply(text=self.kb.signals[s].vandaag) for s in new))
        return replace(step, replies=(*replies, *step.replies), state=replace(step.state, intake=intake))

    def _crisis(self, state: ConversationState, message: Message, signals: Tuple[str, ...]) -> Optional[Step]:
        """A crisis in the citizen's words gets its help line at once, and a person is offered; the
        words are kept for the summary, the case counts as urgent. Not during a live chat: the
        casemanager reads along. Each kind of crisis is answered once."""
        if message.from_service or state.handover_actief:
            return None
        text = message.user.text
        found = [s for s in signals if self.kb.signals[s].crisis]
        new = [s for s in found if s not in state.intake.crisis]
        if not new:
            return None
        replies = [say(str(self.kb.signals[s].hulplijn)) for s in new]
        if "geen_slaapplek" in new:
            replies.append(contact(self.kb, GEMEENTE))
        replies.append(say("utter_crisis_medewerker"))  # its button asks for a person (/medewerker)
        intake = state.intake
        story = text.strip()
        intake = replace(
            intake,
            crisis=(*intake.crisis, *new),
            urgent=True,
            signalen=merge(intake.signalen, found),
            verhaal=intake.verhaal + ((story,) if story and not story.startswith("/") else ()),
        )
        # An open satisfaction question is dropped: the next message is not an answer to it.
        return Step(tuple(replies), replace(state, intake=intake).without_satisfaction_question())

    def _route(
        self,
        state: ConversationState,
        message: Message,
        signals: Tuple[str, ...],
        word_signals: Tuple[str, ...],
        context: Context,
    ) -> Step:
        user = message.user
        if message.from_service and user.intent in SERVICE_INTENTS:
            return self._service_event(state, message)
        if state.tevredenheid_vraag and not message.from_service:
            answered = self._satisfaction(state, message, word_signals)
            if answered is not None:
                return answered
            state = state.without_satisfaction_question()  # a new message: the question is dropped
        if state.verwijderen_gevraagd:
            answer = None if message.from_service else erase_answer(message)
            if answer is True:
                return Step((), state, EraseConversation())
            if answer is False:
                return Step(
                    (say("utter_verwijderen_geannuleerd"),), replace(state, verwijderen_gevraagd=False)
                )
            if user.intent != ERASE_INTENT:  # another question: the erasure question is dropped
                state = replace(state, verwijderen_gevraagd=False)
        if user.intent == ERASE_INTENT:
            return Step(
                (say("utter_verwijderen_uitleg"), *privacy_note(self.kb)),
                replace(state, verwijderen_gevraagd=True),
            )
        if state.handover_actief:
            if not state.handover_referentie or not context.handover_configured:
                return Step((), replace(state, handover_actief=False))
            return Step((), state, ForwardToCasemanager(state.handover_referentie, user.text))
        if not message.from_service:
            appointment = self._appointment(state, user, context)
            if appointment is not None:
                return appointment
        if state.intake.intake_fase == CORRECTING and user.intent != PERSON_INTENT:
            return self._intake(state, user, context)
        if (
            state.intake.intake_fase == ASKING_CONTACT
            and user.intent not in (CHOICE_INTENT, PERSON_INTENT)  # a person: _person_asked takes them
            and find_contact(user.text).reachable
        ):
            # The answer to the question just asked, whatever NLU reads in it ("+48 512 345 678, na
            # 10 uur" as out of scope): the callback request.
            return self._intake(state, user, context)
        if not message.from_service and user.intent != CHOICE_INTENT:
            if self.kb.says("tussentijds", user.text):
                return self._meanwhile(state)
            if self.kb.says("wanneer", user.text):
                if not context.handover_configured:  # no queue to ask: the gemeente's own hours
                    return Step(self._contact_route("utter_wanneer_onbekend"), state)
                return self._when(state)
        # NLU reads many messages in another language as a status question ("Wat is uw kenmerk?" to a
        # Polish citizen who lost their job): there, only a message with a reference is one.
        if user.intent == STATUS_INTENT and (context.language.code == DUTCH or reference_in(message)):
            return self._status(state, message, context)
        if user.intent == PERSON_INTENT or (
            WANTS_PERSON_SIGNAL in signals and user.intent != CHOICE_INTENT
        ):
            # "Ik heb geldzorgen en wil een medewerker spreken": both count; the topic is kept.
            state = replace(state, intake=self.intake.remember(state.intake, user))
            return self._person_asked(state, user, context)
        if user.intent in SMALL_TALK and state.intake.intake_fase == IN_TREE and not self._only_small_talk(
            user, signals
        ):
            # At a question, "wat moet ik nu doen" is about the question, never "out of scope".
            return self._intake(state, user, context)
        if user.intent in SMALL_TALK:
            small_talk = Step((say(SMALL_TALK[user.intent]),), state)
            # "Out of scope" is only believed without signals: "de deurwaarder komt" is never out of scope.
            # Nor is it believed of a message in another language: NLU reads those as out of scope.
            out_of_scope = user.intent == "buiten_bereik" and not signals and context.language.code == DUTCH
            if self._only_small_talk(user, signals) or out_of_scope:
                return small_talk
            turn = self.intake.handle(state.intake, user, now=context.now)
            # "Goedemorgen, ik heb een vraag": nothing to place, so the greeting is the answer after all.
            # With a signal the intake answers even when it places nothing (urgent: a person at once).
            understood = turn.understood or bool(signals)
            # In another language, content the bot cannot place yet is not answered with the (Dutch)
            # welcome as if nothing was said: the citizen hears it was not understood, and the way on.
            if understood or context.language.code != DUTCH:
                return self._after_intake(state, user, turn, context)
            return small_talk
        return self._intake(state, user, context)

    def _only_small_talk(self, user: UserInput, signals: Tuple[str, ...]) -> bool:
        """A greeting, thanks or goodbye and nothing else. A message with content ("de deurwaarder
        komt morgen", "hallo, ik heb een vraag over mijn huur") is never answered with the welcome."""
        words = re.findall(r"\w+", user.text)
        if len(words) > MAX_SMALL_TALK_WORDS or signals:
            return False
        entities = user.parse.get("entities") or ()
        return not any(e.get("entity") in CONTENT_ENTITIES for e in entities)

    def _intake(self, state: ConversationState, user: UserInput, context: Context) -> Step:
        turn = self.intake.handle(state.intake, user, now=context.now)
        return self._after_intake(state, user, turn, context)

    def _after_intake(self, state: ConversationState, user: UserInput, turn: Turn, context: Context) -> Step:
        after = replace(state, intake=turn.state)
        if turn.followup == HANDOVER_STEP:
            return self._prepend(turn.replies, self.offer_person(after, context))
        if turn.followup == CALLBACK_STEP:
            return self._prepend(turn.replies, self._callback(after, user.text, context))
        return Step(turn.replies, after)

    @staticmethod
    def _prepend(replies: Tuple[Reply, ...], step: Step) -> Step:
        return replace(step, replies=(*replies, *step.replies))

    # --- a person --------------------------------------------------------------------------------
    def _person_asked(self, state: ConversationState, user: UserInput, context: Context) -> Step:
        # "Bel mij op 06 …" reads as asking for a person, but while the bot waits for contact details
        # it answers that question: take the callback request instead of offering a person again.
        if state.intake.intake_fase == ASKING_CONTACT and find_contact(user.text).reachable:
            done = replace(state, intake=replace(state.intake, intake_fase=DONE))
            return self._callback(done, user.text, context)
        return self.offer_person(state, context)

    def offer_person(self, state: ConversationState, context: Context) -> Step:
        """Consent first; then the live queue when someone is available, else a callback request."""
        if not context.handover_configured:
            return Step(self._contact_route("utter_medewerker_contact"), state)
        if state.handover_actief:
            return Step((say("utter_al_in_gesprek", referentie=state.handover_referentie),),
                        state)
        if state.intake.toestemming is not True:
            # First whether a person is there now (and if not, when); then, before anything reaches the
            # handover service, what is shared and with whom, and consent.
            return Step((), state, CheckAvailability())
        return Step((), state, OpenCase())

    def _ask_consent(self, state: ConversationState, intro: Tuple[Reply, ...] = ()) -> Step:
        turn = self.intake.ask_consent(state.intake)
        return Step((*intro, *turn.replies), replace(state, intake=turn.state))

    # --- when, and meanwhile ---------------------------------------------------------------------
    def _when(self, state: ConversationState) -> Step:
        """"Wanneer bellen jullie?": the agreed moment, or the office hours; asked when not known."""
        if state.kantoortijden is None:
            return Step((), state, CheckAvailability(purpose="wanneer"))
        return Step(self._when_replies(state), state)

    def _when_replies(self, state: ConversationState) -> Tuple[Reply, ...]:
        hours = state.kantoortijden or ""
        if state.handover_referentie and not state.handover_actief:
            # A callback request: the gemeente calls back in office hours, from the next opening.
            opening = state.volgende_opening
            moment = when_in_words(opening) if opening else "binnen kantoortijden"
            return (say("utter_wanneer_terugbellen", wanneer=moment, kantoortijden=hours),)
        if state.volgende_opening:
            return (say("utter_wanneer_weer_open", wanneer=when_in_words(state.volgende_opening),
                        kantoortijden=hours),)
        return (say("utter_wanneer_nu_open", kantoortijden=hours),)

    def _meanwhile(self, state: ConversationState) -> Step:
        """"Wat moet ik nu doen tot die tijd?": the steps of the advice, what to do today when it is
        urgent, and how to reach the gemeente."""
        replies = list(self.intake.interim_advice(state.intake))
        replies += [Reply(text=str(self.kb.signals[s].vandaag)) for s in state.intake.dringend_gemeld]
        if state.intake.urgent:
            replies.append(say("utter_hulplijn_algemeen"))
        replies.append(contact(self.kb, GEMEENTE))
        return Step((say("utter_tussentijds"), *replies), state)

    def _callback(self, state: ConversationState, text: str, context: Context) -> Step:
        details = find_contact(text)
        if not details.reachable or not context.handover_configured:
            asking = replace(state, intake=replace(state.intake, intake_fase=ASKING_CONTACT))
            return Step((say("utter_vraag_contactgegevens_opnieuw"),), asking)
        return Step((), state, RequestCallback(details))

    def _contact_route(self, intro: str) -> Tuple[Reply, ...]:
        return (say(intro), contact(self.kb, GEMEENTE))

    # --- status ----------------------------------------------------------------------------------
    def _status(self, state: ConversationState, message: Message, context: Context) -> Step:
        reference = reference_in(message)
        if reference is None:
            return Step((say("utter_status_zonder_referentie"),), state)
        if not context.handover_configured:
            return Step((say("utter_status_niet_beschikbaar"),), state)
        return Step((), state, LookUpStatus(reference))

    # --- the handover service's events -----------------------------------------------------------
    def _service_event(self, state: ConversationState, message: Message) -> Step:
        intent, entities = message.user.intent, message.entities
        if intent == STAFF_JOINED_INTENT:
            name = entities.get("naam") or "Een medewerker"
            return Step((say("utter_medewerker_gekoppeld", naam=name),), state)
        if intent == STAFF_MESSAGE_INTENT:
            text = entities.get("tekst", "")
            if not text:
                return Step((), state)
            name = entities.get("naam") or "Medewerker"
            # The service's id of the message: the widget shows it once, however often it arrives.
            message_id = entities.get("bericht_id", "")
            return Step((say("utter_bericht_van_medewerker", naam=name, tekst=text, bericht_id=message_id),),
                        state)
        if intent == APPOINTMENT_REMINDER_INTENT:
            if not entities.get("referentie") or not entities.get("moment"):
                return Step((), state)
            return Step((appointment_reminder(entities),), state)
        if intent == QUEUE_UPDATE_INTENT:
            position = entities.get("positie", "")
            if position.isdigit() and state.handover_actief:
                return Step((say("utter_wachtrij_positie", positie=int(position)),), state)
            return Step((), state)
        # BACK_TO_BOT_INTENT: the casemanager closed the case; the bot takes over with a clean intake.
        reference = entities.get("referentie") or state.handover_referentie or ""
        replies = [say("utter_terug_naar_bot", referentie=reference)]
        if entities.get("afspraken"):
            replies.append(say("utter_afspraken", afspraken=entities["afspraken"]))
        if not state.handover_actief and state.handover_referentie:
            # A callback request was closed (its reference is known, no live chat was on): no chat to
            # end. The citizen may be in a new question by now; the agreements are shown, that question
            # is left as it is.
            after = state
        else:
            replies.append(say("utter_bot_weer_hier"))
            # A clean intake; an open erasure question stays open: it is the citizen's, not the case's.
            after = ConversationState(verwijderen_gevraagd=state.verwijderen_gevraagd)
        if reference and self._free_for_a_question(after):
            replies.append(say(satisfaction.QUESTION))
            after = replace(
                after.without_satisfaction_question(),
                tevredenheid_vraag=satisfaction.ASKING_SCORE,
                tevredenheid_referentie=reference,
            )
        return Step(tuple(replies), after)

    @staticmethod
    def _free_for_a_question(state: ConversationState) -> bool:
        """Nothing else is asked now: no erasure question, no question of the intake or of an
        appointment (a typed "2" there is an answer to that question, not a score)."""
        return (
            not state.verwijderen_gevraagd
            and not state.handover_actief
            and state.intake.intake_fase in (None, DONE)
            and not state.afspraak_fase
        )

    # --- the satisfaction question (bot/intake/satisfaction.py) -----------------------------------
    def _satisfaction(
        self, state: ConversationState, message: Message, word_signals: Tuple[str, ...]
    ) -> Optional[Step]:
        """The answer to the open satisfaction question, or None: the message is not one. The score
        goes out as soon as it is given; words typed after it go out again with it (the service keeps
        the latest answer), so a citizen who stops after the score has still answered."""
        user = message.user
        reference = state.tevredenheid_referentie or ""
        if not reference:
            return None
        if user.choice == satisfaction.SKIP:
            return Step((say(satisfaction.SKIPPED),), state.without_satisfaction_question())
        score = satisfaction.chosen_score(user.choice)
        asking_score = state.tevredenheid_vraag == satisfaction.ASKING_SCORE
        if score is None and asking_score and user.intent != CHOICE_INTENT:
            score = satisfaction.typed_score(user.text)
        if score is not None:
            asked = replace(state, tevredenheid_vraag=satisfaction.ASKING_WORDS, tevredenheid_cijfer=score)
            return Step((say(satisfaction.ASK_WORDS),), asked, SendSatisfaction(reference, score))
        given = state.tevredenheid_cijfer
        if state.tevredenheid_vraag != satisfaction.ASKING_WORDS or given is None:
            return None
        thanks = (say(satisfaction.THANKS),)
        if user.choice == satisfaction.FINISHED or satisfaction.says_done(user.text):
            return Step(thanks, state.without_satisfaction_question())
        words = user.text.strip()
        # Another button ("/medewerker" too) or "verwijder mijn gegevens" is no comment on the help;
        # nor is a new question or a request for a person: the score went out already, and the
        # message is read as new.
        if user.intent in (CHOICE_INTENT, ERASE_INTENT) or words.startswith("/") or not words:
            return None
        if self._asks_something_new(user, word_signals):
            return None
        sent = SendSatisfaction(reference, given, words[: satisfaction.MAX_WORDS])
        return Step(thanks, state.without_satisfaction_question(), sent)

    def _asks_something_new(self, user: UserInput, word_signals: Tuple[str, ...]) -> bool:
        """A sure new topic, or the words of a request for a person or of an urgent matter: a
        question, not a comment. The words, not the detectors or the intent: a comment on the help
        names people ("fijn dat iemand meedacht") and reads like asking for one."""
        named = [self.kb.signals[s] for s in word_signals]
        return is_strong_new_topic(self.kb, user.parse) or any(
            s.id == WANTS_HUMAN_SIGNAL or s.urgent or s.crisis for s in named
        )

    # --- what came of an effect ------------------------------------------------------------------
    def after(self, state: ConversationState, effect: Effect, result: Result) -> Step:
        """What the citizen reads once the effect was carried out."""
        if isinstance(effect, OpenCase):
            return self._after_open_case(state, result)
        if isinstance(effect, RequestCallback):
            return self._after_callback(state, result)
        if isinstance(effect, ForwardToCasemanager):
            return self._after_forward(state, result)
        if isinstance(effect, LookUpStatus):
            return self._after_status(state, effect.reference, result)
        if isinstance(effect, EraseConversation):
            return self._after_erasure(state, result)
        if isinstance(effect, CheckAvailability):
            return self._after_availability(state, effect, result)
        if isinstance(effect, (FindSlots, BookSlot, ChangeAppointment, CancelAppointment)):
            return self._after_appointment(state, effect, result)
        if isinstance(effect, SendSatisfaction):
            # Whether it arrived or not: the citizen was thanked already; the gateway logs a failure.
            return Step((), state)
        assert_never(effect)  # mypy: a new effect needs its branch here

    # --- appointments (bot/intake/appointments.py; the service: handover "Appointments") ------

    def _appointment(self, state: ConversationState, user: UserInput, context: Context) -> Optional[Step]:
        """A slot button, "ander moment", move or cancel, a typed moment while choosing, "ik kan
        dinsdag niet" about the booked one, or a request for an appointment; None: not about it."""
        # The action always passes its clock; only a test without one falls back to the real time.
        today = (context.now or datetime.now(timezone.utc)).astimezone(appointments.ZONE).date()
        organisation = state.intake.organisaties[0] if state.intake.organisaties else None
        reference = state.afspraak_referentie
        if user.choice == appointments.ASK:
            if not context.handover_configured:
                return Step((appointments.not_arranged(),), state)
            return Step((), replace(state, afspraak_fase=appointments.CHOOSING), FindSlots(organisation))
        if not context.handover_configured:
            return None
        slot_id = appointments.chosen_slot(user.choice)
        if slot_id is not None:
            if state.afspraak_fase == appointments.MOVING and reference:
                return Step((), state, ChangeAppointment(reference, slot_id))
            # Who joins: the organisations of the intake's outcome, not one the citizen said no to.
            refused = state.intake.geweigerde_organisaties
            joining = tuple(o for o in state.intake.organisaties if o not in refused)
            return Step((), state, BookSlot(slot_id, joining))
        if user.choice == appointments.OTHER_MOMENT:
            return Step((appointments.ask_moment(),), state)
        if user.choice == appointments.MOVE and reference:
            return Step((), replace(state, afspraak_fase=appointments.MOVING), FindSlots(organisation))
        if user.choice == appointments.CANCEL and reference:
            return Step((), state, CancelAppointment(reference))
        if user.choice:
            return None
        wish = appointments.parse_wish(user.text, today)
        change = None
        if reference and state.afspraak_begin:
            change = appointments.read_change(user.text, _moment(state), today, appointments.ZONE)
        if state.afspraak_fase and wish is not None and change is None:
            return Step((), state, FindSlots(organisation, wish))
        if reference and state.afspraak_begin:
            if change is not None and change.cancel:
                return Step((), state, CancelAppointment(reference))
            if change is not None:
                return Step((appointments.ask_change(),), state)
        # Only when NLU also reads "I want a person": "een afspraak om in delen te betalen" is a
        # payment arrangement, "mijn afspraak met de verzekeringsarts" someone else's appointment.
        if user.intent == PERSON_INTENT and appointments.wants_appointment(user.text):
            state = replace(state, intake=self.intake.remember(state.intake, user))
            return Step(
                (), replace(state, afspraak_fase=appointments.CHOOSING), FindSlots(organisation, wish)
            )
        return None

    def _after_appointment(
        self,
        state: ConversationState,
        effect: Union[FindSlots, BookSlot, ChangeAppointment, CancelAppointment],
        result: Result,
    ) -> Step:
        zone = appointments.ZONE
        if isinstance(effect, FindSlots) and isinstance(result, FreeSlots):
            slots = [appointments.Slot.from_api(s) for s in result.slots]
            phase = state.afspraak_fase or appointments.CHOOSING
            if effect.wish is not None:
                replies = appointments.answer_to_wish(slots, effect.wish, zone)
                return Step(replies, replace(state, afspraak_fase=phase))
            first = appointments.fitting(slots, None, zone)
            return Step((appointments.offer(first, zone),), replace(state, afspraak_fase=phase))
        if isinstance(result, SlotGone):
            alternatives = [appointments.Slot.from_api(s) for s in result.alternatives]
            return Step((appointments.slot_taken(alternatives, zone),), state)
        if isinstance(effect, CancelAppointment) and isinstance(result, AppointmentMade):
            cleared = replace(state, afspraak_fase=None, afspraak_referentie=None, afspraak_begin=None)
            said = [appointments.cancelled()]
            if result.calendar:  # takes it out of the calendar it was put in
                said.append(appointments.calendar_file(result.calendar, effect.reference, cancelled=True))
            return Step(tuple(said), cleared)
        if isinstance(result, AppointmentMade):
            made = result.appointment
            booked = replace(
                state,
                afspraak_fase=None,
                afspraak_referentie=str(made.get("reference") or "") or None,
                afspraak_begin=str(made.get("starts_at") or "") or None,
            )
            confirmed = [appointments.confirmation(made)]
            if result.calendar:
                # Right after the confirmation: the widget shows a download link, WhatsApp a document.
                reference = str(made.get("reference") or "")
                confirmed.append(appointments.calendar_file(result.calendar, reference))
            return Step(tuple(confirmed), booked)
        return Step((appointments.not_arranged(),), state)

    def _after_availability(
        self, state: ConversationState, effect: CheckAvailability, result: Result
    ) -> Step:
        if isinstance(result, Availability):
            state = replace(
                state,
                kantoortijden=result.hours or state.kantoortijden,
                volgende_opening=None if result.live else result.next_open,
            )
        if effect.purpose == "wanneer":
            if not isinstance(result, Availability):
                return Step(self._contact_route("utter_wanneer_onbekend"), state)
            return Step(self._when_replies(state), state)
        if not isinstance(result, Availability):  # unknown: consent first; opening the case tells
            return self._ask_consent(state)
        if result.live:
            return self._ask_consent(state, (say("utter_medewerker_nu_beschikbaar"),))
        # Out of hours: said before any consent question, with when and what happens next.
        when = when_in_words(result.next_open) if result.next_open else None
        intro = [say("utter_medewerker_nu_niet", wanneer=when)] if when else [say("utter_medewerker_nu_weg")]
        if result.hours:
            intro.append(say("utter_kantoortijden", kantoortijden=result.hours))
        intro.append(say("utter_terugbellen_wat_nu"))
        if state.intake.urgent:
            intro.append(say("utter_hulplijn_algemeen"))
        return self._ask_consent(state, tuple(intro))

    def _after_open_case(self, state: ConversationState, result: Result) -> Step:
        asking_contact = replace(state, intake=replace(state.intake, intake_fase=ASKING_CONTACT))
        if isinstance(result, CaseOpened):
            reply = say(
                "utter_in_wachtrij",
                referentie=result.reference, positie=result.position, wachttijd=result.wait_minutes,
            )
            return Step((reply,), replace(state, handover_actief=True, handover_referentie=result.reference))
        if isinstance(result, NoOneAvailable):
            return Step((say("utter_terugbellen_vraag_contact"),), asking_contact)
        # Honest about it, the phone route now, and a callback request that waits in the outbox.
        replies = (*self._contact_route("utter_medewerker_niet_bereikbaar"), say("utter_terugbellen_aanbod"))
        return Step(replies, asking_contact)

    def _after_callback(self, state: ConversationState, result: Result) -> Step:
        if isinstance(result, Delivered):
            reference = result.reference or ""
            return Step((say("utter_terugbelverzoek_ontvangen", referentie=reference),),
                        replace(state, handover_referentie=result.reference or state.handover_referentie))
        if isinstance(result, Queued):  # the service is down: the request goes out when it is back
            return Step((say("utter_terugbelverzoek_bewaard"),), state)
        return Step(self._contact_route("utter_medewerker_niet_bereikbaar"), state)

    def _after_forward(self, state: ConversationState, result: Result) -> Step:
        if isinstance(result, Refused) and result.case_gone:
            return Step((say("utter_gesprek_al_afgesloten"),), replace(state, handover_actief=False))
        if isinstance(result, Refused):
            return Step((say("utter_doorsturen_mislukt"),), state)
        if isinstance(result, Queued) and result.first:
            # Once per outage: the later messages wait behind this one and need no second notice.
            return Step((say("utter_bericht_komt_later"),), state)
        return Step((), state)

    def _after_status(self, state: ConversationState, reference: str, result: Result) -> Step:
        if isinstance(result, CaseUnknown):
            return Step((say("utter_status_onbekend", referentie=reference),), state)
        if isinstance(result, CaseStatus) and result.status in STATUS_RESPONSES:
            variables = {"referentie": reference, "positie": result.position or 1}
            return Step((say(STATUS_RESPONSES[result.status], **variables),), state)
        return Step((say("utter_status_niet_beschikbaar"),), state)

    def _after_erasure(self, state: ConversationState, result: Result) -> Step:
        if isinstance(result, Erased) and result.at_gemeente:
            replies: Tuple[Reply, ...] = (say("utter_gegevens_verwijderd"),)
        else:
            replies = (say("utter_gegevens_deels_verwijderd"), contact(self.kb, GEMEENTE))
            if state.handover_referentie:
                replies += (say("utter_verwijderen_kenmerk", referentie=state.handover_referentie),)
        # Last, after everything the citizen should read: the widget then forgets its browser copy.
        replies += (say(FORGET_RESPONSE),)
        return Step(replies, replace(state, verwijderen_gevraagd=False, gegevens_wissen=True))
