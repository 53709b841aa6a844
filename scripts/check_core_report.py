"""Fail unless `rasa test core` evaluated every test story and all of them passed.

Usage: python scripts/check_core_report.py RASA_LOG STORIES_DIR
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml


def main(log_path: str, stories_dir: str) -> int:
    """Compare the number of evaluated and correct stories with the number written."""
    expected = sum(len((yaml.safe_load(p.read_text(encoding="utf-8")) or {}).get("stories") or [])
                   for p in Path(stories_dir).glob("*.yml"))
    log = Path(log_path).read_text(encoding="utf-8", errors="replace")
    correct = re.search(r"Correct:\s+(\d+) / (\d+)", log)
    if expected == 0 or correct is None:
        print(f"rasa test core: geen uitslag gevonden (verwacht {expected} verhalen)")
        return 1
    passed, evaluated = int(correct.group(1)), int(correct.group(2))
    print(f"rasa test core: {passed} / {evaluated} gesprekken goed (geschreven: {expected})")
    return 0 if passed == evaluated == expected else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
