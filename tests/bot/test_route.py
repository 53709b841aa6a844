"""The batch routing CLI: JSON lines in, catalogue ids out, bad lines reported without stopping."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.intake.knowledge import knowledge
from bot.route import LineError, read_question
from tests.bot.helpers import ROOT

MODEL = ROOT / "models" / "current.tar.gz"
FIELDS = {
    "id", "topic", "organisations", "life_event", "urgent", "wants_human", "question_type", "topics",
    "crisis", "deadline_days", "confidence",
}


@pytest.mark.parametrize(
    "line,reason",
    [
        ("not json", "geen geldige JSON"),
        ("[1, 2]", "JSON-object"),
        ('{"id": 1}', "'text' ontbreekt"),
        ('{"id": 1, "text": "   "}', "'text' ontbreekt"),
        ('{"id": 1, "text": 5}', "'text' ontbreekt"),
    ],
)
def test_bad_lines_get_a_plain_reason(line: str, reason: str) -> None:
    with pytest.raises(LineError, match=reason):
        read_question(line)


def test_long_text_is_cut_not_refused() -> None:
    _, text = read_question(json.dumps({"id": 1, "text": "boete " * 5000}))
    assert len(text) == 2000


@pytest.mark.model
def test_cli_routes_a_question_log(tmp_path: Path) -> None:
    questions = [
        {"id": "a", "text": "Ik heb een brief van het CJIB en ik kan de boete niet betalen"},
        {"id": "b", "text": "ik ben mijn digid kwijt en kan niet inloggen"},
        {"id": "c", "text": "Mijn man heeft dementie en gaat naar het verpleeghuis, wat moet ik regelen"},
        {"id": "d", "text": "ik wil een medewerker spreken"},
        {"id": "e", "text": "de deurwaarder komt morgen ons huis ontruimen"},
    ]
    log = tmp_path / "vragen.jsonl"
    raw = "\n".join(json.dumps(q) for q in questions) + "\nkapot\n"
    log.write_bytes(raw.encode() + b'{"id": "f", "text": "\xff\xfe boete cjib"}\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "bot.route", str(log), "--model", str(MODEL)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300,
    )
    assert result.returncode == 1, result.stderr[-2000:]  # one bad line
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 7
    by_id = {o["id"]: o for o in out if "error" not in o}
    assert all(set(o) == FIELDS for o in by_id.values())
    kb = knowledge()
    for o in by_id.values():
        assert o["topic"] is None or o["topic"] in kb.topics
        assert set(o["organisations"]) <= set(kb.organisations)
        assert o["life_event"] is None or o["life_event"] in kb.life_events
    assert by_id["a"]["topic"].startswith("cjib.") and by_id["a"]["organisations"] == ["cjib"]
    assert by_id["a"]["question_type"] == 1
    assert by_id["b"]["topic"] == "digid.hulp" and by_id["b"]["organisations"] == ["logius"]
    assert by_id["c"]["life_event"] == "opname_partner" and by_id["c"]["question_type"] == 3
    assert by_id["d"]["wants_human"] is True and by_id["d"]["topic"] is None
    assert by_id["e"]["urgent"] is True
    assert by_id["f"]["topic"] is not None  # undecodable bytes are replaced, the rest is routed
    errors = [o for o in out if "error" in o]
    assert errors == [{"id": None, "line": 6, "error": "geen geldige JSON (Expecting value)"}]
