"""Reading a message runs off the event loop (bot/parse_thread.py): the loop answers meanwhile."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from types import SimpleNamespace
from typing import Any, Dict, List

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.nlu.training_data.message import Message

from bot import parse_thread

WAIT = 20  # seconds; only reached when the behaviour is wrong

conversation: contextvars.ContextVar[str] = contextvars.ContextVar("conversation", default="")


class GatedGraph:
    """Rasa's graph runner for the NLU target, that holds each call until the test releases it."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.released = threading.Event()
        self.running = 0
        self.most_at_once = 0
        self.seen: List[Dict[str, Any]] = []
        self._count = threading.Lock()

    def run(self, inputs: Dict[str, Any], targets: List[str]) -> Dict[str, Any]:
        with self._count:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        message = inputs["__message__"][0]
        self.seen.append({"thread": threading.current_thread().name, "conversation": conversation.get()})
        self.started.set()
        released = self.released.wait(WAIT)
        with self._count:
            self.running -= 1
        if not released:
            raise AssertionError("the event loop never ran while the message was read")
        intent = {"name": "vraag", "confidence": 0.9}
        parsed = Message(data={"text": message.text, "intent": intent}, output_properties={"intent"})
        return {targets[0]: [parsed]}


def processor_with(graph: GatedGraph) -> MessageProcessor:
    processor = MessageProcessor.__new__(MessageProcessor)  # no model to load: the graph is the fake
    processor.http_interpreter = None
    processor.graph_runner = graph
    processor.model_metadata = SimpleNamespace(nlu_target="run_nlu")
    processor.domain = None
    return processor


@pytest.fixture
def installed():
    parse_thread.install()
    yield
    parse_thread.uninstall()


async def test_the_loop_answers_while_a_message_is_read(installed) -> None:
    graph = GatedGraph()
    processor = processor_with(graph)
    conversation.set("gesprek-1")
    parsing = asyncio.create_task(processor.parse_message(UserMessage("ik heb een brief", sender_id="a")))
    # Runs on the loop while the graph is busy; with the graph on the loop this would come too late.
    started = await asyncio.get_running_loop().run_in_executor(None, graph.started.wait, WAIT)
    assert started
    graph.released.set()
    parse_data = await asyncio.wait_for(parsing, WAIT)
    assert parse_data["intent"]["name"] == "vraag" and parse_data["text"] == "ik heb een brief"
    assert graph.seen == [{"thread": graph.seen[0]["thread"], "conversation": "gesprek-1"}]
    assert graph.seen[0]["thread"].startswith("nlu")


async def test_messages_are_read_one_at_a_time(installed) -> None:
    graph = GatedGraph()
    processor = processor_with(graph)
    parsing = [
        asyncio.create_task(processor.parse_message(UserMessage(text, sender_id=text)))
        for text in ("eerste", "tweede", "derde")
    ]
    assert await asyncio.get_running_loop().run_in_executor(None, graph.started.wait, WAIT)
    graph.released.set()
    results = await asyncio.wait_for(asyncio.gather(*parsing), WAIT)
    assert [r["text"] for r in results] == ["eerste", "tweede", "derde"]
    assert graph.most_at_once == 1
