"""Soak with faults: many citizens and casemanagers through HAProxy while parts are killed.

    python -m bench.soak [--citizens 300] [--casemanagers 20] [--seconds 480] [--pause 20] [--kills 3]

Starts `make scale-up`'s system (tools/scale.py: HAProxy, 2x Rasa, 2x action server, 2x handover
service on PostgreSQL and Redis, all on loopback). Every citizen connects over real socket.io
(websocket) through HAProxy, tells a story, asks for a person and consents; a casemanager (HTTP login,
claim, the workspace WebSocket /ws) takes the case, and then they write back and forth: each
casemanager message carries a token ("cm HV-XXXX 3"), each citizen reply its own ("burger HV-XXXX 3").
While that runs, one Rasa instance, one action server and one handover instance are killed (SIGKILL)
and restarted, one after the other.

At the end (after a drain period) it counts per direction: sent, received, lost, duplicated, out of
order, p50/p95 latency; turns per second; conversations that restarted (the welcome text again, or an
intake answer to a live-chat message). Duplicates and order are judged on what the other side sees:
the case's messages in the handover database for citizen -> casemanager, the widget's messages (after
its `mid` dedupe, as chat-widget.js shows them) for casemanager -> citizen. Then the insight figures:
the conversations on the teamleider's /api/inzicht once both handover instances have read all of
Rasa's event broker ("inzicht: N gesprekken geteld; A door de bot beantwoord, S begonnen"), at
least every conversation Rasa answered and none counted twice. Exits 1 when anything was lost,
doubled, out of order, restarted or miscounted.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple
from zoneinfo import ZoneInfo

import aiohttp
import socketio
import sqlalchemy as sa

from bench.soak_whatsapp import FakeGraph, channel_env, envelope, post_until_accepted, readable, wamid
from bot.channels.website.pending import conversation_key, pending_messages
from tools.scale import ScaledSystem, drop_databases
from tools.stack import ROOT, free_port

STORY = "Ik heb een stapel boetes van het CJIB en ik kan ze niet betalen"
WELCOME = "Welkom! Ik ben de digitale hulp"
INTAKE_ANSWER = "Ik denk dat uw vraag hierover gaat"
TOKEN = re.compile(r"\b(cm|burger) (HV-[A-Z0-9]{4}) (\d+)\b")
REFERENCE = re.compile(r"HV-[A-Z0-9]{4}")
CM_TO_CITIZEN, CITIZEN_TO_CM = "casemanager -> burger", "burger -> casemanager"


@dataclass
class Ledger:
    """Every live-chat message: when it was sent, when the other side saw it (and how often)."""

    sent: Dict[Tuple[str, str, int], float] = field(default_factory=dict)
    seen_at: Dict[Tuple[str, str, int], float] = field(default_factory=dict)
    # what each side shows, in the order it shows it, per conversation
    shown: Dict[Tuple[str, str], List[int]] = field(default_factory=lambda: defaultdict(list))
    turns: int = 0
    restarted: Set[str] = field(default_factory=set)
    # where an intake got stuck: "<channel>: <step>" -> how many citizens
    intake_failures: Dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # when each stuck step began, in seconds from the start (to tell a kill from an overload)
    stuck_at: List[int] = field(default_factory=list)
    began: float = field(default_factory=time.monotonic)
    stuck_people: List[Any] = field(default_factory=list)

    def stuck(self, where: str, since: float) -> None:
        self.intake_failures[where] += 1
        self.stuck_at.append(round(since - self.began))

    @property
    def intake_failed(self) -> int:
        return sum(self.intake_failures.values())

    def send(self, direction: str, ref: str, k: int) -> None:
        self.sent.setdefault((direction, ref, k), time.monotonic())

    def see(self, direction: str, ref: str, k: int) -> None:
        self.seen_at.setdefault((direction, ref, k), time.monotonic())

    def missing(self) -> List[Tuple[str, str, int]]:
        """What was sent and is not (yet) seen on the other side."""
        return sorted(key for key in self.sent if key not in self.seen_at)

    def report(self) -> Dict[str, Dict[str, Any]]:
        out: Dict[str, Dict[str, Any]] = {}
        for direction in (CITIZEN_TO_CM, CM_TO_CITIZEN):
            sent = {key for key in self.sent if key[0] == direction}
            shown = {(d, ref): ks for (d, ref), ks in self.shown.items() if d == direction}
            received = {(direction, ref, k) for (_, ref), ks in shown.items() for k in ks}
            latencies = sorted(self.seen_at[key] - self.sent[key] for key in sent if key in self.seen_at)
            out[direction] = {
                "sent": len(sent),
                "received": len(received & sent),
                "lost": len(sent - received),
                "duplicated": sum(len(ks) - len(set(ks)) for ks in shown.values()),
                "out_of_order": sum(
                    sum(1 for a, b in itertools.pairwise(ks) if b < a) for ks in shown.values()
                ),
                "p50_ms": round(1000 * statistics.median(latencies)) if latencies else None,
                "p95_ms": round(1000 * latencies[int(0.95 * (len(latencies) - 1))]) if latencies else None,
            }
        return out


class Citizen:
    """One citizen: the intake up to the queue, then an answer to every casemanager message. The
    channel (socket.io or WhatsApp) is in the subclass: `connect`, `say`, `choose`, `close`; what
    arrives goes into `inbox` as {"text", "buttons": [(id or payload, title)], "staff": bool}."""

    def __init__(self, ledger: Ledger, pool: "asyncio.Queue[str]") -> None:
        self.ledger, self.pool = ledger, pool
        self.inbox: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()
        self.reference = ""
        self.live = False
        self.spoke = False  # began to send its first message (it may or may not have reached Rasa)
        self.answered = False  # Rasa answered it: the conversation is in the event broker

    async def connect(self) -> None:
        raise NotImplementedError

    async def say(self, text: str) -> None:
        raise NotImplementedError

    async def choose(self, reply_id: str, title: str) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def expect(self, fragment: str, timeout: float = 180) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            data = await asyncio.wait_for(self.inbox.get(), max(0.01, deadline - time.monotonic()))
            if fragment in data["text"]:
                return data

    async def run(self, stop: asyncio.Event) -> None:
        step, since = "verbinden", time.monotonic()
        try:
            await self.connect()
            step, since = "verhaal", time.monotonic()
            self.spoke = True
            await self.say(STORY)
            await self.expect("Klopt dat?")
            self.answered = True
            step, since = "medewerker gevraagd", time.monotonic()
            await self.say("ik wil met een medewerker praten")
            consent = await self.expect("Mag de medewerker dit lezen?")
            step, since = "toestemming", time.monotonic()
            await self.choose(*next(b for b in consent["buttons"] if b[1] == "Ja, dat mag"))
            queued = await self.expect("U staat in de wachtrij")
            self.ledger.turns += 3
        except (asyncio.TimeoutError, StopIteration, OSError, socketio.exceptions.ConnectionError) as e:
            self.ledger.stuck(f"{type(self).__name__}: {step} ({type(e).__name__})", since)
            self.ledger.stuck_people.append(self)
            return
        found = REFERENCE.search(queued["text"])
        if not found:
            self.ledger.stuck(f"{type(self).__name__}: geen referentie", time.monotonic())
            return
        self.reference = found.group(0)
        self.live = True
        await self.pool.put(self.reference)
        while not stop.is_set():
            try:
                data = await asyncio.wait_for(self.inbox.get(), 1)
            except asyncio.TimeoutError:
                continue
            await self.handle(data)

    async def handle(self, data: Dict[str, Any]) -> None:
        text = data["text"]
        if WELCOME in text or INTAKE_ANSWER in text:
            self.ledger.restarted.add(self.reference)
        match = TOKEN.search(text) if data["staff"] else None
        if not match or match.group(1) != "cm" or match.group(2) != self.reference:
            return
        k = int(match.group(3))
        self.ledger.see(CM_TO_CITIZEN, self.reference, k)
        self.ledger.shown[(CM_TO_CITIZEN, self.reference)].append(k)
        self.ledger.send(CITIZEN_TO_CM, self.reference, k)
        await self.say(f"burger {self.reference} {k}")
        self.ledger.turns += 1


class WebCitizen(Citizen):
    """The widget's side over socket.io: acknowledges and de-duplicates by `mid`, rejoins its
    conversation after every reconnect, and sends what the server did not acknowledge again with the
    same message_id (as chat-widget.js does)."""

    def __init__(self, url: str, ledger: Ledger, pool: "asyncio.Queue[str]") -> None:
        super().__init__(ledger, pool)
        self.url = url
        self.session_id = f"soak-{secrets.token_hex(6)}"
        self.sio = socketio.AsyncClient(reconnection=True, reconnection_delay=0.3, reconnection_delay_max=2)
        self.mids: Set[str] = set()
        self.unacked: Dict[str, str] = {}  # message_id -> text, until the server acknowledged it
        self.sio.on("connect", self._joined)
        self.sio.on("disconnect", lambda: self._note("disconnect"))
        self.sio.on("bot_uttered", self._got)
        # what happened on this socket, for a stuck intake (synthetic ids: no personal data)
        self.trail: List[str] = []

    def _note(self, what: str) -> None:
        self.trail.append(f"{time.monotonic() - self.ledger.began:.1f} {what}")

    async def connect(self) -> None:
        # socket.io's JavaScript client (chat-widget.js) tries a failed first connection again, as
        # it does a lost one; python-socketio reconnects only after a first success.
        deadline = time.monotonic() + 120
        while True:
            try:
                await self.sio.connect(
                    self.url, socketio_path="/socket.io", transports=["websocket"], wait_timeout=30
                )
                return
            except socketio.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise
            await asyncio.sleep(1)

    async def _joined(self) -> None:
        self._note(f"connect {sorted(self.unacked)}")
        await self.sio.emit("session_request", {"session_id": self.session_id})
        for message_id, text in list(self.unacked.items()):  # as chat-widget.js: again, same id
            await self._emit(message_id, text)

    async def _got(self, data: Any) -> None:
        if not isinstance(data, dict):
            return
        # as chat-widget.js: acknowledge the mid; show a mid, or a casemanager's message id, once
        mid = data.get("mid")
        self._note(f"got mid={mid} {str(data.get('text') or '')[:25]!r}")
        keys = {mid} if isinstance(mid, str) else set()
        if isinstance(mid, str):
            await self.sio.emit("bot_uttered_ack", {"mid": mid})
        if data.get("type") == "staff_message" and data.get("id"):
            keys.add(f"medewerker:{data['id']}")
        if keys & self.mids:
            self.mids |= keys
            return
        self.mids |= keys
        buttons = [(b["payload"], b["title"]) for b in data.get("quick_replies") or data.get("buttons") or []]
        staff = data.get("type") == "staff_message"
        await self.inbox.put({"text": data.get("text") or "", "buttons": buttons, "staff": staff})

    async def say(self, text: str) -> None:
        message_id = secrets.token_hex(16)
        self.unacked[message_id] = text
        await self._emit(message_id, text)

    async def choose(self, reply_id: str, title: str) -> None:
        await self.say(reply_id)

    async def _emit(self, message_id: str, text: str) -> None:
        def done(*_: Any) -> None:
            self._note(f"ack {message_id[:8]}")
            self.unacked.pop(message_id, None)

        self._note(f"send {message_id[:8]} {text[:20]!r}")

        data = {"message": text, "session_id": self.session_id, "metadata": {"message_id": message_id}}
        try:
            await self.sio.emit("user_uttered", data, callback=done)
        except socketio.exceptions.BadNamespaceError:
            pass  # not connected: goes again after the reconnect

    async def close(self) -> None:
        await self.sio.disconnect()


class WhatsAppCitizen(Citizen):
    """A WhatsApp user: signed webhook posts in, the fake Graph API's messages out."""

    def __init__(self, webhook: str, graph: FakeGraph, n: int, ledger: Ledger, pool: "asyncio.Queue[str]"):
        super().__init__(ledger, pool)
        self.webhook, self.graph = webhook, graph
        self.wa_id = f"3169{n:07d}"
        self.http = aiohttp.ClientSession()
        self.reader: Optional["asyncio.Future[None]"] = None

    async def connect(self) -> None:
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        inbox = self.graph.inbox(self.wa_id)
        while True:
            text, buttons = readable(await inbox.get())
            await self.inbox.put({"text": text, "buttons": buttons, "staff": "(medewerker)" in text})

    async def _post(self, content: Dict[str, Any]) -> None:
        message = {"from": self.wa_id, "id": wamid(), "timestamp": str(int(time.time())), **content}
        await post_until_accepted(self.http, self.webhook, envelope(self.wa_id, messages=[message]))

    async def say(self, text: str) -> None:
        await self._post({"type": "text", "text": {"body": text}})

    async def choose(self, reply_id: str, title: str) -> None:
        reply = {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}}
        await self._post({"type": "interactive", "interactive": reply})

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        await self.http.close()


async def login(http: aiohttp.ClientSession, url: str, password: str) -> str:
    """The workspace's login as `demo` (a teamleider: casemanager's work and /inzicht), retried until
    it works (an instance may be down); returns the page's CSRF token."""
    while True:
        try:
            page = await (await http.get(f"{url}/login")).text()
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
            done = await http.post(
                f"{url}/login", data={"username": "demo", "password": password, "csrf_token": token}
            )
            if done.status == 200:
                return re.search(r'name="csrf_token" value="([^"]+)"', await done.text()).group(1)  # type: ignore[union-attr]
        except (aiohttp.ClientError, AttributeError):
            pass
        await asyncio.sleep(0.5)


class Casemanager:
    """The workspace's side: login, claim, the WebSocket /ws for live messages and sending. After a
    reconnect (its handover instance was killed) it catches up from the case's JSON, as a page would."""

    def __init__(self, url: str, password: str, ledger: Ledger, pool: "asyncio.Queue[str]", pause: float):
        self.url, self.password, self.ledger, self.pool, self.pause = url, password, ledger, pool, pause
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.cases: Dict[str, int] = {}  # reference -> the last k sent
        self.seen: Dict[str, Set[int]] = defaultdict(set)
        self.pending: Set["asyncio.Future[None]"] = set()
        self.ws: Optional[aiohttp.ClientWebSocketResponse] = None
        self.ending = False  # the run is over: read what still comes, send nothing new
        self.id = uuid.uuid4().hex[:8]

    async def login(self) -> None:
        self.csrf = await login(self.http, self.url, self.password)

    async def connect(self) -> None:
        while True:
            try:
                self.ws = await self.http.ws_connect(
                    f"{self.url}/ws", headers={"Origin": self.url}, heartbeat=10
                )
                for ref in self.cases:
                    await self.ws.send_json({"type": "subscribe", "reference": ref})
                return
            except (aiohttp.ClientError, aiohttp.WSServerHandshakeError):
                await asyncio.sleep(0.5)

    async def run(self, stop: asyncio.Event) -> None:
        await self.login()
        await self.connect()
        tasks = [asyncio.ensure_future(self._take(stop)), asyncio.ensure_future(self._read(stop))]
        await stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _take(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            ref = await self.pool.get()
            while not await self._act(ref, "claim"):
                await asyncio.sleep(0.5)
            self.cases[ref] = -1
            if self.ws is not None and not self.ws.closed:
                await self.ws.send_json({"type": "subscribe", "reference": ref})
            await self._next(ref)

    async def _act(self, ref: str, action: str) -> bool:
        try:
            done = await self.http.post(
                f"{self.url}/zaken/{ref}/{action}",
                data={"csrf_token": self.csrf},
                headers={"Accept": "application/json"},
            )
            return done.status == 200
        except aiohttp.ClientError:
            return False

    async def _next(self, ref: str, delay: float = 0.0) -> None:
        """Send message k+1 of this case (after `delay`), through the WebSocket; again after a
        reconnect when it did not arrive in the case."""
        if delay:
            await asyncio.sleep(delay)
        k = self.cases[ref] + 1
        self.cases[ref] = k
        self.ledger.send(CM_TO_CITIZEN, ref, k)
        await self._send(ref, k)

    async def _send(self, ref: str, k: int) -> None:
        """As the workspace page: the same client_id when it sends again, so the service keeps one."""
        for _ in range(60):
            if self.ws is not None and not self.ws.closed:
                try:
                    await self.ws.send_json(
                        {
                            "type": "send",
                            "reference": ref,
                            "text": f"cm {ref} {k}",
                            "client_id": f"{self.id}-{ref}-{k}",
                        }
                    )
                    return
                except (aiohttp.ClientError, ConnectionResetError, RuntimeError):
                    pass
            await asyncio.sleep(0.5)

    async def _read(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            assert self.ws is not None
            async for raw in self.ws:
                if raw.type != aiohttp.WSMsgType.TEXT:
                    continue
                event = json.loads(raw.data)
                if event.get("type") == "message" and event.get("role") == "citizen":
                    self._citizen_said(str(event.get("reference")), str(event.get("text") or ""))
            if stop.is_set():
                return
            await self.connect()  # the handover instance went away: on the other one, and catch up
            for ref in list(self.cases):
                await self._catch_up(ref)

    def _citizen_said(self, ref: str, text: str) -> None:
        match = TOKEN.search(text)
        if not match or match.group(1) != "burger" or ref not in self.cases:
            return
        k = int(match.group(3))
        if k in self.seen[ref]:
            return
        self.seen[ref].add(k)
        self.ledger.see(CITIZEN_TO_CM, ref, k)
        if k == self.cases[ref] and not self.ending:
            task = asyncio.ensure_future(self._next(ref, self.pause))
            self.pending.add(task)
            task.add_done_callback(self.pending.discard)

    async def case_messages(self, ref: str) -> List[Dict[str, Any]]:
        for _ in range(20):
            try:
                got = await self.http.get(f"{self.url}/zaken/{ref}", headers={"Accept": "application/json"})
                if got.status == 200:
                    return list((await got.json())["messages"])
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
        return []

    async def _catch_up(self, ref: str) -> None:
        messages = await self.case_messages(ref)
        for m in messages:
            if m["role"] == "citizen":
                self._citizen_said(ref, m["text"])
        # my last message never reached the case (sent while the instance died): send it again
        last = self.cases[ref]
        if last >= 0 and not any(m["text"] == f"cm {ref} {last}" for m in messages if m["role"] != "citizen"):
            await self._send(ref, last)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        await self.http.close()


# The teamleider's figures count a conversation once on every day (in the municipality's time
# zone) it was active in (README "Inzicht"): a soak across midnight there counts some twice, by
# design. So the soak's handover instances get a zone in which the whole run is one day; these four
# have their midnights at least 2 hours apart (23:00, 08:00, 10:00 and 15:00 UTC in winter).
DAY_ZONES = ("Europe/Amsterdam", "America/Los_Angeles", "Pacific/Kiritimati", "Asia/Tokyo")
# Beyond the driving itself: starting, the drain and counting the figures (at most 2 minutes each).
SOAK_OVERHEAD = timedelta(minutes=8)


def one_day_zone(start: datetime, length: timedelta) -> str:
    """The first of DAY_ZONES in which `start` and `start + length` fall on the same date."""
    for name in DAY_ZONES:
        zone = ZoneInfo(name)
        if start.astimezone(zone).date() == (start + length).astimezone(zone).date():
            return name
    raise ValueError(f"no time zone keeps a run of {length} on one day")


async def soak(
    citizens: int,
    casemanagers: int,
    seconds: float,
    pause: float,
    kills: int,
    run_dir: Path,
    whatsapp_share: float = 0.1,
    arrival: float = 0.2,
) -> Dict[str, Any]:
    """`whatsapp_share` of the citizens write through WhatsApp (signed webhook posts), the rest
    through the widget's socket.io. They arrive evenly over the first `arrival` share of the run."""
    ports = {p: free_port() for p in ("rasa", "actions", "handover", "widget")}
    prefix = f"soak_{secrets.token_hex(3)}"
    model = Path(os.environ.get("MODEL") or ROOT / "models" / "current.tar.gz").resolve()
    graph = await FakeGraph().start()
    zone = one_day_zone(datetime.now(timezone.utc), timedelta(seconds=seconds) + SOAK_OVERHEAD)
    system = ScaledSystem(
        run_dir=run_dir,
        prefix=prefix,
        ports=ports,
        model=model,
        extra_env={**channel_env(graph.url), "HANDOVER_TIMEZONE": zone},
    )
    graph.webhook = f"{system.url('rasa')}/webhooks/whatsapp/webhook"
    ledger = Ledger()
    started = time.monotonic()
    try:
        await asyncio.to_thread(system.start)
        print(f"opgestart in {time.monotonic() - started:.0f} s", flush=True)
        pool: "asyncio.Queue[str]" = asyncio.Queue()
        stop = asyncio.Event()
        on_whatsapp = round(citizens * whatsapp_share)
        people: List[Citizen] = [
            WhatsAppCitizen(graph.webhook, graph, n, ledger, pool) for n in range(on_whatsapp)
        ] + [WebCitizen(system.url("rasa"), ledger, pool) for _ in range(citizens - on_whatsapp)]
        random.Random(7).shuffle(people)
        staff = [
            Casemanager(system.url("handover"), system.demo_password, ledger, pool, pause)
            for _ in range(casemanagers)
        ]
        began = ledger.began = time.monotonic()  # the kills' and the stuck steps' clock
        tasks = [asyncio.ensure_future(c.run(stop)) for c in staff]
        for person in people:  # arrive over the first `arrival` share of the run
            tasks.append(asyncio.ensure_future(person.run(stop)))
            await asyncio.sleep(seconds * arrival / max(citizens, 1))
        faults = ["rasa1", "actions1", "handover1"][:kills]
        for n, name in enumerate(faults, 1):
            await asyncio.sleep(max(0.0, began + seconds * n / (len(faults) + 1) - time.monotonic()))
            print(f"{time.monotonic() - began:.0f} s: {name} SIGKILL", flush=True)
            await asyncio.to_thread(system.kill, name)
            await asyncio.sleep(2)
            await asyncio.to_thread(system.restart, name)
            print(f"{time.monotonic() - began:.0f} s: {name} weer gezond", flush=True)
        await asyncio.sleep(max(0.0, began + seconds - time.monotonic()))
        elapsed = time.monotonic() - began
        # drain: no new casemanager messages; what is on its way (outboxes retry with backoff)
        # still arrives and is answered: until nothing is missing, or nothing arrived for 30 s
        for cm in staff:
            cm.ending = True
        # A message that is still in an outbox or inbox (waiting for a retry, or for the lease of a
        # killed instance to run out) is late, not lost; so is one in a turn that Rasa is still
        # working on (no table shows that). Wait while anything is pending anywhere or something
        # arrived in the last 30 s (at most 2 minutes: the longest lease is WhatsApp's 30-second turn
        # lease, retries back off to well under a minute; the soak stays within its 10 minutes).
        drained = last_progress = time.monotonic()
        seen = len(ledger.seen_at)
        pending_work = PendingWork(system.databases)
        try:
            while ledger.missing() and time.monotonic() - drained < 120:
                if len(ledger.seen_at) > seen:
                    seen, last_progress = len(ledger.seen_at), time.monotonic()
                quiet = time.monotonic() - last_progress > 30
                if quiet and not any((await asyncio.to_thread(pending_work)).values()):
                    break
                await asyncio.sleep(1)
            report_pending = await asyncio.to_thread(pending_work)
        finally:
            pending_work.close()
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        for cm in staff:  # what the casemanager sees: the case's messages, in their order
            for ref in cm.cases:
                for m in await cm.case_messages(ref):
                    match = TOKEN.search(m["text"]) if m["role"] == "citizen" else None
                    if match and match.group(2) == ref:
                        ledger.shown[(CITIZEN_TO_CM, ref)].append(int(match.group(3)))
        for person in people:
            await person.close()
        for cm in staff:
            await cm.close()
        # the first stuck web citizens: what their socket saw, what Rasa did (bench/soak.py only)
        began_wall = time.time() - (time.monotonic() - began)
        report_stuck = await asyncio.to_thread(
            stuck_details, ledger.stuck_people[:12], system.databases, began_wall
        )
        insight = await insight_counted(
            system.url("handover"), system.demo_password, system.databases["events"]
        )
        insight["started"] = sum(1 for p in people if p.answered)
        insight["spoke"] = sum(1 for p in people if p.spoke)
        print(
            f"inzicht: {insight['counted']} gesprekken geteld; {insight['started']} door de bot beantwoord,"
            f" {insight['spoke']} begonnen",
            flush=True,
        )
        report: Dict[str, Any] = ledger.report()
        report["citizens"] = citizens
        report["whatsapp_citizens"] = on_whatsapp
        report["casemanagers"] = casemanagers
        report["arrival_seconds"] = round(seconds * arrival)
        report["seconds"] = round(elapsed)
        report["kills"] = faults
        report["turns_per_second"] = round(ledger.turns / elapsed, 1)
        report["conversations_live"] = sum(1 for p in people if p.live)
        report["intake_failed"] = ledger.intake_failed
        report["intake_failures"] = dict(ledger.intake_failures)
        report["intake_stuck_at_seconds"] = sorted(ledger.stuck_at)
        report["restarted"] = len(ledger.restarted)
        report["drain_seconds"] = round(time.monotonic() - drained)
        report["pending_after_drain"] = report_pending
        report["insight"] = insight
        report["stuck_details"] = report_stuck
        # the citizens whose messages went missing in either direction: the same trail
        lost_refs = {ref for d, ref, k in ledger.missing()}
        report["lost_details"] = await asyncio.to_thread(
            stuck_details, [p for p in people if p.reference in lost_refs][:12], system.databases, began_wall
        )
        channel_of = {
            p.reference: "whatsapp" if isinstance(p, WhatsAppCitizen) else "website" for p in people
        }
        report["missing"] = [
            f"{d} {ref} {k} ({channel_of.get(ref, '?')}, na {ledger.sent[(d, ref, k)] - began:.0f} s)"
            for d, ref, k in ledger.missing()
        ][:20]
        return report
    finally:
        system.stop()
        await graph.stop()
        drop_databases(prefix)


def stuck_details(people: List[Any], databases: Dict[str, str], began_wall: float) -> List[Dict[str, Any]]:
    """Per stuck citizen: its socket's trail (web: connects, what it sent, the acknowledgements, what
    it got), its conversation's last events in the tracker store and what waits for it unacknowledged
    in the website store; seconds from the start. Synthetic ids only, no personal data."""
    out: List[Dict[str, Any]] = []
    engines = {n: sa.create_engine(databases[n], future=True) for n in ("tracker", "website")}
    try:
        for p in people:
            sid = getattr(p, "session_id", None) or getattr(p, "wa_id", None)
            entry: Dict[str, Any] = {"session_id": sid, "trail": getattr(p, "trail", [])}
            if sid:
                with engines["tracker"].connect() as conn:
                    rows = conn.execute(
                        sa.text(
                            "SELECT type_name, timestamp, intent_name, action_name, data FROM events"
                            " WHERE sender_id = :s AND type_name IN ('user', 'bot', 'action') ORDER BY id"
                        ),
                        {"s": sid},
                    ).all()
                events = []
                for type_name, stamp, intent, action, data in rows[-12:]:
                    event = json.loads(data) if data else {}
                    message_id = str((event.get("metadata") or {}).get("message_id") or "")[:8]
                    text = str(event.get("text") or "")[:25]
                    events.append(
                        f"{stamp - began_wall:.1f} {type_name} {intent or action or ''} {message_id} {text!r}"
                    )
                entry["events"] = events
                with engines["website"].connect() as conn:
                    if sa.inspect(conn).has_table(pending_messages.name):
                        t = pending_messages.c
                        rows = conn.execute(
                            sa.select(t.id, t.created_at, t.data).where(
                                t.conversation_key == conversation_key(sid)
                            )
                        ).all()
                        entry["website_pending"] = [f"{i} {c - began_wall:.1f} {d[:40]}" for i, c, d in rows]
            out.append(entry)
    except Exception as e:  # diagnostics only
        out.append({"error": repr(e)})
    finally:
        for engine in engines.values():
            engine.dispose()
    return out


PENDING_QUERIES = {
    "outbox": ("bot_outbox", "SELECT count(*) FROM bot_outbox"),
    # the bot's messages to the widget that it has not acknowledged yet (sent again on reconnect)
    "website": ("website_message", "SELECT count(*) FROM website_message"),
    "whatsapp": ("whatsapp_inbox", "SELECT count(*) FROM whatsapp_inbox"),
    "whatsapp_out": (
        "whatsapp_outbox",
        "SELECT count(*) FROM whatsapp_outbox WHERE status IN ('queued', 'sending', 'unconfirmed')",
    ),
    "handover": ("outbox", "SELECT count(*) FROM outbox WHERE status = 'pending'"),
}


async def insight_counted(url: str, password: str, events_db: str, timeout: float = 120) -> Dict[str, Any]:
    """The conversations on the teamleider's /api/inzicht once the handover instances have counted
    all of Rasa's SQL event broker: no row left unread (a counted row is deleted in a later
    transaction than its counts, the last one kept without data) and the figure the same twice in
    a row; or what it is after `timeout`. Both instances read the one broker table and one Rasa
    instance was killed mid-run: more than the citizens who began would be a conversation counted
    twice, fewer than the ones Rasa answered a conversation lost."""
    import sqlalchemy as sa

    engine = sa.create_engine(events_db, future=True)

    def unread() -> int:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("events"):
                return 0  # Rasa creates it with its first event
            found = conn.execute(sa.text("SELECT count(*) FROM events WHERE data IS NOT NULL"))
            return int(found.scalar() or 0)

    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        await login(http, url, password)
        deadline = time.monotonic() + timeout
        last: Optional[Tuple[int, int]] = None
        while True:
            left = await asyncio.to_thread(unread)
            try:
                async with http.get(f"{url}/api/inzicht") as got:
                    figures = await got.json() if got.status == 200 else None
            except aiohttp.ClientError:
                figures = None
            if figures is not None:
                # Conversations per day (the last 30 days): exact counts, not rounded (only the
                # group's total is rounded to 5); a day with 1-4 is hidden (null). The soak's
                # conversations are all of today, unless the run crosses midnight: then a day may be
                # hidden, and a conversation on both days counts on both (README "Inzicht").
                days = [c["aantal"] for c in figures["groepen"]["per_dag"]["cellen"]]
                now = (sum(n or 0 for n in days), sum(n is None for n in days))
                if (left == 0 and now == last) or time.monotonic() > deadline:
                    return {"counted": now[0], "hidden_days": now[1], "unread_events": left}
                last = now
            elif time.monotonic() > deadline:
                return {"counted": None, "hidden_days": 0, "unread_events": left}
            await asyncio.sleep(1)
    finally:
        await http.close()
        engine.dispose()


class PendingWork:
    """What still waits to be delivered: the bot's outbox, WhatsApp's inbox and outbox, the handover
    service's outbox (rows per store). One engine per database for the whole drain, not per check."""

    def __init__(self, databases: Dict[str, str]) -> None:
        import sqlalchemy as sa

        self._sa = sa
        part = {name: "whatsapp" if name.startswith("whatsapp") else name for name in PENDING_QUERIES}
        self._engines = {n: sa.create_engine(databases[part[n]], future=True) for n in PENDING_QUERIES}

    def __call__(self) -> Dict[str, int]:
        counts: Dict[str, int] = {}
        for name, (table, query) in PENDING_QUERIES.items():
            with self._engines[name].connect() as conn:
                if self._sa.inspect(conn).has_table(table):
                    counts[name] = int(conn.execute(self._sa.text(query)).scalar() or 0)
        return counts

    def close(self) -> None:
        for engine in self._engines.values():
            engine.dispose()


def failures(report: Dict[str, Any]) -> List[str]:
    bad = [
        f"{d}: {k} = {report[d][k]}"
        for d in (CITIZEN_TO_CM, CM_TO_CITIZEN)
        for k in ("lost", "duplicated", "out_of_order")
        if report[d][k]
    ]
    if report["restarted"]:
        bad.append(f"gesprekken opnieuw begonnen: {report['restarted']}")
    if report["intake_failed"]:
        bad.append(f"intake niet tot de wachtrij gekomen: {report['intake_failed']}")
    insight = report["insight"]
    if insight["counted"] is None or not insight["started"] <= insight["counted"] <= insight["spoke"]:
        bad.append(
            f"inzicht: {insight['counted']} gesprekken geteld; {insight['started']} door de bot"
            f" beantwoord, {insight['spoke']} begonnen"
        )
    return bad


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak")
    parser.add_argument("--citizens", type=int, default=300)
    parser.add_argument("--casemanagers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=480)
    parser.add_argument("--pause", type=float, default=20, help="casemanager's pause between messages (s)")
    parser.add_argument("--kills", type=int, default=3, choices=range(4))
    # 300 citizens arriving in the first fifth of 8 minutes ask for more than 9 intake turns a
    # second; two Rasa instances on a 2-core machine that also runs everything else handled 6.4
    # (session 10's full soak), so 46 of 300 intakes timed out in the queue of turns. Arriving over
    # half the run asks for about 4; all citizens are in conversation together for the second half.
    parser.add_argument(
        "--arrival", type=float, default=0.5, help="share of the run over which the citizens arrive"
    )
    parser.add_argument("--logs", type=Path, help="copy the processes' logs here at the end")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        report = asyncio.run(
            soak(
                args.citizens,
                args.casemanagers,
                args.seconds,
                args.pause,
                args.kills,
                Path(tmp),
                arrival=args.arrival,
            )
        )
        if args.logs and (Path(tmp) / "logs").is_dir():
            shutil.copytree(Path(tmp) / "logs", args.logs, dirs_exist_ok=True)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    bad = failures(report)
    for line in bad:
        print("FOUT:", line, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
