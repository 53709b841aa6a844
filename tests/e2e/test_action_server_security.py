"""The real action server (python -m bot.action_server) as an attacker on the machine would meet it.

The pentest's request (a made-up tracker that erases a WhatsApp sender's data, sent as text/plain so
that a web page needs no CORS preflight) must be refused; so must calls without Rasa's token, with
the wrong token, with other media types and with malformed bodies, and no answer or log line may
echo what was sent. Needs no trained model: only the action server runs.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple

import pytest

from tools.stack import PYTHON, ROOT, Stack, free_port

pytestmark = pytest.mark.e2e

MARKER = "Geheim-verhaal-over-schulden-4711"
# The request from the pentest report, with a marker in the citizen's text.
EXPLOIT = json.dumps({
    "next_action": "action_verwijder_gegevens",
    "tracker": {
        "sender_id": "S", "latest_message": {"text": f"ja {MARKER}"},
        "events": [{"event": "user", "text": f"ja {MARKER}", "input_channel": "whatsapp"}],
        "active_loop": {"name": "action_verwijder_gegevens"}, "latest_action_name": "action_listen",
    },
}).encode()


@pytest.fixture(scope="module")
def actions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(model=ROOT / "unused", workdir=Path(tmp_path_factory.mktemp("actions")))
    stack.workdir.mkdir(parents=True, exist_ok=True)
    try:
        stack.start_actions()
        yield stack
    finally:
        stack.stop()


def call(
    stack: Stack, path: str, body: Optional[bytes] = None, headers: Optional[Dict[str, str]] = None
) -> Tuple[int, str]:
    request = urllib.request.Request(f"{stack.actions_url}{path}", data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def bearer(stack: Stack, content_type: str = "application/json") -> Dict[str, str]:
    return {"Authorization": f"Bearer {stack.action_token}", "Content-Type": content_type}


def test_the_pentest_request_is_refused(actions: Stack) -> None:
    status, body = call(actions, "/webhook", EXPLOIT, {"Content-Type": "text/plain"})
    assert status == 401 and MARKER not in body


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json"},
        {"Content-Type": "application/json", "Authorization": "Bearer wrong-token-of-some-length"},
        {"Content-Type": "application/json", "Authorization": "Basic dXNlcjpwYXNz"},
        {"Content-Type": "application/json", "Authorization": "Bearer "},
        {"Content-Type": "application/json", "Authorization": "Bearer tökén"},
    ],
    ids=["no token", "wrong token", "other scheme", "empty", "non-ascii"],
)
def test_calls_without_rasas_token_get_401(actions: Stack, headers: Dict[str, str]) -> None:
    assert call(actions, "/webhook", EXPLOIT, headers)[0] == 401
    assert call(actions, "/actions", None, headers)[0] == 401


def test_only_health_is_open(actions: Stack) -> None:
    assert call(actions, "/health") == (200, '{"status":"ok"}')


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
     "application/json; charset=latin-1", ""],
)
def test_with_the_token_only_json_is_accepted(actions: Stack, content_type: str) -> None:
    status, body = call(actions, "/webhook", EXPLOIT, bearer(actions, content_type))
    assert status == 415 and MARKER not in body


@pytest.mark.parametrize(
    "body",
    [
        b"{", b"[]", b'"x"', b"\xff\xfe", json.dumps({"tracker": {}}).encode(),
        json.dumps({"next_action": "action_status", "tracker": MARKER}).encode(),
        json.dumps({"next_action": 5, "tracker": {"sender_id": MARKER}}).encode(),
    ],
    ids=["truncated", "list", "string", "not utf-8", "no next_action", "tracker not an object",
         "next_action number"],
)
def test_malformed_bodies_get_400_without_echo(actions: Stack, body: bytes) -> None:
    status, answer = call(actions, "/webhook", body, bearer(actions))
    assert status == 400 and MARKER not in answer


def test_an_action_failing_on_a_strange_tracker_answers_500_without_echo(actions: Stack) -> None:
    """rasa_sdk's own handler answered with `request_body`; ours with a fixed sentence."""
    strange = json.dumps({
        "next_action": "action_verwijder_gegevens",
        "tracker": {"sender_id": MARKER, "events": MARKER, "slots": MARKER, "latest_message": MARKER},
    }).encode()
    status, answer = call(actions, "/webhook", strange, bearer(actions))
    assert status >= 400 and MARKER not in answer
    log = (actions.workdir / "actions.log").read_text(errors="replace")
    assert MARKER not in log


def test_a_proper_call_with_the_token_is_served(actions: Stack) -> None:
    status, body = call(actions, "/actions", None, bearer(actions))
    assert status == 200 and {"name": "action_turn"} in json.loads(body)


def _listening_addresses(port: int) -> set:
    """Local addresses with a listening TCP socket on `port`, from the kernel's own tables."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def test_it_listens_on_loopback_only(actions: Stack) -> None:
    assert _listening_addresses(actions.actions_port) == {"0100007F"}  # 127.0.0.1, little-endian hex


def test_it_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    env = {**Stack(model=ROOT / "unused", workdir=tmp_path).env(), "ACTION_SERVER_TOKEN": ""}
    done = subprocess.run(
        [str(PYTHON), "-m", "bot.action_server", "--actions", "bot.actions", "--port", str(free_port())],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode != 0 and "ACTION_SERVER_TOKEN" in done.stderr
