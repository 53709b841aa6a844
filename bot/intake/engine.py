"""The intake conversation as a pure state machine over the stroomschema.

`handle(state, user_input)` returns the replies and the next state. It does no I/O, so the whole
intake is tested without Rasa; the action in `bot/actions/intake.py` only converts Rasa's tracker
to `IntakeState`/`UserInput` and the result back to events and messages.

Wording: question texts come from the stroomschema files; fixed sentences are domain responses
(`utter_*` in `domain/intake.yml`), referred to by name here.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from typing import List, Optional, Tuple

from bot.intake.advice import contact, numbered
from bot.intake.consent import Consent
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
)

MAX_MISUNDERSTANDINGS = 2  # after this many, the bot offers a person (rasa-calm-demo uses >2)


MAX_CHOICES = 4  # topics offered as buttons at once; the menu ("Iets anders") has the rest


class Intake:
    """Runs the intake for one installation's knowledge and stroomschema."""

    def __init__(self, kb: Knowledge, tree: Schema) -> None:
        self.kb = kb
        self.tree = tree
        self.consent = Consent(kb, tree)

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
        if user.intent == "past_niet":
            return self._doesnt_fit(state)
        knoop = state.intake_knoop
        if state.intake_fase == IN_TREE and knoop is not None and knoop in self.tree.nodes:
            node = self.tree.nodes[knoop]
            option = self._match_answer(node, user)
            if option is not None:
                return self._apply(state, node, option)
            if not is_strong_new_topic(self.kb, user.parse):
                return self._ask_again(state, node)
        if state.intake_fase == CONFIRMING and state.kandidaten:
            if user.intent == "bevestigen":
                return self._start_route(state, state.kandidaten[0])
            if user.intent == "ontkennen":
                return self._menu(state)
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
        state = self._remember_story(state, user.text, routing)
        candidates = self._distinct_routes(routing)
        if not candidates:
            return self._not_understood(state, urgent=routing.urgent)
        replies: List[Reply] = []
        if routing.urgent:
            replies.append(Reply(response="utter_urgent_gezien"))
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

    def _distinct_routes(self, routing: Routing) -> Tuple[str, ...]:
        """Candidates worth asking about: one per entry node (two topics that start the same route
        are one question for the citizen), or the life event named in the words when NLU is unsure."""
        keys = routing.candidates or (
            (f"{LIFE_EVENT_PREFIX}{routing.life_event}",) if routing.life_event else ()
        )
        seen, distinct = set(), []
        for key in keys:
            entry = self.tree.entry_for(key)
            if entry not in seen:
                seen.add(entry)
                distinct.append(key)
        return tuple(distinct[:MAX_CHOICES])

    def _remember_story(self, state: IntakeState, text: str, routing: Routing) -> IntakeState:
        text = text.strip()
        return replace(
            state,
            verhaal=state.verhaal + ((text,) if text and not text.startswith("/") else ()),
            urgent=state.urgent or routing.urgent,
            signalen=merge(state.signalen, routing.signals),
            levensgebeurtenis=state.levensgebeurtenis or routing.life_event,
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

    def _go_to(self, state: IntakeState, node_id: str) -> Turn:
        node = self.tree.nodes[node_id]
        if node.uitkomst is not None:
            return self._finish(replace(state, uitkomst_knoop=node.id), node.uitkomst)
        return Turn(self._question(node), replace(state, intake_fase=IN_TREE, intake_knoop=node.id))

    def _question(self, node: Node, again: bool = False) -> Tuple[Reply, ...]:
        buttons = tuple((o.label, choice_payload(f"knoop|{node.id}|{i}")) for i, o in enumerate(node.opties))
        buttons += (("Dit past niet", choice_payload("past_niet")),)
        # The buttons go with the last message, so the explanation follows the question.
        replies: List[Reply] = [Reply(response="utter_kies_antwoord")] if again else []
        if node.uitleg and not again:
            replies += [Reply(text=node.vraag), Reply(text=node.uitleg, buttons=buttons)]
        else:
            replies.append(Reply(text=node.vraag, buttons=buttons))
        return tuple(replies)

    def _match_answer(self, node: Node, user: UserInput) -> Optional[Option]:
        """A typed answer to an open question: its number, its label, or ja/nee."""
        typed = re.sub(r"[^\w\s]", "", user.text.lower()).strip()
        if typed.isdigit() and 1 <= int(typed) <= len(node.opties):
            return node.opties[int(typed) - 1]
        for option in node.opties:
            label = re.sub(r"[^\w\s]", "", option.label.lower()).strip()
            if typed and (
                typed == label or (len(typed) > 3 and typed in label) or (len(label) > 3 and label in typed)
            ):
                return option
        wanted = {"bevestigen": "ja", "ontkennen": "nee"}.get(user.intent)
        if wanted:
            for option in node.opties:
                if option.label.lower().startswith(wanted):
                    return option
        return None

    def _ask_again(self, state: IntakeState, node: Node) -> Turn:
        state = replace(state, misverstanden=state.misverstanden + 1)
        replies = self._question(node, again=True)
        if state.misverstanden >= MAX_MISUNDERSTANDINGS:
            replies += (
                Reply(response="utter_aanbod_medewerker", buttons=(("Praat met medewerker", HUMAN_PAYLOAD),)),
            )
        return Turn(replies, state)

    def _apply(self, state: IntakeState, node: Node, option: Option) -> Turn:
        facts = option.zet
        state = replace(
            state,
            antwoorden=(*state.antwoorden, f"{node.vraag} → {option.label}"),
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
        return self._go_to(state, target)

    def _doesnt_fit(self, state: IntakeState) -> Turn:
        return Turn(
            (Reply(response="utter_past_niet", buttons=(("Praat met medewerker", HUMAN_PAYLOAD),)),),
            replace(state, intake_fase=OWN_WORDS, past_niet=True, intake_knoop=None),
        )

    # --- the outcome -------------------------------------------------------------------------
    def _finish(self, state: IntakeState, outcome: Outcome) -> Turn:
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
        )
        state = replace(state, samenvatting=self.summary(state, outcome))
        replies: List[Reply] = [
            Reply(response="utter_uitkomst", variables={"samenvatting": outcome.samenvatting}),
            Reply(response="utter_stappen", variables={"stappen": numbered(outcome.stappen)}),
        ]
        for org_id in organisations:
            replies.append(contact(self.kb, org_id))
        if state.urgent:
            replies.append(Reply(response="utter_advies_dringend"))
        elif qtype > 1:
            replies.append(Reply(response=f"utter_advies_vraagtype_{qtype}"))
        replies.append(
            Reply(
                response="utter_zelf_of_medewerker",
                buttons=(("Zelf doen", choice_payload("zelf")), ("Hulp medewerker", HUMAN_PAYLOAD)),
            )
        )
        return Turn(tuple(replies), state)

    def summary(self, state: IntakeState, outcome: Outcome) -> str:
        """One paragraph for the casemanager: the citizen's words first, then what the intake found."""
        kb = self.kb
        parts = []
        story = " ".join(state.verhaal)
        if story:
            if len(story) > MAX_STORY_QUOTE:
                story = story[: MAX_STORY_QUOTE - 1].rsplit(" ", 1)[0] + "…"
            parts.append(f"In eigen woorden: “{story}”")
        parts.append(outcome.samenvatting)
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
