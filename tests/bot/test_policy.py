"""Rasa's part of the dialogue: one policy that runs action_turn after every message (bot/policy.py),
and the importer that puts the NLU files' intents in the domain (bot/importer.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List

import pytest
import yaml

from tests.bot.helpers import ROOT

TURN = "action_turn"


@pytest.fixture(scope="module")
def trained_domain() -> Any:
    """The domain as `rasa train` builds it (config.yml selects this importer)."""
    from bot.importer import NluIntentsImporter

    importer = NluIntentsImporter(
        config_file=str(ROOT / "config.yml"),
        domain_path=str(ROOT / "bot" / "domain"),
        training_data_paths=[str(ROOT / "bot" / "data")],
    )
    return importer.get_domain(), importer.get_nlu_data()


def dialogue(*events: Any) -> Any:
    from rasa.shared.core.trackers import DialogueStateTracker

    return DialogueStateTracker.from_events("burger-42", list(events))


def user(text: str = "hallo", intent: str = "begroeten") -> Any:
    from rasa.shared.core.events import UserUttered

    return UserUttered(text, {"name": intent, "confidence": 0.9})


def action(name: str) -> Any:
    from rasa.shared.core.events import ActionExecuted

    return ActionExecuted(name)


def test_after_a_user_message_the_turn_runs_and_after_any_action_the_bot_listens() -> None:
    from rasa.shared.core.events import BotUttered, SessionStarted, SlotSet, UserUttered

    from bot.policy import next_action

    start = [action("action_session_start"), SessionStarted(), action("action_listen")]
    assert next_action(dialogue()) == "action_listen"
    assert next_action(dialogue(*start)) == "action_listen"
    assert next_action(dialogue(*start, user())) == TURN
    # slot changes and the bot's messages are no actions: the message still waits for its turn
    assert next_action(dialogue(*start, user(), SlotSet("handover_actief", True))) == TURN
    done = [*start, user(), action(TURN), BotUttered("Welkom"), SlotSet("intake_fase", "bevestigen")]
    assert next_action(dialogue(*done)) == "action_listen"
    assert next_action(dialogue(*done, action("action_listen"))) == "action_listen"
    # every intent, also a button, an event of the handover service, or an unknown one
    for latest in (user("/kies", "kies"), user("?", "nlu_fallback"),
                   UserUttered.create_external("medewerker_bericht", [], "socketio")):
        assert next_action(dialogue(*done, action("action_listen"), latest)) == TURN


def test_the_policy_predicts_with_certainty_from_the_domain(tmp_path: Path, trained_domain: Any) -> None:
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    from bot.policy import TurnPolicy

    domain, _ = trained_domain
    policy = TurnPolicy.create(
        TurnPolicy.get_default_config(),
        LocalModelStorage(tmp_path),
        Resource("turn_policy"),
        ExecutionContext(GraphSchema({}), "test"),
    )

    def predicted(*events: Any) -> str:
        prediction = policy.predict_action_probabilities(dialogue(*events), domain)
        probabilities: List[float] = prediction.probabilities
        best = max(range(len(probabilities)), key=probabilities.__getitem__)
        assert probabilities[best] == 1.0 and sum(probabilities) == 1.0
        return str(domain.action_names_or_texts[best])

    assert predicted(action("action_listen"), user()) == TURN
    assert predicted(action("action_listen"), user(), action(TURN)) == "action_listen"


def test_config_uses_only_the_turn_policy_and_the_importer() -> None:
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    assert [p["name"] for p in config["policies"]] == ["bot.policy.TurnPolicy"]
    assert [i["name"] for i in config["importers"]] == ["bot.importer.NluIntentsImporter"]


def test_the_trained_domain_has_every_nlu_intent_although_the_domain_files_list_only_the_others(
    trained_domain: Any,
) -> None:
    from tests.bot.helpers import domain as domain_files

    domain, nlu = trained_domain
    with_examples = set(nlu.intents)
    listed = set(domain_files()["intents"])
    assert with_examples and listed
    assert with_examples <= set(domain.intents)
    assert listed <= set(domain.intents)
    assert listed.isdisjoint(with_examples), "an intent with examples needs no second list in bot/domain"


def test_the_trained_domain_keeps_the_domain_files_responses_slots_and_action(trained_domain: Any) -> None:
    from tests.bot.helpers import domain as domain_files

    domain, _ = trained_domain
    assert set(domain_files()["responses"]) <= set(domain.responses)
    assert set(domain_files()["slots"]) == {s.name for s in domain.slots} - {"session_started_metadata"}
    assert set(domain.user_actions) - set(domain.responses) == {TURN}  # the one custom action
