"""Rasa's SQL tracker store, plus erasure of one whole conversation ("verwijder mijn gegevens").

endpoints.yml:

    tracker_store:
      type: bot.tracker_store.ErasingSQLTrackerStore
      dialect: "sqlite"            # or "postgresql"
      url: ${TRACKER_DB_URL}

Rasa writes the tracker back after every turn, so an action cannot delete its own conversation:
the rows would be written again a moment later. The erasure action therefore only sets the slot
`gegevens_wissen`. When this store is asked to save a tracker with that slot set, it deletes every
stored event of the conversation (all sessions) and writes nothing. The bot's last message has
been sent by then; the citizen's next message starts a new, empty conversation.

This project configures no event broker; with one, the events it already published are not
recalled by this store.
"""

from __future__ import annotations

import logging
from typing import Awaitable, Callable, List

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

# Set (to true) by action_verwijder_gegevens after the citizen confirmed.
ERASE_SLOT = "gegevens_wissen"

EraseHook = Callable[[str], Awaitable[None]]
_erase_hooks: List[EraseHook] = []


def on_erase(hook: EraseHook) -> None:
    """Also run `hook(sender_id)` when a conversation is erased (e.g. a channel's own state)."""
    if hook not in _erase_hooks:
        _erase_hooks.append(hook)


def forget_hook(hook: EraseHook) -> None:
    """Stop running `hook` (its owner is shutting down)."""
    if hook in _erase_hooks:
        _erase_hooks.remove(hook)


def wants_erasure(tracker: DialogueStateTracker) -> bool:
    """Whether the conversation asked to be erased. Read from the events, not the slot value, so
    it also works when the loaded domain does not know the slot."""
    return any(isinstance(e, SlotSet) and e.key == ERASE_SLOT and e.value is True for e in tracker.events)


class ErasingSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore (same settings) that erases a conversation instead of saving it when asked."""

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Store the new events, or erase the whole conversation when it asked for that."""
        if wants_erasure(tracker):
            await self.erase(tracker.sender_id)
            return
        await super().save(tracker)

    async def erase(self, sender_id: str) -> int:
        """Delete every stored event of one conversation; returns how many rows went."""
        with self.session_scope() as session:
            deleted = (
                session.query(self.SQLEvent)
                .filter(self.SQLEvent.sender_id == sender_id)
                .delete(synchronize_session=False)
            )
            session.commit()
        for hook in list(_erase_hooks):
            try:
                await hook(sender_id)
            except Exception as e:  # the tracker is gone already; a channel's leftovers must not undo that
                logger.warning(
                    "erasure hook %s failed: %s", getattr(hook, "__qualname__", "?"), type(e).__name__
                )
        # The sender id can be a phone number (WhatsApp): it is not logged.
        logger.info("conversation erased on the citizen's request (%d events)", deleted)
        return int(deleted or 0)
