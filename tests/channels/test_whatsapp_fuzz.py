"""The WhatsApp webhook fuzzed with generated bodies (hypothesis): signed and forged, valid JSON of
every shape, envelopes with wrong types in every field, random bytes. Each gets 200 (signed and
readable), 400, 403 or 413, never a 5xx, and the channel keeps working. Also: erasing a
conversation in the tracker store forgets the channel's own state of that citizen."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Dict, Optional

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import tracker_store
from tests.channels.conftest import StartServer
from tests.channels.helpers import WA_ID, FakeGraph, Server, sign, text_message

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
odd_or = lambda good: good | json_values  # noqa: E731 - a field that is right or anything at all
messages = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "from": odd_or(st.sampled_from([WA_ID, "", "31/6", "3" * 70])),
            "id": odd_or(st.text(min_size=1, max_size=20)),
            "timestamp": odd_or(st.sampled_from(["1700000000", "-5", "nu"])),
            "type": odd_or(
                st.sampled_from(["text", "interactive", "button", "image", "reaction", "unknown"])
            ),
            "text": odd_or(st.fixed_dictionaries({}, optional={"body": odd_or(st.text(max_size=100))})),
            "interactive": odd_or(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "type": odd_or(st.sampled_from(["button_reply", "list_reply", "nfm_reply"])),
                        "button_reply": odd_or(
                            st.fixed_dictionaries({}, optional={"id": json_values, "title": json_values})
                        ),
                    },
                )
            ),
            "button": json_values,
        },
    ),
    max_size=3,
)
values = st.fixed_dictionaries(
    {},
    optional={
        "messaging_product": json_values,
        "metadata": odd_or(st.fixed_dictionaries({"phone_number_id": json_values})),
        "contacts": json_values,
        "messages": odd_or(messages),
        "statuses": json_values,
    },
)
payloads = st.fixed_dictionaries(
    {},
    optional={
        "object": odd_or(st.just("whatsapp_business_account")),
        "entry": odd_or(
            st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "id": json_values,
                        "changes": odd_or(
                            st.lists(
                                st.fixed_dictionaries(
                                    {},
                                    optional={
                                        "field": odd_or(st.just("messages")),
                                        "value": odd_or(values),
                                    },
                                ),
                                max_size=2,
                            )
                        ),
                    },
                ),
                max_size=2,
            )
        ),
    },
)
bodies = st.one_of(
    payloads.map(lambda p: json.dumps(p).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=2000),
    payloads.map(lambda p: json.dumps(p, ensure_ascii=False).encode("utf-16")),
)
signatures = st.sampled_from(["valid", "valid", "valid", "forged", "missing", "garbage"])


def headers_for(body: bytes, signature: str, content_type: Optional[str]) -> Dict[str, str]:
    headers = {"Content-Type": content_type} if content_type else {}
    if signature == "valid":
        headers["X-Hub-Signature-256"] = sign(body)
    elif signature == "forged":
        headers["X-Hub-Signature-256"] = sign(body, "niet-het-geheim")
    elif signature == "garbage":
        headers["X-Hub-Signature-256"] = "sha256=\u00ff\u00fe"
    return headers


async def test_fuzzed_webhook_bodies_never_get_a_5xx(server: Server, graph: FakeGraph) -> None:
    loop = asyncio.get_running_loop()
    seen: Dict[int, int] = {}

    @FUZZ
    @given(
        body=bodies,
        signature=signatures,
        content_type=st.sampled_from(
            [None, "application/json", "text/plain", "application/x-www-form-urlencoded"]
        ),
    )
    def check(body: bytes, signature: str, content_type: Optional[str]) -> None:
        code, _ = asyncio.run_coroutine_threadsafe(
            server.post_raw(body, headers_for(body, signature, content_type)), loop
        ).result(30)
        seen[code] = seen.get(code, 0) + 1
        assert code in (200, 400, 403, 413), code
        if signature != "valid":
            assert code in (403, 413)

    await asyncio.to_thread(check)
    assert seen.get(200) and seen.get(400) and seen.get(403)  # every branch was reached
    await server.send(text_message("na het fuzzen"))
    assert server.agent.texts[-1] == "na het fuzzen"


async def test_erasing_the_conversation_forgets_the_whatsapp_window(
    start_server: StartServer, graph: FakeGraph, tmp_path: Path
) -> None:
    server = await start_server()
    await server.send(text_message("hallo"))
    output = server.channel.get_output_channel()
    await output.send_text_message(WA_ID, "Welkom!")
    assert graph.types() == ["text"]  # within the 24-hour window

    store = tracker_store.ErasingSQLTrackerStore(Domain.empty(), host=f"sqlite:///{tmp_path / 'tracker.db'}")
    erased = DialogueStateTracker.from_events(
        WA_ID, [UserUttered("ja"), SlotSet(tracker_store.ERASE_SLOT, True)]
    )
    await store.save(erased)

    await output.send_text_message(WA_ID, "Nog een bericht")
    assert graph.types() == ["text", "template"]  # the window is forgotten: only the template may go out
    await server.stop()
    assert server.channel.forget not in tracker_store._erase_hooks  # a stopped channel is not called
