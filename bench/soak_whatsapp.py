"""The WhatsApp side of the soak (bench/soak.py): a stand-in for Meta's Graph API and citizens who
write through signed webhook posts.

`FakeGraph` takes the messages the bot sends (POST /{version}/{phone_number_id}/messages), answers
as Meta does, and reports them "sent" and "delivered" through the webhook (signed, with our
`biz_opaque_callback_data`), so the channel's outbox closes its loop as in production. Each message
goes to the citizen whose number it is addressed to. `WhatsAppCitizen` posts Meta's webhook
envelope for every message it writes (signed with the app secret; posted again until a 200, with the
same message id, which the channel de-duplicates), presses reply buttons by their id, and answers
every casemanager message with its token, like the socket.io citizens.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import secrets
import time
from typing import Any, Dict, List, Optional, Tuple

import aiohttp
from aiohttp import web

APP_SECRET = secrets.token_urlsafe(24)
VERIFY_TOKEN = secrets.token_urlsafe(12)
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_NUMBER = "15550783881"
_ids = itertools.count(1)


def wamid() -> str:
    return f"wamid.soak{secrets.token_hex(8)}{next(_ids):06d}"


def signed(body: Dict[str, Any]) -> Tuple[bytes, Dict[str, str]]:
    raw = json.dumps(body).encode()
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"Content-Type": "application/json", "X-Hub-Signature-256": signature}


def envelope(wa_id: str, messages: Optional[List[Any]] = None, statuses: Optional[List[Any]] = None) -> Any:
    value: Dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY_NUMBER, "phone_number_id": PHONE_NUMBER_ID},
    }
    if messages is not None:
        value["contacts"] = [{"profile": {"name": "Inwoner"}, "wa_id": wa_id}]
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"value": value, "field": "messages"}]}],
    }


def channel_env(graph_url: str) -> Dict[str, str]:
    """What every Rasa instance needs to run the WhatsApp channel against the fake."""
    return {
        "WHATSAPP_APP_SECRET": APP_SECRET,
        "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
        "WHATSAPP_ACCESS_TOKEN": secrets.token_urlsafe(24),
        "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
        "WHATSAPP_API_URL": graph_url,
    }


def readable(message: Dict[str, Any]) -> Tuple[str, List[Tuple[str, str]]]:
    """(text, [(reply id, title)]) of a message the bot sent."""
    if message.get("type") == "text":
        return str(message["text"]["body"]), []
    if message.get("type") == "interactive":
        content = message["interactive"]
        text = str(content.get("body", {}).get("text", ""))
        action = content.get("action", {})
        buttons = [(b["reply"]["id"], b["reply"]["title"]) for b in action.get("buttons", [])]
        rows = [(r["id"], r["title"]) for s in action.get("sections", []) for r in s.get("rows", [])]
        return text, buttons + rows
    return "", []


class FakeGraph:
    """Meta's side: takes every message, reports it sent and delivered through the webhook."""

    def __init__(self) -> None:
        self.url = ""
        self.webhook = ""
        self.inboxes: Dict[str, "asyncio.Queue[Dict[str, Any]]"] = {}
        self.runner: Optional[web.AppRunner] = None
        self.http: Optional[aiohttp.ClientSession] = None
        self.callbacks: set = set()  # type: ignore[type-arg]

    async def start(self) -> "FakeGraph":
        app = web.Application()
        app.router.add_post("/v24.0/{phone_number_id}/messages", self._messages)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/v24.0"
        self.http = aiohttp.ClientSession()
        return self

    def inbox(self, wa_id: str) -> "asyncio.Queue[Dict[str, Any]]":
        return self.inboxes.setdefault(wa_id, asyncio.Queue())

    async def _messages(self, request: web.Request) -> web.Response:
        message = await request.json()
        key = message.pop("biz_opaque_callback_data", None)
        message_id = wamid()
        await self.inbox(str(message.get("to"))).put(message)
        if key is not None and self.webhook:
            task = asyncio.ensure_future(self._report(message, message_id, key))
            self.callbacks.add(task)
            task.add_done_callback(self.callbacks.discard)
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": message["to"], "wa_id": message["to"]}],
                "messages": [{"id": message_id}],
            }
        )

    async def _report(self, message: Dict[str, Any], message_id: str, key: str) -> None:
        for state in ("sent", "delivered"):
            entry = {
                "id": message_id,
                "status": state,
                "timestamp": str(int(time.time())),
                "recipient_id": message["to"],
                "biz_opaque_callback_data": key,
                "conversation": {"id": "soak", "origin": {"type": "service"}},
                "pricing": {"billable": True, "pricing_model": "CBP", "category": "service"},
            }
            await post_until_accepted(self.http, self.webhook, envelope(message["to"], statuses=[entry]))

    async def stop(self) -> None:
        for task in list(self.callbacks):
            task.cancel()
        if self.http is not None:
            await self.http.close()
        if self.runner is not None:
            await self.runner.cleanup()


async def post_until_accepted(http: Optional[aiohttp.ClientSession], url: str, body: Dict[str, Any]) -> None:
    """As Meta does: the same webhook again until it gets a 200 (here: at most two minutes)."""
    assert http is not None
    raw, headers = signed(body)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            async with http.post(
                url, data=raw, headers=headers, timeout=aiohttp.ClientTimeout(total=10)
            ) as r:
                if r.status == 200:
                    return
        except (aiohttp.ClientError, asyncio.TimeoutError):
            pass
        await asyncio.sleep(0.5)
