"""Real processes at DEBUG level: personal data a citizen types never reaches the log files.

Rasa's DEBUG log repeats every user message (parse results, rule-policy states, tracker events);
with plain `python -m rasa run --debug` the BSN, IBAN and phone number below appear there verbatim,
four times each. rasa_sdk's DEBUG log names actions but holds no message text of its own; that its
process installs the redaction too is checked in test_entrypoints.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, List

import pytest

from tests.e2e.conftest import MODEL, Citizen
from tools.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.model]

MESSAGE = "Mijn BSN is 111222333 en mijn IBAN NL91ABNA0417164300, bel me op 06-12345678"
PII = ["111222333", "NL91ABNA0417164300", "06-12345678", "12345678"]


class DebugStack(Stack):
    """The normal stack (bot.server, bot.action_server), both processes at DEBUG level."""

    def _spawn(self, name: str, args: List[str], secrets_env=None):  # type: ignore[no-untyped-def]
        return super()._spawn(name, [*args, "--debug"], secrets_env)


@pytest.fixture(scope="module")
def debug_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not MODEL.exists():
        pytest.fail("Geen getraind model: draai `make train` (make test doet dat vanzelf).")
    running = DebugStack(model=MODEL, workdir=Path(tmp_path_factory.mktemp("debug-stack"))).start()
    try:
        yield running
    finally:
        running.stop()


def test_debug_logs_hold_no_personal_data(debug_stack: Stack) -> None:
    citizen = Citizen(debug_stack, sender="privacy-log-test")
    assert citizen.say(MESSAGE), "the bot answered nothing"
    debug_stack.stop()  # flush and close both log files
    rasa_log = (debug_stack.workdir / "rasa.log").read_text(errors="replace")
    actions_log = (debug_stack.workdir / "actions.log").read_text(errors="replace")
    # The message was logged (redacted): Rasa's DEBUG output really contains the user's text.
    assert "Mijn BSN is [BSN] en mijn IBAN [IBAN], bel me op [TELEFOON]" in rasa_log
    assert "DEBUG" in actions_log
    for log in (rasa_log, actions_log):
        for value in PII:
            assert value not in log
