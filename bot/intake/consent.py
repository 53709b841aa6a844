"""Consent before a person sees anything (issue 5, item 1; sources C-07/C-08: the citizen keeps control).

The citizen first reads what would be shared (the summary in their own words) and with whom (a
medewerker of the gemeente, and the organisations of the question by name). They can correct the
summary, say yes or no, and, when the question involves several organisations, decide per
organisation. Without consent nothing is sent: they get the advice again, or a callback request
that carries only their contact details and the ids of the topic and organisations. Where the
municipality registers contacts in Open Klant (OPENKLANT_URL), one more question after consent asks
whether this contact may be registered there (topic, summary without personal data, who helped,
the agreements); a no still hands over, only without registration.

Pure, like the engine: `now` comes from the action's clock. Sentences are domain responses
(`bot/domain/toestemming.yml`), buttons included, so they are checked for plain Dutch.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timezone
from typing import AbstractSet, List, Optional, Sequence, Tuple

from bot.intake.advice import GEMEENTE, contact, numbered, privacy_note
from bot.intake.knowledge import Knowledge
from bot.intake.language import DUTCH, DUTCH_NAMES
from bot.intake.routing import LIFE_EVENT_PREFIX, is_strong_new_topic
from bot.intake.schema import Schema
from bot.intake.state import (
    ASKING_CONSENT,
    ASKING_CONTACT,
    ASKING_ORGANISATION,
    ASKING_ORGANISATIONS,
    ASKING_REGISTRATION,
    CHOICE_INTENT,
    CORRECTING,
    DONE,
    HANDOVER_STEP,
    MAX_STORY_QUOTE,
    NO_CONSENT,
    IntakeState,
    Reply,
    Turn,
    UserInput,
    quoted,
)

# GEMEENTE: the casemanager works there: consenting to the handover is consenting to the gemeente.
MAX_CORRECTION = 500  # characters of the citizen's correction that are kept

# Button choices (payloads /kies{"keuze": ...} in the domain responses).
YES = "toestemming|ja"
NO = "toestemming|nee"
CORRECT = "toestemming|aanpassen"
ADVICE = "geen_toestemming|advies"
CALLBACK = "geen_toestemming|terugbellen"
ORGANISATION_CHOICE = "toestemming_org"  # toestemming_org|<organisation id>|ja or |nee
ORGANISATIONS_CHOICE = "toestemming_orgs"  # toestemming_orgs|alle, |geen or |zelf (one at a time)
REGISTRATION_CHOICE = "toestemming_register"  # toestemming_register|ja or |nee
# Typed in the one question: "niet met de SVB", "alleen het CJIB".
EXCEPT_WORDS = re.compile(r"\b(niet|geen|behalve|zonder)\b")
ONLY_WORDS = re.compile(r"\b(alleen|enkel|slechts|wel)\b")

# Typed answers: a first word that can only mean yes or no, else the NLU intent bevestigen / ontkennen.
YES_WORDS = {"ja", "jawel", "jazeker", "akkoord", "oke", "oké", "ok", "prima"}
NO_WORDS = {"nee", "neen", "nope"}


def organisations_to_ask(state: IntakeState) -> Tuple[str, ...]:
    """The organisations asked one by one: all but the gemeente, when the question involves several."""
    if len(state.organisaties) < 2:
        return ()
    return tuple(o for o in state.organisaties if o != GEMEENTE)


def current_organisation(state: IntakeState) -> Optional[str]:
    """The organisation whose question is open (None when all are answered)."""
    answered = set(state.toestemming_organisaties) | set(state.geweigerde_organisaties)
    return next((o for o in organisations_to_ask(state) if o not in answered), None)


def casemanager_summary(state: IntakeState, language: Optional[str] = None) -> Optional[str]:
    """The summary text the casemanager gets, with the citizen's own correction at the end, and the
    conversation language when it is not Dutch ("Taal: Pools"; `language` is its Dutch name)."""
    text = state.samenvatting or " ".join(state.verhaal)
    if state.aanvulling:
        text = f"{text} Aanvulling van inwoner: “{state.aanvulling}”".strip()
    if text and language and language != DUTCH_NAMES[DUTCH]:
        text = f"{text} Taal: {language}."
    return text or None


def utc_iso(now: Optional[datetime]) -> Optional[str]:
    """ISO 8601 in UTC; a naive time is taken to be UTC already."""
    if now is None:
        return None
    aware = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    return aware.astimezone(timezone.utc).isoformat(timespec="seconds")


def typed_yes_no(
    user: UserInput, yes: AbstractSet[str] = YES_WORDS, no: AbstractSet[str] = NO_WORDS
) -> Optional[bool]:
    """Ja or nee in words: a plain first word, or else what NLU made of it."""
    words = re.findall(r"\w+", user.text.lower())
    if words and words[0] in yes:
        return True
    if words and words[0] in no:
        return False
    return {"bevestigen": True, "ontkennen": False}.get(user.intent)


def _quote(text: str, limit: int) -> Tuple[str, bool]:
    """The text cut at a word boundary to at most `limit` characters, and whether it was cut."""
    if len(text) <= limit:
        return text, False
    return text[: limit - 1].rsplit(" ", 1)[0] + "…", True


def _listing(names: Sequence[str]) -> str:
    return ", ".join(names)


class Consent:
    """The consent phases of one installation's intake."""

    def __init__(self, kb: Knowledge, tree: Schema, ask_registration: bool = False) -> None:
        self.kb = kb
        self.tree = tree
        # Only where the municipality registers contacts (Open Klant): a question of its own, after
        # consent, because the registry is kept longer and seen by more staff than the case.
        self.ask_registration = ask_registration

    def _names(self, org_ids: Sequence[str]) -> List[str]:
        return [self.kb.organisations[o].naam for o in org_ids if o in self.kb.organisations]

    # --- what is shared, and with whom --------------------------------------------------------
    def ask(self, state: IntakeState, intro: Sequence[Reply] = ()) -> Turn:
        """Show the summary as the citizen will recognise it, who gets it, and ask consent."""
        state = replace(
            state, intake_fase=ASKING_CONSENT, toestemming_organisaties=(), geweigerde_organisaties=()
        )
        return Turn(
            (*intro, *self.summary_for_citizen(state), *privacy_note(self.kb), self._question()), state
        )

    def summary_for_citizen(self, state: IntakeState) -> Tuple[Reply, ...]:
        """What the casemanager will read, in the citizen's terms (no "Vraagtype 3")."""
        kb = self.kb
        replies = [Reply(response="utter_toestemming_inleiding", variables={"gemeente": self._gemeente()})]
        if any(m.strip() for m in state.verhaal):
            # Each message in its own quotes; the response puts the outer quotes around them all.
            replies.append(
                Reply(
                    response="utter_toestemming_eigen_woorden",
                    variables={"verhaal": quoted(state.verhaal, MAX_STORY_QUOTE)[1:-1]},
                )
            )
        outcome = self._outcome(state)
        if outcome is not None:
            replies.append(Reply(response="utter_toestemming_uitkomst", variables={"uitkomst": outcome}))
        elif state.onderwerp or state.levensgebeurtenis:
            key = state.onderwerp or f"{LIFE_EVENT_PREFIX}{state.levensgebeurtenis}"
            replies.append(
                Reply(
                    response="utter_toestemming_onderwerp",
                    variables={"onderwerp_label": kb.topic_or_event_label(key)},
                )
            )
        signals = [kb.signals[s].label for s in state.signalen if s in kb.signals]
        if signals:
            replies.append(
                Reply(
                    response="utter_toestemming_signalen",
                    variables={"signalen": "\n".join(f"- {s}" for s in signals)},
                )
            )
        if state.aanvulling:
            replies.append(
                Reply(response="utter_toestemming_aanvulling", variables={"aanvulling": state.aanvulling})
            )
        others = self._names([o for o in state.organisaties if o != GEMEENTE])
        if others:
            response = (
                "utter_toestemming_met_organisaties"
                if organisations_to_ask(state)
                else "utter_toestemming_met_organisatie"
            )
            replies.append(Reply(response=response, variables={"organisaties": _listing(others)}))
        return tuple(replies)

    def _outcome(self, state: IntakeState) -> Optional[str]:
        node = self.tree.nodes.get(state.uitkomst_knoop or "")
        return node.uitkomst.samenvatting if node is not None and node.uitkomst is not None else None

    def _gemeente(self) -> str:
        return self.kb.organisations[GEMEENTE].naam

    def _question(self) -> Reply:
        return Reply(response="utter_vraag_toestemming")

    # --- the citizen's answers ------------------------------------------------------------------
    def handle(self, state: IntakeState, user: UserInput, now: Optional[datetime]) -> Optional[Turn]:
        """One message in a consent phase; None when it is not an answer (the engine takes it then)."""
        choice = user.choice if user.intent == CHOICE_INTENT else None
        # The consent buttons count in every consent phase (the citizen may change their mind), except
        # a second "Ja" while the organisations are asked: that would start those questions over.
        if choice in (NO, CORRECT) or (choice == YES and state.intake_fase != ASKING_ORGANISATION):
            return self._decide(state, choice, now)
        if state.intake_fase == NO_CONSENT:
            return self._without_consent(state, choice)
        if state.intake_fase == ASKING_ORGANISATIONS and not self._other_button(choice):
            return self._organisations_answer(state, user, choice, now)
        if state.intake_fase == ASKING_ORGANISATION and not self._other_button(choice):
            return self._organisation_answer(state, user, choice, now)
        if state.intake_fase == ASKING_REGISTRATION and not self._other_button(choice):
            return self._registration_answer(state, user, choice)
        if self._other_button(choice):  # "Dit past niet", the menu, a topic: the engine takes it
            return None
        if state.intake_fase == CORRECTING:
            return self._correct(state, user)
        # ASKING_CONSENT, typed
        answer = typed_yes_no(user)
        if answer is not None:
            return self._decide(state, YES if answer else NO, now)
        return self._unclear(state, user, self._question())

    @staticmethod
    def _other_button(choice: Optional[str]) -> bool:
        return choice is not None and choice.partition("|")[0] not in (
            "toestemming",
            ORGANISATION_CHOICE,
            ORGANISATIONS_CHOICE,
            REGISTRATION_CHOICE,
        )

    def _decide(self, state: IntakeState, choice: str, now: Optional[datetime]) -> Turn:
        if choice == CORRECT:
            again = "utter_vraag_aanpassing_opnieuw" if state.aanvulling else "utter_vraag_aanpassing"
            return Turn(
                (Reply(response=again, variables={"max_tekens": MAX_CORRECTION}),),
                replace(state, intake_fase=CORRECTING),
            )
        if choice == NO:
            state = replace(
                state,
                toestemming=False,
                toestemming_tijd=utc_iso(now),
                toestemming_organisaties=(),
                geweigerde_organisaties=(),
                toestemming_register=None,
                intake_fase=NO_CONSENT,
            )
            return Turn((Reply(response="utter_geen_toestemming"),), state)
        # Yes: the gemeente (the casemanager's own organisation) and a single organisation are covered by
        # this answer; with several organisations, each one other than the gemeente is asked separately.
        agreed = tuple(o for o in state.organisaties if not organisations_to_ask(state) or o == GEMEENTE)
        state = replace(state, toestemming_organisaties=agreed, geweigerde_organisaties=())
        if current_organisation(state) is None:
            return self._consented(state, now, ())
        # All organisations in one question; one at a time only when the citizen wants to choose.
        return Turn((self._organisations_question(state),), replace(state, intake_fase=ASKING_ORGANISATIONS))

    def _organisations_question(self, state: IntakeState) -> Reply:
        names = self._names(organisations_to_ask(state))
        return Reply(
            response="utter_vraag_toestemming_organisaties",
            variables={"organisaties": _listing(names), "voorbeeld": names[-1]},
        )

    def _organisations_answer(
        self, state: IntakeState, user: UserInput, choice: Optional[str], now: Optional[datetime]
    ) -> Optional[Turn]:
        """The one question for all organisations: all, none, typed exceptions, or one at a time."""
        asked = organisations_to_ask(state)
        agreed: Optional[Tuple[str, ...]] = None
        if choice is not None:
            value = choice.partition("|")[2] if choice.startswith(f"{ORGANISATIONS_CHOICE}|") else ""
            if value == "zelf":
                first = current_organisation(state)
                assert first is not None  # the question is only asked with organisations to ask
                state = replace(state, intake_fase=ASKING_ORGANISATION)
                return Turn(
                    (Reply(response="utter_toestemming_per_organisatie"), self._organisation_question(first)),
                    state,
                )
            agreed = {"alle": asked, "geen": ()}.get(value)
            if agreed is None:  # an old or forged button
                return Turn((Reply(response="utter_kies_ja_nee"), self._organisations_question(state)), state)
        else:
            agreed = self._typed_organisations(user, asked)
        if agreed is None:
            return self._unclear(state, user, self._organisations_question(state))
        state = replace(
            state,
            toestemming_organisaties=tuple(o for o in state.organisaties if o == GEMEENTE or o in agreed),
            geweigerde_organisaties=tuple(o for o in asked if o not in agreed),
        )
        return self._consented(state, now, (self._chosen(state),))

    def _typed_organisations(self, user: UserInput, asked: Sequence[str]) -> Optional[Tuple[str, ...]]:
        """ "niet met de SVB" → all but the SVB; "alleen het CJIB" → the CJIB; ja / nee → all / none."""
        text = user.text.lower()
        named = tuple(
            o
            for o in asked
            if any(
                re.search(rf"\b{re.escape(v)}\b", text) for v, org in self.kb.org_variants.items() if org == o
            )
        )
        if named and EXCEPT_WORDS.search(text) and not ONLY_WORDS.search(text):
            return tuple(o for o in asked if o not in named)
        if named:
            return named
        answer = typed_yes_no(user)
        if answer is None:
            return None
        return tuple(asked) if answer else ()

    def _chosen(self, state: IntakeState) -> Reply:
        names = self._names([o for o in state.toestemming_organisaties if o != GEMEENTE])
        if names:
            return Reply(
                response="utter_toestemming_organisaties_gekozen", variables={"organisaties": _listing(names)}
            )
        return Reply(response="utter_toestemming_geen_organisaties")

    def _consented(self, state: IntakeState, now: Optional[datetime], replies: Tuple[Reply, ...]) -> Turn:
        state = replace(state, toestemming=True, toestemming_tijd=utc_iso(now), intake_fase=DONE)
        if self.ask_registration and state.toestemming_register is None:
            question = Reply(response="utter_vraag_toestemming_register")
            return Turn((*replies, question), replace(state, intake_fase=ASKING_REGISTRATION))
        return Turn(replies, state, followup=HANDOVER_STEP)

    # --- registration in the customer-contact registry ----------------------------------------------
    def _registration_answer(
        self, state: IntakeState, user: UserInput, choice: Optional[str]
    ) -> Optional[Turn]:
        question = Reply(response="utter_vraag_toestemming_register")
        answer: Optional[bool]
        if choice:
            value = choice.partition("|")[2] if choice.startswith(f"{REGISTRATION_CHOICE}|") else ""
            if value not in ("ja", "nee"):  # an old or forged button
                return Turn((Reply(response="utter_kies_ja_nee"), question), state)
            answer = value == "ja"
        else:
            answer = typed_yes_no(user)
        if answer is None:
            return self._unclear(state, user, question)
        said = "utter_toestemming_register_ja" if answer else "utter_toestemming_register_nee"
        state = replace(state, toestemming_register=answer, intake_fase=DONE)
        return Turn((Reply(response=said),), state, followup=HANDOVER_STEP)

    # --- correcting the summary ------------------------------------------------------------------
    def _correct(self, state: IntakeState, user: UserInput) -> Turn:
        text = re.sub(r"\s+", " ", user.text).strip()
        if not text or text.startswith("/"):  # nothing typed, or an old button: ask again
            return Turn((Reply(response="utter_aanpassing_leeg"),), state)
        text, cut = _quote(text, MAX_CORRECTION)
        intro = [Reply(response="utter_aanpassing_ontvangen")]
        if cut:
            intro.append(
                Reply(response="utter_aanpassing_ingekort", variables={"max_tekens": MAX_CORRECTION})
            )
        return self.ask(replace(state, aanvulling=text), intro)

    # --- consent per organisation ------------------------------------------------------------------
    def _organisation_question(self, org_id: str) -> Reply:
        return Reply(
            response="utter_vraag_toestemming_organisatie",
            variables={"organisatie": self.kb.organisations[org_id].naam, "organisatie_id": org_id},
        )

    def _organisation_answer(
        self, state: IntakeState, user: UserInput, choice: Optional[str], now: Optional[datetime]
    ) -> Optional[Turn]:
        org = current_organisation(state)
        if org is None:  # nothing left to ask (the slots were changed elsewhere): ask consent again
            return self.ask(state)
        answer: Optional[bool]
        if choice:
            kind, _, rest = choice.partition("|")
            org_id, _, value = rest.partition("|")
            # Only the open question counts: an old button, or a forged id for an organisation that
            # is not in the summary, never adds an organisation.
            if kind == ORGANISATION_CHOICE and org_id == org and value in ("ja", "nee"):
                answer = value == "ja"
            else:
                return Turn((Reply(response="utter_kies_ja_nee"), self._organisation_question(org)), state)
        else:
            answer = typed_yes_no(user)
        if answer is None:
            return self._unclear(state, user, self._organisation_question(org))
        if answer:
            state = replace(state, toestemming_organisaties=(*state.toestemming_organisaties, org))
        else:
            state = replace(state, geweigerde_organisaties=(*state.geweigerde_organisaties, org))
        following = current_organisation(state)
        if following is not None:
            return Turn((self._organisation_question(following),), state)
        # Keep the summary's order, so the list reads the same everywhere.
        agreed = tuple(o for o in state.organisaties if o in state.toestemming_organisaties)
        state = replace(state, toestemming_organisaties=agreed)
        return self._consented(state, now, (self._chosen(state),))

    def _unclear(self, state: IntakeState, user: UserInput, question: Reply) -> Optional[Turn]:
        """Not ja or nee: a clear new topic or "dit past niet" leaves consent; anything else asks again."""
        if user.intent == "past_niet" or is_strong_new_topic(self.kb, user.parse):
            return None
        return Turn((Reply(response="utter_kies_ja_nee"), question), state)

    # --- without consent -------------------------------------------------------------------------
    def _without_consent(self, state: IntakeState, choice: Optional[str]) -> Optional[Turn]:
        if choice == ADVICE:
            return self._advice(state)
        if choice == CALLBACK:
            # Contact details only; case_payload leaves out the transcript and the summary text.
            return Turn(
                (Reply(response="utter_terugbellen_zonder_gesprek"),),
                replace(state, intake_fase=ASKING_CONTACT),
            )
        return None

    def _advice(self, state: IntakeState) -> Turn:
        """The outcome's steps and contact routes again; nothing is sent anywhere."""
        replies = [Reply(response="utter_advies_zonder_medewerker")]
        node = self.tree.nodes.get(state.uitkomst_knoop or "")
        if node is not None and node.uitkomst is not None and node.uitkomst.stappen:
            replies.append(
                Reply(
                    response="utter_stappen",
                    variables={"stappen": numbered(node.uitkomst.stappen)},
                )
            )
        for org_id in state.organisaties or (GEMEENTE,):
            replies.append(contact(self.kb, org_id))
        replies.append(Reply(response="utter_zelf_doen"))
        return Turn(tuple(replies), replace(state, intake_fase=DONE))
