"""The channel's own words (teksten.yml next to this module): read once, at import.

The file is part of the package, not something a deployment changes, so a missing or incomplete
file is a programming error and fails at once (at import) instead of at the first photo."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import yaml

TEXTS_FILE = Path(__file__).with_name("teksten.yml")

REQUIRED = (
    "niet_leesbaar",
    "alleen_bijschrift",
    "lang_bericht",
    "aangepast_bericht",
    "geen_bericht_klaar",
    "knop_medewerker",
)


def load(path: Path = TEXTS_FILE) -> Dict[str, str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    missing = [key for key in REQUIRED if not isinstance(data.get(key), str) or not data[key].strip()]
    if missing:
        raise ValueError(f"{path.name}: missing texts {missing}")
    return {key: " ".join(str(value).split()) for key, value in data.items()}


TEXTS = load()
