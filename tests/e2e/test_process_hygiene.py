"""The running bot as another user of the machine would see it: no secret in the process list, and
the files holding conversations (tracker store, outbox, logs) readable by the service user only."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.e2e.conftest import Citizen
from tools.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.model]


def command_lines() -> str:
    """Every process's command line, as `ps` shows it to any user."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            found.append(cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:  # the process ended meanwhile
            continue
    return "\n".join(found)


def test_no_secret_in_the_process_list(stack: Stack, citizen: Citizen) -> None:
    # An answer of the intake action: Rasa reached the action server with its token.
    citizen.say("Ik heb een brief van het CJIB en ik kan de boete niet betalen")
    assert "Klopt dat?" in " ".join(citizen.texts()), "no intake answer: the action server refused Rasa?"
    assert citizen.slots() is not None  # the HTTP API takes the token from the environment
    seen = command_lines()
    assert "bot.server" in seen and "bot.action_server" in seen  # we really looked at them
    assert stack.token not in seen
    assert stack.action_token not in seen


def test_conversation_files_are_for_the_service_user_only(stack: Stack, citizen: Citizen) -> None:
    citizen.say("Ik heb een brief van het CJIB en ik kan de boete niet betalen")
    files = [p for p in stack.workdir.iterdir() if p.is_file()]
    assert {"tracker.db", "rasa.log", "actions.log"} <= {p.name for p in files}
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    assert stat.S_IMODE(stack.workdir.stat().st_mode) == 0o700
