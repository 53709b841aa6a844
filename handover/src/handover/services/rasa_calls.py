"""Calls to Rasa for the citizen, written to the outbox in the same transaction as the change
that caused them; rasa_delivery.py sends them after the commit."""

from __future__ import annotations

from typing import Any

from ..models import Case, Kind, OutboxMessage
from ..uow import UnitOfWork


def enqueue_rasa(uow: UnitOfWork, case: Case, intent: str, entities: dict[str, Any]) -> None:
    """Persist an event of the live chat (claimed, a message, the queue) in the same transaction;
    the outbox drainer delivers it."""
    if case.kind != Kind.CHAT:
        return  # callback citizens are not in a live conversation
    _enqueue(uow, case, intent, entities)


def enqueue_closing(uow: UnitOfWork, case: Case, entities: dict[str, Any]) -> None:
    """The closing with the agreed next steps, for every case, a callback request too: the bot
    takes the conversation back and shows the next steps where the channel can (services/closing.py)."""
    _enqueue(uow, case, "terug_naar_bot", entities)


def _enqueue(uow: UnitOfWork, case: Case, intent: str, entities: dict[str, Any]) -> None:
    uow.session.add(
        OutboxMessage(
            case_id=case.id, channel=case.channel, sender_id=case.sender_id, intent=intent, entities=entities
        )
    )
    uow.effects.outbox = True
