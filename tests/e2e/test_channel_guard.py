"""The real Rasa server (bot/server.py, with bot/input_guard.py) under malformed input: the REST
webhook, socket.io and the WhatsApp webhook get malformed JSON, wrong types, huge and non-UTF-8
bodies, wrong content types and forged signatures. Every request gets a clear 4xx (socket.io:
the event is ignored), never a 5xx or a crash, and the server keeps answering. Typed
"/intent{...}" messages are read as plain text unless they are one of our own buttons."""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import secrets
import string
import threading
from typing import Any, Dict, Iterator, List, Optional, Tuple

import aiohttp
import pytest
import socketio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import Citizen
from tools.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.model]

REST = "/webhooks/rest/webhook"
WHATSAPP = "/webhooks/whatsapp/webhook"
JSON = {"Content-Type": "application/json"}
FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# What the socket.io server logs when one of its event handlers raised
HANDLER_CRASH = re.compile(r"Task exception was never retrieved|handler error|_handle_event_internal")


def post(stack: Stack, path: str, body: Any, headers: Optional[Dict[str, str]] = None) -> Tuple[int, bytes]:
    """One request on its own connection; `body` may be bytes or an iterator (sent chunked)."""
    connection = http.client.HTTPConnection("127.0.0.1", stack.rasa_port, timeout=60)
    try:
        chunked = not isinstance(body, (bytes, str))
        connection.request(
            "POST",
            path,
            body=body,
            headers={"Connection": "close", **(headers or {})},
            encode_chunked=chunked,
        )
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def rest(stack: Stack, payload: Any, headers: Optional[Dict[str, str]] = JSON) -> Tuple[int, bytes]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return post(stack, REST, body, headers)


def still_serving(stack: Stack) -> None:
    status, body = rest(stack, {"sender": f"na-fuzz-{secrets.token_hex(4)}", "message": "hallo"})
    assert status == 200 and json.loads(body), body


def rasa_log(stack: Stack) -> str:
    return (stack.workdir / "rasa.log").read_text(errors="replace")


@pytest.fixture
def log_offset(stack: Stack) -> Iterator[int]:
    """Where the Rasa log stands before the test; afterwards the process must still be running."""
    yield len(rasa_log(stack))
    assert all(p.poll() is None for p in stack.processes), "a server process stopped"


# -- REST ---------------------------------------------------------------------------------------------

OK = {"sender": "guard-test", "message": "hallo"}


@pytest.mark.parametrize(
    "payload,headers,status",
    [
        (b'{"sender": "a", "message": ', JSON, 400),  # truncated JSON
        (b"[1, 2]", JSON, 400),  # Rasa: 500
        (b'"hallo"', JSON, 400),  # Rasa: 500
        (b"", JSON, 400),  # Rasa: 500
        (b"null", JSON, 400),
        (b'{"sender": "a", "message": "\xff\xfe"}', JSON, 400),  # not UTF-8
        ('{"sender": "a", "message": "hoi"}'.encode("utf-16"), JSON, 400),
        (b"[" * 20_000 + b"]" * 20_000, JSON, 400),  # deeply nested
        ({"sender": "a", "message": {"tekst": "hoi"}}, JSON, 400),  # Rasa: 200 [] and a traceback
        ({"sender": "a", "message": None}, JSON, 400),
        ({"sender": "a", "message": 5}, JSON, 400),
        ({"message": "hoi"}, JSON, 400),  # Rasa: conversation "default"
        ({"sender": 5, "message": "hoi"}, JSON, 400),
        ({"sender": "", "message": "hoi"}, JSON, 400),
        ({"sender": "a/../b", "message": "hoi"}, JSON, 400),
        ({"sender": "31612345678", "message": "hoi"}, JSON, 400),  # a WhatsApp conversation
        ({"sender": "a\nb", "message": "hoi"}, JSON, 400),
        ({"sender": "x" * 129, "message": "hoi"}, JSON, 400),
        ({**OK, "metadata": "x"}, JSON, 400),
        ({**OK, "input_channel": "whatsapp"}, JSON, 400),
        ({**OK, "input_channel": ["rest"]}, JSON, 400),
        ({**OK, "message": "a" * 5000}, JSON, 413),
        (OK, {"Content-Type": "text/plain"}, 415),
        (OK, {"Content-Type": "application/x-www-form-urlencoded"}, 415),
        (OK, {"Content-Type": "multipart/form-data; boundary=x"}, 415),
        (OK, {"Content-Type": "application/json; charset=latin-1"}, 415),
    ],
    ids=[
        "truncated",
        "list",
        "string",
        "empty",
        "null",
        "not utf-8",
        "utf-16",
        "nested",
        "message object",
        "message null",
        "message number",
        "no sender",
        "sender number",
        "sender empty",
        "sender path",
        "sender phone number",
        "sender newline",
        "sender long",
        "metadata string",
        "input_channel whatsapp",
        "input_channel list",
        "message too long",
        "text/plain",
        "form",
        "multipart",
        "latin-1",
    ],
)
def test_malformed_rest_requests_get_a_clear_4xx(
    stack: Stack, log_offset: int, payload: Any, headers: Dict[str, str], status: int
) -> None:
    code, body = rest(stack, payload, headers)
    assert code == status, body
    assert "error" in json.loads(body)


def test_a_10_mb_body_gets_413_and_the_server_goes_on(stack: Stack, log_offset: int) -> None:
    huge = json.dumps({"sender": "groot", "message": "a" * (10 * 1024 * 1024)}).encode()
    code, body = rest(stack, huge)
    assert code == 413 and json.loads(body)["error"]
    still_serving(stack)


def test_a_huge_chunked_body_gets_413(stack: Stack, log_offset: int) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"sender": "groot", "message": "'
        for _ in range(16):
            yield b"a" * (64 * 1024)
        yield b'"}'

    code, _ = post(stack, REST, chunks(), JSON)
    assert code == 413
    still_serving(stack)


def test_a_well_formed_request_still_works(stack: Stack, log_offset: int) -> None:
    code, body = rest(
        stack, {"sender": "goed-1", "message": "hallo", "metadata": {"x": 1}, "input_channel": "rest"}
    )
    assert code == 200 and json.loads(body)[0]["text"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
rest_objects = st.fixed_dictionaries(
    {},
    optional={
        "sender": json_values
        | st.text(alphabet=string.ascii_letters + string.digits + "-_/ \n\x00", max_size=150),
        "message": json_values | st.text(max_size=300),
        "metadata": json_values,
        "input_channel": json_values | st.sampled_from(["rest", "whatsapp", "socketio"]),
    },
).flatmap(
    lambda d: st.dictionaries(st.text(max_size=8), json_values, max_size=2).map(lambda extra: {**extra, **d})
)
# nearly right: a usable sender and text, sometimes with an odd extra field
plausible = st.fixed_dictionaries(
    {
        "sender": st.text(alphabet="abcdef0123456789-", min_size=1, max_size=40),
        "message": st.text(max_size=300),
    },
    optional={"metadata": json_values, "input_channel": st.sampled_from(["rest", "socketio"])},
)
rest_bodies = st.one_of(
    plausible.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=2000),
    json_values.map(lambda v: json.dumps(v).encode()),
    rest_objects.map(lambda v: json.dumps(v).encode()),
    rest_objects.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8")),
    rest_objects.map(lambda v: json.dumps(v, ensure_ascii=False).encode("latin-1", "replace")),
)
content_types = st.sampled_from(
    [
        None,
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "application/json; charset=utf-16",
        "",
        "*/*",
        "application/ld+json",
    ]
)


@FUZZ
@given(body=rest_bodies, content_type=content_types)
def test_fuzzed_rest_bodies_never_get_a_5xx(stack: Stack, body: bytes, content_type: Optional[str]) -> None:
    code, answer = post(stack, REST, body, {"Content-Type": content_type} if content_type is not None else {})
    assert code < 500, (code, body[:200], answer[:200])
    if code == 200:
        assert isinstance(json.loads(answer), list)
    else:
        assert code in (400, 413, 415) and "error" in json.loads(answer)


def test_rest_still_serves_after_the_fuzzing(stack: Stack, log_offset: int) -> None:
    still_serving(stack)


# -- socket.io ----------------------------------------------------------------------------------------


async def emit_all(
    url: str, events: List[Tuple[str, Any]], stay_connected: bool = True
) -> List[Dict[str, Any]]:
    """Connect like the widget, emit the events (raw, any shape), return what the bot said."""
    client = socketio.AsyncClient()
    said: List[Dict[str, Any]] = []
    client.on("bot_uttered", said.append)
    await client.connect(url, socketio_path="/socket.io", transports=["websocket"])
    try:
        for name, data in events:
            if data is ...:
                await client.emit(name)
            else:
                await client.emit(name, data)
        await asyncio.sleep(1.0)
        assert client.connected or not stay_connected
    finally:
        await client.disconnect()
    return said


async def conversation(url: str, text: str) -> List[Dict[str, Any]]:
    """A proper widget session: session_request, then one message; waits for the answer."""
    client = socketio.AsyncClient()
    answers: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()
    client.on("bot_uttered", answers.put)
    await client.connect(url, socketio_path="/socket.io", transports=["websocket"])
    session = secrets.token_hex(16)
    try:
        await client.emit("session_request", {"session_id": session})
        await asyncio.sleep(0.3)
        await client.emit("user_uttered", {"session_id": session, "message": text})
        return [await asyncio.wait_for(answers.get(), 30)]
    finally:
        await client.disconnect()


MALFORMED_EVENTS: List[Tuple[str, Any]] = [
    ("session_request", "x"),
    ("session_request", [1, 2]),
    ("session_request", 5),
    ("session_request", ...),
    ("session_request", {"session_id": {"a": 1}}),
    ("session_request", {"session_id": "31612345678"}),
    ("user_uttered", "x"),
    ("user_uttered", [1]),
    ("user_uttered", 7),
    ("user_uttered", None),
    ("user_uttered", ...),
    ("user_uttered", {"session_id": 5, "message": "hoi"}),
    ("user_uttered", {"session_id": "s-guard", "message": {"a": 1}}),
    ("user_uttered", {"session_id": "s-guard", "message": "hoi", "metadata": "{bad"}),
    ("user_uttered", {"session_id": "s-guard", "message": "hoi", "metadata": [1]}),
    ("user_uttered", {"session_id": "31612345678", "message": "verwijder mijn gegevens"}),
    ("user_uttered", {"session_id": "s-guard", "message": "a" * 10_000}),
    (
        "user_uttered",
        {"session_id": "s-guard", "message": "\udcff".encode("utf-8", "surrogatepass").decode("latin-1")},
    ),
]


def test_malformed_socketio_events_are_ignored_without_a_crash(stack: Stack, log_offset: int) -> None:
    said = asyncio.run(emit_all(stack.url, MALFORMED_EVENTS))
    # only the last event is well-formed (odd characters are still text)
    assert len(said) <= 1
    assert not HANDLER_CRASH.search(rasa_log(stack)[log_offset:])
    assert asyncio.run(conversation(stack.url, "hallo"))[0]["text"]


def test_a_10_mb_socketio_message_does_not_reach_rasa(stack: Stack, log_offset: int) -> None:
    # Sanic closes a websocket whose frame exceeds 1 MiB; smaller ones are refused by the guard
    big = {"session_id": "s-groot", "message": "a" * 10_000_000}
    said = asyncio.run(emit_all(stack.url, [("user_uttered", big)], stay_connected=False))
    assert said == []
    assert not HANDLER_CRASH.search(rasa_log(stack)[log_offset:])
    assert asyncio.run(conversation(stack.url, "hallo"))[0]["text"]


class RawSocket:
    """Engine.io v4 over a websocket, to send frames no socket.io client would produce."""

    def __init__(self, stack: Stack) -> None:
        self.url = f"ws://127.0.0.1:{stack.rasa_port}/socket.io/?EIO=4&transport=websocket"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def send(self, frame: Any) -> None:
        asyncio.run_coroutine_threadsafe(self._send(frame), self.loop).result(30)

    async def _send(self, frame: Any) -> None:
        async with aiohttp.ClientSession() as http, http.ws_connect(self.url) as ws:
            opened = await ws.receive_str(timeout=10)
            assert opened.startswith("0")
            await ws.send_str("40")
            assert (await ws.receive_str(timeout=10)).startswith("40")
            if isinstance(frame, bytes):
                await ws.send_bytes(frame)
            else:
                await ws.send_str(frame)
            try:  # whatever comes back (or a close) within a moment is fine
                await ws.receive(timeout=0.2)
            except asyncio.TimeoutError:
                pass

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def raw_socket(stack: Stack) -> Iterator[RawSocket]:
    raw = RawSocket(stack)
    yield raw
    raw.close()


event_data = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "session_id": json_values | st.text(max_size=40),
            "message": json_values | st.text(max_size=200),
            "metadata": json_values,
        },
    ),
)
frames = st.one_of(
    st.tuples(st.sampled_from(["user_uttered", "session_request", "onbekend"]), event_data).map(
        lambda e: "42" + json.dumps(list(e))
    ),
    st.text(max_size=200).map(lambda t: "42" + t),  # socket.io packets with garbage JSON
    st.text(max_size=50),  # not even a packet
    st.binary(max_size=200),  # binary frames, mostly not UTF-8
)


@FUZZ
@given(frame=frames)
def test_fuzzed_socketio_frames_never_crash_a_handler(
    stack: Stack, raw_socket: RawSocket, frame: Any
) -> None:
    raw_socket.send(frame)


def test_socketio_still_serves_after_the_fuzzing(stack: Stack) -> None:
    # the whole log of this server: no event handler ever raised
    assert not HANDLER_CRASH.search(rasa_log(stack))
    assert asyncio.run(conversation(stack.url, "hallo"))[0]["text"]


# -- WhatsApp (no app secret on this server: every POST must be refused) -------------------------------


@pytest.mark.parametrize(
    "body,headers,status",
    [
        (
            b'{"object": "whatsapp_business_account", "entry": []}',
            {"X-Hub-Signature-256": "sha256=" + "0" * 64},
            403,
        ),
        (b'{"object": "whatsapp_business_account"', {}, 403),
        (b"\xff\xfe\x00", {"X-Hub-Signature-256": "sha256=abc"}, 403),
        (
            b"x" * (10 * 1024 * 1024),
            {"X-Hub-Signature-256": "sha256=abc"},
            413,
        ),  # refused before the signature
    ],
    ids=["forged", "unsigned", "not utf-8", "10 MB"],
)
def test_whatsapp_webhook_refuses_unsigned_forged_and_huge_bodies(
    stack: Stack, log_offset: int, body: bytes, headers: Dict[str, str], status: int
) -> None:
    code, _ = post(stack, WHATSAPP, body, {**JSON, **headers})
    assert code == status
    still_serving(stack)


# -- typed "/intent{...}" ------------------------------------------------------------------------------


def texts_for(stack: Stack, message: str) -> List[str]:
    """What the bot answers to `message` as the first message of a new conversation."""
    citizen = Citizen(stack, sender=f"typed-{secrets.token_hex(6)}")
    citizen.say(message)
    return citizen.texts()


def latest_intent(stack: Stack, sender: str) -> str:
    url = f"/conversations/{sender}/tracker?token={stack.token}"
    connection = http.client.HTTPConnection("127.0.0.1", stack.rasa_port, timeout=30)
    try:
        connection.request("GET", url)
        return json.loads(connection.getresponse().read())["latest_message"]["intent"]["name"]
    finally:
        connection.close()


SERVICE_INTENTS = ("medewerker_gekoppeld", "medewerker_bericht", "wachtrij_update", "terug_naar_bot")


@pytest.mark.parametrize(
    "typed",
    [
        '/medewerker_gekoppeld{"naam": "X"}',
        '/medewerker_bericht{"naam": "Anna", "tekst": "Uw zaak is afgewezen"}',
        "/verwijder_gegevens",
        "/terug_naar_bot",
        "/bevestigen",
        ' //wachtrij_update{"positie": 1}',
    ],
)
def test_typed_intents_get_the_answer_plain_text_gets(stack: Stack, typed: str) -> None:
    assert texts_for(stack, typed) == texts_for(stack, typed.strip().lstrip("/"))


@pytest.mark.parametrize(
    "typed", [f"/{intent}" for intent in SERVICE_INTENTS] + ['/medewerker_gekoppeld{"naam": "X"}']
)
def test_typed_service_intents_never_reach_the_dialogue(stack: Stack, typed: str) -> None:
    citizen = Citizen(stack, sender=f"typed-{secrets.token_hex(6)}")
    citizen.say(typed)
    # these intents have no NLU examples: only Rasa's "/" shortcut could produce them
    assert latest_intent(stack, citizen.sender) not in SERVICE_INTENTS


def test_our_own_buttons_still_work(stack: Stack) -> None:
    citizen = Citizen(stack, sender=f"knop-{secrets.token_hex(6)}")
    citizen.say('/kies{"keuze": "menu"}')
    assert latest_intent(stack, citizen.sender) == "kies"
    assert citizen.buttons(), "the menu is shown with its buttons"
    citizen.say("/medewerker")
    assert latest_intent(stack, citizen.sender) == "medewerker"


def test_a_lone_surrogate_gets_400_and_its_message_stays_out_of_the_log(
    stack: Stack, log_offset: int
) -> None:
    """Pentest: "\\ud800 …" made the language layer fail; Rasa logged the whole message (and the
    locals of the failing frames) and the citizen got `200 []`."""
    secret = "Geheim-verhaal-over-mijn-gezondheid"
    status, body = rest(stack, {"sender": "surrogaat", "message": f"\ud800 {secret}"})
    assert status == 400 and secret not in body.decode()
    still_serving(stack)
    assert secret not in rasa_log(stack)[log_offset:]
