"""Benchmarks for the handover service; prints plain ``name=value`` lines.

Runs the real app as a separate process against a fresh database (PostgreSQL when
reachable, else SQLite; force with BENCH_DB=sqlite|postgresql) and a fake Rasa endpoint in
this process. The service reads HANDOVER_* from the environment (e.g.
HANDOVER_POSITION_PUSH_SECONDS=0 to push every queue position change at once):

* claims_per_second: 20 concurrent casemanagers POST "volgende zaak" until the queue of 200
  waiting live chats is empty; the citizens were last told their place an hour ago, so the
  first claim makes all of them due for a position update
* position_pushes_during_claims: wachtrij_update calls the fake Rasa received meanwhile
* queue_page_p95_ms: GET /wachtrij with 10 000 waiting cases in the team
* delivery_p50_ms / delivery_p95_ms: casemanager WebSocket send -> fake Rasa receives the
  trigger_intent, with 50 concurrent live chats (each sending about one message a second)
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import datetime as dt
import os
import random
import re
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import argon2
import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestServer
from alembic import command
from alembic.config import Config
from sqlalchemy import insert, select, update

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE / "src"))

from handover import auth  # noqa: E402
from handover.db import make_engine, make_sessionmaker  # noqa: E402
from handover.models import Case, Channel, Kind, Role, Status, utcnow  # noqa: E402
from handover.settings import HANDOVER_ROOT  # noqa: E402

PASSWORD = "bench-password"
SECRET = "bench-secret"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
CLAIM_CASES = int(os.environ.get("BENCH_CLAIM_CASES", "200"))
CLAIMERS = 20
QUEUE_CASES = 10_000
CHATS = int(os.environ.get("BENCH_CHATS", "50"))
MESSAGES_PER_CHAT = 10


def p(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def migrate(url: str) -> None:
    cfg = Config(str(HANDOVER_ROOT / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["configure_logger"] = False
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(command.upgrade, cfg, "head").result()


def pg_reachable() -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", 5432)) == 0


class FakeRasa:
    def __init__(self) -> None:
        self.waiters: dict[str, asyncio.Future[float]] = {}
        self.calls = 0
        self.intents: collections.Counter[str] = collections.Counter()

    def app(self) -> web.Application:
        async def trigger(request: web.Request) -> web.Response:
            body = await request.json()
            self.calls += 1
            self.intents[body.get("name", "")] += 1
            text = body.get("entities", {}).get("tekst")
            fut = self.waiters.pop(text, None) if text else None
            if fut is not None and not fut.done():
                fut.set_result(time.perf_counter())
            return web.json_response({})

        app = web.Application()
        app.router.add_post("/conversations/{sender_id}/trigger_intent", trigger)
        return app


async def login(base: str, username: str) -> tuple[aiohttp.ClientSession, str]:
    session = aiohttp.ClientSession(base_url=base, cookie_jar=aiohttp.CookieJar(unsafe=True))
    page = await (await session.get("/login")).text()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    resp = await session.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf[1]}
    )
    token = re.search(r'name="csrf_token" value="([^"]+)"', await resp.text())
    assert resp.status == 200 and token, resp.status
    return session, token[1]


def case_body(sender: str, topic: str) -> dict[str, Any]:
    return {
        "channel": "socketio",
        "sender_id": sender,
        "kind": "chat",
        "transcript": [{"role": "citizen", "text": "Ik wil graag een medewerker spreken"}],
        "summary": {"topic": topic, "organisations": ["cjib"], "question_type": 3},
        "consent": True,
    }


async def run(database_url: str) -> dict[str, float]:
    rasa = FakeRasa()
    rasa_server = TestServer(rasa.app())
    await rasa_server.start_server()
    # The service runs in its own process, as in production; this process plays the
    # casemanagers' browsers, the bot and Rasa.
    port = free_port()
    env = os.environ | {
        "HANDOVER_DATABASE_URL": database_url,
        "HANDOVER_SHARED_SECRET": SECRET,
        "RASA_URL": str(rasa_server.make_url("")).rstrip("/"),
        "HANDOVER_OFFICE_HOURS": "mon-sun 00:00-23:59",
        "HANDOVER_LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join([str(HERE / "src"), str(HERE.parent)]),  # + privacy/ at the repo root
    }
    env.pop("REDIS_URL", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys; from aiohttp import web; from handover.app import create_app;"
        "from handover.settings import Settings;"
        "web.run_app(create_app(Settings.from_env()), host='127.0.0.1', port=int(sys.argv[1]),"
        " print=None, access_log=None)",
        str(port),
        env=env,
    )
    base = f"http://127.0.0.1:{port}/"
    await wait_healthy(base)
    engine = make_engine(database_url)
    sm = make_sessionmaker(engine)
    bot = {"Authorization": f"Bearer {SECRET}"}
    results: dict[str, float] = {}
    async with sm() as session, session.begin():
        for i in range(max(CHATS, CLAIMERS)):
            await auth.create_user(
                session,
                username=f"cm{i}",
                password=PASSWORD,
                display_name=f"CM {i}",
                first_name=f"Cm{i}",
                role=Role.CASEMANAGER,
                teams=[],
            )
    async with aiohttp.ClientSession(base_url=base) as api:
        # --- claims per second --------------------------------------------------------
        sem = asyncio.Semaphore(10)

        async def create(sender: str, topic: str) -> str:
            async with sem:
                resp = await api.post("/api/cases", json=case_body(sender, topic), headers=bot)
                assert resp.status == 201, resp.status
                return str((await resp.json())["reference"])

        await asyncio.gather(*(create(f"claim-{i}", "zorg") for i in range(CLAIM_CASES)))
        # Citizens who have waited a while: each was last told their place longer ago than
        # HANDOVER_POSITION_PUSH_SECONDS, so the first claim makes every one of them due.
        async with sm() as session, session.begin():
            await session.execute(
                update(Case)
                .where(Case.sender_id.like("claim-%"))
                .values(position_pushed_at=utcnow() - dt.timedelta(hours=1))
            )
        claimers = await asyncio.gather(*(login(base, f"cm{i}") for i in range(CLAIMERS)))
        rasa.intents.clear()

        async def claim_loop(session: aiohttp.ClientSession, token: str) -> int:
            got = 0
            while True:
                resp = await session.post(
                    "/wachtrij/volgende", data={"csrf_token": token, "team": "zorg"}, allow_redirects=False
                )
                if not resp.headers.get("Location", "").startswith("/zaken/"):
                    return got
                got += 1

        start = time.perf_counter()
        claimed = await asyncio.gather(*(claim_loop(s, t) for s, t in claimers))
        elapsed = time.perf_counter() - start
        assert sum(claimed) == CLAIM_CASES, claimed
        results["claims_per_second"] = round(CLAIM_CASES / elapsed, 1)
        results["position_pushes_during_claims"] = rasa.intents["wachtrij_update"]
        await asyncio.gather(*(s.close() for s, _ in claimers))

        # --- casemanager -> citizen delivery with 50 live chats -----------------------
        refs = await asyncio.gather(*(create(f"chat-{i}", "schulden") for i in range(CHATS)))
        managers = await asyncio.gather(*(login(base, f"cm{i}") for i in range(CHATS)))
        for (session, token), ref in zip(managers, refs, strict=False):
            resp = await session.post(f"/zaken/{ref}/claim", data={"csrf_token": token})
            assert resp.status == 200
        await asyncio.sleep(1.5)  # let claim notifications drain before measuring
        latencies: list[float] = []

        async def chat(session: aiohttp.ClientSession, ref: str) -> None:
            async with session.ws_connect(f"/ws?case={ref}") as ws:
                for _ in range(MESSAGES_PER_CHAT):
                    # A casemanager types: about one message per second per chat.
                    await asyncio.sleep(random.uniform(0.5, 1.5))
                    text = f"bericht {uuid.uuid4().hex}"
                    fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
                    rasa.waiters[text] = fut
                    t0 = time.perf_counter()
                    await ws.send_json({"type": "send", "reference": ref, "text": text})
                    while True:  # the service confirms or reports an error first
                        ack = await ws.receive_json(timeout=30)
                        if ack["type"] == "sent":
                            break
                        if ack["type"] == "error":
                            raise RuntimeError(f"send failed: {ack['detail']}")
                    t1 = await asyncio.wait_for(fut, timeout=30)
                    latencies.append((t1 - t0) * 1000)

        await asyncio.gather(*(chat(s, ref) for (s, _), ref in zip(managers, refs, strict=False)))
        results["delivery_p50_ms"] = round(statistics.median(latencies), 1)
        results["delivery_p95_ms"] = round(p(latencies, 95), 1)
        await asyncio.gather(*(s.close() for s, _ in managers[1:]))

        # --- queue page with 10 000 waiting cases ------------------------------------
        now = utcnow()
        async with sm() as session, session.begin():
            taken = set(await session.scalars(select(Case.reference)))
            fresh = (r for r in map(_bench_ref, range(10**6)) if r not in taken)
            await session.execute(
                insert(Case),
                [
                    {
                        "reference": next(fresh),
                        "channel": Channel.REST,
                        "sender_id": f"queue-{i}",
                        "kind": Kind.CALLBACK,
                        "status": Status.WAITING,
                        "team": "algemeen",
                        "topic": "algemeen",
                        "organisations": ["gemeente"],
                        "question_type": 2,
                        "urgent": i % 50 == 0,
                        "consent": True,
                        "contact_phone": "0000",
                        "created_at": now,
                    }
                    for i in range(QUEUE_CASES)
                ],
            )
        session, _token = managers[0]
        timings = []
        for _ in range(40):
            t0 = time.perf_counter()
            resp = await session.get("/wachtrij?team=algemeen")
            await resp.read()
            assert resp.status == 200
            timings.append((time.perf_counter() - t0) * 1000)
        results["queue_page_p95_ms"] = round(p(timings, 95), 1)
        results["queue_page_p50_ms"] = round(statistics.median(timings), 1)
        await session.close()
    proc.terminate()
    await proc.wait()
    await engine.dispose()
    await rasa_server.close()
    return results


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_healthy(base: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            try:
                async with http.get(base + "healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("service did not become healthy")


def _bench_ref(i: int) -> str:
    alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
    n = i
    chars = []
    for _ in range(4):
        n, r = divmod(n, len(alphabet))
        chars.append(alphabet[r])
    return "HV-" + "".join(chars)


async def main() -> None:
    # Login hashing is not what is measured; production parameters would dominate set-up.
    auth._hasher = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    wanted = os.environ.get("BENCH_DB") or ("postgresql" if pg_reachable() else "sqlite")
    if wanted == "postgresql":
        name = f"handover_bench_{uuid.uuid4().hex[:10]}"
        conn = await asyncpg.connect(PG_ADMIN)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        try:
            await asyncio.to_thread(migrate, url)
            results = await run(url)
        finally:
            conn = await asyncpg.connect(PG_ADMIN)
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.close()
    else:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{tmp}/bench.db"
            await asyncio.to_thread(migrate, url)
            results = await run(url)
    print(f"database={wanted}")
    print(f"claimers={CLAIMERS}")
    print(f"live_chats={CHATS}")
    print(f"queue_cases={QUEUE_CASES}")
    for key, value in results.items():
        print(f"{key}={value}")


if __name__ == "__main__":
    asyncio.run(main())
