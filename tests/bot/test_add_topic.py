"""Adding a topic touches its NLU file, its stroomschema entry and its knowledge entries, nothing else.

In a temporary copy of the project a new topic (a library fine, `gemeente.bibliotheekboete`) is added
in exactly those places. Then Rasa's own validator accepts the data, the trained domain knows the
intent (bot/importer.py), the knowledge and the stroomschema load with their cross-checks, and the
conversation asks about the new topic and starts its questions. No rule, domain list or Python code
was changed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.importer import NluIntentsImporter
from bot.intake.conversation import Context, Conversation, ConversationState, Message
from bot.intake.engine import Intake
from bot.intake.knowledge import load_knowledge
from bot.intake.schema import load_schema
from bot.intake.state import UserInput, choice_payload
from tests.bot.helpers import ROOT

TOPIC = "gemeente.bibliotheekboete"
NLU = f"""
  - intent: {TOPIC}
    examples: |
      - ik heb een boete van de bibliotheek
      - de bieb wil geld omdat mijn boeken te laat zijn
      - boete bibliotheek te laat ingeleverd
      - ik kan de boete van de bieb niet betalen
      - mijn kind heeft boeken kwijtgeraakt van de bibliotheek
"""
CATALOGUE = (
    f'  - {{id: {TOPIC}, organisations: [gemeente], label: "Boete van de bibliotheek", share_pct: 0, '
    'source: "test"}\n'
)
LABEL = f'  {TOPIC}: {{label: "Een boete van de bibliotheek", knop: "Bibliotheekboete"}}\n'
TREE = f"""
thema: bibliotheek
urgentiecheck: false

ingangen:
  onderwerpen:
    {TOPIC}: bibliotheek.start

knopen:
  bibliotheek.start:
    vraag: "Kunt u de boete betalen?"
    opties:
      - label: "Ja"
        naar: bibliotheek.uitkomst
      - label: "Nee"
        naar: bibliotheek.uitkomst
  bibliotheek.uitkomst:
    uitkomst:
      onderwerp: {TOPIC}
      samenvatting: "U heeft een boete van de bibliotheek."
      stappen:
        - "Bel de bibliotheek en vraag of u in delen mag betalen."
"""


def _insert_after(path: Path, marker: str, text: str) -> None:
    content = path.read_text(encoding="utf-8")
    assert marker in content, f"{marker!r} not in {path}"
    path.write_text(content.replace(marker, marker + text, 1), encoding="utf-8")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of what defines the bot, with the new topic in its three places."""
    copy = tmp_path_factory.mktemp("project")
    for part in ("bot", "config.yml", "domain.yml", "scripts"):
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, copy / part)
    _insert_after(copy / "bot" / "data" / "nlu" / "gemeente.yml", "nlu:\n", NLU)
    _insert_after(copy / "bot" / "knowledge" / "catalogus.yml", "topics:\n", CATALOGUE)
    _insert_after(copy / "bot" / "knowledge" / "onderwerpen.yml", "onderwerpen:\n", LABEL)
    (copy / "bot" / "stroomschema" / "bibliotheek.yml").write_text(TREE, encoding="utf-8")
    return copy


def test_only_data_files_changed(project: Path) -> None:
    changed = {
        str(p.relative_to(project))
        for p in (project / "bot").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
        and (not (ROOT / p.relative_to(project)).exists()
             or (ROOT / p.relative_to(project)).read_bytes() != p.read_bytes())
    }
    assert changed == {
        "bot/data/nlu/gemeente.yml", "bot/knowledge/catalogus.yml", "bot/knowledge/onderwerpen.yml",
        "bot/stroomschema/bibliotheek.yml",
    }


def test_the_trained_domain_knows_the_new_intent(project: Path) -> None:
    importer = NluIntentsImporter(
        config_file=str(project / "config.yml"),
        domain_path=str(project / "bot" / "domain"),
        training_data_paths=[str(project / "bot" / "data")],
    )
    assert TOPIC in importer.get_domain().intents


def test_rasa_validates_the_data(project: Path) -> None:
    done = subprocess.run(
        [sys.executable, "scripts/validate.py"], cwd=project, capture_output=True, text=True, timeout=600,
        env={"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(project), "HOME": str(project),
             "SQLALCHEMY_SILENCE_UBER_WARNING": "1", "RASA_TELEMETRY_ENABLED": "false"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_the_conversation_asks_about_the_new_topic_and_starts_its_questions(project: Path) -> None:
    kb = load_knowledge(project / "bot" / "knowledge")
    conversation = Conversation(Intake(kb, load_schema(project / "bot" / "stroomschema", kb)))
    text = "de bieb wil geld van mij"
    parse = {"text": text, "intent": {"name": TOPIC, "confidence": 0.93}, "entities": []}
    first = conversation.handle(ConversationState(), Message(UserInput(text, TOPIC, parse)), Context())
    assert [r.response for r in first.replies] == ["utter_bevestig_onderwerp"]
    assert first.replies[0].variables["onderwerp_label"] == "Een boete van de bibliotheek"
    payload = choice_payload(f"bevestig|{TOPIC}")
    choice = UserInput(payload, "kies", {"text": payload}, choice=f"bevestig|{TOPIC}")
    second = conversation.handle(first.state, Message(choice), Context())
    assert [r.text for r in second.replies] == ["Kunt u de boete betalen?"]
