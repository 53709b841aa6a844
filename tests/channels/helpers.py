"""Webhook payloads in Meta's documented format, a fake Graph API and a real Sanic server with the
channel's blueprint registered the way Rasa registers it."""

from __future__ import annotations

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


@dataclass
class FakeGraph:
    """Records every send; answers from `script` first (status, json body), then 200 OK."""

    url: str = ""
    sent: List[Dict[str, Any]] = field(default_factory=list)
    auth: List[Optional[str]] = field(default_factory=list)
    script: Deque[Tuple[int, Dict[str, Any]]] = field(default_factory=deque)
    runner: Optional[web.AppRunner] = None

    async def start(self) -> "FakeGraph":
        app = web.Application()
        app.router.add_post("/v24.0/{phone_number_id}/messages", self._messages)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/v24.0"
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def fail_with(self, *responses: Tuple[int, Dict[str, Any]]) -> None:
        self.script.extend(responses)

    async def _messages(self, request: web.Request) -> web.Response:
        assert request.match_info["phone_number_id"] == PHONE_NUMBER_ID
        self.sent.append(await request.json())
        self.auth.append(request.headers.get("Authorization"))
        if self.script:
            code, body = self.script.popleft()
            return web.json_response(body, status=code)
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": WA_ID, "wa_id": WA_ID}],
                "messages": [{"id": wamid()}],
            }
        )

    def types(self) -> List[str]:
        return [m["type"] for m in self.sent]


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
    }
    values.update(overrides)
    return WhatsAppConfig(**values)


class FakeAgent:
    """Stands in for Rasa's Agent behind `register`: records each UserMessage and, when given a
    reply, answers through the message's output channel as Rasa's processor does."""

    def __init__(self) -> None:
        self.messages: List[UserMessage] = []
        self.reply: Optional[Dict[str, Any]] = None

    async def handle_message(self, message: UserMessage) -> None:
        self.messages.append(message)
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

    async def post(self, payload: Dict[str, Any], secret: Optional[str] = APP_SECRET) -> Tuple[int, str]:
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Hub-Signature-256"] = sign(body, secret)
        return await self.post_raw(body, headers)

    async def send(self, *messages: Dict[str, Any]) -> None:
        code, _ = await self.post(envelope(list(messages)))
        assert code == 200

    async def get(self, params: Dict[str, str]) -> Tuple[int, str]:
        assert self.http is not None
        async with self.http.get(self.webhook, params=params) as resp:
            return resp.status, await resp.text()
