"""The workspace WebSocket /ws: queue and case events out; ``subscribe``, ``unsubscribe`` and
``send`` messages in. Also the presence loop of the casemanagers with an open workspace."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from .. import access, auth, services
from ..auth import Staff, require_staff
from ..background import wait_or_stop
from ..keys import hub_key, sessionmaker_key, settings_key
from ..realtime import Connection
from ..uow import UnitOfWork
from ..workflow import transaction

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


@dataclass
class Socket:
    """One open socket: its request (and so its database session), connection and casemanager."""

    request: web.Request
    ws: web.WebSocketResponse
    conn: Connection
    staff: Staff


@dataclass(frozen=True)
class ClientMessage:
    """A message from the browser: ``{"type", "reference", ...}``."""

    type: Any
    reference: str
    data: dict[str, Any]


MessageHandler = Callable[[Socket, ClientMessage], Awaitable[None]]


async def _subscribe(socket: Socket, msg: ClientMessage) -> None:
    socket.conn.references.add(msg.reference)
    await socket.ws.send_json({"type": "subscribed", "reference": msg.reference})


async def _unsubscribe(socket: Socket, msg: ClientMessage) -> None:
    socket.conn.references.discard(msg.reference)


async def _send(socket: Socket, msg: ClientMessage) -> None:
    """A chat message from the casemanager; answered with ``sent`` or ``error``."""
    client_id = msg.data.get("client_id")
    try:
        async with transaction(socket.request) as uow:
            sent = await services.send_casemanager_message(
                uow, msg.reference, socket.staff.user, str(msg.data.get("text", "")), client_id
            )
    except services.DomainError as e:
        await socket.ws.send_json(
            {"type": "error", "reference": msg.reference, "detail": str(e), "client_id": client_id}
        )
        return
    await socket.ws.send_json(
        {"type": "sent", "reference": msg.reference, "message_id": sent.id, "client_id": client_id}
    )


HANDLERS: dict[str, MessageHandler] = {
    "subscribe": _subscribe,
    "unsubscribe": _unsubscribe,
    "send": _send,
}


def _parse(raw: str) -> ClientMessage | None:
    try:
        data = json.loads(raw)
        return ClientMessage(type=data["type"], reference=str(data["reference"]).upper(), data=data)
    except (ValueError, KeyError, TypeError):
        return None


@routes.get("/ws", name="ws")
@require_staff
async def websocket(request: web.Request, staff: Staff) -> web.WebSocketResponse:
    """Pushes queue and case events; accepts ``subscribe``, ``unsubscribe`` and ``send`` messages.

    The socket belongs to the login session that opened it: it is closed when that session
    ends (logout, expiry, idle) or its user gets another role or other teams (realtime.Hub).
    """
    if not auth.same_origin(request):
        # A page on another site must not open a socket with the casemanager's cookie.
        raise web.HTTPForbidden(text='{"error": "forbidden origin"}', content_type="application/json")
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    viewer = access.Viewer.of(staff.user)
    conn = Connection(ws=ws, user_id=staff.user.id, session_id=staff.session_id, viewer=viewer)
    if ref := request.query.get("case"):
        conn.references.add(ref.upper())
    socket = Socket(request, ws, conn, staff)
    hub = request.app[hub_key]
    hub.add(conn)
    async with transaction(request) as uow:
        await services.touch_presence(uow, staff.user.id)
    try:
        async for raw in ws:
            if raw.type != WSMsgType.TEXT:
                continue
            # Checked again for every message: the cookie was checked only at the handshake.
            current = await auth.session_staff(request, staff.token)
            if current is None or access.Viewer.of(current.user) != viewer:
                hub.drop(conn)
                break
            socket.staff = current
            msg = _parse(raw.data)
            if msg is None:
                await ws.send_json({"type": "error", "detail": "ongeldig bericht"})
                continue
            # Any other type is ignored.
            handler = HANDLERS.get(msg.type) if isinstance(msg.type, str) else None
            if handler is not None:
                await handler(socket, msg)
    finally:
        hub.remove(conn)
    return ws


async def presence_loop(app: web.Application, stop: asyncio.Event) -> None:
    """Keeps last_seen fresh for casemanagers with an open workspace on this instance, and closes
    the sockets of sessions that ended."""
    interval = max(app[settings_key].presence_timeout_seconds / 3, 1)
    while not await wait_or_stop(stop, interval):
        try:
            # Sessions that expired or went idle without an event to notice: not online any more.
            await app[hub_key].check_sessions()
            user_ids = app[hub_key].user_ids()
            if not user_ids:
                continue
            async with UnitOfWork(app[sessionmaker_key]) as uow:
                for user_id in user_ids:
                    await services.touch_presence(uow, user_id)
        except Exception:
            log.exception("presence refresh failed")
