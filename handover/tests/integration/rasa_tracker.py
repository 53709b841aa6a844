"""Run with the BOT's Python (Rasa 3.6), not the handover venv: saves and reads trackers with
Rasa's own SQLTrackerStore, so the erasure tests work on the real schema.

    python rasa_tracker.py save URL SENDER...   # save a short conversation per sender, then read
    python rasa_tracker.py read URL SENDER...   # print {"sender": number of events, ...}
    python rasa_tracker.py save-aged URL NOW SENDER=DAYS[/LAST_DAYS]...
        # the same conversation, its events DAYS days before NOW (epoch seconds), the last one
        # LAST_DAYS days before NOW when given; then read
    Prefix a command with "erasing-" to use the bot's own store (bot/tracker_store.py, which
    keeps erased conversations erased) instead of Rasa's plain one; needs the repo on PYTHONPATH.
"""

from __future__ import annotations

import asyncio
import json
import sys

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

DAY = 86400.0


def conversation(first: float | None = None, last: float | None = None) -> list[Event]:
    """Five events (five rows in `events`); timestamps `first`, the last one `last` (None: now)."""
    # As in a real session start, this comes just before SessionStarted: reading a tracker
    # back gives the events from SessionStarted on (4).
    return [
        ActionExecuted("action_session_start", timestamp=first - 1 if first else None),
        SessionStarted(timestamp=first),
        ActionExecuted("action_listen", timestamp=first),
        UserUttered("Mijn BSN is 111222333, bel 06-12345678", timestamp=first),
        BotUttered("Dank u, ik zoek een medewerker voor u.", timestamp=last or first),
    ]


async def main(command: str, url: str, senders: list[str]) -> None:
    store_class = SQLTrackerStore
    if command.startswith("erasing-"):
        from bot.tracker_store import ErasingSQLTrackerStore

        store_class, command = ErasingSQLTrackerStore, command.removeprefix("erasing-")
    store = store_class(Domain.empty(), host=url)  # a full URL in `host`, as endpoints.yml does
    if command == "save":
        for sender in senders:
            await store.save(DialogueStateTracker.from_events(sender, conversation()))
    if command == "save-aged":
        now, specs, senders = float(senders[0]), senders[1:], []
        for spec in specs:
            sender, _, ages = spec.partition("=")
            first, _, last = ages.partition("/")
            events = conversation(now - float(first) * DAY, now - float(last or first) * DAY)
            await store.save(DialogueStateTracker.from_events(sender, events))
            senders.append(sender)
    counts = {}
    for sender in senders:
        tracker = await store.retrieve(sender)
        counts[sender] = 0 if tracker is None else len(tracker.events)
    print(json.dumps(counts))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
