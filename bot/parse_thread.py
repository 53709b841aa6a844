"""Reading a message (Rasa's NLU graph) runs on a thread of its own, not on the server's event loop.

Rasa 3.6 runs the NLU graph synchronously inside `MessageProcessor.parse_message`, on the event
loop that also answers every HTTP request. Our graph embeds the text (multilingual-e5, 30 to 300 ms
of CPU for a long story), so while one citizen's message was read, nothing else was answered:
WhatsApp webhooks waited for their 200 (Meta wants a median under 250 ms and retries slow ones),
the widget's socket.io pings and acknowledgements waited, and the handover service's
trigger_intent calls waited. With the graph on a thread the loop keeps answering; the embedding
engine releases the GIL while it computes.

One thread: messages are read one at a time, as before (the embedding engine takes one call at a
time anyway, bot/nlp/embeddings.py), so no component of the graph is ever called concurrently.
The context (contextvars) goes with the call. Installed by bot/server.py.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.core.trackers import DialogueStateTracker

_executor: Optional[ThreadPoolExecutor] = None


def _reader() -> ThreadPoolExecutor:
    """The one thread that reads messages, started at the first message (nothing runs at import)."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlu")
    return _executor


async def parse_message(
    self: MessageProcessor,
    message: UserMessage,
    tracker: Optional[DialogueStateTracker] = None,
    only_output_properties: bool = True,
) -> Dict[Text, Any]:
    """`MessageProcessor.parse_message` of Rasa 3.6.21, with the graph run on the reader thread."""
    if self.http_interpreter:
        remote: Dict[Text, Any] = await _rasa_parse_message(self, message, tracker, only_output_properties)
        return remote
    if tracker is None:
        tracker = DialogueStateTracker.from_events(message.sender_id, [])
    context = contextvars.copy_context()
    read = functools.partial(
        context.run, self._parse_message_with_graph, message, tracker, only_output_properties
    )
    parse_data: Dict[Text, Any] = await asyncio.get_running_loop().run_in_executor(_reader(), read)
    # What Rasa does after the graph, unchanged.
    self._update_full_retrieval_intent(parse_data)
    self._check_for_unseen_features(parse_data)
    return parse_data


_rasa_parse_message = MessageProcessor.parse_message


def install() -> None:
    """Read messages on the reader thread in this process."""
    MessageProcessor.parse_message = parse_message


def uninstall() -> None:
    """Rasa's own reading again (tests)."""
    MessageProcessor.parse_message = _rasa_parse_message
