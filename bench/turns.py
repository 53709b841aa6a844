"""Per-turn latency through the REST webhook, for our bot and, as a baseline, a fresh `rasa init` bot.

Runs 200 sequential turns and 400 turns from 20 concurrent users against each, prints p50, p95 and
messages per second, and ends with `turn_p50_ratio_vs_rasa_init=<float>` (goal: at most 1.2).
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
BASELINE_CONVERSATION = ["hello", "I am feeling very sad", "yes", "great, thanks", "goodbye"]


def send(url: str, sender: str, message: str) -> float:
    """One turn; returns its latency in seconds."""
    body = json.dumps({"sender": sender, "message": message}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
    return time.perf_counter() - started


def run_user(url: str, user: str, conversation: Sequence[str], turns: int) -> List[float]:
    """A user who goes through the conversation again and again (a new sender each time)."""
    return [
        send(url, f"{user}-{i // len(conversation)}", conversation[i % len(conversation)])
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
            ours, ours.start, lambda: measure("intake", f"{ours.url}/webhooks/rest/webhook", OUR_CONVERSATION)
        )
        model = baseline_model(args.cache)
        base = Stack(
            model=model, workdir=Path(tmp) / "base", endpoints=args.cache / "rasa-init-endpoints.yml"
        )
        base.workdir.mkdir(parents=True, exist_ok=True)
        base_numbers = with_stack(base, base.start_rasa,
                                  lambda: measure("rasa_init", f"{base.url}/webhooks/rest/webhook",
                                                  BASELINE_CONVERSATION))
    ratio = ours_numbers["seq_p50_ms"] / base_numbers["seq_p50_ms"]
    print(f"turn_p50_ratio_vs_rasa_init={ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
