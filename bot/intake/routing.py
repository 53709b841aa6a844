"""From what the citizen wrote (plus the NLU parse) to catalogue ids.

One function, `route`, serves both the bot's actions and the batch CLI (`python -m bot.route`), so
what a municipality measures on its own question logs is exactly what the bot does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from bot.intake.deadline import deadline_days
from bot.intake.knowledge import Knowledge, LifeEvent, fold
from bot.intake.language import DUTCH, detect
from bot.intake.state import merge

LIFE_EVENT_PREFIX = "leven."
WANTS_HUMAN_INTENT = "medewerker"
WANTS_HUMAN_SIGNAL = "wil_persoon"
# Below this confidence the bot does not assume a topic; it asks (engine) or reports none (CLI).
MIN_CONFIDENCE = 0.10  # the FallbackClassifier's threshold in config.yml
# A second candidate this close to the first is offered as a choice too.
CANDIDATE_MARGIN = 0.25
MAX_CANDIDATES = 3
# A part of a long text (bot/nlp/heads.py, `concerns`) this sure of a topic adds it to the topics.
CONCERN_CONFIDENCE = 0.6
# In a short message a sure part needs at least this from the whole text's ranking as well: a side
# remark ("het is allemaal zo duur") reads as a topic on its own, the whole message says it is not one.
CONCERN_WHOLE_SHORT = 0.03
# The same in a story, lower: its whole-text ranking is spread over its problems by design, but a
# topic it gives under 1 % is a phrase read out of context ("kan ik het per maand betalen" after a
# toeslag repayment is no CJIB payment plan).
CONCERN_WHOLE_STORY = 0.01
# A part of a short message less sure than CONCERN_CONFIDENCE still adds its topic when the whole
# text ranks it this high too: two readings agree ("huurtoeslag aanvragen, maar geen DigiD").
CORROBORATED_PART = 0.45
CORROBORATED_WHOLE = 0.15
# Words of a crisis without a clear topic: the help line, not a guessed administrative question.
TOPIC_BESIDE_CRISIS = 0.5
# The same in a message clearly in another language: there the ranking is less sure of every topic it
# gets right, and the crisis words and detector less sure of a crisis (v25, docs/nlu-tuning.md).
TOPIC_BESIDE_CRISIS_OTHER_LANGUAGE = 0.3
# An open life-event question ("ontslagen, wat nu?") has the concrete question behind it only when
# the ranking is this sure of one; else the life event's own questions follow.
TOPIC_BEHIND_EVENT = 0.25
# The two rules above judge a message of at most this many sentences (bot/nlp/heads.py, `parts`).
# In a longer story the whole-text ranking is spread over its several problems by design, so a low
# best score there means "several problems", not "no problem".
SHORT_MESSAGE_PARTS = 4


@dataclass(frozen=True)
class Routing:
    """Where a question belongs, in catalogue ids."""

    topic: Optional[str]
    organisations: Tuple[str, ...]
    life_event: Optional[str]
    urgent: bool
    wants_human: bool
    question_type: Optional[int]
    confidence: float
    signals: Tuple[str, ...] = ()
    candidates: Tuple[str, ...] = field(default=())  # topic ids or "leven.<id>", best first
    crisis: bool = False  # words of a crisis: the bot gives a help line first (signalen.yml, hulplijn)
    deadline_days: Optional[int] = None  # when the words give one ("morgen", "over 3 dagen")
    concerns: Tuple[str, ...] = ()  # topics a part of the text is about (see `concerns`)
    mentioned: Tuple[str, ...] = ()  # organisations the citizen named

    def as_json(self) -> Dict[str, Any]:
        """The batch CLI's output fields."""
        return {
            "topic": self.topic,
            "organisations": list(self.organisations),
            "life_event": self.life_event,
            "urgent": self.urgent,
            "wants_human": self.wants_human,
            "question_type": self.question_type,
            "topics": [c for c in self.candidates if not c.startswith(LIFE_EVENT_PREFIX)],
            "crisis": self.crisis,
            "deadline_days": self.deadline_days,
            "confidence": round(self.confidence, 4),
        }


def is_candidate(intent: str, kb: Knowledge) -> bool:
    """Whether an intent names a catalogue topic or life event."""
    if intent.startswith(LIFE_EVENT_PREFIX):
        return intent[len(LIFE_EVENT_PREFIX) :] in kb.life_events
    return intent in kb.topics


def question_type(organisations: Sequence[str], dependent: bool) -> Optional[int]:
    """1 = one organisation; 2 = several, independent; 3 = several that depend on each other."""
    if not organisations:
        return None
    if len(organisations) == 1:
        return 1
    return 3 if dependent else 2


def find_signals(text: str, kb: Knowledge, other_languages: bool = True) -> Tuple[str, ...]:
    """Ids of the signals whose words occur in the text (both folded: lower case, no accents): the
    Dutch words and, unless `other_languages` is False, those of the other languages."""
    folded = fold(text)
    return tuple(
        s.id for s in kb.signals.values()
        if any(p.search(folded) for p in s.patterns)
        or (other_languages and any(p.search(folded) for p in s.other_language_patterns))
    )


def find_life_event(text: str, kb: Knowledge) -> Optional[str]:
    """The first life event whose patterns occur in the text."""
    lowered = text.lower()
    for event in kb.life_events.values():
        if any(p.search(lowered) for p in event.patterns):
            return event.id
    return None


def mentioned_organisations(entities: Iterable[Mapping[str, Any]], kb: Knowledge) -> Tuple[str, ...]:
    """Catalogue ids of the organisations named in the text (from the spaCy entity ruler)."""
    found: List[str] = []
    for entity in entities:
        if entity.get("entity") != "organisatie":
            continue
        org = kb.org_variants.get(str(entity.get("value", "")).lower())
        if org and org not in found:
            found.append(org)
    return tuple(found)


def candidates(parse: Mapping[str, Any], kb: Knowledge) -> Tuple[Tuple[str, float], ...]:
    """The plausible topics / life events from the NLU ranking, best first."""
    ranking = [
        (r["name"], float(r.get("confidence") or 0.0))
        for r in parse.get("intent_ranking") or [parse.get("intent") or {}]
        if r.get("name") and is_candidate(r["name"], kb)
    ]
    if not ranking or ranking[0][1] < MIN_CONFIDENCE:
        return ()
    best = ranking[0][1]
    return tuple((name, conf) for name, conf in ranking[:MAX_CANDIDATES] if conf >= best - CANDIDATE_MARGIN)


def behind_life_event(parse: Mapping[str, Any], kb: Knowledge) -> List[str]:
    """The best topic in the ranking when a life event leads it: the concrete question the event
    brings ("ik word 18, moet ik nu zelf zorgtoeslag aanvragen"); it competes with the event in one
    ranking, so it is judged by a floor alone (TOPIC_BEHIND_EVENT in a short message, MIN_CONFIDENCE in
    a story), not by its distance to the event."""
    least = TOPIC_BEHIND_EVENT if is_short(parse) else MIN_CONFIDENCE
    for r in parse.get("intent_ranking") or ():
        if r.get("name") in kb.topics and float(r.get("confidence") or 0.0) >= least:
            return [str(r["name"])]
    return []


def is_short(parse: Mapping[str, Any]) -> bool:
    """A message of a few sentences, not a story (SHORT_MESSAGE_PARTS)."""
    return len(parse.get("parts") or ()) <= SHORT_MESSAGE_PARTS


def weak_beside_crisis(found: Tuple[Tuple[str, float], ...], parse: Mapping[str, Any], crisis: bool) -> bool:
    """Whether a short message is a crisis whose best topic is only a guess (TOPIC_BESIDE_CRISIS; in
    another language TOPIC_BESIDE_CRISIS_OTHER_LANGUAGE). The help line comes first either way."""
    if not (found and crisis and is_short(parse)):
        return False
    other = in_other_language(str(parse.get("text") or ""))
    return found[0][1] < (TOPIC_BESIDE_CRISIS_OTHER_LANGUAGE if other else TOPIC_BESIDE_CRISIS)


def concerns(parse: Mapping[str, Any], kb: Knowledge) -> Tuple[str, ...]:
    """Topics a part of the text is about (a sentence of a long story), best first: the meaning
    heads' `concerns` (bot/nlp/heads.py); none without them. The whole text's ranking must not rule
    the part's topic out (CONCERN_WHOLE_SHORT, CONCERN_WHOLE_STORY; not in its top ten is out too)."""
    whole_least = CONCERN_WHOLE_SHORT if is_short(parse) else CONCERN_WHOLE_STORY
    return parts_ranked(parse, kb, CONCERN_CONFIDENCE, float("inf"), whole_least)


def corroborated_concerns(parse: Mapping[str, Any], kb: Knowledge) -> Tuple[str, ...]:
    """Topics of a short message that a part and the whole text both rank, neither surely
    (CORROBORATED_PART, CORROBORATED_WHOLE): a second concern beside the main one. They add
    organisations, never the main topic."""
    if not is_short(parse):
        return ()
    return parts_ranked(parse, kb, CORROBORATED_PART, CONCERN_CONFIDENCE, CORROBORATED_WHOLE)


def parts_ranked(
    parse: Mapping[str, Any], kb: Knowledge, least: float, below: float, whole_least: float
) -> Tuple[str, ...]:
    """The topics of the heads' `concerns` a part ranks from `least` up to (not including) `below`,
    and the whole text's ranking at least `whole_least`, best first."""
    return tuple(
        str(c["name"])
        for c in parse.get("concerns") or ()
        if c.get("name") in kb.topics
        and least <= float(c.get("confidence") or 0.0) < below
        and whole_text_confidence(parse, str(c["name"])) >= whole_least
    )


def first_concern(parse: Mapping[str, Any], kb: Knowledge) -> Optional[str]:
    """The topic of the first part of a long text that is sure of one (as sure as a concern): a
    citizen names the main problem first, and the whole-text vector follows whichever problem takes
    the most words. Only when the whole text is not that sure of one topic itself (several problems
    mixed); None for a short text or without the meaning heads."""
    whole = (parse.get("intent_ranking") or [{}])[0]
    if float(whole.get("confidence") or 0.0) >= CONCERN_CONFIDENCE:
        return None
    for part in parse.get("parts") or ():
        if part.get("name") in kb.topics and float(part.get("confidence") or 0.0) >= CONCERN_CONFIDENCE:
            return str(part["name"])
    return None


# Asked up to three times for one message (two detector thresholds, the topic beside a crisis).
@lru_cache(maxsize=256)
def in_other_language(text: str) -> bool:
    """Whether a message is clearly written in one of our languages other than Dutch (lingua, with
    the conversation's own rule for "clearly": bot/intake/language.py). Non-native Dutch is Dutch."""
    found = detect(text)
    return found.clear and found.language != DUTCH


def detected_signals(parse: Mapping[str, Any], found: Tuple[str, ...], kb: Knowledge) -> Tuple[str, ...]:
    """Signals the detector heads add to the ones found by their words. The words are the floor: a
    detector adds its signal only when no signal of the same kind (crisis, urgent, the same one) is
    there already, so the citizen gets one help line, not two."""
    scores = parse.get("detectors") or {}
    added: List[str] = []
    for signal in kb.signals.values():
        score = float(scores.get(signal.detector) or 0.0) if signal.detector else 0.0
        if score < signal.threshold or (
            signal.threshold_other_language is not None
            and score < signal.threshold_other_language
            and in_other_language(str(parse.get("text") or ""))
        ):
            continue
        present = [kb.signals[s] for s in (*found, *added)]
        covered = signal.id in found or (
            any(s.crisis for s in present)
            if signal.crisis
            else signal.urgent and any(s.urgent for s in present)
        )
        if not covered:
            added.append(signal.id)
    return (*found, *added)


def sureness(parse: Mapping[str, Any], topic: str) -> float:
    """How sure the ranking is of a topic: for the whole text or its surest part."""
    scores = [*(parse.get("intent_ranking") or ()), *(parse.get("concerns") or ())]
    return max((float(r.get("confidence") or 0.0) for r in scores if r.get("name") == topic), default=0.0)


def whole_text_confidence(parse: Mapping[str, Any], topic: str) -> float:
    """How sure the ranking of the whole text is of a topic."""
    ranked = (r for r in parse.get("intent_ranking") or () if r.get("name") == topic)
    return max((float(r.get("confidence") or 0.0) for r in ranked), default=0.0)


def signalled_event(signals: Sequence[str], found_event: Optional[str], kb: Knowledge) -> Optional[LifeEvent]:
    """The life event a signal stands for (levensgebeurtenissen.yml `signalen`, `signalen_met_woorden`
    with the event found by its words): an energy cut-off is a debt problem in every language, an
    eviction when the text names the debt, though the ranking may read "energietoeslag" or "huisvesting"."""
    present = set(signals)
    for event in kb.life_events.values():
        with_words = found_event == event.id and present & set(event.signals_with_words)
        if present & set(event.signals) or with_words:
            return event
    return None


def takes_over(handler: str, topic: Optional[str], parse: Mapping[str, Any], kb: Knowledge) -> bool:
    """Whether a signalled life event's own topic comes before the ranking's: when there is none, or
    when the ranking's is of the same organisation and not sure ("energietoeslag?" asked outright
    stays)."""
    if handler == topic:
        return False
    if topic is None:
        return True
    same_desk = kb.topics[topic].organisations == kb.topics[handler].organisations
    return same_desk and sureness(parse, topic) < CONCERN_CONFIDENCE


def names_a_debt(text: str, signals: Sequence[str], kb: Knowledge) -> bool:
    """Whether the text says the citizen owes money or cannot pay (schuldeisers.yml `schuld`: its
    signals, in every language, or the words of the debts life event)."""
    debts = kb.debts
    if set(signals) & set(debts.signals):
        return True
    lowered = text.lower()
    return any(p.search(lowered) for p in kb.life_events[debts.event].patterns)


def owed_creditors(text: str, mentioned: Sequence[str], kb: Knowledge) -> Tuple[str, ...]:
    """The kinds of creditor a text names (schuldeisers.yml), for a text that names a debt: the words
    of each kind, or a named organisation that is one."""
    folded = fold(text)
    found = {
        c.id for c in kb.debts.creditors
        if (c.organisation in mentioned or any(p.search(folded) for p in c.patterns))
        and (not c.only_with or any(p.search(folded) for p in c.only_with))
    }
    owed = [c for c in kb.debts.creditors if c.id in found and c.part_of not in found]
    government = any(c.organisation for c in owed)
    return tuple(c.id for c in owed if not (government and c.collects_for_government))


@dataclass(frozen=True)
class Debt:
    """A debt a message names (`debt_of`), and what it says about schuldhulp's place."""

    event: LifeEvent  # the debts life event; its topic, schuldhulp, coordinates the creditors
    several: bool  # two or more creditors: schuldhulp first (000:34-40)
    private: bool  # owed to a landlord, energy company, …: schuldhulp's, not a government body's
    evicted: bool  # an eviction or cut-off over it: schuldhulp first whatever the ranking (rule 2)


def debt_of(text: str, signals: Sequence[str], mentioned: Sequence[str], kb: Knowledge) -> Optional[Debt]:
    """The debt a text names, if it names one (`names_a_debt`), with its creditors' kinds."""
    if not names_a_debt(text, signals, kb):
        return None
    owed = owed_creditors(text, mentioned, kb)
    private = {c.id for c in kb.debts.creditors if c.private} & set(owed)
    event = kb.life_events[kb.debts.event]
    return Debt(
        event=event,
        several=len(owed) > 1 or kb.debts.several in signals,
        private=bool(private),
        evicted=bool(private) and bool((set(event.signals) | set(event.signals_with_words)) & set(signals)),
    )


# A sentence ends at . ! ? ; (also Arabic ؟ and …) followed by a space or the end: "1.200 euro" and
# "bol.com" stay whole, and so does a list of creditors over several lines.
_SENTENCE = re.compile(r"(?:[^.!?;\u061f\u2026]|[.!?;\u061f\u2026](?!\s|$))+")


def several_owed_in_a_sentence(text: str, entities: Iterable[Mapping[str, Any]], kb: Knowledge) -> bool:
    """Whether a story names two or more creditors in sentences that themselves say there is a debt
    ("ik heb een achterstand bij de woningcorporatie en bij vattenfall"): a long story also names rent
    or energy as costs ("de huur is al meer dan ik verdien"), which a count over the whole text would
    take for debts. A story typed without full stops is one sentence: read so, the tuning sets' run-on
    stories of several debts got schuldhulp (docs/nlu-tuning.md, v24). Organisations count by the
    entity ruler's offsets (Rasa gives them)."""
    spans = [(e.get("start"), e.get("end"), e) for e in entities]
    owed: Tuple[str, ...] = ()
    for sentence in _SENTENCE.finditer(text):
        words = sentence.group(0)
        if not names_a_debt(words, find_signals(words, kb), kb):
            continue
        inside = [
            e for start, end, e in spans
            if isinstance(start, int) and isinstance(end, int)
            and sentence.start() <= start and end <= sentence.end()
        ]
        owed = merge(owed, owed_creditors(words, mentioned_organisations(inside, kb), kb))
        if len(owed) > 1:
            return True
    return False


def debt_first(debt: Debt, topic: Optional[str], parse: Mapping[str, Any], kb: Knowledge) -> bool:
    """Whether schuldhulp comes before the ranking's topic: always after an eviction or cut-off over
    a debt to a private creditor; with several creditors unless the whole text is sure of another
    question ("het CJIB legt beslag, nu kan ik de huur niet betalen"); for one private creditor as a
    signalled life event does (`takes_over`); for any other debt only when there is no topic at all."""
    handler = debt.event.topic
    if handler is None or handler == topic:
        return False
    if topic is None or debt.evicted:
        return True
    if debt.several:
        return whole_text_confidence(parse, topic) < CONCERN_CONFIDENCE
    return debt.private and takes_over(handler, topic, parse, kb)


def handled_first(event: LifeEvent, topics: Tuple[str, ...]) -> Tuple[str, ...]:
    """The candidates with the topic that handles a life event first, and without the event itself:
    the topic stands for it (one "Schulden" button, not two)."""
    if event.topic is None:
        return topics
    return merge((event.topic,), tuple(t for t in topics if t != LIFE_EVENT_PREFIX + event.id))


def message_signals(parse: Mapping[str, Any], kb: Knowledge) -> Tuple[str, ...]:
    """Every signal of a message: found by its words, then by the detector heads."""
    return detected_signals(parse, find_signals(str(parse.get("text") or ""), kb), kb)


def route(parse: Mapping[str, Any], kb: Knowledge, today: Optional[date] = None) -> Routing:
    """Route one message: the NLU parse (Rasa's parse result) plus rules over the text. With `today`,
    a weekday in the text ("voor vrijdag") is a deadline too."""
    text = str(parse.get("text") or "")
    intent = (parse.get("intent") or {}).get("name") or ""
    found = candidates(parse, kb)
    signals = message_signals(parse, kb)
    crisis = any(kb.signals[s].crisis for s in signals)
    if weak_beside_crisis(found, parse, crisis):
        found = ()
    mentioned = mentioned_organisations(parse.get("entities") or (), kb)
    best = found[0][0] if found else None
    confidence = found[0][1] if found else float((parse.get("intent") or {}).get("confidence") or 0.0)
    # Several concerns in one text: the main one first (the first sure part of a long text, else the
    # whole text's best), then every topic a part of the text is about.
    parts_topics = concerns(parse, kb)
    first = first_concern(parse, kb)
    topics = merge((first,) if first else (), tuple(name for name, _ in found), parts_topics)
    seconded = corroborated_concerns(parse, kb)

    worded_event = find_life_event(text, kb)
    life_event = worded_event
    led_by_event = best is not None and best.startswith(LIFE_EVENT_PREFIX)
    if best and led_by_event:
        life_event = best[len(LIFE_EVENT_PREFIX) :]
    # The concrete question: the best topic in the ranking, also behind a life event ("mijn man is
    # overleden en nu is mijn toeslag gestopt"), else the best topic of a part of the text.
    ranked_topics = [name for name, _ in found if not name.startswith(LIFE_EVENT_PREFIX)]
    if led_by_event and not ranked_topics:
        ranked_topics = behind_life_event(parse, kb)
    handling = None  # a life event that a topic handles itself: schulden → schuldhulp
    if life_event and led_by_event:
        handling = kb.life_events[life_event].topic
    topic = next(
        iter([*([first] if first else []), *ranked_topics, *parts_topics, *([handling] if handling else [])]),
        None,
    )
    # Not beside a crisis (its help line first), and not in a story, whose main concern is its first
    # sure part (`first_concern`): a cut-off can be one problem of many there.
    calm_and_short = not crisis and is_short(parse)
    signalled = signalled_event(signals, worded_event, kb) if calm_and_short else None
    if signalled is not None:
        life_event = life_event or signalled.id
        handler = signalled.topic
        if handler is not None and takes_over(handler, topic, parse, kb):
            topic = handler
            topics = handled_first(signalled, topics)
    # Debts the gemeente's schuldhulp handles (`debt_first`), also beside a crisis: the text says
    # so, it is no guess. In a story only when it says there are several creditors: in those words
    # ("schulden bij meerdere instanties") or in a sentence that names the debt and them; a long
    # story names rent or energy as costs too, not as debts.
    debt = debt_of(text, signals, mentioned, kb)
    if debt is not None and (
        is_short(parse)
        or kb.debts.several in signals
        or several_owed_in_a_sentence(text, parse.get("entities") or (), kb)
    ):
        schuldhulp_first = debt_first(debt, topic, parse, kb)
        if schuldhulp_first:
            topic = debt.event.topic
            topics = handled_first(debt.event, topics)
        if schuldhulp_first or debt.private or debt.several:
            life_event = life_event or debt.event.id
        if debt.several and kb.debts.several not in signals:
            signals = (*signals, kb.debts.several)  # the stroomschema need not ask it again
    if topic:
        # Beside a main topic only: two unsure readings of an open life-event question are no topic.
        parts_topics = merge(parts_topics, seconded)
        topics = merge(topics, seconded)
    dependent = False
    if topic:
        organisations = merge(
            kb.topics[topic].organisations, *(kb.topics[t].organisations for t in parts_topics), mentioned
        )
    elif life_event:
        # An open life-event question ("wat moet ik nu regelen"): the life event's organisations.
        event = kb.life_events[life_event]
        organisations = merge(event.organisations, mentioned)
        dependent = event.afhankelijk
    else:
        organisations = mentioned
    organisations = merge(organisations, *(kb.signals[s].organisations for s in signals))
    if topic and life_event:
        # A life event behind a concrete question makes the organisations' answers depend on each other.
        dependent = kb.life_events[life_event].afhankelijk and len(organisations) > 1
    concrete = merge((topic,) if topic else (), parts_topics)
    dependent = dependent or kb.depend_on_each_other(concrete)
    urgent = any(kb.signals[s].urgent for s in signals)
    return Routing(
        topic=topic,
        organisations=organisations,
        life_event=life_event,
        urgent=urgent,
        wants_human=intent == WANTS_HUMAN_INTENT or WANTS_HUMAN_SIGNAL in signals,
        question_type=question_type(organisations, dependent),
        confidence=confidence,
        signals=signals,
        candidates=topics,
        crisis=crisis,
        deadline_days=deadline_days(text, today),
        concerns=parts_topics,
        mentioned=mentioned,
    )


SWITCH_CONFIDENCE = 0.75  # a new topic this sure interrupts an open question


def is_strong_new_topic(kb: Knowledge, parse: Mapping[str, Any]) -> bool:
    """NLU is this sure the message is a topic or life event: it interrupts an open question."""
    intent = parse.get("intent") or {}
    name = intent.get("name") or ""
    is_topic = name in kb.topics or name.removeprefix(LIFE_EVENT_PREFIX) in kb.life_events
    return is_topic and float(intent.get("confidence") or 0.0) >= SWITCH_CONFIDENCE
