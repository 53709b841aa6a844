"""The tuning sets in dev/ (README there): valid catalogue ids and labels by the rules of eval/, and
no text that repeats a training example, as for the evaluation set (eval/check.py). They choose
thresholds; training never reads them."""

from __future__ import annotations

from typing import Dict, List

import pytest

from eval.check import _texts, check_labels, load_catalogue, overlap_problems
from eval.dataset import Item, load_multilingual, load_openings, load_stories, training_examples
from tests.bot.helpers import ROOT

DEV = ROOT / "dev"


def _dev_sets() -> Dict[str, List[Item]]:
    openings, languages = load_openings(DEV / "openings.yml")
    return {
        "openings": openings,
        "languages": languages,
        "stories": load_stories(DEV / "stories.yml"),
        "urgent_stories": load_stories(DEV / "urgent_stories.yml"),
        "multilingual": load_multilingual(DEV / "multilingual.yml"),
        "multilingual_recall": load_multilingual(DEV / "multilingual_recall.yml"),
    }


@pytest.fixture(scope="module")
def dev_sets() -> Dict[str, List[Item]]:
    return _dev_sets()


def test_every_tuning_set_is_labelled_with_catalogue_ids(dev_sets: Dict[str, List[Item]]) -> None:
    cat = load_catalogue()
    problems = [p for items in dev_sets.values() for item in items for p in check_labels(item, cat)]
    assert problems == []
    assert min(len(items) for items in dev_sets.values()) >= 30


def test_no_tuning_text_repeats_a_training_example(dev_sets: Dict[str, List[Item]]) -> None:
    """Stricter than a tuning set needs in one way: a longer text may contain a short everyday
    training phrase ("heb ik recht op zorgtoeslag" in a question about it), as citizens write it."""
    problems, highest = overlap_problems(_texts(dev_sets), training_examples())
    assert [p for p in problems if ": contains training example" not in p] == []
    assert 0 < highest < 0.7  # really compared; the sets' READMEs give the highest similarity
