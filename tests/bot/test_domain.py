"""The domain, NLU data, rules, knowledge files and catalogue agree with each other."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Set

import pytest
import yaml

from bot.intake.knowledge import knowledge
from tests.bot.helpers import ROOT, domain

SHARED_CATALOGUE = ROOT.parent / "shared" / "catalogue.yml"
GENERAL_INTENTS = {
    "begroeten", "afscheid", "bedankt", "bevestigen", "ontkennen", "past_niet", "medewerker",
    "buiten_bereik", "status_vraag", "verwijder_gegevens", "kies",
}
# Sent by the handover service through trigger_intent; never typed, so no NLU examples.
SERVICE_INTENTS = {
    "medewerker_gekoppeld",
    "medewerker_bericht",
    "wachtrij_update",
    "terug_naar_bot",
    "afspraak_herinnering",  # the appointment reminder (bot/domain/afspraken.yml)
}


def catalogue_intents() -> Set[str]:
    kb = knowledge()
    return set(kb.topics) | {f"leven.{e}" for e in kb.life_events}


def nlu_examples() -> Dict[str, List[str]]:
    """The examples per intent in bot/data/nlu/ (an intent may have examples in several files, as
    the other languages in talen_*.yml; Rasa merges them)."""
    examples: Dict[str, List[str]] = {}
    for path in (ROOT / "bot" / "data" / "nlu").glob("*.yml"):
        for intent, texts in _examples_in(path).items():
            examples.setdefault(intent, []).extend(texts)
    return examples


def test_the_intents_are_the_catalogue_plus_the_general_ones() -> None:
    # The domain files list only the intents without examples; bot/importer.py adds the NLU files'
    # intents when Rasa trains (tests/bot/test_policy.py).
    every = catalogue_intents() | GENERAL_INTENTS | SERVICE_INTENTS
    assert set(domain()["intents"]) | set(nlu_examples()) == every


def test_the_domain_files_list_only_the_intents_without_examples() -> None:
    assert set(domain()["intents"]) == {"kies"} | SERVICE_INTENTS
    assert set(domain()["intents"]).isdisjoint(nlu_examples())


def test_every_intent_has_training_examples_except_button_only_ones() -> None:
    examples = nlu_examples()
    missing = (catalogue_intents() | GENERAL_INTENTS) - {"kies"} - set(examples)
    assert missing == set()
    too_few = {i: len(examples[i]) for i in catalogue_intents() if len(examples[i]) < 20}
    assert too_few == {}


OTHER_LANGUAGES = ("en", "pl", "tr", "ar", "uk")
MIN_PER_LANGUAGE = 15  # issue 15, item 2: examples per topic per language


def _examples_in(path: Any) -> Dict[str, List[str]]:
    blocks = yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []
    return {
        b["intent"]: [line.strip()[1:].strip() for line in b["examples"].splitlines() if line.strip()]
        for b in blocks if "intent" in b
    }


@pytest.mark.parametrize("language", OTHER_LANGUAGES)
def test_every_topic_life_event_and_request_for_a_person_has_fifteen_examples_per_language(
    language: str,
) -> None:
    examples = _examples_in(ROOT / "bot" / "data" / "nlu" / f"talen_{language}.yml")
    too_few = {
        intent: len(examples.get(intent, []))
        for intent in sorted(catalogue_intents() | {"medewerker"})
        if len(examples.get(intent, [])) < MIN_PER_LANGUAGE
    }
    assert too_few == {}


@pytest.mark.parametrize("language", OTHER_LANGUAGES)
def test_the_examples_of_a_language_file_are_in_that_language(language: str) -> None:
    from bot.intake.language import detect

    examples = _examples_in(ROOT / "bot" / "data" / "nlu" / f"talen_{language}.yml")
    # Four words of evidence or more: below that lingua's guess is no judgement. A few messages
    # full of Dutch words ("huishoudelijke hulp", "zorgovereenkomst") are read as Dutch, as citizens
    # write them; a misfiled block would be far more than 3 %.
    judged = [detect(text) for texts in examples.values() for text in texts]
    judged = [d for d in judged if d.words >= 4]
    share = sum(d.language == language for d in judged) / len(judged)
    assert share >= 0.97


def _rules() -> List[Dict[str, Any]]:
    rules: List[Dict[str, Any]] = []
    for path in sorted((ROOT / "bot" / "data" / "rules").glob("*.yml")):
        rules += yaml.safe_load(path.read_text(encoding="utf-8")).get("rules") or []
    return rules


def test_the_dialogue_needs_no_rule_per_intent() -> None:
    # bot/policy.py runs action_turn after every message; the conversation decides what it means.
    lines = [
        line
        for path in (ROOT / "bot" / "data" / "rules").glob("*.yml")
        for line in path.read_text(encoding="utf-8").splitlines()
        if re.match(r"\s*-?\s*intent:", line)
    ]
    assert 0 < len(lines) <= 10
    actions = {step["action"] for rule in _rules() for step in rule["steps"] if "action" in step}
    assert actions == {"action_turn"}
    assert not any("condition" in rule for rule in _rules())  # no routing by state in Rasa


def test_the_only_custom_action_is_the_turn() -> None:
    assert domain()["actions"] == ["action_turn"]


def _responses_named_in_code() -> Set[str]:
    names: Set[str] = set()
    for path in (ROOT / "bot").rglob("*.py"):
        names |= set(re.findall(r'"(utter_[a-z_0-9]+)"', path.read_text(encoding="utf-8")))
    engine = (ROOT / "bot" / "intake" / "engine.py").read_text(encoding="utf-8")
    if 'f"utter_advies_vraagtype_{qtype}"' in engine:
        names |= {"utter_advies_vraagtype_2", "utter_advies_vraagtype_3"}
    # A crisis signal names the response with its help line (bot/knowledge/signalen.yml, hulplijn).
    names |= {str(s.hulplijn) for s in knowledge().signals.values() if s.crisis}
    return names


def _responses_named_in_rules() -> Set[str]:
    names: Set[str] = set()
    for path in (ROOT / "bot" / "data" / "rules").glob("*.yml"):
        names |= set(re.findall(r"action: (utter_[a-z_0-9]+)", path.read_text(encoding="utf-8")))
    return names


def test_every_response_the_code_names_exists() -> None:
    assert _responses_named_in_code() - set(domain()["responses"]) == set()


def test_every_response_in_the_domain_is_used() -> None:
    unused = set(domain()["responses"]) - _responses_named_in_code() - _responses_named_in_rules()
    assert unused == set()


def test_every_action_in_the_domain_is_implemented() -> None:
    from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    executor.register_package("bot.actions")
    assert set(domain()["actions"]) <= set(executor.actions)


def test_knowledge_has_labels_for_every_topic_and_life_event() -> None:
    kb = knowledge()
    assert all(t.label and t.knop for t in kb.topics.values())
    assert all(e.label and e.knop for e in kb.life_events.values())
    used = {o for t in kb.topics.values() for o in t.organisations}
    brought_by_signals = {o for s in kb.signals.values() for o in s.organisations}
    assert set(kb.organisations) == used | {"juridisch_loket"}
    assert brought_by_signals and brought_by_signals <= set(kb.organisations)


def test_every_organisation_has_a_public_contact_route() -> None:
    for org in knowledge().organisations.values():
        assert org.contact.startswith("https://"), org.id
        assert org.website.startswith("https://"), org.id


def test_the_menu_lists_every_topic_and_life_event_once() -> None:
    kb = knowledge()
    items = [item for group in kb.menu for item in group.items]
    expected = {f"onderwerp:{t}" for t in kb.topics} | {f"leven:{e}" for e in kb.life_events}
    assert sorted(items) == sorted(expected)
    assert len(kb.menu) <= 10 and all(len(g.items) <= 9 for g in kb.menu)  # plus a "Terug" row


@pytest.mark.skipif(not SHARED_CATALOGUE.exists(), reason="shared/catalogue.yml is not next to this checkout")
def test_the_catalogue_copy_has_the_shared_ids() -> None:
    ours = yaml.safe_load((ROOT / "bot" / "knowledge" / "catalogus.yml").read_text(encoding="utf-8"))
    shared = yaml.safe_load(SHARED_CATALOGUE.read_text(encoding="utf-8"))
    assert ours == shared


def test_the_gemeente_can_be_renamed_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.intake.knowledge import load_knowledge

    monkeypatch.setenv("GEMEENTE_NAAM", "Gemeente Zuidstad")
    monkeypatch.setenv("GEMEENTE_TELEFOON", "14 0123")
    kb = load_knowledge()
    assert kb.organisations["gemeente"].naam == "Gemeente Zuidstad"
    assert kb.organisations["gemeente"].telefoon == "14 0123"


def test_the_gemeente_privacy_page_is_a_setting_without_a_demo_page(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.intake.knowledge import load_knowledge

    # No dead demo link: the demo municipality has no privacy page until an installation names one.
    monkeypatch.delenv("GEMEENTE_PRIVACY_URL", raising=False)
    assert load_knowledge().organisations["gemeente"].privacy is None
    monkeypatch.setenv("GEMEENTE_PRIVACY_URL", "https://www.zuidstad.nl/privacy")
    assert load_knowledge().organisations["gemeente"].privacy == "https://www.zuidstad.nl/privacy"
