"""Settings of the bot and its actions: the only place where environment variables are read."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class BotSettings:
    """How the actions reach the handover service."""

    handover_url: Optional[str]
    handover_secret: Optional[str]
    handover_timeout: float
    # Where messages and callback requests wait while the service is down (bot/handover_gateway/outbox.py).
    outbox_db: str = str(ROOT / "var" / "outbox.db")
    outbox_hold_hours: float = 72.0
    # The municipality registers contacts in Open Klant (OPENKLANT_URL, read by the handover service
    # too): the bot then asks the citizen whether this contact may be registered.
    ask_registration: bool = False

    @classmethod
    def from_env(cls) -> "BotSettings":
        """Read the environment (see README, "Instellingen")."""
        return cls(
            handover_url=(os.environ.get("HANDOVER_URL") or "").rstrip("/") or None,
            handover_secret=os.environ.get("HANDOVER_SHARED_SECRET") or None,
            handover_timeout=float(os.environ.get("HANDOVER_TIMEOUT", "5")),
            outbox_db=os.environ.get("BOT_OUTBOX_DB_URL") or str(ROOT / "var" / "outbox.db"),
            outbox_hold_hours=float(os.environ.get("BOT_OUTBOX_HOLD_HOURS", "72")),
            ask_registration=bool(os.environ.get("OPENKLANT_URL", "").strip()),
        )
