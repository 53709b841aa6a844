"""Webhook payloads in Meta's documented format, a fake Graph API and a real Sanic server with the
channel's blueprint registered the way Rasa registers it."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import socket
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Deque, Dict, List, Optional, Tuple

import aiohttp
from aiohttp import web
from rasa.core.channels.channel import UserMessage, register
from sanic import Sanic

from bot.channels.whatsapp import WhatsAppConfig, WhatsAppInput

APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
ACCESS_TOKEN = "test-access-token"
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_NUMBER = "15550783881"
WA_ID = "31612345678"
PROFILE_NAME = "Sanne de Vries"
TEMPLATE = "bericht_klaar"

_ids = itertools.count(1)


def wamid() -> str:
    return f"wamid.HBgLMzE2MTIzNDU2NzgVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0{next(_ids):04d}RgA="


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# -- payloads (Meta's "messages webhook reference") --------------------------------------------------


def envelope(
    messages: Optional[List[Dict[str, Any]]] = None,
    statuses: Optional[List[Dict[str, Any]]] = None,
    phone_number_id: str = PHONE_NUMBER_ID,
) -> Dict[str, Any]:
    value: Dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY_NUMBER, "phone_number_id": phone_number_id},
    }
    if messages is not None:
        value["contacts"] = [{"profile": {"name": PROFILE_NAME}, "wa_id": WA_ID}]
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
    }


def _message(
    kind: str,
    content: Dict[str, Any],
    message_id: Optional[str],
    timestamp: Optional[float],
    sender: str = WA_ID,
    **extra: Any,
) -> Dict[str, Any]:
    return {
        "from": sender,
        "id": message_id or wamid(),
        "timestamp": str(int(timestamp if timestamp is not None else time.time())),
        "type": kind,
        kind: content,
        **extra,
    }


def text_message(
    body: str, message_id: Optional[str] = None, timestamp: Optional[float] = None, sender: str = WA_ID
) -> Dict[str, Any]:
    return _message("text", {"body": body}, message_id, timestamp, sender)


def button_reply(reply_id: str, title: str, message_id: Optional[str] = None) -> Dict[str, Any]:
    content = {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}}
    return _message("interactive", content, message_id, None, context={"from": DISPLAY_NUMBER, "id": wamid()})


def list_reply(
    reply_id: str, title: str, description: str = "", message_id: Optional[str] = None
) -> Dict[str, Any]:
    reply = {"id": reply_id, "title": title}
    if description:
        reply["description"] = description
    content = {"type": "list_reply", "list_reply": reply}
    return _message("interactive", content, message_id, None, context={"from": DISPLAY_NUMBER, "id": wamid()})


def template_button(payload: str, text: str) -> Dict[str, Any]:
    return _message(
        "button",
        {"payload": payload, "text": text},
        None,
        None,
        context={"from": DISPLAY_NUMBER, "id": wamid()},
    )


MEDIA: Dict[str, Tuple[str, Dict[str, Any]]] = {
    "voice note": (
        "audio",
        {"mime_type": "audio/ogg; codecs=opus", "sha256": "abc=", "id": "1001", "voice": True},
    ),
    "audio file": ("audio", {"mime_type": "audio/mpeg", "sha256": "abc=", "id": "1002"}),
    "photo": (
        "image",
        {"caption": "deze brief snap ik niet", "mime_type": "image/jpeg", "sha256": "abc=", "id": "1003"},
    ),
    "document": (
        "document",
        {
            "caption": "aanslag",
            "filename": "aanslag.pdf",
            "mime_type": "application/pdf",
            "sha256": "abc=",
            "id": "1004",
        },
    ),
    "video": ("video", {"mime_type": "video/mp4", "sha256": "abc=", "id": "1005"}),
    "sticker": ("sticker", {"mime_type": "image/webp", "sha256": "abc=", "id": "1006", "animated": False}),
    "location": (
        "location",
        {"latitude": 52.3676, "longitude": 4.9041, "name": "Stadhuis", "address": "Amstel 1"},
    ),
    "contact card": (
        "contacts",
        [{"name": {"formatted_name": "Jan"}, "phones": [{"phone": "+31 6 1111 2222"}]}],
    ),
    "unsupported type": ("unsupported", {}),
}


def media_message(name: str) -> Dict[str, Any]:
    kind, content = MEDIA[name]
    message = _message(kind, {}, None, None)
    message[kind] = content
    if kind == "unsupported":
        message["errors"] = [{"code": 131051, "title": "Message type unknown"}]
    return message


def status(state: str, error_code: Optional[int] = None) -> Dict[str, Any]:
    entry: Dict[str, Any] = {
        "id": wamid(),
        "status": state,
        "timestamp": str(int(time.time())),
        "recipient_id": WA_ID,
    }
    if state != "failed":
        entry["conversation"] = {"id": "abc", "origin": {"type": "service"}}
        entry["pricing"] = {"billable": True, "pricing_model": "CBP", "category": "service"}
    if error_code is not None:
        entry["errors"] = [
            {
                "code": error_code,
                "title": "Re-engagement message",
                "message": "Re-engagement message",
                "error_data": {"details": "Message failed to send because more than 24 hours have passed"},
            }
        ]
    return entry


# -- fake Graph API ------------------------------------------------------------------------------------


# Limits Meta enforces on a message (Messages API reference); the fake refuses a message that breaks
# one, with the code Meta documents, so a test never passes on a message Meta would refuse.
TEXT_LIMIT = 4096
BUTTON_TITLE_LIMIT = 20
CAPTION_LIMIT = 1024
ROW_TITLE_LIMIT = 24


def meta_refusal(message: Dict[str, Any]) -> Optional[Tuple[int, Dict[str, Any]]]:
    """Meta's answer to a message that breaks its documented rules, or None."""
    kind = message.get("type")
    if kind == "text":
        body = message.get("text", {}).get("body", "")
        if not body or len(body) > TEXT_LIMIT:
            return graph_error(100)  # invalid parameter
    if kind == "interactive":
        interactive = message["interactive"]
        if interactive["type"] == "button":
            titles = [b["reply"]["title"] for b in interactive["action"]["buttons"]]
            too_long = any(len(t) > BUTTON_TITLE_LIMIT for t in titles)
            if len(titles) > 3 or too_long or len(set(titles)) != len(titles):
                return graph_error(131009)  # parameter value is not valid (e.g. duplicate titles)
        else:
            rows = [r for section in interactive["action"]["sections"] for r in section["rows"]]
            titles = [r["title"] for r in rows]
            too_long = any(len(t) > ROW_TITLE_LIMIT for t in titles)
            if len(rows) > 10 or too_long or len(set(titles)) != len(titles):
                return graph_error(131009)
    if kind == "document":
        document = message.get("document") or {}
        caption = document.get("caption", "")
        # A document names uploaded media by id (or a link); a caption has at most 1024 characters.
        if not isinstance(document.get("id") or document.get("link"), str) or len(caption) > CAPTION_LIMIT:
            return graph_error(100)
    key = message.get("biz_opaque_callback_data")
    if key is not None and (not isinstance(key, str) or len(key) > 512):
        return graph_error(100)
    return None


# The media types Meta documents for a document (Cloud API, "Supported media types"); the media
# endpoint of the fake refuses any other, as Meta does (error 100, "param file must be one of").
DOCUMENT_MEDIA_TYPES = frozenset(
    {
        "text/plain",
        "application/pdf",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)


@dataclass
class FakeGraph:
    """Records every request (`sent`, with our idempotency key moved to `keys`) and every message
    it accepted (`delivered`: what reaches the citizen). Answers from `script` first (status, json
    body), then 200 OK; refuses what Meta would refuse (meta_refusal). `latency` delays every
    answer, `slow` the next answers one by one (the message is taken before the delay, as Meta does
    with a request whose answer is lost). With `callbacks_to(server)` it posts Meta's signed status
    callback ("sent", with biz_opaque_callback_data) for every accepted message. Per recipient:
    `fail_with(..., to=)` scripts the answers to that citizen's requests only, `fail_later(to,
    code, ...)` takes the next messages and then reports each `failed` with the code (as Meta does
    with a pair rate limit after the API took the message), `refuse(to, answer)` answers every
    request to that citizen with `answer` until `release(to)`."""

    url: str = ""
    sent: List[Dict[str, Any]] = field(default_factory=list)
    keys: List[Optional[str]] = field(default_factory=list)
    delivered: List[Dict[str, Any]] = field(default_factory=list)
    attempts_at: List[float] = field(default_factory=list)
    auth: List[Optional[str]] = field(default_factory=list)
    # The media endpoint: every upload ({"type", "filename", "content", "messaging_product"}) and
    # the content of each media id it gave out.
    uploads: List[Dict[str, Any]] = field(default_factory=list)
    media: Dict[str, bytes] = field(default_factory=dict)
    fail_uploads: int = 0  # the next uploads answer 503 (Meta unavailable for a moment)
    script: Deque[Tuple[int, Dict[str, Any]]] = field(default_factory=deque)
    pass_first: int = 0  # this many requests are answered normally before `script` starts
    slow: Deque[float] = field(default_factory=deque)
    latency: float = 0.0
    runner: Optional[web.AppRunner] = None
    webhook: Optional[str] = None
    scripts: Dict[str, Deque[Tuple[int, Dict[str, Any]]]] = field(default_factory=dict)
    later: Dict[str, Deque[int]] = field(default_factory=dict)
    refused: Dict[str, Tuple[int, Dict[str, Any]]] = field(default_factory=dict)
    _callbacks: List["asyncio.Task[None]"] = field(default_factory=list)

    async def start(self) -> "FakeGraph":
        app = web.Application()
        app.router.add_post("/v24.0/{phone_number_id}/messages", self._messages)
        app.router.add_post("/v24.0/{phone_number_id}/media", self._media)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/v24.0"
        return self

    async def stop(self) -> None:
        for task in self._callbacks:
            task.cancel()
        await asyncio.gather(*self._callbacks, return_exceptions=True)
        if self.runner is not None:
            await self.runner.cleanup()

    def fail_with(self, *responses: Tuple[int, Dict[str, Any]], to: Optional[str] = None) -> None:
        if to is None:
            self.script.extend(responses)
        else:
            self.scripts.setdefault(to, deque()).extend(responses)

    def fail_later(self, to: str, *codes: int) -> None:
        self.later.setdefault(to, deque()).extend(codes)

    def refuse(self, to: str, answer: Tuple[int, Dict[str, Any]]) -> None:
        self.refused[to] = answer

    def release(self, to: str) -> None:
        self.refused.pop(to, None)

    def callbacks_to(self, server: "Server") -> None:
        self.webhook = server.webhook

    async def reported(self) -> bool:
        """Wait until the status callbacks posted so far were answered; False when there were none."""
        waiting = [task for task in self._callbacks if not task.done()]
        await asyncio.gather(*waiting, return_exceptions=True)
        return bool(waiting)

    async def _messages(self, request: web.Request) -> web.Response:
        assert request.match_info["phone_number_id"] == PHONE_NUMBER_ID
        message = await request.json()
        self.attempts_at.append(time.monotonic())
        key = message.pop("biz_opaque_callback_data", None)
        self.sent.append(message)
        self.keys.append(key)
        self.auth.append(request.headers.get("Authorization"))
        delay = self.slow.popleft() if self.slow else self.latency
        to = str(message.get("to"))
        if to in self.refused:
            code, body = self.refused[to]
            return web.json_response(body, status=code)
        if self.scripts.get(to):
            code, body = self.scripts[to].popleft()
            await asyncio.sleep(delay)
            return web.json_response(body, status=code)
        if self.pass_first:
            self.pass_first -= 1
        elif self.script:
            code, body = self.script.popleft()
            await asyncio.sleep(delay)
            return web.json_response(body, status=code)
        refusal = meta_refusal({**message, **({"biz_opaque_callback_data": key} if key else {})})
        if refusal is not None:
            return web.json_response(refusal[1], status=refusal[0])
        message_id = wamid()
        failure = self.later[to].popleft() if self.later.get(to) else None
        if failure is None:
            self.delivered.append(message)
        if self.webhook is not None and key is not None:
            callback = self._status_callback(message, message_id, key, failure)
            self._callbacks.append(asyncio.create_task(callback))
        await asyncio.sleep(delay)
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": message["to"], "wa_id": message["to"]}],
                "messages": [{"id": message_id}],
            }
        )

    async def _status_callback(
        self, message: Dict[str, Any], message_id: str, key: str, failure: Optional[int] = None
    ) -> None:
        entry = status("sent") if failure is None else status("failed", failure)
        entry.update(id=message_id, recipient_id=message["to"], biz_opaque_callback_data=key)
        body = json.dumps(envelope(statuses=[entry])).encode()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body)}
        assert self.webhook is not None
        async with aiohttp.ClientSession() as session:
            async with session.post(self.webhook, data=body, headers=headers) as response:
                assert response.status == 200

    async def _media(self, request: web.Request) -> web.Response:
        """Meta's media upload: multipart form with messaging_product, type and the file; answers
        {"id": <media id>}. A type Meta does not take for a document is refused (error 100)."""
        assert request.match_info["phone_number_id"] == PHONE_NUMBER_ID
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField) or form.get("messaging_product") != "whatsapp":
            return web.json_response(graph_error(100)[1], status=400)
        entry = {
            "messaging_product": form.get("messaging_product"),
            "type": form.get("type"),
            "filename": upload.filename,
            "content": upload.file.read(),
            "auth": request.headers.get("Authorization"),
        }
        self.uploads.append(entry)
        if self.fail_uploads:
            self.fail_uploads -= 1
            return web.json_response(graph_error(131016, 503)[1], status=503)
        if entry["type"] not in DOCUMENT_MEDIA_TYPES:
            return web.json_response(graph_error(100)[1], status=400)
        media_id = str(4_000_000_000_000 + len(self.uploads))
        self.media[media_id] = entry["content"]
        return web.json_response({"id": media_id})

    def documents(self, to: str = WA_ID) -> List[Dict[str, Any]]:
        """The documents delivered to a citizen, each with the content of its uploaded file."""
        found = []
        for m in self.delivered:
            if m["to"] == to and m["type"] == "document":
                document = dict(m["document"])
                document["content"] = self.media.get(str(document.get("id")))
                found.append(document)
        return found

    def types(self) -> List[str]:
        return [m["type"] for m in self.sent]

    def delivered_texts(self, to: str = WA_ID) -> List[str]:
        return [
            m["text"]["body"] if m["type"] == "text" else m["type"] for m in self.delivered if m["to"] == to
        ]


def graph_error(code: int, status_code: int = 400) -> Tuple[int, Dict[str, Any]]:
    return status_code, {
        "error": {
            "message": "(#%d) error" % code,
            "type": "OAuthException",
            "code": code,
            "fbtrace_id": "AbCdEf",
        }
    }


# -- channel and server --------------------------------------------------------------------------------


def make_config(graph: FakeGraph, state_db: str, **overrides: Any) -> WhatsAppConfig:
    values: Dict[str, Any] = {
        "verify_token": VERIFY_TOKEN,
        "app_secret": APP_SECRET,
        "access_token": ACCESS_TOKEN,
        "phone_number_id": PHONE_NUMBER_ID,
        "api_url": graph.url,
        "template_name": TEMPLATE,
        "state_db": state_db,
        "retry_base_delay": 0.01,
        "max_retry_delay": 0.2,
        "poll_seconds": 0.1,
    }
    values.update(overrides)
    return WhatsAppConfig(**values)


class FakeTracker:
    def __init__(self, slots: Dict[str, Any]) -> None:
        self.slots = slots

    def get_slot(self, name: str) -> Any:
        return self.slots.get(name)


class FakeTrackerStore:
    """The conversations' slots by sender, as the channel reads them (the language: slot `taal`)."""

    def __init__(self) -> None:
        self.slots: Dict[str, Dict[str, Any]] = {}
        self.broken = False  # retrieve fails (a database that is gone)

    async def retrieve(self, sender_id: str) -> Optional[FakeTracker]:
        if self.broken:
            raise ConnectionError("tracker store unavailable")
        return FakeTracker(self.slots[sender_id]) if sender_id in self.slots else None


class FakeAgent:
    """Stands in for Rasa's Agent behind `register`: records each UserMessage and, when given a
    reply, answers through the message's output channel as Rasa's processor does."""

    def __init__(self) -> None:
        self.tracker_store = FakeTrackerStore()
        self.messages: List[UserMessage] = []
        self.reply: Optional[Dict[str, Any]] = None
        self.echo = False  # answer each text with "Antwoord op: <text>"
        self.failures = 0  # the next turns that fail (as when the action server is down)
        self.ready = True  # False: as Rasa while the model is still loading

    def is_ready(self) -> bool:
        return self.ready

    async def handle_message(self, message: UserMessage) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("turn failed")
        self.messages.append(message)
        if self.echo:
            answer = {"text": f"Antwoord op: {message.text}"}
            await message.output_channel.send_response(message.sender_id, answer)
        if self.reply is not None:
            await message.output_channel.send_response(message.sender_id, dict(self.reply))

    @property
    def texts(self) -> List[str]:
        return [m.text or "" for m in self.messages]


class Server:
    """A real Sanic server on 127.0.0.1 with the channel registered by Rasa's `register`."""

    def __init__(self, channel: WhatsAppInput, app: Optional[Sanic] = None) -> None:
        self.channel = channel
        self.app = app or Sanic(f"wa_{uuid.uuid4().hex[:12]}")
        self.agent = FakeAgent()
        if getattr(self.app.ctx, "agent", None) is None:
            self.app.ctx.agent = self.agent
        register([channel], self.app, "/webhooks/")
        self._server: Any = None
        self.base = ""
        self.http: Optional[aiohttp.ClientSession] = None

    async def start(self) -> "Server":
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._server = await self.app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
        await self._server.startup()
        await self._server.before_start()
        await self._server.after_start()
        self.http = aiohttp.ClientSession()
        return self

    async def stop(self) -> None:
        if self._server is None:
            return
        if self.http is not None:
            await self.http.close()
        await self._server.before_stop()
        self._server.close()
        await self._server.wait_closed()
        await self._server.after_stop()
        self._server = None

    @property
    def webhook(self) -> str:
        return f"{self.base}/webhooks/whatsapp/webhook"

    async def post_raw(self, body: Any, headers: Optional[Dict[str, str]] = None) -> Tuple[int, str]:
        assert self.http is not None
        async with self.http.post(self.webhook, data=body, headers=headers or {}) as resp:
            return resp.status, await resp.text()

    async def post(
        self, payload: Dict[str, Any], secret: Optional[str] = APP_SECRET, settle: bool = True
    ) -> Tuple[int, str]:
        """POST a payload; with `settle`, return only when the channel has handled it (turns and
        sends in the background done)."""
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Hub-Signature-256"] = sign(body, secret)
        answer = await self.post_raw(body, headers)
        if settle and answer[0] == 200:
            await self.settled()
        return answer

    async def settled(self, timeout: float = 30.0) -> None:
        await self.channel.dispatcher.wait_idle(timeout)

    async def send(self, *messages: Dict[str, Any]) -> None:
        code, _ = await self.post(envelope(list(messages)))
        assert code == 200

    async def get(self, params: Dict[str, str]) -> Tuple[int, str]:
        assert self.http is not None
        async with self.http.get(self.webhook, params=params) as resp:
            return resp.status, await resp.text()
