"""The HTTP API and workspace through aiohttp_client on create_app, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import WSMsgType, WSServerHandshakeError
from aiohttp.test_utils import TestClient

from handover.keys import sessionmaker_key
from handover.models import Role
from handover.settings import OfficeHours, Settings
from tests.conftest import BOT, PASSWORD, FakeRasa, add_user, case_body

Client = TestClient[Any, Any]

API_CALLS = [
    ("GET", "/api/availability"),
    ("POST", "/api/cases"),
    ("GET", "/api/conversations/socketio/abc"),
    ("POST", "/api/cases/HV-ABCD/messages"),
    ("GET", "/api/status/HV-ABCD"),
]


async def login(client: Client, username: str, password: str = PASSWORD) -> str:
    """Log in through the real form; returns the CSRF token for staff forms."""
    page = await (await client.get("/login")).text()
    login_csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert login_csrf
    resp = await client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": login_csrf[1], "next": "/wachtrij"},
    )
    assert resp.status == 200, await resp.text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', await resp.text())
    assert token
    return token[1]


async def create_case(client: Client, sender: str = "citizen-1", **overrides: Any) -> dict[str, Any]:
    resp = await client.post("/api/cases", json=case_body(sender, **overrides), headers=BOT)
    assert resp.status == 201, await resp.text()
    data: dict[str, Any] = await resp.json()
    return data


async def test_healthz_needs_no_auth(client: Client) -> None:
    resp = await client.get("/healthz")
    assert resp.status == 200 and await resp.json() == {"status": "ok"}


@pytest.mark.parametrize(("method", "path"), API_CALLS)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "test-secret"}])
async def test_api_rejects_missing_or_wrong_secret(
    client: Client, method: str, path: str, headers: dict[str, str]
) -> None:
    resp = await client.request(method, path, headers=headers, json={})
    assert resp.status == 401
    assert (await resp.json())["error"] == "unauthorized"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"{not json", "geen geldige JSON"),
        (b"[1, 2]", "JSON-object"),
        (b"", "geen geldige JSON"),
        (json.dumps({"sender_id": "x", "kind": "chat", "consent": True}).encode(), "channel ontbreekt"),
        (json.dumps(case_body(consent="ja")).encode(), "consent"),
        (json.dumps(case_body(channel="fax")).encode(), "Onbekend kanaal"),
        (json.dumps(case_body(language="klingon")).encode(), "Onbekende taal"),
        (json.dumps(case_body(kind="callback")).encode(), "terugbelverzoek"),
        (json.dumps(case_body(transcript=[{"role": "robot", "text": "x"}])).encode(), "Onbekende rol"),
        (json.dumps(case_body(transcript="tekst")).encode(), "transcript"),
        (json.dumps(case_body(summary={"question_type": "3"})).encode(), "question_type"),
        (json.dumps(case_body(summary={"organisations": "cjib"})).encode(), "organisations"),
        (
            json.dumps(
                case_body(transcript=[{"role": "bot", "text": "x", "timestamp": "gisteren"}])
            ).encode(),
            "timestamp",
        ),
    ],
)
async def test_create_case_bad_input_is_400_with_json_error(client: Client, body: bytes, detail: str) -> None:
    resp = await client.post("/api/cases", data=body, headers=BOT | {"Content-Type": "application/json"})
    assert resp.status == 400
    error = await resp.json()
    assert error["error"] in {"bad_json", "bad_request"}
    assert detail in error["detail"]


async def test_oversized_body_is_rejected(client: Client) -> None:
    huge = case_body(transcript=[{"role": "citizen", "text": "x" * 300_000}])
    resp = await client.post("/api/cases", json=huge, headers=BOT)
    assert resp.status == 413
    assert "error" in await resp.json()


async def test_message_endpoint_validation(client: Client) -> None:
    case = await create_case(client, "val")
    url = f"/api/cases/{case['reference']}/messages"
    assert (await client.post(url, data=b"nope", headers=BOT)).status == 400
    assert (await client.post(url, json={"sender_id": "val"}, headers=BOT)).status == 400
    assert (await client.post(url, json={"sender_id": "val", "text": 5}, headers=BOT)).status == 400
    assert (await client.post(url, json={"sender_id": "other", "text": "hoi"}, headers=BOT)).status == 403
    unknown = await client.post(
        "/api/cases/HV-ZZZZ/messages", json={"sender_id": "val", "text": "x"}, headers=BOT
    )
    assert unknown.status == 404 and (await unknown.json())["error"] == "not_found"


async def test_create_case_then_duplicate_returns_existing(client: Client) -> None:
    first = await create_case(client, "dup")
    assert re.fullmatch(r"HV-[2-9A-HJKMNP-Z]{4}", first["reference"])
    assert first["status"] == "wachtend" and first["queue_position"] == 1
    assert first["expected_wait_minutes"] == 8 and first["offer"] == "callback"  # nobody online
    again = await client.post("/api/cases", json=case_body("dup"), headers=BOT)
    assert again.status == 200
    assert (await again.json())["reference"] == first["reference"]
    second = await create_case(client, "other")
    assert second["queue_position"] == 2


async def test_conversation_and_status_endpoints(client: Client) -> None:
    resp = await client.get("/api/conversations/socketio/nobody", headers=BOT)
    assert await resp.json() == {"active": False}
    case = await create_case(client, "with+plus:colon")  # "/" is refused (test_pentest_findings.py)
    resp = await client.get("/api/conversations/socketio/with+plus%3Acolon", headers=BOT)
    body = await resp.json()
    assert body["active"] and body["reference"] == case["reference"]
    assert body["status"] == "wachtend" and body["queue_position"] == 1 and "expected_wait_minutes" in body
    status = await (await client.get(f"/api/status/{case['reference']}", headers=BOT)).json()
    assert status == {"reference": case["reference"], "status": "wachtend", "queue_position": 1}
    assert (await client.get("/api/status/HV-ZZZZ", headers=BOT)).status == 404


async def test_availability_offers_live_only_with_someone_online(client: Client) -> None:
    body = await (await client.get("/api/availability", headers=BOT)).json()
    hours = "elke dag van 0.00 tot 24.00 uur"  # the tests' office hours (conftest)
    expected = {
        "open": True,
        "online_casemanagers": 0,
        "offer": "callback",
        "next_open": None,
        "hours": hours,
        "office_hours": [{"first_day": 0, "last_day": 6, "opens": "00:00", "closes": "24:00"}],
    }
    assert body == expected
    await add_user(client.app[sessionmaker_key], "anna")
    await login(client, "anna")
    body = await (await client.get("/api/availability", headers=BOT)).json()
    assert body == {**expected, "online_casemanagers": 1, "offer": "live"}


async def test_availability_outside_office_hours_says_when_they_open(
    client_factory: Callable[..., Awaitable[Client]],
) -> None:
    # Open only on the weekday two days from now: closed today, and that day stays the next
    # opening even when midnight passes during the test.
    zone = ZoneInfo("Europe/Amsterdam")
    day = dt.datetime.now(zone).date() + dt.timedelta(days=2)
    weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[day.weekday()]
    client = await client_factory(office_hours=OfficeHours.parse(f"{weekday} 09:30-12:00"))
    await add_user(client.app[sessionmaker_key], "anna")
    await login(client, "anna")  # online, but outside office hours there is no live chat
    body = await (await client.get("/api/availability", headers=BOT)).json()
    assert (body["open"], body["offer"]) == (False, "callback")
    opens = dt.datetime.fromisoformat(body["next_open"])
    assert opens == dt.datetime.combine(day, dt.time(9, 30), tzinfo=zone)
    assert opens.utcoffset() == dt.datetime.combine(day, dt.time(9, 30), tzinfo=zone).utcoffset()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT09:30:00\+0[12]:00", body["next_open"])
    names = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
    assert body["hours"] == f"{names[day.weekday()]} van 9.30 tot 12.00 uur"
    weekday_number = day.weekday()
    assert body["office_hours"] == [
        {"first_day": weekday_number, "last_day": weekday_number, "opens": "09:30", "closes": "12:00"}
    ]


async def test_staff_pages_require_login(client: Client) -> None:
    for path in ("/wachtrij", "/zaken/HV-ABCD"):
        resp = await client.get(path, allow_redirects=False)
        assert resp.status == 302 and resp.headers["Location"].startswith("/login?next=")
    assert (await client.get("/wachtrij.json")).status == 401
    json_accept = await client.get("/wachtrij", headers={"Accept": "application/json"})
    assert json_accept.status == 401
    with pytest.raises(WSServerHandshakeError) as exc:
        await client.ws_connect("/ws")
    assert exc.value.status == 401
    post = await client.post("/zaken/HV-ABCD/claim", allow_redirects=False)
    assert post.status == 302


async def test_login_failures_and_csrf(client: Client) -> None:
    await add_user(client.app[sessionmaker_key], "anna")
    page = await (await client.get("/login")).text()
    assert 'lang="nl"' in page and 'href="#inhoud"' in page and '<label for="username">' in page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    bad = await client.post("/login", data={"username": "anna", "password": "nope", "csrf_token": csrf[1]})
    assert bad.status == 401 and "Onjuiste" in await bad.text()
    no_csrf = await client.post("/login", data={"username": "anna", "password": PASSWORD})
    assert no_csrf.status == 403
    ok_login = await client.post(
        "/login",
        data={"username": "anna", "password": PASSWORD, "csrf_token": csrf[1]},
        allow_redirects=False,
    )
    assert ok_login.status == 302
    set_cookie = next(h for h in ok_login.headers.getall("Set-Cookie") if h.startswith("handover_session="))
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie and "Secure" not in set_cookie
    token = await login(client, "anna")
    case = await create_case(client, "csrf")
    forged = await client.post(f"/zaken/{case['reference']}/claim", data={"csrf_token": "forged"})
    assert forged.status == 403
    ok = await client.post(f"/zaken/{case['reference']}/claim", data={"csrf_token": token})
    assert ok.status == 200 and "Zaak is nu van u" in await ok.text()


async def test_login_redirect_target_must_be_local(client: Client) -> None:
    await add_user(client.app[sessionmaker_key], "anna")
    page = await (await client.get("/login?next=//evil.example/x")).text()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf and 'value="/wachtrij"' in page
    resp = await client.post(
        "/login",
        data={
            "username": "anna",
            "password": PASSWORD,
            "csrf_token": csrf[1],
            "next": "https://evil.example",
        },
        allow_redirects=False,
    )
    assert resp.status == 302 and resp.headers["Location"] == "/wachtrij"


async def _next_event(ws: Any, wanted: str, timeout: float = 5.0) -> dict[str, Any]:
    while True:
        msg = await ws.receive(timeout=timeout)
        assert msg.type == WSMsgType.TEXT, msg
        event: dict[str, Any] = json.loads(msg.data)
        if event["type"] == wanted:
            return event


async def test_full_flow(client: Client, fake_rasa: FakeRasa) -> None:
    sm = client.app[sessionmaker_key]
    await add_user(sm, "anna", first_name="Anna", teams=["inkomen_schulden"])
    token = await login(client, "anna")
    queue_ws = await client.ws_connect("/ws")

    case = await create_case(client, "flow-1", channel="whatsapp")
    ref = case["reference"]
    assert case["offer"] == "live"
    new_event = await _next_event(queue_ws, "case_new")
    assert new_event["reference"] == ref and new_event["team"] == "inkomen_schulden"

    queue = await (await client.get("/wachtrij")).text()
    assert ref in queue and "Ik kan de boete" not in queue and "schulden" in queue
    listing = await (await client.get("/wachtrij.json")).json()
    assert [c["reference"] for c in listing["cases"]] == [ref]

    claimed = await client.post(f"/zaken/{ref}/claim", data={"csrf_token": token})
    assert claimed.status == 200
    page = await claimed.text()
    assert "Ik kan de boete niet betalen" in page  # intake summary on top
    assert "Ik heb schulden en een brief van het CJIB" in page  # transcript
    assert "Lijn schuldenloket" in page  # professional lines for CJIB
    await fake_rasa.wait_for(lambda f: bool(f.intents("medewerker_gekoppeld")))
    linked = fake_rasa.intents("medewerker_gekoppeld")[0]
    assert (linked.sender_id, linked.output_channel, linked.entities) == (
        "flow-1",
        "whatsapp",
        {"naam": "Anna"},
    )
    assert linked.token == "rasa-token"

    conv = await (await client.get("/api/conversations/whatsapp/flow-1", headers=BOT)).json()
    assert conv == {"active": True, "reference": ref, "status": "in_behandeling"}

    # Casemanager -> citizen: plain form fallback ...
    sent = await client.post(
        f"/zaken/{ref}/berichten", data={"csrf_token": token, "tekst": "Goedemorgen, ik ben Anna."}
    )
    assert sent.status == 200
    # ... and over the WebSocket.
    case_ws = await client.ws_connect(f"/ws?case={ref}")
    await case_ws.send_json(
        {"type": "send", "reference": ref, "text": "Waar gaat de brief over?", "client_id": 7}
    )
    assert (await _next_event(case_ws, "sent"))["client_id"] == 7
    await fake_rasa.wait_for(lambda f: len(f.intents("medewerker_bericht")) == 2)
    calls = fake_rasa.intents("medewerker_bericht")
    texts = [(c.output_channel, {k: c.entities[k] for k in ("tekst", "naam")}) for c in calls]
    assert texts == [
        ("whatsapp", {"tekst": "Goedemorgen, ik ben Anna.", "naam": "Anna"}),
        ("whatsapp", {"tekst": "Waar gaat de brief over?", "naam": "Anna"}),
    ]
    # each with the message's own id, so the widget shows it once however often it arrives
    ids = [c.entities["bericht_id"] for c in calls]
    assert all(i.isdigit() for i in ids) and len(set(ids)) == 2
    # The page sends a message again after its connection dropped (same client_id, another socket):
    # one message, sent once, answered with the same message id.
    again_ws = await client.ws_connect(f"/ws?case={ref}")
    await again_ws.send_json(
        {"type": "send", "reference": ref, "text": "Waar gaat de brief over?", "client_id": 7}
    )
    repeat = await _next_event(again_ws, "sent")
    assert repeat["client_id"] == 7 and str(repeat["message_id"]) == ids[1]
    await again_ws.close()
    await case_ws.send_json({"type": "send", "reference": ref, "text": "Nog een vraag.", "client_id": 8})
    await _next_event(case_ws, "sent")
    await fake_rasa.wait_for(lambda f: len(f.intents("medewerker_bericht")) == 3)
    assert [c.entities["tekst"] for c in fake_rasa.intents("medewerker_bericht")][1:] == [
        "Waar gaat de brief over?",
        "Nog een vraag.",
    ]

    # Citizen -> casemanager: appears live on the case WebSocket.
    resp = await client.post(
        f"/api/cases/{ref}/messages", json={"sender_id": "flow-1", "text": "Over een boete"}, headers=BOT
    )
    assert resp.status == 202
    live = await _next_event(case_ws, "message")
    while live["role"] != "citizen":
        live = await _next_event(case_ws, "message")
    assert (live["reference"], live["text"]) == (ref, "Over een boete")

    closed = await client.post(
        f"/zaken/{ref}/afronden",
        data={"csrf_token": token, "uitkomst": "Regeling besproken", "afspraken": "U belt maandag het CJIB"},
    )
    assert closed.status == 200 and "Afgerond" in await closed.text()
    await fake_rasa.wait_for(lambda f: bool(f.intents("terug_naar_bot")))
    back = fake_rasa.intents("terug_naar_bot")[0]
    assert back.output_channel == "whatsapp"
    assert back.entities == {"referentie": ref, "afspraken": "U belt maandag het CJIB"}
    assert await (await client.get("/api/conversations/whatsapp/flow-1", headers=BOT)).json() == {
        "active": False
    }
    after = await client.post(
        f"/api/cases/{ref}/messages", json={"sender_id": "flow-1", "text": "x"}, headers=BOT
    )
    assert after.status == 409
    await queue_ws.close()
    await case_ws.close()


async def test_claim_conflict_and_claim_next(client: Client) -> None:
    sm = client.app[sessionmaker_key]
    await add_user(sm, "anna")
    await add_user(sm, "bob")
    old = await create_case(client, "c-old")
    urgent = await create_case(client, "c-urgent", summary={"topic": "schulden", "urgent": True})
    token = await login(client, "anna")
    resp = await client.post(
        "/wachtrij/volgende", data={"csrf_token": token, "team": ""}, allow_redirects=False
    )
    assert resp.status == 302 and resp.headers["Location"] == f"/zaken/{urgent['reference']}"

    client.session.cookie_jar.clear()
    bob_token = await login(client, "bob")
    taken = await client.post(
        f"/zaken/{urgent['reference']}/claim",
        data={"csrf_token": bob_token},
        headers={"Accept": "application/json"},
    )
    assert taken.status == 409 and (await taken.json())["error"] == "AlreadyClaimed"
    resp = await client.post("/wachtrij/volgende", data={"csrf_token": bob_token}, allow_redirects=False)
    assert resp.headers["Location"] == f"/zaken/{old['reference']}"
    empty = await client.post("/wachtrij/volgende", data={"csrf_token": bob_token})
    assert "geen wachtende zaken" in await empty.text()


@pytest.fixture
async def client_factory(
    aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings
) -> Callable[..., Awaitable[Client]]:
    """A client on an app whose settings differ from the default ones."""
    from handover.app import create_app

    async def make(**overrides: Any) -> Client:
        return await aiohttp_client(create_app(dataclasses.replace(settings, **overrides)))

    return make


async def test_waiting_citizens_get_position_updates(
    client_factory: Callable[..., Awaitable[Client]], fake_rasa: FakeRasa
) -> None:
    client = await client_factory(position_push_seconds=0)  # every change at once
    await add_user(client.app[sessionmaker_key], "anna")
    first = await create_case(client, "q1")
    await create_case(client, "q2")
    await create_case(client, "q3", kind="callback", contact={"phone": "0612345678"})
    token = await login(client, "anna")
    await client.post(f"/zaken/{first['reference']}/claim", data={"csrf_token": token})
    await fake_rasa.wait_for(lambda f: bool(f.intents("wachtrij_update")))
    await asyncio.sleep(0.3)  # nothing else may follow
    updates = [(c.sender_id, c.entities) for c in fake_rasa.intents("wachtrij_update")]
    assert updates == [("q2", {"positie": 1})]  # q3 is a callback request: no chat to push to


async def test_position_pushes_wait_for_the_interval_and_send_the_newest(
    client_factory: Callable[..., Awaitable[Client]], fake_rasa: FakeRasa
) -> None:
    interval = 2.0
    client = await client_factory(position_push_seconds=interval)
    await add_user(client.app[sessionmaker_key], "anna")
    token = await login(client, "anna")
    started = time.monotonic()
    refs = [(await create_case(client, f"w{i}"))["reference"] for i in range(3)]  # told 1, 2, 3
    for ref in refs[:2]:  # w2 moves 3 -> 2 -> 1 inside its interval
        resp = await client.post(f"/zaken/{ref}/claim", data={"csrf_token": token})
        assert resp.status == 200
    assert time.monotonic() - started < interval, "the machine is too slow for this test's timing"
    await asyncio.sleep(0.2)
    assert fake_rasa.intents("wachtrij_update") == []  # held back, not queued
    # The periodic sweep pushes the newest position once the interval has passed.
    await fake_rasa.wait_for(lambda f: bool(f.intents("wachtrij_update")), timeout=interval + 5)
    await asyncio.sleep(0.5)  # nothing else may follow
    updates = [(c.sender_id, c.entities) for c in fake_rasa.intents("wachtrij_update")]
    assert updates == [("w2", {"positie": 1})]
    assert time.monotonic() - started >= interval


async def test_rasa_outage_is_retried_in_order(client: Client, fake_rasa: FakeRasa) -> None:
    await add_user(client.app[sessionmaker_key], "anna", first_name="Anna")
    case = await create_case(client, "retry")
    token = await login(client, "anna")
    fake_rasa.fail_next = 1  # the medewerker_gekoppeld call fails once
    await client.post(f"/zaken/{case['reference']}/claim", data={"csrf_token": token})
    await client.post(f"/zaken/{case['reference']}/berichten", data={"csrf_token": token, "tekst": "Eerste"})
    await client.post(f"/zaken/{case['reference']}/berichten", data={"csrf_token": token, "tekst": "Tweede"})
    await fake_rasa.wait_for(lambda f: len(f.calls) == 3, timeout=8)
    assert [c.intent for c in fake_rasa.calls] == [
        "medewerker_gekoppeld",
        "medewerker_bericht",
        "medewerker_bericht",
    ]
    assert [c.entities.get("tekst") for c in fake_rasa.calls[1:]] == ["Eerste", "Tweede"]


async def test_case_page_actions(client: Client, fake_rasa: FakeRasa) -> None:
    sm = client.app[sessionmaker_key]
    await add_user(sm, "anna")
    await add_user(sm, "bob", first_name="Bob")
    await add_user(sm, "lead", role=Role.TEAMLEIDER)
    case = await create_case(client, "acts")
    ref = case["reference"]
    token = await login(client, "anna")
    await client.post(f"/zaken/{ref}/claim", data={"csrf_token": token})
    note = await client.post(
        f"/zaken/{ref}/notities", data={"csrf_token": token, "notitie": "Intern: belt liever"}
    )
    assert "Intern: belt liever" in await note.text()
    bad_date = await client.post(
        f"/zaken/{ref}/nazorg", data={"csrf_token": token, "datum": "morgen", "omschrijving": "x"}
    )
    assert "geldige datum" in await bad_date.text()
    task = await client.post(
        f"/zaken/{ref}/nazorg", data={"csrf_token": token, "datum": "2030-01-31", "omschrijving": "Nabellen"}
    )
    assert "31-01-2030: Nabellen" in await task.text()
    assert "Nabellen" in await (await client.get("/wachtrij")).text()
    moved = await client.post(f"/zaken/{ref}/overdragen", data={"csrf_token": token, "medewerker": "bob"})
    assert "overgedragen aan uw collega" in await moved.text()
    await fake_rasa.wait_for(
        lambda f: any(c.entities == {"naam": "Bob"} for c in f.intents("medewerker_gekoppeld"))
    )
    not_mine = await client.post(f"/zaken/{ref}/vrijgeven", data={"csrf_token": token})
    assert "niet door u in behandeling" in await not_mine.text()
    assert (await client.get("/zaken/HV-ZZZZ")).status == 404

    client.session.cookie_jar.clear()
    lead_token = await login(client, "lead")
    to_team = await client.post(f"/zaken/{ref}/overdragen", data={"csrf_token": lead_token, "team": "zorg"})
    assert "overgedragen aan het team" in await to_team.text()
    status = await (await client.get(f"/api/status/{ref}", headers=BOT)).json()
    assert status == {"reference": ref, "status": "wachtend", "queue_position": 1}
    logout = await client.post("/logout", data={"csrf_token": lead_token}, allow_redirects=False)
    assert logout.status == 302
    assert (await client.get("/wachtrij", allow_redirects=False)).status == 302


async def test_the_conversation_language_shows_with_an_interpreter_hint(client: Client) -> None:
    """The bot sends the conversation language as a field of its own; the casemanager sees it in the
    queue (JSON and werkbak) and on the case page with "Tolk: Pools", Dutch cases show no hint."""
    await add_user(client.app[sessionmaker_key], "anna")
    polish = (await create_case(client, "polish-citizen", language="pl"))["reference"]
    dutch = (await create_case(client, "dutch-citizen"))["reference"]
    token = await login(client, "anna")
    queue = await (await client.get("/wachtrij.json")).json()
    languages = {c["reference"]: c["language"] for c in queue["cases"]}
    assert languages == {polish: "pl", dutch: None}
    werkbak = await (await client.get("/werkbak")).text()
    assert werkbak.count("Tolk: Pools") == 1
    await client.post(f"/zaken/{polish}/claim", data={"csrf_token": token})
    page = await (await client.get(f"/zaken/{polish}")).text()
    assert "<strong>Tolk: Pools</strong>" in page and "automatisch vertalen kan hier niet" in page
    data = await (await client.get(f"/zaken/{polish}", headers={"Accept": "application/json"})).json()
    assert data["language"] == "pl"
    await client.post(f"/zaken/{dutch}/claim", data={"csrf_token": token})
    assert "Tolk:" not in await (await client.get(f"/zaken/{dutch}")).text()
