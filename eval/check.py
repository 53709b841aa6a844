"""The evaluation set's own checks: `python -m eval.check` (exit 1 on a problem).

A pytest file can call `check()` and assert that `result.problems` is empty. What is checked:
- every item has all label fields with the right types, and ids are unique over all parts;
- every topic, organisation and life-event id exists in bot/knowledge/catalogus.yml, and the labels
  agree with each other (a topic's organisations are in `organisations`; question_type matches the
  number of organisations; crisis implies urgent; a deadline within 14 days implies urgent);
- the counts the set promises (openings, crisis, urgent, wants-a-person, languages, stories, coverage
  of every topic, organisation and life event; the multilingual set: 25 per language, urgent and
  wants-a-person in each language, every topic);
- NO OVERLAP WITH THE TRAINING DATA (bot/data/nlu/*.yml), after normalising (lowercase, punctuation
  stripped): no text equals a training example; no text of 4 or more words is contained in one; no
  training example of 4 or more words is contained in a text; no word-trigram Jaccard similarity of
  0.8 or more. Every opening, every message in another language and every story turn is checked.
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from eval.dataset import Catalogue, Item, load_all, load_catalogue, normalise, training_examples

# What the set must contain (see eval/README.md).
MIN_OPENINGS = 300
MIN_CRISIS = 15
MIN_URGENT = 50
MIN_WANTS_PERSON = 40
MIN_LANGUAGES = 40
LANGUAGES = ("en", "pl", "tr", "ar", "uk")
MIN_PER_LANGUAGE = 5
MIN_STORIES = 60
MIN_TURNS, MAX_TURNS = 2, 6
MIN_PER_TOPIC = 2  # labelled occurrences of every catalogue topic among the Dutch openings
MIN_PER_ORGANISATION = 3
MIN_PER_LIFE_EVENT = 3
MIN_ONE_WORD = 5
MIN_MULTI_TOPIC = 20
MIN_PER_QUESTION_TYPE = 10  # of type 2 and of type 3 among the Dutch openings
# The multilingual set (eval/multilingual.yml, issue 15): per language of LANGUAGES at least this many
# messages, and at least one urgent and one wants-a-person message; all catalogue topics together.
MIN_MULTILINGUAL_PER_LANGUAGE = 25
MULTILINGUAL_LANGUAGES = ("nl", *LANGUAGES)

# Overlap with the training data.
CONTAINED_MIN_WORDS = 4  # a text this long must not be contained in a training example
TRAINING_CONTAINED_MIN_WORDS = 4  # a training example this long must not be contained in a text
JACCARD_MAX = 0.8
URGENT_DEADLINE_DAYS = 14


@dataclass
class CheckResult:
    counts: Dict[str, int] = field(default_factory=dict)
    problems: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _trigrams(words: Sequence[str]) -> Set[Tuple[str, ...]]:
    return {tuple(words[i:i + 3]) for i in range(len(words) - 2)}


def check_labels(item: Item, cat: Catalogue) -> List[str]:
    """Problems with one item's labels (ids, types, internal consistency)."""
    p: List[str] = []
    lab = item.labels
    where = f"{item.part} {item.id}"
    if not all(t.strip() for t in item.turns):
        p.append(f"{where}: empty text")
    if not all(isinstance(flag, bool) for flag in (lab.urgent, lab.crisis, lab.wants_person)):
        p.append(f"{where}: urgent, crisis and wants_person must be true/false")
    for t in lab.topics:
        if t not in cat.topics:
            p.append(f"{where}: unknown topic {t!r}")
    if len(set(lab.topics)) != len(lab.topics):
        p.append(f"{where}: a topic is listed twice")
    for o in lab.organisations:
        if o not in cat.organisations:
            p.append(f"{where}: unknown organisation {o!r}")
    if len(set(lab.organisations)) != len(lab.organisations):
        p.append(f"{where}: an organisation is listed twice")
    if lab.life_event is not None and lab.life_event not in cat.life_events:
        p.append(f"{where}: unknown life event {lab.life_event!r}")
    for t in lab.topics:
        missing = [o for o in cat.topics.get(t, ()) if o not in lab.organisations]
        if missing:
            p.append(f"{where}: topic {t} is handled by {', '.join(missing)}, missing from organisations")
    n = len(lab.organisations)
    expected = {0: (None,), 1: (1,)}.get(n, (2, 3))
    if lab.question_type not in expected:
        p.append(f"{where}: question_type {lab.question_type} with {n} organisation(s); "
                 f"expected one of {expected}")
    if lab.crisis and not lab.urgent:
        p.append(f"{where}: crisis must also be urgent")
    if lab.deadline_days is not None:
        days = lab.deadline_days
        if not isinstance(days, int) or isinstance(days, bool) or days < 0:
            p.append(f"{where}: deadline_days must be a whole number of days >= 0 or null")
        elif lab.deadline_days <= URGENT_DEADLINE_DAYS and not lab.urgent:
            p.append(f"{where}: a deadline within {URGENT_DEADLINE_DAYS} days must be urgent")
    if item.part == "openings" and lab.language != "nl":
        p.append(f"{where}: Dutch openings have language nl (other languages go under `languages`)")
    if item.part == "languages" and (lab.language == "nl" or not lab.language):
        p.append(f"{where}: items under `languages` need a language code other than nl")
    if item.part == "multilingual" and lab.language not in MULTILINGUAL_LANGUAGES:
        p.append(f"{where}: language {lab.language!r} is not one of {', '.join(MULTILINGUAL_LANGUAGES)}")
    if item.part == "stories":
        if not item.source:
            p.append(f"{where}: source (persona or seed reference) missing")
        if not MIN_TURNS <= len(item.turns) <= MAX_TURNS:
            p.append(f"{where}: {len(item.turns)} turns; a story has {MIN_TURNS}-{MAX_TURNS}")
        if lab.language != "nl":
            p.append(f"{where}: stories are Dutch (language nl)")
    return p


def overlap_problems(
    texts: Iterable[Tuple[str, str]], training: Sequence[Tuple[str, str]]
) -> Tuple[List[str], float]:
    """Texts (where, text) that equal, are contained in, contain or nearly duplicate a training example,
    and the highest word-trigram Jaccard similarity found between any text and any example."""
    train = []
    for name, example in training:
        norm = normalise(example)
        if norm:
            train.append((name, example, norm, norm.split()))
    exact: Dict[str, Tuple[str, str]] = {}
    index: Dict[Tuple[str, ...], List[int]] = defaultdict(list)
    grams: List[Set[Tuple[str, ...]]] = []
    for i, (name, example, norm, words) in enumerate(train):
        exact.setdefault(norm, (name, example))
        g = _trigrams(words)
        grams.append(g)
        for t in g:
            index[t].append(i)
    problems = []
    highest = 0.0
    for where, text in texts:
        norm = normalise(text)
        if not norm:
            continue
        words = norm.split()
        if norm in exact:
            name, example = exact[norm]
            problems.append(f"{where}: equals training example {example!r} ({name})")
            continue
        padded = f" {norm} "
        hit: Optional[str] = None
        for name, example, tnorm, twords in train:
            if len(words) >= CONTAINED_MIN_WORDS and padded in f" {tnorm} ":
                hit = f"is contained in training example {example!r} ({name})"
                break
            if len(twords) >= TRAINING_CONTAINED_MIN_WORDS and f" {tnorm} " in padded:
                hit = f"contains training example {example!r} ({name})"
                break
        if hit is None:
            mine = _trigrams(words)
            candidates = {i for t in mine for i in index.get(t, ())}
            for i in sorted(candidates):
                union = len(mine | grams[i])
                jac = len(mine & grams[i]) / union if union else 0.0
                highest = max(highest, jac)
                if jac >= JACCARD_MAX:
                    hit = (f"nearly duplicates training example {train[i][1]!r} "
                           f"({train[i][0]}; trigram Jaccard {jac:.2f})")
                    break
        if hit:
            problems.append(f"{where}: {hit}")
    return problems, highest


def _texts(parts: Dict[str, List[Item]]) -> List[Tuple[str, str]]:
    out = []
    for part, items in parts.items():
        for item in items:
            for n, turn in enumerate(item.turns, 1):
                where = f"{part} {item.id}" + (f" turn {n}" if part == "stories" else "")
                out.append((where, turn))
    return out


def _at_least(counts: Dict[str, int], key: str, minimum: int, problems: List[str]) -> None:
    if counts.get(key, 0) < minimum:
        problems.append(f"count {key} = {counts.get(key, 0)}, required at least {minimum}")


def check() -> CheckResult:
    result = CheckResult()
    cat = load_catalogue()
    try:
        parts = load_all()
    except (ValueError, KeyError, TypeError) as e:
        result.problems.append(f"cannot load the evaluation set: {e}")
        return result
    problems = result.problems

    # ids unique over all parts; labels valid
    ids = Counter(item.id for items in parts.values() for item in items)
    problems += [f"id {i!r} used {n} times" for i, n in ids.items() if n > 1]
    for items in parts.values():
        for item in items:
            problems += check_labels(item, cat)

    # duplicates within the set
    seen: Dict[str, str] = {}
    for where, text in _texts(parts):
        norm = normalise(text)
        if norm in seen:
            problems.append(f"{where}: same text as {seen[norm]}")
        else:
            seen[norm] = where

    # counts
    openings, languages, stories = parts["openings"], parts["languages"], parts["stories"]
    c = result.counts
    c["openings"] = len(openings)
    c["openings_crisis"] = sum(i.labels.crisis for i in openings)
    c["openings_urgent"] = sum(i.labels.urgent for i in openings)
    c["openings_wants_person"] = sum(i.labels.wants_person for i in openings)
    c["openings_deadline_labelled"] = sum(i.labels.deadline_days is not None for i in openings)
    c["openings_multi_topic"] = sum(len(i.labels.topics) >= 2 for i in openings)
    c["openings_no_topic"] = sum(not i.labels.topics for i in openings)
    c["openings_one_word"] = sum(len(normalise(i.turns[0]).split()) == 1 for i in openings)
    for qt in (1, 2, 3):
        c[f"openings_question_type_{qt}"] = sum(i.labels.question_type == qt for i in openings)
    c["openings_with_life_event"] = sum(i.labels.life_event is not None for i in openings)
    c["languages"] = len(languages)
    for lang, n in sorted(Counter(i.labels.language for i in languages).items()):
        c[f"languages_{lang}"] = n
    c["stories"] = len(stories)
    c["story_turns"] = sum(len(i.turns) for i in stories)
    c["stories_urgent"] = sum(i.labels.urgent for i in stories)
    c["stories_crisis"] = sum(i.labels.crisis for i in stories)
    c["stories_wants_person"] = sum(i.labels.wants_person for i in stories)
    c["stories_question_type_3"] = sum(i.labels.question_type == 3 for i in stories)

    for key, minimum in (
        ("openings", MIN_OPENINGS), ("openings_crisis", MIN_CRISIS), ("openings_urgent", MIN_URGENT),
        ("openings_wants_person", MIN_WANTS_PERSON), ("languages", MIN_LANGUAGES), ("stories", MIN_STORIES),
        ("openings_one_word", MIN_ONE_WORD), ("openings_multi_topic", MIN_MULTI_TOPIC),
        ("openings_question_type_2", MIN_PER_QUESTION_TYPE),
        ("openings_question_type_3", MIN_PER_QUESTION_TYPE),
    ):
        _at_least(c, key, minimum, problems)
    for lang in LANGUAGES:
        _at_least(c, f"languages_{lang}", MIN_PER_LANGUAGE, problems)

    # the multilingual set: enough per language, urgent and wants-a-person in each, every topic
    multilingual = parts.get("multilingual", [])
    c["multilingual"] = len(multilingual)
    for lang in MULTILINGUAL_LANGUAGES:
        mine = [i for i in multilingual if i.labels.language == lang]
        c[f"multilingual_{lang}"] = len(mine)
        c[f"multilingual_{lang}_urgent"] = sum(i.labels.urgent for i in mine)
        c[f"multilingual_{lang}_wants_person"] = sum(i.labels.wants_person for i in mine)
    for lang in LANGUAGES:
        _at_least(c, f"multilingual_{lang}", MIN_MULTILINGUAL_PER_LANGUAGE, problems)
        _at_least(c, f"multilingual_{lang}_urgent", 1, problems)
        _at_least(c, f"multilingual_{lang}_wants_person", 1, problems)
    multilingual_topics = {t for i in multilingual for t in i.labels.topics}
    problems += [f"topic {t} does not occur in the multilingual set" for t in cat.topics
                 if multilingual and t not in multilingual_topics]

    # coverage of the catalogue by the Dutch openings
    topic_n = Counter(t for i in openings for t in i.labels.topics)
    org_n = Counter(o for i in openings for o in i.labels.organisations)
    event_n = Counter(i.labels.life_event for i in openings if i.labels.life_event)
    problems += [f"topic {t} labelled {topic_n[t]} time(s) in the openings, required {MIN_PER_TOPIC}"
                 for t in cat.topics if topic_n[t] < MIN_PER_TOPIC]
    problems += [f"organisation {o} labelled {org_n[o]} time(s) in the openings, "
                 f"required {MIN_PER_ORGANISATION}"
                 for o in cat.organisations if org_n[o] < MIN_PER_ORGANISATION]
    problems += [f"life event {e} labelled {event_n[e]} time(s) in the openings, "
                 f"required {MIN_PER_LIFE_EVENT}"
                 for e in cat.life_events if event_n[e] < MIN_PER_LIFE_EVENT]
    c["catalogue_topics_covered"] = sum(topic_n[t] > 0 for t in cat.topics)
    c["catalogue_topics"] = len(cat.topics)

    # no overlap with the training data
    training = training_examples()
    c["training_examples_compared"] = len(training)
    overlap, highest = overlap_problems(_texts(parts), training)
    problems += overlap
    c["max_trigram_jaccard_pct"] = round(100 * highest)
    return result


def main() -> int:
    result = check()
    width = max(len(k) for k in result.counts) if result.counts else 0
    for key, value in result.counts.items():
        print(f"{key:<{width}}  {value}")
    if result.problems:
        print(f"\n{len(result.problems)} problem(s):", file=sys.stderr)
        for problem in result.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print("\nevaluation set OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
