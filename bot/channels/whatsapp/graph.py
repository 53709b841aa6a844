"""Sends messages through the WhatsApp Cloud API (Graph API), with bounded retries.

Logs carry HTTP status and Graph error codes only: request and response bodies contain phone
numbers and message text, so they are never logged.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Dict, Optional

import aiohttp

log = logging.getLogger(__name__)

# Graph error 131047: more than 24 hours since the citizen last wrote; only a template may go out.
WINDOW_CLOSED_CODES = frozenset({131047})
# Meta's error codes that mean "not now, later": rate limits (130429 throughput, 131056 pair rate
# limit: too many messages to one citizen in a short time, 131048 spam rate limit, 4 and 80007 app
# and account limits) and temporary errors (131000 something went wrong, 131016 service
# unavailable, 133004 server temporarily unavailable, 131057 account in maintenance, 1 and 2 API
# unknown / service). Meta sends some of them with HTTP 400: the code decides, not the status.
RATE_LIMIT_CODES = frozenset({130429, 131056, 131048, 4, 80007})
TEMPORARY_CODES = frozenset({131000, 131016, 133004, 131057, 1, 2}) | RATE_LIMIT_CODES
# Cap on a server-sent Retry-After, so one send never stalls a conversation for long.
MAX_DELAY = 10.0


class GraphError(Exception):
    """A send failed. `code` is Meta's error code when the response had one."""

    def __init__(
        self, status: Optional[int], code: Optional[int], what: str, retry_after: Optional[float] = None
    ) -> None:
        super().__init__(f"{what} (status={status}, code={code})")
        self.status = status
        self.code = code
        self.retry_after = retry_after

    @property
    def rate_limited(self) -> bool:
        return self.code in RATE_LIMIT_CODES


class GraphRejected(GraphError):
    """Meta refused the message for good (e.g. a parameter, the recipient, the token): sending the
    same request again cannot help."""

    @property
    def window_closed(self) -> bool:
        return self.code in WINDOW_CLOSED_CODES


class GraphUnavailable(GraphError):
    """Not sent, try again later: a rate limit or temporary error code, 429, 5xx, or no connection.
    Raised when the last attempt failed too."""


class GraphUncertain(GraphUnavailable):
    """The request went out but no answer came (timeout, connection dropped): Meta may have taken
    it. Sending it again could reach the citizen twice, so it is not retried here."""


def classify(status: int, code: Optional[int]) -> type[GraphError]:
    """Meta's error code first (a rate limit comes as HTTP 400), the HTTP status without one."""
    if code in TEMPORARY_CODES:
        return GraphUnavailable
    if code is not None and status < 500 and status != 429:
        return GraphRejected
    return GraphUnavailable if status == 429 or status >= 500 else GraphRejected


@dataclass(frozen=True)
class GraphConfig:
    api_url: str
    phone_number_id: str
    access_token: str
    attempts: int = 3
    base_delay: float = 0.5
    timeout: float = 10.0

    @property
    def messages_url(self) -> str:
        return f"{self.api_url.rstrip('/')}/{self.phone_number_id}/messages"

    @property
    def media_url(self) -> str:
        return f"{self.api_url.rstrip('/')}/{self.phone_number_id}/media"


def _error_code(payload: Any) -> Optional[int]:
    """Meta's {"error": {"code": …}} of an error response, if it is there."""
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        code = payload["error"].get("code")
        return code if isinstance(code, int) else None
    return None


def _retry_after(response: aiohttp.ClientResponse) -> Optional[float]:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


class GraphClient:
    """One HTTP session per event loop, reused for every send (keep-alive to graph.facebook.com)."""

    def __init__(self, config: GraphConfig) -> None:
        self.config = config
        self._session: Optional[aiohttp.ClientSession] = None
        self._session_loop: Optional[asyncio.AbstractEventLoop] = None

    def _get_session(self) -> aiohttp.ClientSession:
        # A session is bound to the loop it was made on; Rasa runs one loop, tests run many.
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.config.timeout))
            self._session_loop = loop
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def send(self, message: Dict[str, Any]) -> Optional[str]:
        """POST one message; returns Meta's message id. Retries what Meta calls temporary (rate
        limits, temporary error codes, 429, 5xx, no connection) with exponential backoff; raises
        GraphRejected at once for a permanent error and GraphUncertain at once when the request
        may have reached Meta without an answer."""
        last: GraphError = GraphUnavailable(None, None, "not attempted")
        for attempt in range(1, self.config.attempts + 1):
            try:
                return await self._post(message)
            except (GraphRejected, GraphUncertain):
                raise
            except GraphUnavailable as e:
                last = e
                log.warning(
                    "whatsapp send attempt %s/%s failed: status=%s code=%s",
                    attempt,
                    self.config.attempts,
                    e.status,
                    e.code,
                )
                if attempt < self.config.attempts:
                    await asyncio.sleep(self._delay(attempt, e))
        raise last

    async def upload(self, content: bytes, mime_type: str, filename: str) -> str:
        """Upload a file to the media endpoint (multipart: messaging_product, type, file); Meta's
        media id, for a media message (media.py). Retried like a send; an upload without an answer
        is simply done again (an unused upload harms nobody, Meta deletes it after 30 days), so it
        raises GraphUnavailable, never GraphUncertain."""
        last: GraphError = GraphUnavailable(None, None, "not attempted")
        for attempt in range(1, self.config.attempts + 1):
            try:
                return await self._upload(content, mime_type, filename)
            except GraphRejected:
                raise
            except GraphUnavailable as e:
                last = e
                log.warning(
                    "whatsapp media upload attempt %s/%s failed: status=%s code=%s",
                    attempt,
                    self.config.attempts,
                    e.status,
                    e.code,
                )
                if attempt < self.config.attempts:
                    await asyncio.sleep(self._delay(attempt, e))
        raise GraphUnavailable(last.status, last.code, "media upload failed", last.retry_after)

    async def _upload(self, content: bytes, mime_type: str, filename: str) -> str:
        form = aiohttp.FormData()
        form.add_field("messaging_product", "whatsapp")
        form.add_field("type", mime_type)
        form.add_field("file", content, filename=filename, content_type=mime_type)
        headers = {"Authorization": f"Bearer {self.config.access_token}"}
        try:
            session = self._get_session()
            async with session.post(self.config.media_url, data=form, headers=headers) as response:
                payload = await self._json(response)
                media_id = payload.get("id") if isinstance(payload, dict) else None
                if response.status < 300 and isinstance(media_id, str) and media_id:
                    return media_id
                code = _error_code(payload)
                if response.status < 300:
                    raise GraphUnavailable(response.status, code, "media upload without an id")
                raise classify(response.status, code)(
                    response.status, code, "graph api media error", _retry_after(response)
                )
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            raise GraphUnavailable(None, None, type(e).__name__) from e

    def _delay(self, attempt: int, error: GraphError) -> float:
        backoff = self.config.base_delay * 2.0 ** (attempt - 1)
        return min(max(backoff, error.retry_after or 0.0), MAX_DELAY)

    async def _post(self, message: Dict[str, Any]) -> Optional[str]:
        headers = {"Authorization": f"Bearer {self.config.access_token}"}
        try:
            async with self._get_session().post(
                self.config.messages_url, json=message, headers=headers
            ) as response:
                payload = await self._json(response)
                if response.status < 300:
                    return self._message_id(payload)
                code = _error_code(payload)
                raise classify(response.status, code)(
                    response.status, code, "graph api error", _retry_after(response)
                )
        except aiohttp.ClientConnectorError as e:
            # No connection was made: the request never left, sending again is safe.
            raise GraphUnavailable(None, None, type(e).__name__) from e
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            raise GraphUncertain(None, None, type(e).__name__) from e

    @staticmethod
    async def _json(response: aiohttp.ClientResponse) -> Any:
        try:
            return await response.json(content_type=None)
        except (ValueError, aiohttp.ContentTypeError):
            return None

    @staticmethod
    def _message_id(payload: Any) -> Optional[str]:
        messages = payload.get("messages") if isinstance(payload, dict) else None
        if isinstance(messages, list) and messages and isinstance(messages[0], dict):
            return messages[0].get("id")
        return None
