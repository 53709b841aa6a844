"""Settings of the bot and its actions: the only place where environment variables are read."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class BotSettings:
    """How the actions reach the handover service."""

    handover_url: Optional[str]
    handover_secret: Optional[str]
    handover_timeout: float

    @classmethod
    def from_env(cls) -> "BotSettings":
        """Read the environment (see README, "Instellingen")."""
        return cls(
            handover_url=(os.environ.get("HANDOVER_URL") or "").rstrip("/") or None,
            handover_secret=os.environ.get("HANDOVER_SHARED_SECRET") or None,
            handover_timeout=float(os.environ.get("HANDOVER_TIMEOUT", "5")),
        )
