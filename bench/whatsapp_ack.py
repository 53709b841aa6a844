"""WhatsApp webhook acknowledgement latency while the send API is slow (issue 13).

Starts the WhatsApp channel in a real Sanic server (as Rasa registers it) with a stand-in for Rasa
that answers every message, and a local fake Graph API that takes `--api-latency` seconds per send.
20 users send 5 messages each (100 signed webhooks, each user one after another, the users at the
same time). Prints the p50/p99/max of the webhook's 200 (Meta: median at most 250 ms, under 1 %
over 1 s), the time until every message was answered, and checks that every message was answered
once and in order per user. Last line: `whatsapp_ack_p99_ms=<float>`. Only loopback traffic.

With `--model`, the stand-in reads every message with the trained model first (Rasa's own
`parse_message`, on the same event loop as the webhook, as in `rasa run`), so the numbers include
what reading costs the webhook; `--parse-on-loop` measures Rasa's reading on the loop itself
instead of on its own thread (bot/parse_thread.py), for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional

import aiohttp
from aiohttp import web
from rasa.core.channels.channel import UserMessage, register
from sanic import Sanic

from bench.soak_whatsapp import APP_SECRET, PHONE_NUMBER_ID, envelope, signed
from bot.channels.whatsapp import WhatsAppConfig, WhatsAppInput


class EchoAgent:
    """Rasa's place: answers each message through its output channel."""

    def __init__(self) -> None:
        self.received: Dict[str, List[str]] = {}

    def is_ready(self) -> bool:
        return True

    async def handle_message(self, message: UserMessage) -> None:
        self.received.setdefault(message.sender_id, []).append(message.text or "")
        await message.output_channel.send_response(message.sender_id, {"text": f"Antwoord: {message.text}"})


class ReadingAgent(EchoAgent):
    """Reads each message with the trained model (Rasa's processor) before it answers."""

    def __init__(self, rasa_agent: Any) -> None:
        super().__init__()
        self.rasa_agent = rasa_agent

    async def handle_message(self, message: UserMessage) -> None:
        await self.rasa_agent.parse_message(message.text or "")
        await super().handle_message(message)


# What citizens write: short and long messages (written for this bench, not taken from eval/).
TEXTS = [
    "Ik heb een brief van de Belastingdienst en ik snap niet wat ik moet doen.",
    "Mijn moeder is vorige maand overleden en nu komen er allemaal rekeningen binnen. Ik weet niet "
    "waar ik moet beginnen, de bank heeft haar rekening geblokkeerd en er ligt een aanslag van de "
    "gemeente. Ook moet de huur nog worden opgezegd en ik heb zelf ook schulden.",
    "hoi",
    "Ik ben mijn baan kwijt en ik kan de huur niet meer betalen, de verhuurder dreigt met een "
    "ontruiming. Ik heb ook nog een boete van het CJIB en mijn toeslagen zijn gestopt.",
    "Kan ik iemand spreken?",
]


class FakeGraphApi:
    """Meta's send API: takes `latency` seconds per message, then reports it "sent" through the
    webhook (signed), as Meta does; the channel sends a citizen's next message after that report."""

    def __init__(self, latency: float, delivered: Dict[str, List[str]]) -> None:
        self.latency, self.delivered = latency, delivered
        self.webhook = ""  # known once the channel's server runs
        self.reports: "set[asyncio.Task[None]]" = set()
        self.http: Optional[aiohttp.ClientSession] = None

    async def messages(self, request: web.Request) -> web.Response:
        body = await request.json()
        await asyncio.sleep(self.latency)
        self.delivered.setdefault(body["to"], []).append(body["text"]["body"])
        message_id = f"wamid.{uuid.uuid4().hex}"
        key = body.get("biz_opaque_callback_data")
        if key is not None and self.webhook:
            task = asyncio.ensure_future(self.report_sent(body["to"], message_id, key))
            self.reports.add(task)
            task.add_done_callback(self.reports.discard)
        return web.json_response({"messages": [{"id": message_id}]})

    async def report_sent(self, wa_id: str, message_id: str, key: str) -> None:
        status = {
            "id": message_id,
            "status": "sent",
            "timestamp": str(int(time.time())),
            "recipient_id": wa_id,
            "biz_opaque_callback_data": key,
        }
        raw, headers = signed(envelope(wa_id, statuses=[status]))
        if self.http is None:
            self.http = aiohttp.ClientSession()
        async with self.http.post(self.webhook, data=raw, headers=headers):
            pass

    async def start(self) -> "tuple[web.AppRunner, str]":
        app = web.Application()
        app.router.add_post("/v24.0/{phone_number_id}/messages", self.messages)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return runner, f"http://127.0.0.1:{port}/v24.0"

    async def stop(self) -> None:
        await asyncio.gather(*self.reports, return_exceptions=True)
        if self.http is not None:
            await self.http.close()


def text_message(wa_id: str, text: str) -> Dict[str, Any]:
    return {
        "from": wa_id,
        "id": f"wamid.{uuid.uuid4().hex}",
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": text},
    }


def percentile(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def message_text(n: int) -> str:
    return f"bericht {n}: {TEXTS[n % len(TEXTS)]}"


async def stand_in(model: Optional[str], parse_on_loop: bool) -> EchoAgent:
    """The echo, or (with a model) the echo after Rasa read the message."""
    if not model:
        return EchoAgent()
    from rasa.core.agent import load_agent

    from bot import parse_thread

    if not parse_on_loop:
        parse_thread.install()
    return ReadingAgent(await load_agent(model_path=model))


async def run(
    users: int,
    per_user: int,
    latency: float,
    workers: int,
    model: Optional[str] = None,
    parse_on_loop: bool = False,
) -> int:
    delivered: Dict[str, List[str]] = {}
    graph = FakeGraphApi(latency, delivered)
    runner, api_url = await graph.start()
    with tempfile.TemporaryDirectory() as tmp:
        config = WhatsAppConfig(
            app_secret=APP_SECRET,
            verify_token="v",
            access_token="t",
            phone_number_id=PHONE_NUMBER_ID,
            api_url=api_url,
            state_db=str(Path(tmp) / "whatsapp.db"),
            workers=workers,
        )
        channel = WhatsAppInput(config)
        app = Sanic(f"bench_{uuid.uuid4().hex[:8]}")
        agent = await stand_in(model, parse_on_loop)
        app.ctx.agent = agent
        register([channel], app, "/webhooks/")
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/webhooks/whatsapp/webhook"
        graph.webhook = url
        server: Any = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
        await server.startup()
        await server.before_start()
        await server.after_start()
        acks: List[float] = []
        started = time.perf_counter()
        async with aiohttp.ClientSession() as http:

            async def user(wa_id: str) -> None:
                for n in range(per_user):
                    body, headers = signed(envelope(wa_id, messages=[text_message(wa_id, message_text(n))]))
                    t0 = time.perf_counter()
                    async with http.post(url, data=body, headers=headers) as r:
                        assert r.status == 200, r.status
                    acks.append(time.perf_counter() - t0)

            wa_ids = [f"3161000{n:04d}" for n in range(users)]
            await asyncio.gather(*(user(w) for w in wa_ids))
            all_acked = time.perf_counter() - started
            await channel.dispatcher.wait_idle(timeout=600)
            await graph.stop()
            all_answered = time.perf_counter() - started
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()
    await runner.cleanup()

    expected = {w: [message_text(n) for n in range(per_user)] for w in wa_ids}
    correct = agent.received == expected and delivered == {
        w: [f"Antwoord: {t}" for t in texts] for w, texts in expected.items()
    }
    over_1s = sum(1 for a in acks if a > 1.0)
    reading = "none" if not model else ("Rasa's, on the event loop" if parse_on_loop else "on its own thread")
    print(f"whatsapp: {len(acks)} webhooks from {users} users, send API {latency * 1000:.0f} ms per message")
    print(f"  reading with the model: {reading}")
    p50, p99 = statistics.median(acks) * 1000, percentile(acks, 0.99) * 1000
    print(
        f"  acknowledgement p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(acks) * 1000:.1f} ms, "
        f"over 1 s: {over_1s} (Meta: p50 <= 250 ms, < 1 % over 1 s)"
    )
    print(f"  all acknowledged after {all_acked:.2f} s, all answered after {all_answered:.2f} s")
    print(f"  every message answered once, in order per user: {'yes' if correct else 'NO'}")
    print(f"whatsapp_ack_p50_ms={p50:.1f}")
    print(f"whatsapp_ack_p99_ms={p99:.1f}")
    return 0 if correct else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--per-user", type=int, default=5)
    parser.add_argument("--api-latency", type=float, default=0.5, help="seconds per send at the fake API")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--model", help="a trained model: read every message with it first")
    parser.add_argument(
        "--parse-on-loop", action="store_true", help="with --model: Rasa's reading on the event loop"
    )
    args = parser.parse_args()
    sys.exit(
        asyncio.run(
            run(args.users, args.per_user, args.api_latency, args.workers, args.model, args.parse_on_loop)
        )
    )


if __name__ == "__main__":
    main()
