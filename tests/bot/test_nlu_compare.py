"""`make nlu-compare` (bot/evaluate.py --compare): each variant changes one thing of config.yml and
leaves a pipeline Rasa can build. Building the graph checks every component name and its config
without training anything."""

from __future__ import annotations

import copy
import importlib
from typing import Any, Dict

import pytest
import yaml

from bot.evaluate import CONFIG, variants


def _components(config: Dict[str, Any]) -> list:
    return [c["name"].rsplit(".", 1)[-1] for c in config["pipeline"]]


BASE = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", [name for name, _ in variants(BASE)])
def test_each_variant_builds_a_rasa_graph(name: str) -> None:
    from rasa.engine.recipes.recipe import Recipe
    from rasa.shared.data import TrainingType

    for module in ("bot.nlp.featurizer", "bot.nlp.heads"):  # registers the custom components
        importlib.import_module(module)

    change = dict(variants(BASE))[name]
    config = copy.deepcopy(BASE)
    change(config)
    recipe = Recipe.recipe_for_name(config.get("recipe"))
    graph = recipe.graph_config_for_recipe(config, {}, training_type=TrainingType.NLU)
    schemas = (graph.train_schema, graph.predict_schema)
    built = {node.uses.__name__ for schema in schemas for node in schema.nodes.values()}
    assert set(_components(config)) <= built


def test_the_variants_differ_from_the_config_in_what_they_say() -> None:
    found = {name: copy.deepcopy(BASE) for name, _ in variants(BASE)}
    for name, change in variants(BASE):
        change(found[name])
    assert found["config.yml"] == BASE
    only_e5 = found["alleen e5 (zonder n-grammen)"]["pipeline"]
    assert [c["ngram_weight"] for c in only_e5 if c["name"].endswith("MeaningClassifier")] == [0.0]
    assert "SentenceEmbeddingFeaturizer" not in _components(found["alleen n-grammen (zonder e5)"])
    diet = _components(found["DIET op n-grammen (tot v13)"])
    assert "DIETClassifier" in diet and "MeaningClassifier" not in diet
