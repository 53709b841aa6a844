"""Score the bot on the independent evaluation set.

Usage: `python -m eval.run [--model PATH] [--part P] [--json OUT] [--via-cli]`.

Parts (each reported on its own; default all):
- openings        every Dutch opening message, routed on its own;
- languages       the messages in other languages;
- stories         every story: the citizen turns concatenated into one message ("stories"), and the
                  first turn alone ("stories_first"), both scored against the labels of the WHOLE story
                  (the first-turn score shows how much of a case the bot sees from the opening alone);
- multilingual    the multilingual set (eval/multilingual.yml, issue 15): scored as a whole like the
                  others, and per language in a table of its own (eval/languages.py): language
                  detection, the conversation language after the message, topic, organisations, urgent
                  and wants-a-person recall, and the language the bot answers in.

Routing uses the same code as `python -m bot.route` (the trained model + bot/intake/routing.py), in this
process; `--via-cli` runs `python -m bot.route` as a subprocess instead (the public JSON-lines contract).

Metrics per part (README, "Metrics"): n; topic_acc (main topic = first labelled topic; an item without
topics is right when the bot names none); topics_recall (share of all labelled topics the bot names);
orgs_exact (same set of organisations), orgs_recall, orgs_precision; qtype_acc; life_event_acc;
urgent / wants_person / crisis recall and precision; deadline_acc (where a deadline is labelled).
A metric the router cannot produce (no such field in its output) is reported as `na`, never as an error.
`crisis_signal_*` is a diagnostic: the router's internal "crisis" signal, which its output does not
expose (available in-process only).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from eval.dataset import REPO_ROOT, Item, load_multilingual, load_openings, load_stories
from eval.languages import language_scores, ordered

DEFAULT_MODEL = Path(os.environ.get("RASA_MODEL", "models/current.tar.gz"))
PARTS = ("openings", "languages", "stories", "multilingual")
MAX_TEXT_FALLBACK = 2000

Prediction = Dict[str, Any]


# --- routing -------------------------------------------------------------------------------------------

async def _route_in_process(texts: Sequence[str], model: Path) -> List[Prediction]:
    from rasa.core.agent import Agent

    from bot.intake.knowledge import knowledge
    from bot.intake.routing import route
    from bot.route import today

    try:
        from bot.route import MAX_TEXT as max_text
    except ImportError:  # pragma: no cover - the CLI moved; cut as it did
        max_text = MAX_TEXT_FALLBACK
    agent = Agent.load(str(model))
    kb = knowledge()
    out: List[Prediction] = []
    for text in texts:
        parse = await agent.parse_message(text.strip()[:max_text])
        routing = route(parse, kb, today())
        pred: Prediction = dict(routing.as_json())
        pred["_signals"] = list(getattr(routing, "signals", ()) or ())
        out.append(pred)
    return out


def _route_via_cli(texts: Sequence[str], model: Path) -> List[Prediction]:
    lines = "".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts))
    proc = subprocess.run(
        [sys.executable, "-m", "bot.route", "--model", str(model)],
        input=lines.encode("utf-8"), capture_output=True, cwd=REPO_ROOT, check=False,
    )
    by_id: Dict[int, Prediction] = {}
    for line in proc.stdout.decode("utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            by_id[int(record.get("id"))] = record
    if proc.returncode not in (0, 1) or len(by_id) != len(texts):
        raise RuntimeError(f"bot.route failed (exit {proc.returncode}): {proc.stderr.decode()[-2000:]}")
    return [by_id[i] for i in range(len(texts))]


def route_texts(texts: Sequence[str], model: Path, via_cli: bool = False) -> List[Prediction]:
    if via_cli:
        return _route_via_cli(texts, model)
    try:
        from bot.route import quiet_logs

        quiet_logs()
    except ImportError:  # pragma: no cover
        pass
    return asyncio.run(_route_in_process(texts, model))


# --- reading a prediction (today's output and the planned multi-label one) ------------------------------

def predicted_topics(pred: Prediction) -> List[str]:
    """All topics the bot names: a `topics` list when the router has one, else its single `topic`."""
    topics = pred.get("topics")
    if isinstance(topics, list):
        return [str(t) for t in topics if t]
    return [str(pred["topic"])] if pred.get("topic") else []


def predicted_main_topic(pred: Prediction) -> Optional[str]:
    if "topic" in pred:
        return str(pred["topic"]) if pred["topic"] else None
    topics = predicted_topics(pred)
    return topics[0] if topics else None


def predicted_flag(pred: Prediction, *keys: str) -> Optional[bool]:
    """The first of `keys` present in the output, as a bool; None when the router has none of them."""
    for key in keys:
        if key in pred:
            return bool(pred[key])
    return None


# --- metrics -------------------------------------------------------------------------------------------

@dataclass
class Binary:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    available: bool = True

    def add(self, gold: bool, pred: Optional[bool]) -> None:
        if pred is None:
            self.available = False
            return
        if gold and pred:
            self.tp += 1
        elif pred:
            self.fp += 1
        elif gold:
            self.fn += 1

    def recall(self) -> Optional[float]:
        return self.tp / (self.tp + self.fn) if self.available and (self.tp + self.fn) else None

    def precision(self) -> Optional[float]:
        return self.tp / (self.tp + self.fp) if self.available and (self.tp + self.fp) else None


def _ratio(num: int, den: int) -> Optional[float]:
    return num / den if den else None


def score(items: Sequence[Item], preds: Sequence[Prediction]) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    """(metrics, per-item details) for one part."""
    topic_ok = topics_hit = topics_total = orgs_exact = qtype_ok = event_ok = 0
    orgs_tp = orgs_pred = orgs_gold = 0
    deadline_ok = deadline_n = 0
    deadline_available = any("deadline_days" in p for p in preds)
    flags = {"urgent": Binary(), "wants_person": Binary(), "crisis": Binary(), "crisis_signal": Binary()}
    signals_available = any("_signals" in p for p in preds)
    details = []
    for item, pred in zip(items, preds, strict=True):
        lab = item.labels
        main = predicted_main_topic(pred)
        ptopics = predicted_topics(pred)
        porgs = {str(o) for o in pred.get("organisations") or []}
        ok_topic = main == lab.main_topic
        topic_ok += ok_topic
        topics_total += len(lab.topics)
        topics_hit += sum(t in ptopics for t in lab.topics)
        ok_orgs = porgs == set(lab.organisations)
        orgs_exact += ok_orgs
        orgs_tp += len(porgs & set(lab.organisations))
        orgs_pred += len(porgs)
        orgs_gold += len(lab.organisations)
        qtype_ok += pred.get("question_type") == lab.question_type
        event_ok += pred.get("life_event") == lab.life_event
        flags["urgent"].add(lab.urgent, predicted_flag(pred, "urgent"))
        flags["wants_person"].add(lab.wants_person, predicted_flag(pred, "wants_person", "wants_human"))
        flags["crisis"].add(lab.crisis, predicted_flag(pred, "crisis"))
        flags["crisis_signal"].add(lab.crisis, ("crisis" in pred["_signals"]) if "_signals" in pred else None)
        if lab.deadline_days is not None and deadline_available:
            deadline_n += 1
            deadline_ok += pred.get("deadline_days") == lab.deadline_days
        details.append({
            "id": item.id, "text": item.text[:300],
            "gold": {"topics": list(lab.topics), "organisations": list(lab.organisations),
                     "question_type": lab.question_type, "life_event": lab.life_event, "urgent": lab.urgent,
                     "crisis": lab.crisis, "wants_person": lab.wants_person,
                     "deadline_days": lab.deadline_days},
            "predicted": {k: v for k, v in pred.items() if k != "id"},
            "topic_ok": ok_topic, "orgs_ok": ok_orgs,
        })
    n = len(items)
    m: Dict[str, Any] = {
        "n": n,
        "topic_acc": _ratio(topic_ok, n),
        "topics_recall": _ratio(topics_hit, topics_total),
        "orgs_exact": _ratio(orgs_exact, n),
        "orgs_recall": _ratio(orgs_tp, orgs_gold),
        "orgs_precision": _ratio(orgs_tp, orgs_pred),
        "qtype_acc": _ratio(qtype_ok, n),
        "life_event_acc": _ratio(event_ok, n),
    }
    for name, b in flags.items():
        if name == "crisis_signal" and not signals_available:
            b.available = False
        m[f"{name}_recall"] = b.recall()
        m[f"{name}_precision"] = b.precision()
        m[f"{name}_counts"] = {"tp": b.tp, "fp": b.fp, "fn": b.fn, "available": b.available}
    m["deadline_acc"] = _ratio(deadline_ok, deadline_n) if deadline_available else None
    m["deadline_labelled"] = sum(i.labels.deadline_days is not None for i in items)
    return m, details


# --- output --------------------------------------------------------------------------------------------

TABLE_ROWS = (
    "n", "topic_acc", "topics_recall", "orgs_exact", "orgs_recall", "orgs_precision", "qtype_acc",
    "life_event_acc", "urgent_recall", "urgent_precision", "wants_person_recall", "wants_person_precision",
    "crisis_recall", "crisis_precision", "deadline_acc", "crisis_signal_recall", "crisis_signal_precision",
)


def _fmt(value: Any) -> str:
    if value is None:
        return "na"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def print_report(results: Dict[str, Dict[str, Any]], model: Path) -> None:
    parts = list(results)
    print(f"Evaluation set (independent; never trained on) — model {model}")
    print(f"{'metric':<24}" + "".join(f"{p:>16}" for p in parts))
    for row in TABLE_ROWS:
        print(f"{row:<24}" + "".join(f"{_fmt(results[p].get(row)):>16}" for p in parts))
    print("na = not available from the router's output (or nothing to measure); crisis_signal_* = internal")
    print("signal, not part of the routing output. Stories are scored against the labels of the whole story.")
    print()
    for p in parts:
        for row in TABLE_ROWS:
            print(f"{p}.{row}={_fmt(results[p].get(row))}")


LANGUAGE_ROWS = (
    "n", "language_acc", "n_4plus", "language_acc_4plus", "conversation_language_acc", "topic_acc",
    "orgs_exact", "urgent_recall", "wants_person_recall", "crisis_signal_recall", "answers_in",
)


def by_language(items: Sequence[Item], preds: Sequence[Prediction]) -> Dict[str, Dict[str, Any]]:
    """Per language of the items (and `all`): the language layer's scores and the routing's."""
    scores = language_scores(items)
    for lang, metrics in scores.items():
        pairs = [(i, p) for i, p in zip(items, preds, strict=True) if lang in ("all", i.labels.language)]
        routed, _ = score([i for i, _ in pairs], [p for _, p in pairs])
        metrics.update({k: routed[k] for k in ("topic_acc", "topics_recall", "orgs_exact", "urgent_recall",
                                               "urgent_precision", "wants_person_recall",
                                               "wants_person_precision", "crisis_signal_recall")})
    return scores


PER_LANGUAGE_PARTS = {
    "multilingual": "Multilingual set (eval/multilingual.yml)",
    "languages": "Messages in other languages (eval/openings.yml, `languages`)",
}


def print_languages(part: str, scores: Dict[str, Dict[str, Any]]) -> None:
    langs = ordered(list(scores))
    print()
    print(f"{PER_LANGUAGE_PARTS[part]}; independent, never trained on; per language")
    print(f"{'metric':<28}" + "".join(f"{lang:>8}" for lang in langs))
    for row in LANGUAGE_ROWS:
        print(f"{row:<28}" + "".join(f"{_fmt(scores[lang].get(row)):>8}" for lang in langs))
    print("language_acc: lingua's best language is the message's; conversation_language_acc: the sticky")
    print("language after it as a first message; answers_in: the language of the bot's texts (bot/i18n;")
    print("'+nl': some texts not translated yet, sent in Dutch).")
    print()
    for lang in langs:
        for row in LANGUAGE_ROWS:
            print(f"{part}.{lang}.{row}={_fmt(scores[lang].get(row))}")


def main(argv: Optional[List[str]] = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser(description="Score the bot on the independent evaluation set (eval/).")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--part", choices=PARTS, action="append",
                        help="only this part (repeatable); default: all")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write metrics and per-item results as JSON")
    parser.add_argument("--via-cli", action="store_true", help="route through `python -m bot.route`")
    parser.add_argument("--stories", type=Path, metavar="YAML",
                        help="score these stories instead of eval/stories.yml (the tuning set: dev/stories.yml)")
    parser.add_argument("--openings", type=Path, metavar="YAML",
                        help="score these openings and languages instead of eval/openings.yml "
                             "(the tuning set: dev/openings.yml)")
    parser.add_argument("--multilingual", type=Path, metavar="YAML",
                        help="score these messages instead of eval/multilingual.yml "
                             "(the tuning set: dev/multilingual.yml)")
    parser.add_argument("--gate", type=Path, metavar="YAML",
                        help="compare with the floors and targets in this file (eval/thresholds.yml); "
                             "exit 1 below a floor")
    args = parser.parse_args(argv)
    if not args.model.exists():
        print(f"Model niet gevonden: {args.model}. Draai eerst `make train`.", file=sys.stderr)
        return 2
    if (args.stories or args.openings or args.multilingual) and args.gate:
        print("--gate geldt alleen voor eval/, niet samen met --stories, --openings of --multilingual.",
              file=sys.stderr)
        return 2
    wanted = args.part or list(PARTS)

    openings, languages = load_openings(args.openings) if args.openings else load_openings()
    jobs: Dict[str, Tuple[List[Item], List[str]]] = {}
    if "openings" in wanted:
        jobs["openings"] = (openings, [i.text for i in openings])
    if "languages" in wanted:
        jobs["languages"] = (languages, [i.text for i in languages])
    if "stories" in wanted:
        stories = load_stories(args.stories) if args.stories else load_stories()
        jobs["stories"] = (stories, [i.text for i in stories])
        jobs["stories_first"] = (stories, [i.turns[0] for i in stories])
    if "multilingual" in wanted:
        multilingual = load_multilingual(args.multilingual) if args.multilingual else load_multilingual()
        jobs["multilingual"] = (multilingual, [i.text for i in multilingual])

    texts = [t for _, ts in jobs.values() for t in ts]
    preds = route_texts(texts, args.model, via_cli=args.via_cli)
    results: Dict[str, Dict[str, Any]] = {}
    all_details: Dict[str, List[Dict[str, Any]]] = {}
    start = 0
    for name, (items, ts) in jobs.items():
        metrics, details = score(items, preds[start:start + len(ts)])
        start += len(ts)
        results[name] = metrics
        all_details[name] = details
    print_report(results, args.model)
    languages_json: Dict[str, Dict[str, Dict[str, Any]]] = {}
    names = list(jobs)  # the parts in the order they were routed
    for part in PER_LANGUAGE_PARTS:
        if part in jobs:
            items = jobs[part][0]
            offset = sum(len(jobs[name][1]) for name in names[: names.index(part)])
            languages_json[part] = by_language(items, preds[offset:offset + len(items)])
            print_languages(part, languages_json[part])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"model": str(args.model), "metrics": results, "items": all_details,
                                         "by_language": languages_json},
                                        ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"\nJSON: {args.json}")
    if args.gate:
        below_floor, below_target = compare(gated_metrics(results, languages_json), yaml_load(args.gate))
        for line in below_target:
            print(f"nog niet op doel: {line}")
        for line in below_floor:
            print(f"ONDER DE VLOER: {line}", file=sys.stderr)
        return 1 if below_floor else 0
    return 0


def yaml_load(path: Path) -> Dict[str, Any]:
    import yaml

    return dict(yaml.safe_load(path.read_text(encoding="utf-8")))


def gated_metrics(
    results: Dict[str, Dict[str, Any]], languages: Dict[str, Dict[str, Dict[str, Any]]]
) -> Dict[str, Dict[str, Any]]:
    """The parts' metrics, and each language of a part scored per language as "part.language"
    (issue 15: topic at least .80 in every language), for `compare`."""
    per_language = {f"{part}.{lang}": m for part, langs in languages.items() for lang, m in langs.items()}
    return {**results, **per_language}


def compare(results: Dict[str, Dict[str, Any]], gate: Dict[str, Any]) -> Tuple[List[str], List[str]]:
    """(metrics below their floor, metrics below their target), as "part.metric=value < limit"."""
    found: Dict[str, List[str]] = {"floors": [], "targets": []}
    for kind, lines in found.items():
        for part, limits in (gate.get(kind) or {}).items():
            for metric, limit in limits.items():
                value = results.get(part, {}).get(metric)
                if value is None or value < float(limit):
                    lines.append(f"{part}.{metric}={_fmt(value)} < {limit}")
    return found["floors"], found["targets"]


if __name__ == "__main__":
    sys.exit(main())
