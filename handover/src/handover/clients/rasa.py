"""Small client for Rasa's HTTP API: triggers an intent in the citizen's conversation."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from yarl import URL


class RasaError(Exception):
    """Rasa did not accept the call; the outbox retries it later."""


class RasaClient:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        base_url: str | None,
        token: str | None = None,
        timeout_seconds: float = 5.0,
    ) -> None:
        self._http = http
        self._base = URL(base_url) if base_url else None
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    @property
    def configured(self) -> bool:
        return self._base is not None

    async def trigger_intent(
        self, sender_id: str, output_channel: str, intent: str, entities: dict[str, Any]
    ) -> None:
        if self._base is None:
            raise RasaError("RASA_URL is not configured")
        # yarl quotes the sender id as one path segment (it may contain '+', '@', '/').
        url = self._base / "conversations" / sender_id / "trigger_intent"
        params = {"output_channel": output_channel}
        if self._token:
            params["token"] = self._token
        try:
            async with self._http.post(
                url.with_query(params),
                json={"name": intent, "entities": entities},
                timeout=self._timeout,
            ) as resp:
                if resp.status >= 300:
                    raise RasaError(f"rasa answered HTTP {resp.status}")
                await resp.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:  # not TimeoutError on 3.10
            raise RasaError(type(e).__name__) from e
