"""NLU evaluation on held-out data: `python -m bot.evaluate [--compare]`.

Splits the NLU data 80/20 per intent (fixed seed), trains an NLU model on the 80 % (cached by the
hash of data and config), tests it on the 20 % and writes Rasa's reports plus `summary.json` to
--out. Fails (exit 1) when the macro-F1 over intents is below --min-macro-f1.

`--compare` evaluates a few pipeline variants on the same split; docs/nlu-tuning.md records the
result that chose config.yml.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config.yml"
NLU_DIR = ROOT / "bot" / "data" / "nlu"
SEED = 42
TRAIN_FRACTION = 0.8


def _hash(*parts: bytes) -> str:
    return hashlib.sha256(b"".join(parts)).hexdigest()[:12]


def nlu_bytes() -> bytes:
    """All NLU data, in a stable order (for cache keys)."""
    return b"".join(p.read_bytes() for p in sorted(NLU_DIR.glob("*.yml")))


def split(cache: Path) -> Tuple[Path, Path]:
    """The 80/20 split of the NLU data, made once per version of the data."""
    from rasa.shared.nlu.training_data.loading import load_data

    folder = cache / f"split-{_hash(nlu_bytes())}"
    train, test = folder / "train.yml", folder / "test.yml"
    if not (train.exists() and test.exists()):
        folder.mkdir(parents=True, exist_ok=True)
        data = load_data(str(NLU_DIR))
        train_data, test_data = data.train_test_split(train_frac=TRAIN_FRACTION, random_seed=SEED)
        train.write_text(train_data.nlu_as_yaml(), encoding="utf-8")
        test.write_text(test_data.nlu_as_yaml(), encoding="utf-8")
    return train, test


def _rasa(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "rasa", *args], check=True, cwd=ROOT)


def evaluate(
    config: Dict[str, Any], name: str, train: Path, test: Path, cache: Path, out: Path
) -> Dict[str, Any]:
    """Train (or reuse) an NLU model for this config on the train split and test it."""
    config_text = yaml.safe_dump(config, sort_keys=True)
    fingerprint = (ROOT / "models" / "spacy-nl" / "intake_fingerprint.json").read_bytes()
    key = _hash(config_text.encode(), train.read_bytes(), fingerprint)
    config_path = cache / f"config-{key}.yml"
    config_path.write_text(config_text, encoding="utf-8")
    model = cache / f"nlu-{key}.tar.gz"
    started = time.monotonic()
    if not model.exists():
        _rasa("train", "nlu", "--config", str(config_path), "--nlu", str(train), "--out", str(cache),
              "--fixed-model-name", model.name.removesuffix(".tar.gz"))
    train_seconds = time.monotonic() - started
    out.mkdir(parents=True, exist_ok=True)
    _rasa("test", "nlu", "--model", str(model), "--nlu", str(test), "--out", str(out), "--no-plot")
    report = json.loads((out / "intent_report.json").read_text(encoding="utf-8"))
    worst = sorted(
        ((k, v["f1-score"]) for k, v in report.items() if isinstance(v, dict) and "support" in v and k not in
         ("macro avg", "weighted avg", "micro avg")),
        key=lambda kv: kv[1],
    )[:8]
    return {
        "variant": name,
        "macro_f1": round(report["macro avg"]["f1-score"], 4),
        "weighted_f1": round(report["weighted avg"]["f1-score"], 4),
        "accuracy": round(report.get("accuracy", 0.0), 4),
        "test_examples": report["macro avg"]["support"],
        "train_seconds_if_trained": round(train_seconds, 1),
        "worst_intents": [{"intent": k, "f1": round(f, 3)} for k, f in worst],
    }


def _component(config: Dict[str, Any], name: str) -> Dict[str, Any]:
    """The pipeline component whose class is called `name`."""
    return next(c for c in config["pipeline"] if c["name"].rsplit(".", 1)[-1] == name)


def variants(base: Dict[str, Any]) -> List[Tuple[str, Callable[[Dict[str, Any]], None]]]:
    """Pipeline variants for --compare: each changes one thing of config.yml."""

    def only_e5(c: Dict[str, Any]) -> None:
        _component(c, "MeaningClassifier")["ngram_weight"] = 0.0

    def only_ngrams(c: Dict[str, Any]) -> None:
        c["pipeline"] = [p for p in c["pipeline"] if not p["name"].endswith("SentenceEmbeddingFeaturizer")]

    def diet(c: Dict[str, Any]) -> None:
        """The pipeline before December 2026: DIET over lexical, word and character n-gram features."""
        at = next(i for i, p in enumerate(c["pipeline"]) if p["name"].endswith("SentenceEmbeddingFeaturizer"))
        c["pipeline"][at : at + 2] = [
            {"name": "LexicalSyntacticFeaturizer"},
            {"name": "CountVectorsFeaturizer"},
            {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 2, "max_ngram": 5},
            {"name": "DIETClassifier", "epochs": 40, "number_of_transformer_layers": 0,
             "entity_recognition": False, "constrain_similarities": True, "random_seed": 42},
        ]

    return [
        ("config.yml", lambda c: None),
        ("alleen e5 (zonder n-grammen)", only_e5),
        ("alleen n-grammen (zonder e5)", only_ngrams),
        ("DIET op n-grammen (tot v13)", diet),
    ]


def main(argv: Optional[List[str]] = None) -> int:
    """Evaluate config.yml (or compare variants) on the held-out split."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "nlu")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "gemeente-intake" / "nlu-eval")
    parser.add_argument("--min-macro-f1", type=float, default=None)
    parser.add_argument("--compare", action="store_true")
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    base = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    train, test = split(args.cache)
    chosen = variants(base) if args.compare else variants(base)[:1]
    results = []
    for i, (name, change) in enumerate(chosen):
        config = copy.deepcopy(base)
        change(config)
        results.append(evaluate(config, name, train, test, args.cache, args.out / f"variant-{i}"))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(
        json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    for r in results:
        print(f"{r['variant']:<36} macro-F1={r['macro_f1']:.3f} accuracy={r['accuracy']:.3f} "
              f"(n={r['test_examples']})")
    print(f"Rapport: {args.out}")
    if args.min_macro_f1 is not None and results[0]["macro_f1"] < args.min_macro_f1:
        print(f"NLU macro-F1 {results[0]['macro_f1']:.3f} is lager dan {args.min_macro_f1}", file=sys.stderr)
        for w in results[0]["worst_intents"]:
            print(f"  {w['intent']}: {w['f1']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
