"""Batch routing for question logs: `python -m bot.route [FILE] [--model PATH]`.

Reads JSON lines `{"id": ..., "text": ...}` from FILE or standard input and writes one JSON line per
input line: `{"id", "topic", "organisations", "life_event", "urgent", "wants_human", "question_type",
"topics", "crisis", "deadline_days", "confidence"}` with catalogue ids (null / [] when none).
`topics`: every topic NLU finds plausible, best first. It uses the trained model and the same routing
code as the bot (bot/intake/routing.py). A line that cannot be read gets `{"id": ..., "line": n,
"error": "..."}` and the run goes on; the exit code is then 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
import warnings
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, Dict, Iterator, List, Optional, Tuple
from zoneinfo import ZoneInfo

DEFAULT_MODEL = Path("models/current.tar.gz")
MAX_TEXT = 2000  # characters; a longer message is cut, since the first part names the question


class LineError(ValueError):
    """An input line that is not a routable question."""


def read_question(line: str) -> Tuple[Any, str]:
    """The (id, text) of one input line, or LineError with a plain reason."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        raise LineError(f"geen geldige JSON ({e.msg})") from e
    if not isinstance(record, dict):
        raise LineError("verwacht een JSON-object met 'id' en 'text'")
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise LineError("'text' ontbreekt of is leeg")
    return record.get("id"), text.strip()[:MAX_TEXT]


def lines_of(stream: IO[bytes]) -> Iterator[Tuple[int, str]]:
    """Numbered non-empty lines; bytes that are not UTF-8 are replaced rather than fatal."""
    for number, raw in enumerate(stream, start=1):
        line = raw.decode("utf-8", errors="replace").strip()
        if line:
            yield number, line


def quiet_logs() -> None:
    """Warnings only, on stderr: Rasa's debug log would print every question (personal data) to stdout."""
    from rasa.utils.log_utils import configure_structlog

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    configure_structlog(logging.WARNING)
    for noisy in ("rasa", "tensorflow", "absl"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


async def run(stream: IO[bytes], out: IO[str], model: Path, stats: Optional[IO[str]] = None) -> int:
    """Route every line; returns the number of lines that could not be routed."""
    from rasa.core.agent import Agent

    from bot.intake.knowledge import knowledge
    from bot.intake.routing import route

    agent = Agent.load(str(model))
    kb = knowledge()
    errors = routed = 0
    started = time.perf_counter()
    for number, line in lines_of(stream):
        record_id: Optional[Any] = None
        try:
            record_id, text = read_question(line)
            parse: Dict[str, Any] = await agent.parse_message(text)
            result = {"id": record_id, **route(parse, kb, today()).as_json()}
            routed += 1
        except LineError as e:
            errors += 1
            result = {"id": record_id, "line": number, "error": str(e)}
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        out.flush()
    if stats is not None:
        seconds = time.perf_counter() - started
        stats.write(f"{routed} vragen gerouteerd in {seconds:.2f} s na het laden van het model "
                    f"({routed / seconds if seconds else 0:.0f} per seconde)\n")
    return errors


def today() -> date:
    """The municipality's date: "voor vrijdag" counts from it (bot/intake/deadline.py)."""
    return datetime.now(ZoneInfo("Europe/Amsterdam")).date()


def main(argv: Optional[List[str]] = None) -> int:
    """Command-line entry point."""
    # Library warnings (TensorFlow, deprecations) would bury the few lines meant for the user.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser(description="Route questions (JSON lines) to catalogue ids.")
    parser.add_argument("file", nargs="?", type=Path, help="JSON-lines file (default: standard input)")
    parser.add_argument("--model", type=Path, default=Path(os.environ.get("RASA_MODEL", DEFAULT_MODEL)))
    parser.add_argument("--stats", action="store_true", help="print throughput to standard error")
    args = parser.parse_args(argv)
    if not args.model.exists():
        print(f"Model niet gevonden: {args.model}. Draai eerst `make train`.", file=sys.stderr)
        return 2
    if args.file and not args.file.is_file():
        print(f"Bestand niet gevonden: {args.file}", file=sys.stderr)
        return 2
    quiet_logs()
    with (args.file.open("rb") if args.file else sys.stdin.buffer) as stream:
        errors = asyncio.run(run(stream, sys.stdout, args.model, sys.stderr if args.stats else None))
    if errors:
        print(f"{errors} regel(s) konden niet worden gerouteerd.", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
