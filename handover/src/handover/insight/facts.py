"""What one Rasa event tells the insight counts: structured fields only, never a sentence.

The bot keeps what it knows in slots (bot/intake/state.py, bot/domain/*.yml): ``onderwerp``,
``levensgebeurtenis``, ``vraagtype``, ``urgent``, ``crisis``, ``intake_knoop``, ``past_niet``,
``misverstanden``, ``toestemming``, ``intake_fase``, ``handover_referentie`` and ``taal``. A
citizen's message counts by its event type and channel; its text is never read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Rasa's input channel names -> the names on the dashboard.
CHANNELS = {"socketio": "website", "whatsapp": "whatsapp", "rest": "rest"}
# The intake's phase when the assistant gave its outcome (bot/intake/state.py DONE).
ADVICE_PHASE = "uitkomst"
MAX_VALUE = 64  # insight_counts.value


@dataclass(frozen=True)
class Observation:
    """The structured part of one event."""

    sender_id: str
    at: dt.datetime
    marks: tuple[str, ...] = ()  # "measure:value", counted once per conversation and day
    message: bool = False  # a citizen's own message (counted per message)
    node: str | None = None  # the stroomschema node reached
    doesnt_fit: bool = False  # the citizen chose "dit past niet" at the current node
    misunderstood: int | None = None  # the slot misverstanden (a running count)
    language: str | None = None


def _value(raw: Any) -> str:
    return str(raw)[:MAX_VALUE]


def _slot(name: str, value: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    """(marks, other Observation fields) for one slot that was set."""
    if value is None or value == [] or value is False and name not in ("toestemming",):
        return (), {}
    if name == "onderwerp":
        return (f"onderwerp:{_value(value)}",), {}
    if name == "extra_onderwerpen" and isinstance(value, list):
        return tuple(f"onderwerp:{_value(v)}" for v in value), {}
    if name == "levensgebeurtenis":
        return (f"levensgebeurtenis:{_value(value)}",), {}
    if name == "vraagtype" and isinstance(value, (int, float)):
        return (f"vraagtype:{int(value)}",), {}
    if name == "urgent" and value is True:
        return ("urgent:",), {}
    if name == "crisis":
        return ("crisis:",), {}
    if name == "intake_knoop":
        return (f"knoop:{_value(value)}",), {"node": _value(value)}
    if name == "past_niet" and value is True:
        return (), {"doesnt_fit": True}
    if name == "misverstanden" and isinstance(value, (int, float)):
        return (), {"misunderstood": int(value)}
    if name == "toestemming" and value is False:
        return ("toestemming_geweigerd:",), {}
    if name == "intake_fase" and value == ADVICE_PHASE:
        return ("advies:",), {}
    if name == "handover_referentie":
        return ("overgedragen:",), {}
    if name == "taal":
        return (), {"language": _value(value)[:8]}
    return (), {}


def observe(event: Mapping[str, Any]) -> Observation | None:
    """The structured facts of one event, or None when it tells the counts nothing."""
    sender = event.get("sender_id")
    stamp = event.get("timestamp")
    if not isinstance(sender, str) or not sender or not isinstance(stamp, (int, float)):
        return None
    at = dt.datetime.fromtimestamp(float(stamp), dt.timezone.utc)
    kind = event.get("event")
    if kind == "user":
        metadata = event.get("metadata")
        if isinstance(metadata, Mapping) and metadata.get("is_external") is True:
            return None  # the handover service's trigger_intent, not the citizen
        channel = CHANNELS.get(str(event.get("input_channel") or ""), "overig")
        return Observation(sender, at, marks=("gesprek:", f"kanaal:{channel}"), message=True)
    if kind == "slot":
        marks, fields = _slot(str(event.get("name") or ""), event.get("value"))
        if not marks and not fields:
            return None
        return Observation(sender, at, marks=marks, **fields)
    return None
