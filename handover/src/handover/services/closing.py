"""Whether the agreed next steps of a case can still reach the citizen when it is closed, and what
the close form and its confirmation say about that (a promise only where the channel keeps it).

Closing always goes to the citizen's conversation in Rasa (`terug_naar_bot`, also for a callback
request): the bot takes over again, and shows the next steps where it can.

- WhatsApp: a normal message within 24 hours of the citizen's last message; after that WhatsApp
  allows only an approved template, and the bot's channel keeps the message until the citizen
  answers, if the municipality set up a template (WHATSAPP_TEMPLATE_NAME; bot/channels/whatsapp/,
  docs/whatsapp.md). So no promise after 24 hours.
- Website: the widget shows it when it is open, or when the citizen opens the chat again on the
  same device, as long as the widget remembers the conversation (`WIDGET_SESSION_MINUTES` after
  the last message, bot/channels/website/). After that it cannot be shown.
- REST (tests and integrations): nobody to show it to.

The citizen's last message is the newest of the case's creation and the citizen's messages in it:
a widget that was used later still remembers the conversation, so this errs on the honest side.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Case, Channel, Kind, Message

# Meta's customer service window; the bot's channel treats it as closed 5 minutes early.
WHATSAPP_WINDOW = dt.timedelta(hours=24) - dt.timedelta(minutes=5)
YOURSELF = "Geef de afspraken zelf door aan de inwoner."


@dataclass(frozen=True)
class ClosingReach:
    promised: bool  # the citizen gets the next steps on their channel
    notice: str  # for the close form, before closing
    confirmation: str  # the message after closing


async def last_citizen_message_at(session: AsyncSession, case: Case) -> dt.datetime:
    newest = await session.scalar(
        select(func.max(Message.created_at)).where(Message.case_id == case.id, Message.role == "citizen")
    )
    return max(case.created_at, newest) if newest is not None else case.created_at


def _moment(at: dt.datetime, now: dt.datetime, timezone: str) -> str:
    """'vandaag om 14.35 uur' or 'morgen om 9.05 uur', in the office's timezone."""
    zone = ZoneInfo(timezone)
    local, today = at.astimezone(zone), now.astimezone(zone).date()
    day = {today: "vandaag", today + dt.timedelta(days=1): "morgen"}.get(
        local.date(), local.strftime("%d-%m-%Y")
    )
    return f"{day} om {local.hour}.{local.minute:02d} uur"


def closing_reach(
    case: Case,
    last_citizen_at: dt.datetime,
    now: dt.datetime,
    *,
    widget_session_minutes: float,
    timezone: str,
) -> ClosingReach:
    """What closing `case` now means for the citizen."""
    closed = (
        "Zaak is afgerond; de burger gaat terug naar de chatbot."
        if case.kind == Kind.CHAT
        else "Zaak is afgerond."
    )
    if case.channel == Channel.WHATSAPP:
        until = last_citizen_at + WHATSAPP_WINDOW
        if now < until:
            return ClosingReach(
                True,
                "De inwoner krijgt deze afspraken via WhatsApp, als u afrondt vóór "
                f"{_moment(until, now, timezone)}. Daarna pas als de inwoner weer iets stuurt.",
                f"{closed} De inwoner krijgt de afspraken via WhatsApp.",
            )
        return ClosingReach(
            False,
            "Het laatste bericht van de inwoner via WhatsApp is meer dan 24 uur oud: WhatsApp laat "
            "nu geen gewoon bericht meer toe. Misschien krijgt de inwoner deze afspraken later, als "
            f"die weer iets stuurt. {YOURSELF}",
            f"{closed} De afspraken komen via WhatsApp niet meteen aan. {YOURSELF}",
        )
    if case.channel == Channel.SOCKETIO:
        until = last_citizen_at + dt.timedelta(minutes=widget_session_minutes)
        if now < until:
            return ClosingReach(
                True,
                "De inwoner ziet deze afspraken in de chat op de website: meteen als de chat open "
                f"is, anders als de inwoner de chat op hetzelfde apparaat weer opent vóór "
                f"{_moment(until, now, timezone)}. Daarna niet meer.",
                f"{closed} De inwoner ziet de afspraken in de chat op de website.",
            )
        return ClosingReach(
            False,
            f"De chat op de website onthoudt een gesprek {widget_session_minutes:g} minuten na het "
            "laatste bericht van de inwoner. Die tijd is voorbij: de inwoner krijgt deze afspraken "
            f"niet meer in de chat. {YOURSELF}",
            f"{closed} De afspraken komen niet meer aan in de chat op de website. {YOURSELF}",
        )
    return ClosingReach(
        False,
        "Dit gesprek loopt niet via de website of WhatsApp: de inwoner krijgt deze afspraken niet. "
        + YOURSELF,
        f"{closed} De inwoner krijgt de afspraken niet via de chat. {YOURSELF}",
    )


async def reach_of(
    session: AsyncSession, case: Case, now: dt.datetime, *, widget_session_minutes: float, timezone: str
) -> ClosingReach:
    return closing_reach(
        case,
        await last_citizen_message_at(session, case),
        now,
        widget_session_minutes=widget_session_minutes,
        timezone=timezone,
    )
