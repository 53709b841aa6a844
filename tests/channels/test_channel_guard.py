"""bot/input_guard.py without a model: the checks as functions, and Rasa's own REST and socket.io
channels in a real Sanic server built by Rasa's configure_app (as `rasa run` builds it), fuzzed
with generated bodies. The same guards against the real Rasa server: tests/e2e/test_channel_guard.py."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple

import aiohttp
import pytest
import rasa.core.run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketIOInput
from rasa.shared.core.domain import Domain
from sanic import Sanic

from bot import input_guard as guard
from tests.bot.helpers import ROOT
from tests.channels.helpers import FakeAgent

FUZZ = settings(
    max_examples=400,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# -- the checks --------------------------------------------------------------------------------------


@pytest.mark.parametrize("sender", ["burger-1", "a3f9" * 8, "test-test_x", "1" * 16, "x"])
def test_web_client_ids_are_accepted(sender: str) -> None:
    assert guard.check_sender(sender) == sender


@pytest.mark.parametrize(
    "sender", ["", " ", "31612345678", "+31612345678", "0612345678", "a/b", "a\nb", "x" * 129, 5, None, ["a"]]
)
def test_odd_or_phone_number_senders_are_refused(sender: Any) -> None:
    with pytest.raises(guard.Refused) as refused:
        guard.check_sender(sender)
    assert refused.value.status == 400


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "",
        "application/json",
        "application/json; charset=UTF-8",
        "Application/JSON;charset=utf8",
        "application/vnd.api+json",
    ],
)
def test_json_media_types_pass(content_type: Optional[str]) -> None:
    guard.check_media_type(content_type)


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "text/json",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin-1",
    ],
)
def test_other_media_types_get_415(content_type: str) -> None:
    with pytest.raises(guard.Refused) as refused:
        guard.check_media_type(content_type)
    assert refused.value.status == 415


@pytest.mark.parametrize(
    "body,status",
    [
        (b"{", 400),
        (b"[]", 400),
        (b"1", 400),
        (b"", 400),
        (b'{"sender": "a", "message": "\xff"}', 400),
        (b'{"sender": "a"}', 400),
        (b'{"message": "x"}', 400),
        (b'{"sender": "a", "message": "x", "metadata": 1}', 400),
        (b'{"sender": "a", "message": "x", "metadata": {"is_external": true}}', 400),
        (b'{"sender": "a", "message": "x", "input_channel": "socketio"}', 400),
        (json.dumps({"sender": "a", "message": "x" * 4097}).encode(), 413),
        (json.dumps({"sender": "a", "message": "x" * 70_000}).encode(), 413),  # over the body limit
    ],
)
def test_rest_bodies_are_refused_with_the_right_status(body: bytes, status: int) -> None:
    with pytest.raises(guard.Refused) as refused:
        guard.read_rest_body("application/json", body, 64 * 1024)
    assert refused.value.status == status


@pytest.mark.parametrize(
    "sender", [" victim", "victim ", "\tvictim", "vic\u200btim", "vic\u00a0tim", " 31612345678", "\ud800"]
)
def test_senders_are_refused_not_normalised(sender: str) -> None:
    """The shared rule (privacy/sender_id.py): " victim" must never become "victim" anywhere, so it
    is refused here as it is in the handover service; a leading space must not hide a phone number."""
    with pytest.raises(guard.Refused) as refused:
        body = json.dumps({"sender": sender, "message": "x"}).encode()
        guard.read_rest_body("application/json", body, 65536)
    assert refused.value.status == 400


@pytest.mark.parametrize("message", ["\ud800 mijn schulden", "x\udfff", "\udc00\ud800"])
def test_unpaired_surrogates_in_a_message_get_400(message: str) -> None:
    body = json.dumps({"sender": "a", "message": message}).encode()  # JSON escapes: valid UTF-8 bytes
    with pytest.raises(guard.Refused) as refused:
        guard.read_rest_body("application/json", body, 65536)
    assert refused.value.status == 400
    with pytest.raises(guard.Refused):
        guard.check_user_uttered({"session_id": "abc", "message": message}, session_persistence=True)


def test_a_proper_rest_body_passes() -> None:
    body = json.dumps(
        {"sender": "a", "message": "x" * 4096, "metadata": {"k": 1}, "input_channel": "rest"}
    ).encode()
    assert guard.read_rest_body(None, body, 64 * 1024)["sender"] == "a"


def test_the_body_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert guard.GuardSettings.from_env().max_body_bytes == guard.DEFAULT_MAX_BODY_BYTES
    monkeypatch.setenv("RASA_MAX_BODY_BYTES", "200000")
    assert guard.GuardSettings.from_env().max_body_bytes == 200_000
    for bad in ("veel", "-1", "10"):
        monkeypatch.setenv("RASA_MAX_BODY_BYTES", bad)
        with pytest.raises(ValueError):
            guard.GuardSettings.from_env()


def test_button_intents_are_ours_and_never_the_services() -> None:
    allowed = guard.button_intents(Domain.load(str(ROOT / "bot" / "domain")))
    assert {"kies", "medewerker", "begroeten"} <= allowed  # begroeten: the widget's greeting
    assert allowed.isdisjoint(
        {
            "medewerker_gekoppeld",
            "medewerker_bericht",
            "wachtrij_update",
            "terug_naar_bot",
            "verwijder_gegevens",
        }
    )


@pytest.mark.parametrize(
    "text,expected",
    [
        ('/kies{"keuze": "menu"}', '/kies{"keuze": "menu"}'),
        ("/medewerker", "/medewerker"),
        ('/medewerker_gekoppeld{"naam": "X"}', 'medewerker_gekoppeld{"naam": "X"}'),
        ("  //verwijder_gegevens", "verwijder_gegevens"),
        ("/begroeten@0.99", "begroeten@0.99"),
        ("/", "/"),  # Rasa reads no intent here either
        ("ik heb 1/2 huurtoeslag", "ik heb 1/2 huurtoeslag"),
        ("hallo", "hallo"),
    ],
)
def test_only_our_button_intents_keep_their_slash(text: str, expected: str) -> None:
    assert guard.plain_unless_button(text, {"kies", "medewerker"}) == expected


async def test_the_filter_sits_in_front_of_every_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: List[str] = []

    async def handle_message(self: Any, message: UserMessage) -> None:
        seen.append(message.text or "")

    monkeypatch.setattr(Agent, "handle_message", handle_message)
    guard._allowed_by_domain.clear()
    guard.install_typed_intent_filter()
    guard.install_typed_intent_filter()  # twice wraps once

    class Model:
        domain = Domain.load(str(ROOT / "bot" / "domain"))

    for text in ('/medewerker_bericht{"tekst": "x"}', '/kies{"keuze": "menu"}', "gewoon"):
        await Agent.handle_message(Model(), UserMessage(text, input_channel="socketio"))  # type: ignore[arg-type]
    assert seen == ['medewerker_bericht{"tekst": "x"}', '/kies{"keuze": "menu"}', "gewoon"]


# -- Rasa's channels in a real server -------------------------------------------------------------------


class RasaChannels:
    """REST and socket.io registered by Rasa's configure_app, with the guards bot/server.py installs."""

    def __init__(self) -> None:
        self.agent = FakeAgent()
        self.socketio = SocketIOInput(session_persistence=True)
        self.base = ""
        self._server: Any = None
        self.http: Optional[aiohttp.ClientSession] = None

    async def start(self, monkeypatch: pytest.MonkeyPatch) -> "RasaChannels":
        # both wrapped below; undone after the test
        monkeypatch.setattr(rasa.core.run, "configure_app", rasa.core.run.configure_app)
        monkeypatch.setattr(Agent, "handle_message", Agent.handle_message)
        guard.install_on_rasa()
        app: Sanic = rasa.core.run.configure_app([RestInput(), self.socketio], enable_api=False)
        app.ctx.agent = self.agent
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
        await self._server.startup()
        await self._server.before_start()
        await self._server.after_start()
        self.http = aiohttp.ClientSession()
        return self

    async def stop(self) -> None:
        assert self.http is not None
        await self.http.close()
        await self._server.before_stop()
        self._server.close()
        await self._server.wait_closed()
        await self._server.after_stop()

    async def post(
        self, body: Any, headers: Optional[Dict[str, str]] = None, path: str = "/webhooks/rest/webhook"
    ) -> Tuple[int, str]:
        assert self.http is not None
        async with self.http.post(f"{self.base}{path}", data=body, headers=headers or {}) as r:
            return r.status, await r.text()


@pytest.fixture
async def channels(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RasaChannels]:
    running = await RasaChannels().start(monkeypatch)
    yield running
    await running.stop()


JSON = {"Content-Type": "application/json"}


async def test_a_proper_rest_message_reaches_rasa(channels: RasaChannels) -> None:
    status, body = await channels.post(json.dumps({"sender": "burger-1", "message": "hallo"}), JSON)
    assert (status, json.loads(body)) == (200, [])
    assert channels.agent.texts == ["hallo"]


@pytest.mark.parametrize(
    "body,headers,status",
    [
        (b"[1]", JSON, 400),
        (b'"x"', JSON, 400),
        (b"\xff", JSON, 400),
        (json.dumps({"sender": "a", "message": {"x": 1}}), JSON, 400),
        (json.dumps({"sender": " burger-1", "message": "hoi"}), JSON, 400),
        (json.dumps({"sender": "a", "message": "\ud800 schulden"}), JSON, 400),
        (json.dumps({"sender": "a", "message": "hoi"}), {"Content-Type": "text/plain"}, 415),
        (b'{"sender": "a", "message": "' + b"a" * (10 * 1024 * 1024) + b'"}', JSON, 413),
    ],
    ids=["list", "string", "not utf-8", "message object", "space before sender", "lone surrogate",
         "text/plain", "10 MB"],
)
async def test_malformed_rest_requests_never_reach_rasa(
    channels: RasaChannels, body: Any, headers: Dict[str, str], status: int
) -> None:
    code, answer = await channels.post(body, headers)
    assert code == status and json.loads(answer)["error"]
    assert channels.agent.messages == []


async def test_a_trailing_slash_does_not_pass_the_guard(channels: RasaChannels) -> None:
    code, _ = await channels.post(b"[1]", JSON, path="/webhooks/rest/webhook/")
    assert code == 400 and channels.agent.messages == []


async def test_a_huge_chunked_body_gets_413(channels: RasaChannels) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"a" * (256 * 1024)

    code, _ = await channels.post(chunks(), JSON)
    assert code == 413
    code, _ = await channels.post(json.dumps({"sender": "burger-1", "message": "daarna"}), JSON)
    assert code == 200 and channels.agent.texts == ["daarna"]


async def test_socketio_events_of_the_wrong_shape_never_reach_rasa(channels: RasaChannels) -> None:
    handlers = channels.socketio.sio.handlers["/"]
    for data in (
        "x",
        [1],
        None,
        {"session_id": 5, "message": "a"},
        {"session_id": "s1", "message": None},
        {"session_id": "s1", "message": "a" * 5000},
        {"session_id": "31612345678", "message": "a"},
        {"session_id": "s1", "message": "a", "metadata": "{"},
    ):
        await handlers["user_uttered"]("sid-1", data)
    await handlers["user_uttered"]("sid-1")
    await handlers["session_request"]("sid-1", "x")
    await handlers["session_request"]("sid-1", {"session_id": {"a": 1}})
    assert channels.agent.messages == []
    await handlers["user_uttered"]("sid-1", {"session_id": "s1", "message": "hallo"})
    assert channels.agent.texts == ["hallo"]


async def test_unreadable_socketio_packets_are_ignored(channels: RasaChannels) -> None:
    message = channels.socketio.sio.eio.handlers["message"]
    for frame in ("42[bad", "42null", '42["user_uttered"', "4", "xyz", "", b"\xff\xfe", b"4"):
        assert await message("eio-1", frame) is None  # python-socketio alone raises on each of these
    assert channels.agent.messages == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
objects = st.fixed_dictionaries(
    {},
    optional={
        "sender": json_values | st.text(max_size=140),
        "message": json_values | st.text(max_size=5000),
        "metadata": json_values,
        "input_channel": json_values | st.sampled_from(["rest", "whatsapp"]),
    },
)
# nearly right: a usable sender and text, sometimes with an odd extra field
plausible = st.fixed_dictionaries(
    {
        "sender": st.text(alphabet="abcdef0123456789-", min_size=1, max_size=40),
        "message": st.text(max_size=300),
    },
    optional={"metadata": json_values, "input_channel": st.sampled_from(["rest", "socketio"])},
)
bodies = st.one_of(
    plausible.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=3000),
    json_values.map(lambda v: json.dumps(v).encode()),
    objects.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8")),
    objects.map(lambda v: json.dumps(v).encode("utf-16")),
)
content_types = st.sampled_from(
    [
        None,
        "application/json",
        "application/json",
        "text/plain",
        "application/json; charset=utf-16",
        "application/x-www-form-urlencoded",
        "application/problem+json",
    ]
)


async def test_fuzzed_rest_bodies_get_200_or_a_clear_4xx(channels: RasaChannels) -> None:
    loop = asyncio.get_running_loop()
    outcomes: Dict[int, int] = {}

    @FUZZ
    @given(body=bodies, content_type=content_types)
    def check(body: bytes, content_type: Optional[str]) -> None:
        headers = {"Content-Type": content_type} if content_type else {}
        before = len(channels.agent.messages)
        code, answer = asyncio.run_coroutine_threadsafe(channels.post(body, headers), loop).result(30)
        outcomes[code] = outcomes.get(code, 0) + 1
        if code == 200:
            payload = json.loads(body)  # only a readable object gets through, and it reaches Rasa
            assert isinstance(payload["sender"], str) and isinstance(payload["message"], str)
            assert len(channels.agent.messages) == before + 1
        else:
            assert code in (400, 413, 415) and json.loads(answer)["error"], (code, answer)
            assert len(channels.agent.messages) == before

    await asyncio.to_thread(check)
    assert outcomes.get(200) and outcomes.get(400)  # the generator reached both sides
