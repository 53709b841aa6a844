"""Appointments on WhatsApp through the real processes (issue 18): Rasa with the WhatsApp channel,
the action server and the handover service (SQLite), with a fake Graph API (tests/channels/helpers.py)
that answers as Meta does and posts Meta's signed status callbacks to Rasa's webhook. The citizen
writes through signed webhook posts, as Meta delivers them.

1. A type-3 intake (CJIB fines hiding an AOW question) ends with "Afspraak maken": slot buttons,
   one chosen, the B1 confirmation (reference, phone moment, CJIB and SVB joining, what to bring)
   and the calendar file as a `document` (uploaded to the media endpoint); the slot is taken in the
   service. "ik kan <dag> niet" moves it, "ik wil de afspraak afzeggen" cancels it.
2. The reminder the day before, queued by the service's reminder job on two instances that both run
   it many times: outside the 24-hour window it goes out as the approved template through the
   channel's durable outbox (once), and the reminder itself when the citizen taps it; inside the
   window as a normal text (once)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
import urllib.request
from datetime import datetime, timezone
from datetime import time as clock
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional
from zoneinfo import ZoneInfo

import pytest

from bot.channels.whatsapp.channel import ContactIds
from bot.channels.whatsapp.format import MAX_BUTTON_TITLE, MAX_ROW_TITLE, shorten
from bot.intake.knowledge import knowledge
from tests.channels.helpers import (
    ACCESS_TOKEN,
    APP_SECRET,
    PHONE_NUMBER_ID,
    TEMPLATE,
    VERIFY_TOKEN,
    FakeGraph,
    envelope,
    sign,
    wamid,
)
from tests.e2e.appointment_helpers import (
    ALWAYS_OPEN,
    OFFICE,
    ZONE,
    ServiceInstance,
    SlotSpec,
    add_slots,
    appointments_of,
    days_ahead,
    free_slot_ids,
    lines_of,
    outbox_intents,
    rasa_slots,
)
from tests.e2e.conftest import SECRET, handover_system
from tests.e2e.test_conversations import answer, confirm_topic

pytestmark = [pytest.mark.e2e, pytest.mark.model]

BRING = "Neem mee: uw paspoort, identiteitskaart of rijbewijs. En de brieven over uw vraag."
REMINDER = "Denkt u aan uw afspraak?"
SVEN = "Ik heb een hele stapel boetes van het CJIB. Ik durf ze niet te bellen. Mijn spaargeld is op."
# The channel's outbox rows still to send (bot/channels/whatsapp/store.py OUT_OPEN).
OPEN = "('queued', 'sending', 'unconfirmed')"


def choice(title: str, reply_id: str, kind: str, full: str) -> Dict[str, str]:
    """A reply button or list row as the citizen sees it: `full` is a cut row title's whole wording."""
    return {"title": title, "payload": reply_id, "kind": kind, "shown": title, "full": full}


class GraphThread:
    """The fake Graph API in a thread of its own (its own event loop), so the synchronous test and
    the Rasa process can both talk to it for the whole module."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.graph: FakeGraph = self.run(FakeGraph().start())

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    def stop(self) -> None:
        self.run(self.graph.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Any]]:
    work = Path(tmp_path_factory.mktemp("afspraak-whatsapp"))
    fake = GraphThread()
    whatsapp = {
        "WHATSAPP_APP_SECRET": APP_SECRET,
        "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
        "WHATSAPP_ACCESS_TOKEN": ACCESS_TOKEN,
        "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
        "WHATSAPP_API_URL": fake.graph.url,
        "WHATSAPP_TEMPLATE_NAME": TEMPLATE,
        "WHATSAPP_STATE_DB": str(work / "whatsapp.db"),
    }
    # The first instance queues no reminder (none is within an hour); the reminder test starts two
    # more that do.
    service = {"HANDOVER_APPOINTMENT_REMINDER_HOURS": "1", "HANDOVER_APPOINTMENT_POLL_SECONDS": "0.5"}
    try:
        with handover_system(work, ALWAYS_OPEN, service_env=service, stack_env=whatsapp) as running:
            stack = running["stack"]
            fake.graph.webhook = f"{stack.url}/webhooks/whatsapp/webhook"  # Meta's status callbacks
            yield {**running, "graph": fake.graph, "work": work, "db": work / "handover.db"}
    finally:
        fake.stop()


class WhatsAppCitizen:
    """A citizen on WhatsApp: writes and taps through signed webhook posts to the real Rasa, reads
    what the fake Graph API delivered to their number. The same interface as the REST citizen of
    tests/e2e/conftest.py, so the intake helpers of test_conversations.py drive it too."""

    def __init__(self, system: Dict[str, Any], wa_id: str) -> None:
        self.system = system
        self.wa_id = wa_id
        self.graph: FakeGraph = system["graph"]
        self.state_db = Path(system["work"]) / "whatsapp.db"
        self.last: List[Dict[str, Any]] = []

    # -- writing ----------------------------------------------------------------------------------

    def post(self, kind: str, content: Dict[str, Any], **extra: Any) -> None:
        message = {
            "from": self.wa_id,
            "id": wamid(),
            "timestamp": str(int(time.time())),
            "type": kind,
            kind: content,
            **extra,
        }
        body = json.dumps(envelope([message])).encode()
        request = urllib.request.Request(
            f"{self.system['stack'].url}/webhooks/whatsapp/webhook",
            data=body,
            headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(body)},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200

    def received(self) -> List[Dict[str, Any]]:
        return [m for m in list(self.graph.delivered) if m["to"] == self.wa_id]

    def _turn(self, kind: str, content: Dict[str, Any], **extra: Any) -> List[Dict[str, Any]]:
        before = len(self.received())
        self.post(kind, content, **extra)
        self.settle()
        self.last = self.received()[before:]
        return self.last

    def say(self, text: str) -> List[Dict[str, Any]]:
        return self._turn("text", {"body": text})

    def press(self, title: str) -> List[Dict[str, Any]]:
        choice = self._find(title)
        if choice is None:
            raise AssertionError(f"geen knop '{title}'; wel: {[b['title'] for b in self.buttons()]}")
        reply = {"id": choice["payload"], "title": choice["shown"]}
        content = {"type": choice["kind"], choice["kind"]: reply}
        return self._turn("interactive", content, context={"from": "15550783881", "id": wamid()})

    def press_any(self, *titles: str) -> Optional[str]:
        for title in titles:
            if self._find(title) is not None:
                self.press(title)
                return title
        return None

    def tap_template(self, text: str = "Bericht lezen") -> List[Dict[str, Any]]:
        content = {"payload": text, "text": text}
        return self._turn("button", content, context={"from": "15550783881", "id": wamid()})

    def settle(self, timeout: float = 120) -> None:
        """Until the channel is idle: the inbox handled and nothing left to send (twice in a row)."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while quiet < 2:
            if time.monotonic() > deadline:
                raise AssertionError("WhatsApp channel still busy")
            time.sleep(0.2)
            with sqlite3.connect(self.state_db, timeout=10) as db:
                inbox = db.execute("SELECT count(*) FROM whatsapp_inbox").fetchone()[0]
                query = f"SELECT count(*) FROM whatsapp_outbox WHERE status IN {OPEN}"
                outbox = db.execute(query).fetchone()[0]
            quiet = quiet + 1 if inbox == 0 and outbox == 0 else 0

    # -- reading ----------------------------------------------------------------------------------

    def texts(self) -> List[str]:
        shown = []
        for m in self.last:
            if m["type"] == "text":
                shown.append(m["text"]["body"])
            elif m["type"] == "interactive":
                shown.append(m["interactive"]["body"]["text"])
            elif m["type"] == "document":
                shown.append(m["document"].get("caption", ""))
        return shown

    def buttons(self) -> List[Dict[str, str]]:
        found = []
        for m in self.last:
            if m["type"] != "interactive":
                continue
            action = m["interactive"]["action"]
            for b in action.get("buttons", []):
                title = b["reply"]["title"]
                found.append(choice(title, b["reply"]["id"], "button_reply", title))
            for section in action.get("sections", []):
                for r in section["rows"]:
                    full = r.get("description") or r["title"]
                    found.append(choice(r["title"], r["id"], "list_reply", full))
        return found

    def _find(self, title: str) -> Optional[Dict[str, str]]:
        for b in self.buttons():
            cut = shorten(title, MAX_BUTTON_TITLE if b["kind"] == "button_reply" else MAX_ROW_TITLE)
            if title in (b["title"], b["full"]) or b["title"] == cut:
                return b
        return None

    def documents(self) -> List[Dict[str, Any]]:
        return self.graph.documents(to=self.wa_id)

    def slots(self) -> Dict[str, Any]:
        stack = self.system["stack"]
        return rasa_slots(stack.url, stack.token, self.wa_id)


def starts_at(ics: str) -> datetime:
    """The event's start in an iCalendar file (UTC with Z, or local with TZID)."""
    line = next(line for line in lines_of(ics) if line.startswith("DTSTART"))
    name, value = line.split(":", 1)
    if value.endswith("Z"):
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    zone = ZoneInfo(name.split("TZID=", 1)[1]) if "TZID=" in name else ZONE
    return datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=zone)


def test_a_type_3_intake_ends_in_an_appointment_moved_and_cancelled_by_free_text(
    system: Dict[str, Any],
) -> None:
    first_day = days_ahead(3)
    next_day = days_ahead(4)
    morning = SlotSpec(first_day, clock(10, 0))
    office = SlotSpec(first_day, clock(14, 0), mode="stadskantoor", location=OFFICE)
    cjib_day = SlotSpec(next_day, clock(10, 0), organisation="cjib")  # CJIB's own day at the office
    later = SlotSpec(days_ahead(5), clock(9, 0))
    names = ("morning", "office", "cjib_day", "later")
    ids = dict(zip(names, add_slots(system["db"], [morning, office, cjib_day, later]), strict=True))
    citizen = WhatsAppCitizen(system, "31612340001")

    # The intake of tests/e2e/test_conversations.py (Sven): fines that hide an AOW question, type 3.
    citizen.say(SVEN)
    topics = ["cjib.openstaande_boetes", "cjib.betalingsregeling"]
    confirm_topic(citizen, topics, "Boetes en belasting", knowledge().topics[topics[0]].knop)
    if not citizen.slots().get("urgent"):
        answer(citizen, ["Nee"])
    answer(citizen, ["Nee, lukt niet", "Nee", "66+, geen AOW"])
    slots = citizen.slots()
    assert slots["vraagtype"] == 3 and {"cjib", "svb"} <= set(slots["organisaties"])

    # "Afspraak maken": the first free slots (CJIB's own day among them) as choices.
    citizen.press("Afspraak maken")
    assert any("U kunt een afspraak maken." in t for t in citizen.texts()), citizen.texts()
    titles = [b["title"] for b in citizen.buttons()]
    assert titles[:3] == [morning.button, office.button, cjib_day.button] and "Ander moment" in titles

    citizen.press(morning.button)
    confirmation = " ".join(citizen.texts())
    assert "Uw afspraak staat vast." in confirmation, citizen.texts()
    [booked] = appointments_of(system["db"], "whatsapp", citizen.wa_id)
    reference = booked["reference"]
    assert f"Uw kenmerk is {reference}." in confirmation
    assert "10.00 uur" in confirmation
    assert "Wij bellen u op dat moment. De organisatie belt mee." in confirmation
    assert "Wie doen mee: de gemeente, CJIB, SVB" in confirmation and BRING in confirmation
    # The slot is taken at the service: booked, with who joins, and no longer offered.
    assert (booked["status"], booked["slot_id"]) == ("gepland", ids["morning"])
    assert {"cjib", "svb"} <= set(booked["organisations"])
    assert ids["morning"] not in free_slot_ids(system["service_url"], "cjib")
    # The calendar file, as a document after the confirmation, its file on Meta's media endpoint.
    assert [m["type"] for m in citizen.last][-1] == "document"
    [document] = citizen.documents()
    assert document["filename"] == f"afspraak-{reference}.ics"
    assert document["caption"] == "Wilt u de afspraak in uw agenda zetten? Open dan dit bestand."
    ics = document["content"].decode("utf-8")
    assert ics.startswith("BEGIN:VCALENDAR") and f"UID:{reference.lower()}@afspraken.gemeente" in ics
    assert "Kenmerk: " + reference in "".join(lines_of(ics))
    assert starts_at(ics) == morning.starts

    # "ik kan <dag> niet": move or cancel? Another moment, chosen from the buttons.
    citizen.say(f"ik kan {morning.weekday} niet")
    assert "Wat wilt u doen met uw afspraak?" in citizen.texts()
    citizen.press("Ander moment")
    assert cjib_day.button in [b["title"] for b in citizen.buttons()]
    citizen.press(cjib_day.button)
    moved = " ".join(citizen.texts())
    assert "Uw afspraak staat vast." in moved and f"Uw kenmerk is {reference}." in moved
    [still] = appointments_of(system["db"], "whatsapp", citizen.wa_id)
    assert (still["reference"], still["slot_id"], still["status"]) == (reference, ids["cjib_day"], "gepland")
    assert ids["morning"] in free_slot_ids(system["service_url"], "cjib")
    assert ids["cjib_day"] not in free_slot_ids(system["service_url"], "cjib")
    _, second = citizen.documents()
    assert f"UID:{reference.lower()}@" in second["content"].decode()  # the same event, moved
    assert starts_at(second["content"].decode()) == cjib_day.starts

    # Cancelled in the chat's own words: the slot is free again.
    citizen.say("Ik wil de afspraak afzeggen")
    assert any(t.startswith("Uw afspraak is afgezegd.") for t in citizen.texts()), citizen.texts()
    [cancelled] = appointments_of(system["db"], "whatsapp", citizen.wa_id)
    assert cancelled["status"] == "geannuleerd"
    # A file that takes it out of the calendar: the same event, cancelled.
    *_, gone = citizen.documents()
    assert gone["caption"].startswith("Staat de afspraak in uw agenda? Open dan dit bestand.")
    gone_ics = gone["content"].decode("utf-8")
    assert f"UID:{reference.lower()}@" in gone_ics and "METHOD:CANCEL" in gone_ics
    assert ids["cjib_day"] in free_slot_ids(system["service_url"], "cjib")
    assert citizen.slots()["afspraak_referentie"] is None


def book_at_the_service(system: Dict[str, Any], wa_id: str, slot_id: int) -> str:
    """A booking the bot makes for the conversation (bot API), as after "Afspraak maken"."""
    request = urllib.request.Request(
        f"{system['service_url']}/api/conversations/whatsapp/{wa_id}/appointments",
        data=json.dumps({"slot_id": slot_id}).encode(),
        headers={"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return str(json.loads(answer.read())["reference"])


def pending_in_outbox(database: Path) -> int:
    with sqlite3.connect(database) as db:
        return int(db.execute("SELECT count(*) FROM outbox WHERE status = 'pending'").fetchone()[0])


def wait_until(check: Any, timeout: float = 90, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.2)


def test_the_reminder_goes_out_once_as_the_template_outside_the_window_and_as_text_inside(
    system: Dict[str, Any],
) -> None:
    day = days_ahead(4)
    away_slot, here_slot = add_slots(system["db"], [SlotSpec(day, clock(15, 0)), SlotSpec(day, clock(16, 0))])
    away = WhatsAppCitizen(system, "31612340002")  # last wrote more than 24 hours ago
    here = WhatsAppCitizen(system, "31612340003")  # wrote just now
    for citizen in (away, here):
        citizen.say("hallo")
    away_reference = book_at_the_service(system, away.wa_id, away_slot)
    here_reference = book_at_the_service(system, here.wa_id, here_slot)
    # A day passes for `away`: their last message is 25 hours old in the channel's state.
    key = ContactIds(APP_SECRET).key(away.wa_id)
    with sqlite3.connect(away.state_db) as db:
        update = "UPDATE whatsapp_contact SET last_inbound_at = ? WHERE contact_key = ?"
        db.execute(update, (time.time() - 25 * 3600, key))
    before_away, before_here = len(away.received()), len(here.received())

    # The reminder job on two more instances (the first one's lead is an hour): both run it every
    # 0.3 s; the appointments are within their lead of 200 hours.
    settings = {"HANDOVER_APPOINTMENT_REMINDER_HOURS": "200", "HANDOVER_APPOINTMENT_POLL_SECONDS": "0.3"}
    instances = [
        ServiceInstance(system["service_env"], system["work"], f"reminders-{n}", **settings) for n in (1, 2)
    ]
    try:
        wait_until(lambda: len(away.received()) > before_away, what="the template to the citizen away")
        wait_until(lambda: len(here.received()) > before_here, what="the reminder to the citizen here")
        # Both instances were up (healthz) before the first reminder was queued, and run the job
        # every 0.3 s: a second copy would be queued in the same race. Once the service's outbox
        # has nothing pending, whatever was queued has reached the channel.
        wait_until(lambda: pending_in_outbox(system["db"]) == 0, what="the service's outbox to be empty")
        for instance in instances:  # a busy SQLite is a warning (retried); anything else a traceback
            assert "Traceback" not in instance.log.read_text(errors="replace")
    finally:
        for instance in instances:
            instance.stop()

    # Outside the window: only the approved template, once, through the outbox; the reminder waits.
    assert [m["type"] for m in away.received()[before_away:]] == ["template"]
    assert away.received()[before_away]["template"]["name"] == TEMPLATE
    # Inside the window: the reminder itself as a normal text, once.
    arrived = here.received()[before_here:]
    assert [m["type"] for m in arrived] == ["text"]
    assert arrived[0]["text"]["body"].startswith(REMINDER) and here_reference in arrived[0]["text"]["body"]
    for citizen, reference in ((away, away_reference), (here, here_reference)):
        [appointment] = appointments_of(system["db"], "whatsapp", citizen.wa_id)
        assert appointment["reference"] == reference and appointment["reminder_sent_at"] is not None
        assert outbox_intents(system["db"], citizen.wa_id).count("afspraak_herinnering") == 1

    # The citizen taps the template's button: the held reminder arrives, once.
    away.tap_template()
    shown = [m["text"]["body"] for m in away.received()[before_away:] if m["type"] == "text"]
    assert len(shown) == 1 and shown[0].startswith(REMINDER) and away_reference in shown[0]
    assert [m["type"] for m in away.received()[before_away:]].count("template") == 1
