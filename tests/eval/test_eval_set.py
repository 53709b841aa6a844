"""The independent evaluation set stays independent: valid catalogue ids, the required counts, and no
text that equals, contains or nearly repeats a training example (eval/check.py). Scores on it come
from `make eval`; training never reads eval/."""

from __future__ import annotations

from eval.check import check, overlap_problems
from tests.bot.helpers import ROOT


def test_the_evaluation_set_is_valid_and_shares_nothing_with_the_training_data() -> None:
    result = check()
    assert result.ok, "\n".join(result.problems[:20])
    assert result.counts["training_examples_compared"] > 1000  # really compared with the NLU files


def test_the_overlap_check_catches_a_copied_training_example() -> None:
    import yaml

    nlu = yaml.safe_load((ROOT / "bot" / "data" / "nlu" / "cjib.yml").read_text(encoding="utf-8"))
    example = nlu["nlu"][0]["examples"].splitlines()[0].lstrip("- ").strip()
    problems, _ = overlap_problems([("copied", f"hallo {example} dank u")], [("cjib.yml", example)])
    assert problems
    clean, _ = overlap_problems([("own", "mijn fiets is gestolen bij het station")], [("cjib.yml", example)])
    assert not clean


def test_the_gate_fails_below_a_floor_and_only_reports_a_missed_target() -> None:
    from eval.run import compare

    results = {"openings": {"topic_acc": 0.80, "crisis_recall": None}}
    gate = {"floors": {"openings": {"topic_acc": 0.75}},
            "targets": {"openings": {"topic_acc": 0.92, "crisis_recall": 1.0}}}
    floors, targets = compare(results, gate)
    assert floors == []
    assert targets == ["openings.topic_acc=0.800 < 0.92", "openings.crisis_recall=na < 1.0"]
    floors, _ = compare({"openings": {"topic_acc": 0.70}}, gate)
    assert floors == ["openings.topic_acc=0.700 < 0.75"]


def test_the_gate_holds_each_language_of_a_part_to_its_own_floor() -> None:
    from eval.run import compare, gated_metrics

    results = {"multilingual": {"topic_acc": 0.85}}
    languages = {"multilingual": {"all": {"topic_acc": 0.85}, "pl": {"topic_acc": 0.9},
                                  "uk": {"topic_acc": 0.7}}}
    gate = {"floors": {"multilingual": {"topic_acc": 0.82}, "multilingual.pl": {"topic_acc": 0.8},
                       "multilingual.uk": {"topic_acc": 0.8}}}
    floors, _ = compare(gated_metrics(results, languages), gate)
    assert floors == ["multilingual.uk.topic_acc=0.700 < 0.8"]


def test_the_gate_file_names_real_metrics_and_no_floor_is_above_its_target() -> None:
    import yaml

    from eval.check import LANGUAGES
    from eval.run import PARTS, PER_LANGUAGE_PARTS

    gate = yaml.safe_load((ROOT / "eval" / "thresholds.yml").read_text(encoding="utf-8"))
    known = {"topic_acc", "topics_recall", "orgs_exact", "qtype_acc", "urgent_recall", "urgent_precision",
             "wants_person_recall", "wants_person_precision", "crisis_recall", "crisis_precision"}
    assert set(gate) == {"floors", "targets"}
    per_language = {f"{part}.{lang}" for part in PER_LANGUAGE_PARTS for lang in LANGUAGES}
    for kind in ("floors", "targets"):
        assert set(gate[kind]) <= set(PARTS) | per_language
        assert all(set(limits) <= known for limits in gate[kind].values()), kind
    for part, limits in gate["floors"].items():
        for metric, floor in limits.items():
            assert 0 < floor <= gate["targets"][part].get(metric, 1.0), (part, metric)
