"""Faults with the real processes: the handover service or Rasa stops, and nothing gets lost.

1. The handover service dies during a live handover while the citizen keeps typing: the action
   server's outbox keeps the messages; after a restart of the service the casemanager sees every
   one of them, once, in order.
2. Rasa is killed mid-intake: started again on the same tracker database, it continues at the
   question where the citizen was, not at the start.
3. The handover service is down when the citizen asks for a person: the bot says so, gives the
   municipality's contact route and takes a callback request, which reaches the service's queue
   once it is back.

The citizen uses the REST channel; the casemanager the workspace's pages. Consent goes through
`give_consent` so a change in the consent dialogue means one place to adapt.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import aiohttp
import pytest

from tests.e2e.conftest import MODEL, Citizen
from tests.e2e.test_handover_e2e import PASSWORD, Casemanager
from tools.stack import ROOT, Stack, free_port, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.model]

HANDOVER = ROOT / "handover"
HANDOVER_PY = HANDOVER / ".venv" / "bin" / "python"
SECRET = secrets.token_urlsafe(16)
LATER = "Uw bericht komt iets later aan bij de medewerker. U hoeft het niet opnieuw te sturen."
DELIVERY_SECONDS = 60  # the outbox retries at most every 30 s; the service needs a few seconds to start


class HandoverService:
    """The handover service as a process that a test can kill and start again (same database)."""

    def __init__(self, work: Path, port: int, rasa: Stack) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = work / "handover.log"
        self.process: Optional[subprocess.Popen] = None
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(HANDOVER / "src"), str(ROOT)]),
            "HANDOVER_DATABASE_URL": f"sqlite+aiosqlite:///{work / 'handover.db'}",
            "HANDOVER_SHARED_SECRET": SECRET,
            "HANDOVER_PORT": str(self.port),
            "HANDOVER_HOST": "127.0.0.1",
            "HANDOVER_DEMO_PASSWORD": PASSWORD,
            "HANDOVER_OFFICE_HOURS": "mon-sun 00:00-24:00",
            "HANDOVER_OUTBOX_POLL_SECONDS": "0.5",
            "RASA_URL": rasa.url,
            "RASA_TOKEN": rasa.token,
        }
        subprocess.run([str(HANDOVER_PY), "-m", "alembic", "upgrade", "head"], cwd=HANDOVER, env=self.env,
                       check=True, capture_output=True)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([str(HANDOVER_PY), "-m", "handover"], cwd=HANDOVER, env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(f"{self.url}/healthz", 60, self.process, self.log)

    def kill(self) -> None:
        """A crash, not a clean stop: SIGKILL."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    def open_case(self, channel: str, sender: str) -> Dict[str, Any]:
        """The bot API's view of a conversation: `{"active": …, "reference"?: …}`."""
        request = urllib.request.Request(f"{self.url}/api/conversations/{channel}/{sender}",
                                         headers={"Authorization": f"Bearer {SECRET}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return dict(json.loads(response.read()))


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Any]]:
    if not HANDOVER_PY.exists():
        pytest.fail("handover/.venv ontbreekt: draai `make -C handover setup` (make test doet dat vanzelf)")
    if not MODEL.exists():
        pytest.fail("Geen getraind model: draai `make train` (make test doet dat vanzelf).")
    work = Path(tmp_path_factory.mktemp("faults"))
    port = free_port()
    stack = Stack(model=MODEL, workdir=work / "rasa", extra_env={
        "HANDOVER_URL": f"http://127.0.0.1:{port}", "HANDOVER_SHARED_SECRET": SECRET, "HANDOVER_TIMEOUT": "3",
    })
    service = HandoverService(work, port, stack)
    try:
        stack.start()
        yield {"stack": stack, "service": service}
    finally:
        stack.stop()
        service.kill()


@pytest.fixture
def service(system: Dict[str, Any]) -> Iterator[HandoverService]:
    """The service, running at the start of each test and again at its end (whatever the test did)."""
    handover: HandoverService = system["service"]
    if not handover.running:
        handover.start()
    yield handover
    if not handover.running:
        handover.start()


@pytest.fixture
def citizen(system: Dict[str, Any], request: pytest.FixtureRequest) -> Citizen:
    return Citizen(system["stack"], sender=f"fout-{request.node.name[:30]}-{secrets.token_hex(3)}")


def give_consent(citizen: Citizen) -> List[str]:
    """Agree to whatever the bot asks before it hands over (sharing the summary, and any question per
    organisation); returns the texts of the bot's last answer."""
    for _ in range(8):
        yes = next((b["title"] for b in citizen.buttons() if b["title"].lower().startswith("ja")), None)
        if yes is None:
            break
        citizen.press(yes)
    return citizen.texts()


def ask_for_a_person(citizen: Citizen) -> List[str]:
    citizen.say("Ik heb een stapel boetes van het CJIB en ik kan ze niet betalen")
    assert "Klopt dat?" in " ".join(citizen.texts())
    citizen.say("ik wil met een medewerker praten")
    return give_consent(citizen)


async def eventually(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: niet binnen {timeout:.0f} s")
        await asyncio.sleep(0.5)


async def citizen_messages(casemanager: Casemanager, reference: str) -> List[str]:
    """The citizen's messages of the case, oldest first (the case page's JSON twin, not its HTML)."""
    response = await casemanager.http.get(
        f"{casemanager.url}/zaken/{reference}", headers={"Accept": "application/json"}
    )
    assert response.status == 200, await response.text()
    return [m["text"] for m in (await response.json())["messages"] if m["role"] == "citizen"]


async def test_messages_typed_while_the_service_is_down_reach_the_casemanager_in_order(
    system: Dict[str, Any], service: HandoverService, citizen: Citizen
) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        casemanager = Casemanager(service.url, http)
        await casemanager.login()  # online, so the citizen gets the live queue
        texts = ask_for_a_person(citizen)
        queued = next((t for t in texts if "U staat in de wachtrij" in t), None)
        assert queued, texts
        reference = re.search(r"HV-[A-Z0-9]{4}", queued).group(0)  # type: ignore[union-attr]
        await casemanager.act(reference, "claim")

        assert citizen.say("Eerste bericht: is daar iemand?") == []  # delivered at once, the bot is silent
        service.kill()
        replies = []
        for text in ("Bericht A over mijn boete", "Bericht B met het CJIB-nummer", "Bericht C: bedankt"):
            citizen.say(text)
            replies.append(citizen.texts())
        # Told once, honestly; the later messages wait behind the first without another notice.
        assert replies[0] == [LATER]
        assert replies[1:] == [[], []]

        service.start()
        expected = ["Eerste bericht: is daar iemand?", "Bericht A over mijn boete",
                    "Bericht B met het CJIB-nummer", "Bericht C: bedankt"]

        async def all_arrived() -> List[str]:
            try:
                seen = await citizen_messages(casemanager, reference)
            except aiohttp.ClientError:  # a kept-alive connection to the killed process
                return []
            # Every expected message, not just as many messages: the transcript that came with the
            # case counts too, so a count was reached before A, B and C (a red CI on a busy machine).
            return seen if all(text in seen for text in expected) else []

        # No citizen message after the restart: the action server's outbox sends them by itself.
        await eventually(all_arrived, DELIVERY_SECONDS, "berichten bij de casemanager")
        await asyncio.sleep(3)  # any duplicate would arrive by now
        seen = await citizen_messages(casemanager, reference)
    # After the transcript that came with the case: every message, in order, and none twice.
    assert seen[-len(expected):] == expected, seen
    assert all(seen.count(text) == 1 for text in expected), seen


def test_rasa_killed_mid_intake_continues_at_the_same_question(
    system: Dict[str, Any], citizen: Citizen
) -> None:
    stack: Stack = system["stack"]

    def first_two_answers(who: Citizen) -> None:
        who.say("Ik heb een brief van het CJIB en ik kan de boete niet betalen")
        assert "Klopt dat?" in " ".join(who.texts())
        who.press("Ja, dat klopt")
        assert "Moet er heel snel iets gebeuren?" in " ".join(who.texts())
        who.press("Nee")

    # The same answers without a restart give the question that must come next.
    control = Citizen(stack, sender=f"{citizen.sender}-controle")
    first_two_answers(control)
    control_question = control.texts()
    answer = control.buttons()[0]["title"]
    # Typed, not a button: a button's payload names its question, so it would work without any
    # stored state; a typed answer only means something to a bot that knows where the citizen is.
    control.say(answer)
    expected = control.texts()
    assert expected and expected != control_question  # the typed answer moved the intake on

    first_two_answers(citizen)
    question = citizen.texts()
    assert answer in [b["title"] for b in citizen.buttons()]
    stack.kill("rasa")  # SIGKILL: a crash, no clean shutdown
    stack.start_rasa()
    citizen.say(answer)
    assert citizen.texts() == expected
    assert citizen.texts() != question and "Klopt dat?" not in " ".join(citizen.texts())


async def test_service_down_when_asking_for_a_person_the_callback_request_arrives_later(
    system: Dict[str, Any], service: HandoverService, citizen: Citizen
) -> None:
    service.kill()
    texts = ask_for_a_person(citizen)
    said = " ".join(texts)
    assert "Het lukt nu niet om u met een medewerker te verbinden" in said  # honest
    assert os.environ.get("GEMEENTE_NAAM", "Gemeente Voorbeeld") in said  # the municipality's own route
    assert "terugbellen of mailen" in said  # and the callback offer

    citizen.say("Bel mij op 06 12345678, morgenochtend")
    assert "We sturen uw verzoek door zodra het weer werkt" in " ".join(citizen.texts())
    assert not service.running

    service.start()

    async def callback_case() -> Optional[str]:
        found = service.open_case("rest", citizen.sender)
        return str(found["reference"]) if found.get("active") else None

    reference = await eventually(callback_case, DELIVERY_SECONDS, "terugbelverzoek in de wachtrij")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        casemanager = Casemanager(service.url, http)
        await casemanager.login()
        assert reference in await casemanager.queue_page()
        page = await casemanager.case_page(reference)
    assert "terugbelverzoek via rest" in page
    assert "+31612345678" in page and "morgenochtend" in page
