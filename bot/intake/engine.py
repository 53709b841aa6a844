"""The intake conversation as a pure state machine over the stroomschema.

`handle(state, user_input)` returns the replies and the next state. It does no I/O, so the whole
intake is tested without Rasa; the action in `bot/actions/intake.py` only converts Rasa's tracker
to `IntakeState`/`UserInput` and the result back to events and messages.

Wording: question texts come from the stroomschema files; fixed sentences are domain responses
(`utter_*` in `domain/intake.yml`), referred to by name here.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime
from typing import List, Optional, Tuple

from bot.intake.advice import contact, numbered
from bot.intake.appointments import APPOINTMENT_BUTTON
from bot.intake.consent import Consent, typed_yes_no
from bot.intake.contact import find_contact
from bot.intake.knowledge import Knowledge
from bot.intake.routing import LIFE_EVENT_PREFIX, Routing, is_strong_new_topic, question_type, route
from bot.intake.schema import CONTINUE, URGENCY_NODE, Node, Option, Outcome, Schema
from bot.intake.state import (
    ASKING_CONTACT,
    CALLBACK_STEP,
    CHOICE_INTENT,
    CONFIRMING,
    CONSENT_PHASES,
    DONE,
    HANDOVER_STEP,
    HUMAN_PAYLOAD,
    IN_TREE,
    MAX_STORY_QUOTE,
    OWN_WORDS,
    IntakeState,
    Reply,
    Turn,
    UserInput,
    choice_payload,
    merge,
    quoted,
)


def _joined(told: Tuple[Reply, ...], said: Reply) -> Tuple[Reply, ...]:
    """What the bot took from the story, in one message: several answers are one bubble, not one each."""
    if told and told[-1].text and said.text:
        return (*told[:-1], replace(told[-1], text=f"{told[-1].text}\n{said.text}"))
    return (*told, said)


MAX_MISUNDERSTANDINGS = 2  # after this many, the bot offers a person (rasa-calm-demo uses >2)


MAX_CHOICES = 4  # topics offered as buttons at once; the menu ("Iets anders") has the rest
FIRST_STEPS = 2  # steps shown at once with an outcome; "Meer stappen" shows the rest
# A question with this many urgent options is an urgency question: a signal in the story answers it
# (elsewhere an urgent option, e.g. "Nee" at "Houdt u genoeg geld over?", needs its own words).
URGENT_OPTIONS = 3
CORRECT_CHOICE = "herstel"  # the button "Klopt niet" after an answer taken from the story
MORE_STEPS, MORE_ORGANISATIONS = "meer|stappen", "meer|organisaties"
SELF_BUTTON = ("Zelf doen", choice_payload("zelf"))
HELP_BUTTON = ("Hulp medewerker", HUMAN_PAYLOAD)


class Intake:
    """Runs the intake for one installation's knowledge and stroomschema."""

    def __init__(self, kb: Knowledge, tree: Schema, ask_registration: bool = False) -> None:
        self.kb = kb
        self.tree = tree
        self.consent = Consent(kb, tree, ask_registration)

    # --- entry point -------------------------------------------------------------------------
    def handle(self, state: IntakeState, user: UserInput, now: Optional[datetime] = None) -> Turn:
        """React to one message of the citizen; `now` (from the action's clock) dates a consent decision."""
        if state.intake_fase in CONSENT_PHASES:
            turn = self.consent.handle(state, user, now)
            if turn is not None:
                return turn
        if state.intake_fase == ASKING_CONTACT and user.intent not in (CHOICE_INTENT, "medewerker"):
            if find_contact(user.text).reachable:
                return Turn((), replace(state, intake_fase=DONE), followup=CALLBACK_STEP)
            return Turn((Reply(response="utter_vraag_contactgegevens_opnieuw"),), state)
        if user.intent == CHOICE_INTENT and user.choice:
            return self._on_choice(state, user.choice)
        at_question = state.intake_fase == IN_TREE and state.intake_knoop in self.tree.nodes
        if at_question and self.kb.says("uitleg_vraag", user.text) and user.intent != CHOICE_INTENT:
            # "ik snap het niet" reads to NLU like "dit past niet"; it asks for the question explained.
            return self._explain(state, self.tree.nodes[str(state.intake_knoop)])
        if user.intent == "past_niet":
            return self._doesnt_fit(state)
        if state.voor_verhaal and self.kb.says("klopt_niet", user.text):
            return self._correct_story(state)
        knoop = state.intake_knoop
        if state.intake_fase == IN_TREE and knoop is not None and knoop in self.tree.nodes:
            node = self.tree.nodes[knoop]
            option = self._match_answer(node, user)
            if option is not None:
                return self._apply(state, node, option, typed=user.text)
            if self.kb.says("uitleg_vraag", user.text):
                return self._explain(state, node)
            if not is_strong_new_topic(self.kb, user.parse):
                return self._ask_again(state, node, user.text)
        if state.intake_fase == CONFIRMING and state.kandidaten:
            answer = typed_yes_no(user)
            if answer is True:
                # "ja, meerdere schulden": yes, and the rest of the words are kept for the summary
                return self._start_route(self._remember_story(state, user.text, route(user.parse, self.kb)),
                                         state.kandidaten[0])
            if answer is False and len(re.findall(r"\w+", user.text)) <= 2:
                return self._menu(state)
        if state.intake_fase == DONE and state.uitkomst_knoop and state.toestemming is None:
            after_outcome = self._after_outcome(state, user)
            if after_outcome is not None:
                return after_outcome
        return self._on_story(state, user)

    def remember(self, state: IntakeState, user: UserInput) -> IntakeState:
        """Keep the citizen's words and what they name (topic, organisations, signals) for the
        summary, without asking about it now: for a message that also asks for a person."""
        routing = route(user.parse, self.kb)
        if not (routing.topic or routing.life_event):  # only the wish for a person: nothing to keep
            return state
        state = self._remember_story(state, user.text, routing)
        if routing.topic and not state.onderwerp:
            organisations = state.organisaties or routing.organisations
            state = replace(state, onderwerp=routing.topic, organisaties=organisations)
        return state

    def ask_consent(self, state: IntakeState) -> Turn:
        """Before a person sees anything: show what is shared and with whom, and ask consent."""
        return self.consent.ask(state)

    # --- the citizen's own words ---------------------------------------------------------------
    def _on_story(self, state: IntakeState, user: UserInput) -> Turn:
        routing = route(user.parse, self.kb)
        acknowledged = state.levensgebeurtenis
        state = self._remember_story(state, user.text, routing)
        candidates = self._distinct_routes(routing)
        if state.intake_fase == OWN_WORDS and (state.onderwerp or state.kandidaten):
            after_doesnt_fit = self._after_doesnt_fit(state, candidates)
            if after_doesnt_fit is not None:
                return after_doesnt_fit
            candidates = self._distinct((state.onderwerp or state.kandidaten[0], *candidates))
        if not candidates:
            return self._not_understood(state, urgent=routing.urgent)
        replies: List[Reply] = []
        event = self.kb.life_events.get(routing.life_event or "")
        if event is not None and event.erkenning and acknowledged != event.id:
            replies.append(Reply(text=event.erkenning))  # condolence before any question
        state = replace(state, intake_fase=CONFIRMING, kandidaten=candidates, misverstanden=0)
        if len(candidates) == 1:
            key = candidates[0]
            replies.append(
                Reply(
                    response="utter_bevestig_onderwerp",
                    variables={"onderwerp_label": self.kb.topic_or_event_label(key)},
                    buttons=(
                        ("Ja, dat klopt", choice_payload(f"bevestig|{key}")),
                        ("Iets anders", choice_payload("menu")),
                        ("Dit past niet", choice_payload("past_niet")),
                    ),
                )
            )
        else:
            buttons = tuple(
                (self.kb.topic_or_event_button(key), choice_payload(f"bevestig|{key}")) for key in candidates
            )
            replies.append(
                Reply(
                    response="utter_kies_uit_onderwerpen",
                    buttons=(*buttons, ("Iets anders", choice_payload("menu"))),
                )
            )
        return Turn(tuple(replies), state)

    def _after_doesnt_fit(self, state: IntakeState, candidates: Tuple[str, ...]) -> Optional[Turn]:
        """After "dit past niet" the citizen's own words: a different topic is offered next to the one
        they were on (never swapped for it); otherwise the words are noted for a person."""
        previous = state.onderwerp or state.kandidaten[0]
        entry = self.tree.entry_for(previous)
        if any(self.tree.entry_for(c) != entry for c in candidates):
            return None
        buttons = (("Praat met medewerker", HUMAN_PAYLOAD), ("Kies een onderwerp", choice_payload("menu")))
        return Turn((Reply(response="utter_eigen_woorden_genoteerd", buttons=buttons),), state)

    def _distinct_routes(self, routing: Routing) -> Tuple[str, ...]:
        """Candidates worth asking about: one per entry node (two topics that start the same route
        are one question for the citizen), or the life event named in the words when NLU is unsure."""
        keys = routing.candidates or (
            (f"{LIFE_EVENT_PREFIX}{routing.life_event}",) if routing.life_event else ()
        )
        return self._distinct(keys)

    def _distinct(self, keys: Tuple[str, ...]) -> Tuple[str, ...]:
        seen, distinct = set(), []
        for key in keys:
            entry = self.tree.entry_for(key)
            if entry not in seen:
                seen.add(entry)
                distinct.append(key)
        return tuple(distinct[:MAX_CHOICES])

    def _remember_story(self, state: IntakeState, text: str, routing: Routing) -> IntakeState:
        text = text.strip()
        raised = ((routing.topic,) if routing.topic else ()) + routing.concerns
        return replace(
            state,
            verhaal=state.verhaal + ((text,) if text and not text.startswith("/") else ()),
            urgent=state.urgent or routing.urgent,
            signalen=merge(state.signalen, routing.signals),
            levensgebeurtenis=state.levensgebeurtenis or routing.life_event,
            genoemd=merge(state.genoemd, raised),
            # An organisation the citizen named stays in the question (Annie's letter of the Belastingdienst).
            extra_organisaties=merge(state.extra_organisaties, routing.mentioned),
        )

    def _not_understood(self, state: IntakeState, urgent: bool = False) -> Turn:
        state = replace(state, misverstanden=state.misverstanden + 1)
        person, menu = ("Praat met medewerker", HUMAN_PAYLOAD), ("Kies een onderwerp", choice_payload("menu"))
        if urgent:
            # Something urgent that we cannot place: a person now, rather than "say it differently".
            return Turn((Reply(response="utter_urgent_niet_begrepen", buttons=(person, menu)),), state)
        if state.misverstanden >= MAX_MISUNDERSTANDINGS:
            reply = Reply(response="utter_niet_begrepen_medewerker", buttons=(person, menu))
        else:
            reply = Reply(response="utter_niet_begrepen", buttons=(menu,))
        return Turn((reply,), state, understood=False)

    # --- buttons -----------------------------------------------------------------------------
    def _on_choice(self, state: IntakeState, choice: str) -> Turn:
        kind, _, rest = choice.partition("|")
        if kind == "bevestig" and self._is_known_key(rest):
            return self._start_route(state, rest)
        if kind == "knoop":
            node_id, _, index = rest.rpartition("|")
            node = self.tree.nodes.get(node_id)
            if node and index.isdigit() and int(index) < len(node.opties):
                return self._apply(state, node, node.opties[int(index)])
        if kind == "groep":
            return self._menu_group(state, rest)
        if kind == "past_niet":
            return self._doesnt_fit(state)
        if kind == "zelf":
            return Turn((Reply(response="utter_zelf_doen"),), replace(state, intake_fase=DONE))
        if kind == CORRECT_CHOICE and state.voor_verhaal:
            return self._correct_story(state)
        if kind == "meer" and state.intake_fase == DONE and state.uitkomst_knoop:
            return self._more(state, rest)
        # "menu", and any stale or forged choice: offer the menu rather than guess.
        return self._menu(state)

    def _is_known_key(self, key: str) -> bool:
        if key.startswith(LIFE_EVENT_PREFIX):
            return key.removeprefix(LIFE_EVENT_PREFIX) in self.tree.event_entries
        return key in self.tree.topic_entries

    def _menu(self, state: IntakeState) -> Turn:
        buttons = tuple((g.knop, choice_payload(f"groep|{g.id}")) for g in self.kb.menu)
        return Turn(
            (Reply(response="utter_kies_groep", buttons=buttons),), replace(state, intake_fase=CONFIRMING)
        )

    def _menu_group(self, state: IntakeState, group_id: str) -> Turn:
        group = next((g for g in self.kb.menu if g.id == group_id), None)
        if group is None:
            return self._menu(state)
        keys = [
            item.replace("onderwerp:", "", 1).replace("leven:", LIFE_EVENT_PREFIX, 1) for item in group.items
        ]
        buttons = tuple((self.kb.topic_or_event_button(k), choice_payload(f"bevestig|{k}")) for k in keys)
        return Turn(
            (Reply(response="utter_kies_onderwerp", buttons=(*buttons, ("Terug", choice_payload("menu")))),),
            replace(state, intake_fase=CONFIRMING, kandidaten=tuple(keys)),
        )

    # --- the tree ----------------------------------------------------------------------------
    def _start_route(self, state: IntakeState, key: str) -> Turn:
        if key.startswith(LIFE_EVENT_PREFIX):
            state = replace(state, levensgebeurtenis=key.removeprefix(LIFE_EVENT_PREFIX))
        else:
            state = replace(state, onderwerp=key)
        state = replace(state, kandidaten=(key,), misverstanden=0)
        entry = self.tree.entry_for(key)
        if self.tree.needs_urgency_check(entry) and not (state.urgentie_gevraagd or state.urgent):
            state = replace(state, urgentie_gevraagd=True, intake_vervolg=entry)
            return self._go_to(state, URGENCY_NODE)
        return self._go_to(state, entry)

    def _go_to(self, state: IntakeState, node_id: str, told: Tuple[Reply, ...] = ()) -> Turn:
        """Go to a node; a question the story already answers is not asked again (`told` says so)."""
        node = self.tree.nodes[node_id]
        if node.uitkomst is not None:
            turn = self._finish(replace(state, uitkomst_knoop=node.id), node.uitkomst, corrigible=bool(told))
            return replace(turn, replies=(*told, *turn.replies))
        option = self._from_story(state, node)
        if option is not None:
            before = state.voor_verhaal or json.dumps(state.as_slots(), ensure_ascii=False)
            said = (
                Reply(text=option.uit_verhaal)
                if option.uit_verhaal
                else Reply(response="utter_uit_verhaal", variables={"antwoord": option.label})
            )
            state = replace(state, voor_verhaal=before, uit_verhaal=(*state.uit_verhaal, node.id))
            return self._apply(state, node, option, told=_joined(told, said))
        state = replace(state, intake_fase=IN_TREE, intake_knoop=node.id)
        return Turn((*told, *self._question(node, corrigible=bool(told))), state)

    def _from_story(self, state: IntakeState, node: Node) -> Optional[Option]:
        """The one option the citizen's own words already give, if exactly one does."""
        if node.id in state.zelf_beantwoorden or not state.verhaal:
            return None
        found = [o for o in node.opties if self._told(state, node, o)]
        return found[0] if len(found) == 1 else None

    def _told(self, state: IntakeState, node: Node, option: Option) -> bool:
        """The option's words are in the story, or a signal that means it (`herken_signalen`), or,
        at an urgency question, its urgent signal was found in it already ("de deurwaarder komt
        morgen" answers "Is er nu iets dringends?")."""
        if option.herken and any(option.recognised_in(t) for t in state.verhaal):
            return True
        if set(option.herken_signalen) & set(state.signalen):
            return True
        urgency_question = sum(o.zet.urgent for o in node.opties) >= URGENT_OPTIONS
        return urgency_question and option.zet.urgent and bool(set(option.zet.signalen) & set(state.signalen))

    def _correct_story(self, state: IntakeState) -> Turn:
        """The citizen says an answer taken from the story is wrong: back to before those answers, and
        this time they answer the questions themselves."""
        assert state.voor_verhaal is not None
        first = state.uit_verhaal[0] if state.uit_verhaal else None
        before = IntakeState.from_slots(json.loads(state.voor_verhaal))
        restored = replace(
            before,
            verhaal=state.verhaal,
            genoemd=state.genoemd,
            dringend_gemeld=state.dringend_gemeld,
            zelf_beantwoorden=merge(state.zelf_beantwoorden, state.uit_verhaal),
            uit_verhaal=(),
            voor_verhaal=None,
        )
        if first is None or first not in self.tree.nodes:
            return self._menu(restored)
        turn = self._go_to(restored, first)
        return replace(turn, replies=(Reply(response="utter_verhaal_herstel"), *turn.replies))

    @staticmethod
    def _buttons(node: Node, corrigible: bool = False) -> Tuple[Tuple[str, str], ...]:
        buttons = tuple((o.label, choice_payload(f"knoop|{node.id}|{i}")) for i, o in enumerate(node.opties))
        if corrigible:
            buttons += (("Klopt niet", choice_payload(CORRECT_CHOICE)),)
        return (*buttons, ("Dit past niet", choice_payload("past_niet")))

    def _question(self, node: Node, again: bool = False, corrigible: bool = False) -> Tuple[Reply, ...]:
        buttons = self._buttons(node, corrigible)
        # The buttons go with the last message, so the explanation follows the question.
        replies: List[Reply] = [Reply(response="utter_kies_antwoord")] if again else []
        if node.uitleg and not again:
            replies += [Reply(text=node.vraag), Reply(text=node.uitleg, buttons=buttons)]
        else:
            replies.append(Reply(text=node.vraag, buttons=buttons))
        return tuple(replies)

    def _match_answer(self, node: Node, user: UserInput) -> Optional[Option]:
        """A typed answer to an open question: its number, its label, the words that mean one option
        (`herken`), or else ja / nee ("ik denk het wel, maar ik heb het geld niet" is the option
        whose words it has, not "ja")."""
        typed = re.sub(r"[^\w\s]", "", user.text.lower()).strip()
        if typed.isdigit() and 1 <= int(typed) <= len(node.opties):
            return node.opties[int(typed) - 1]
        for option in node.opties:
            label = re.sub(r"[^\w\s]", "", option.label.lower()).strip()
            if typed and (
                typed == label or (len(typed) > 3 and typed in label) or (len(label) > 3 and label in typed)
            ):
                return option
        recognised = [o for o in node.opties if o.recognised_in(user.text)]
        if len(recognised) == 1:
            return recognised[0]
        answer = typed_yes_no(user)
        wanted = {True: "ja", False: "nee"}.get(answer) if answer is not None else None
        if wanted:
            for option in recognised or node.opties:
                if option.label.lower().startswith(wanted):
                    return option
        return None

    def _explain(self, state: IntakeState, node: Node) -> Turn:
        """"Wat bedoelt u?" at a question: the question in other words, the same buttons; no misstep."""
        other_words = node.anders_gezegd or node.uitleg
        replies: List[Reply] = [Reply(text=other_words)] if other_words else []
        replies.append(Reply(response="utter_uitleg_vraag"))
        replies.append(Reply(text=node.vraag, buttons=self._buttons(node)))
        return Turn(tuple(replies), state)

    def _ask_again(self, state: IntakeState, node: Node, text: str = "") -> Turn:
        # The words are not lost: they go into the story the casemanager reads.
        text = text.strip()
        words = (text,) if text and not text.startswith("/") else ()
        state = replace(state, misverstanden=state.misverstanden + 1, verhaal=state.verhaal + words)
        replies = self._question(node, again=True)
        if state.misverstanden >= MAX_MISUNDERSTANDINGS:
            replies += (
                Reply(response="utter_aanbod_medewerker", buttons=(("Praat met medewerker", HUMAN_PAYLOAD),)),
            )
        return Turn(replies, state)

    def _apply(
        self, state: IntakeState, node: Node, option: Option, typed: str = "", told: Tuple[Reply, ...] = ()
    ) -> Turn:
        facts = option.zet
        typed = typed.strip()
        own_words = bool(typed) and not typed.startswith("/") and typed.lower() != option.label.lower()
        answer = f"{node.vraag} → {option.label}"
        if told:
            answer += " (uit het verhaal)"
        elif own_words:
            answer += f" (“{typed}”)"
        if not told:  # the citizen answered: earlier answers from the story are now theirs too
            state = replace(state, uit_verhaal=(), voor_verhaal=None)
        state = replace(
            state,
            # Their own words stay in the story: "nee, ik heb ook andere schulden" answers the next question.
            verhaal=state.verhaal + ((typed,) if own_words else ()),
            antwoorden=(*state.antwoorden, answer),
            urgent=state.urgent or facts.urgent,
            signalen=merge(state.signalen, facts.signalen),
            extra_organisaties=merge(state.extra_organisaties, facts.organisaties),
            extra_onderwerpen=merge(state.extra_onderwerpen, facts.onderwerpen),
            levensgebeurtenis=facts.levensgebeurtenis or state.levensgebeurtenis,
            afhankelijk=state.afhankelijk or facts.afhankelijk,
            misverstanden=0,
        )
        target = state.intake_vervolg if option.naar == CONTINUE else option.naar
        if option.naar == CONTINUE:
            state = replace(state, intake_vervolg=None)
        if not target or target not in self.tree.nodes:
            return self._menu(state)
        return self._go_to(state, target, told)

    def _doesnt_fit(self, state: IntakeState) -> Turn:
        # The topic stays: only the citizen changes it, by choosing another one (issue 12, item 2).
        return Turn(
            (Reply(response="utter_past_niet", buttons=(("Praat met medewerker", HUMAN_PAYLOAD),)),),
            replace(state, intake_fase=OWN_WORDS, past_niet=True, intake_knoop=None),
        )

    # --- the outcome -------------------------------------------------------------------------
    def _finish(self, state: IntakeState, outcome: Outcome, corrigible: bool = False) -> Turn:
        kb = self.kb
        base = (
            outcome.organisaties
            if outcome.organisaties is not None
            else kb.topics[outcome.onderwerp].organisations
        )
        extra_topic_orgs = [org for t in state.extra_onderwerpen for org in kb.topics[t].organisations]
        organisations = merge(base, state.extra_organisaties, extra_topic_orgs)
        dependent = outcome.afhankelijk or state.afhankelijk
        qtype = question_type(organisations, dependent) or 1
        life_event = outcome.levensgebeurtenis or state.levensgebeurtenis
        state = replace(
            state,
            intake_fase=DONE,
            intake_knoop=None,
            onderwerp=outcome.onderwerp,
            organisaties=organisations,
            levensgebeurtenis=life_event,
            afhankelijk=dependent,
            vraagtype=qtype,
            meer_getoond=(),
        )
        state = replace(state, samenvatting=self.summary(state, outcome))
        # Short first: what it is about, the steps that matter most and the main organisation; the
        # rest on request, so the answer fits a phone screen (issue 12, item 7).
        replies: List[Reply] = [
            Reply(response="utter_uitkomst", variables={"samenvatting": outcome.samenvatting}),
            Reply(response="utter_stappen", variables={"stappen": numbered(outcome.stappen[:FIRST_STEPS])}),
            contact(self.kb, organisations[0]),
        ]
        if state.urgent:
            replies.append(Reply(response="utter_advies_dringend"))
        elif qtype > 1:
            replies.append(Reply(response=f"utter_advies_vraagtype_{qtype}"))
        replies.append(self._final_choice(state, corrigible))
        return Turn(tuple(replies), state)

    def _final_choice(self, state: IntakeState, corrigible: bool = False, again: bool = False) -> Reply:
        """Zelf doen or a person, with "Meer stappen" / "Alle organisaties" while there is more to show."""
        node = self.tree.nodes.get(state.uitkomst_knoop or "")
        outcome = node.uitkomst if node is not None else None
        buttons: List[Tuple[str, str]] = []
        if outcome is not None and len(outcome.stappen) > FIRST_STEPS and "stappen" not in state.meer_getoond:
            buttons.append(("Meer stappen", choice_payload(MORE_STEPS)))
        if len(state.organisaties) > 1 and "organisaties" not in state.meer_getoond:
            buttons.append(("Alle organisaties", choice_payload(MORE_ORGANISATIONS)))
        if corrigible:
            buttons.append(("Klopt niet", choice_payload(CORRECT_CHOICE)))
        buttons += [SELF_BUTTON, HELP_BUTTON]
        if state.vraagtype in (2, 3):
            # Several organisations that depend on each other: solved in one appointment with
            # their professional lines, the citizen present (issue 18).
            buttons.append(APPOINTMENT_BUTTON)
        response = "utter_zelf_of_medewerker_opnieuw" if again else "utter_zelf_of_medewerker"
        return Reply(response=response, buttons=tuple(buttons))

    def _more(self, state: IntakeState, what: str) -> Turn:
        node = self.tree.nodes.get(state.uitkomst_knoop or "")
        replies: List[Reply] = []
        if what == "stappen" and node is not None and node.uitkomst is not None:
            rest = node.uitkomst.stappen[FIRST_STEPS:]
            if rest:
                replies.append(
                    Reply(
                        response="utter_meer_stappen",
                        variables={"stappen": numbered(rest, start=FIRST_STEPS + 1)},
                    )
                )
        elif what == "organisaties":
            replies += [contact(self.kb, org) for org in state.organisaties[1:]]
        state = replace(state, meer_getoond=merge(state.meer_getoond, (what,)))
        choice = self._final_choice(state, corrigible=bool(state.voor_verhaal))
        return Turn((*replies, replace(choice, response="utter_meer_keuze")), state)

    def _after_outcome(self, state: IntakeState, user: UserInput) -> Optional[Turn]:
        """Typed words after the advice: "ik wil graag hulp van de gemeente" is the person button, "ik
        doe het zelf" the other one; a question about it gets the choice again, never a dead end. A
        clear new topic (or a life event) starts over: None."""
        text = user.text
        if self.kb.says("hulp_graag", text):
            return Turn((), state, followup=HANDOVER_STEP)
        if self.kb.says("zelf_doen", text):
            return self._on_choice(state, "zelf")
        if self.kb.says("uitleg_vraag", text) or self.kb.says("tussentijds", text):
            return self._more(state, "stappen")
        new_story = user.intent != "nlu_fallback" and self._new_story(user)
        if is_strong_new_topic(self.kb, user.parse) or new_story:
            return None
        return Turn((self._final_choice(state, corrigible=bool(state.voor_verhaal), again=True),), state)

    def _new_story(self, user: UserInput) -> bool:
        """A message that names a topic with some confidence and is long enough to be a new question."""
        routing = route(user.parse, self.kb)
        return bool(routing.topic or routing.life_event) and len(re.findall(r"\w+", user.text)) > 3

    def interim_advice(self, state: IntakeState) -> Tuple[Reply, ...]:
        """The steps of the advice the citizen got, for "wat moet ik tot die tijd doen?"."""
        node = self.tree.nodes.get(state.uitkomst_knoop or "")
        if node is None or node.uitkomst is None:
            return ()
        return (Reply(response="utter_stappen", variables={"stappen": numbered(node.uitkomst.stappen)}),)

    def summary(self, state: IntakeState, outcome: Outcome) -> str:
        """One paragraph for the casemanager: the citizen's words first, then what the intake found."""
        kb = self.kb
        parts = []
        if state.verhaal:
            parts.append("In eigen woorden: " + quoted(state.verhaal, MAX_STORY_QUOTE))
        parts.append(outcome.samenvatting)
        raised = [kb.topics[t].label for t in state.genoemd if t != outcome.onderwerp and t in kb.topics]
        if raised:
            parts.append("Ook genoemd: " + "; ".join(raised) + ".")
        if state.antwoorden:
            parts.append("Antwoorden: " + "; ".join(state.antwoorden) + ".")
        names = ", ".join(kb.organisations[o].naam for o in state.organisaties)
        parts.append(f"Organisaties: {names}. Vraagtype {state.vraagtype}.")
        if state.levensgebeurtenis:
            parts.append(f"Levensgebeurtenis: {kb.life_events[state.levensgebeurtenis].label}.")
        if state.signalen:
            signals = ", ".join(kb.signals[s].label for s in state.signalen if s in kb.signals)
            parts.append("Signalen: " + signals + ".")
        if state.urgent:
            parts.append("Dringend.")
        return " ".join(parts)
