"""The appointment's calendar file on WhatsApp (issue 18): the bot's structured message
{"data": {"type": "agenda", …}} becomes a `document` message. Its file is uploaded to the Cloud
API's media endpoint right before the send (as text/plain, a type Meta documents for a document,
with the .ics name) and the document names the media id; it goes through the outbox like any
message: inside the 24-hour window only (held behind the template outside it), retried, sent once.

The channel runs in this process against the fake Graph API (tests/channels/helpers.py), which
refuses what Meta refuses (an unknown media type, a document without media)."""

from __future__ import annotations

import time
from typing import Any, Dict

import pytest

from bot.channels.whatsapp import WhatsAppOutput
from bot.channels.whatsapp.graph import GraphRejected
from bot.channels.whatsapp.media import calendar_document
from tests.bot.test_appointment_calendar import ICS
from tests.channels.helpers import WA_ID, FakeGraph, Server, template_button, text_message

HOURS = 3600.0
CAPTION = "Wilt u de afspraak in uw agenda zetten? Open dan dit bestand."


def agenda(**changes: Any) -> Dict[str, Any]:
    data = {
        "type": "agenda",
        "text": CAPTION,
        "label": "In mijn agenda zetten",
        "filename": "afspraak-AF-7K3M2P.ics",
        "ics": ICS,
        **changes,
    }
    return {"custom": {"data": data}}


async def open_window(server: Server) -> WhatsAppOutput:
    await server.channel.state.record_inbound(server.channel.ids.key(WA_ID), time.time())
    return server.channel.get_output_channel()


async def test_the_calendar_file_goes_out_as_a_document_with_its_file_uploaded(
    server: Server, graph: FakeGraph
) -> None:
    output = await open_window(server)
    await output.send_response(WA_ID, agenda())
    await server.settled()
    [upload] = graph.uploads
    assert (upload["messaging_product"], upload["type"], upload["filename"]) == (
        "whatsapp",
        "text/plain",
        "afspraak-AF-7K3M2P.ics",
    )
    assert upload["content"] == ICS.encode("utf-8") and upload["auth"] == "Bearer test-access-token"
    [sent] = graph.sent
    assert sent["type"] == "document" and "_wa" not in sent  # the channel's own fields stay home
    [document] = graph.documents()
    assert document == {
        "id": document["id"],
        "filename": "afspraak-AF-7K3M2P.ics",
        "caption": CAPTION,
        "content": ICS.encode("utf-8"),
    }


async def test_in_a_citizens_turn_the_file_comes_with_the_other_replies(
    server: Server, graph: FakeGraph
) -> None:
    server.agent.reply = agenda()
    await server.send(text_message("ja"))
    assert graph.types() == ["document"] and graph.documents()[0]["content"] == ICS.encode("utf-8")


async def test_an_upload_that_fails_for_a_moment_is_tried_again_and_the_document_sent_once(
    server: Server, graph: FakeGraph
) -> None:
    output = await open_window(server)
    graph.fail_uploads = 3  # every attempt of the first send (send_attempts 3)
    await output.send_response(WA_ID, agenda())
    await server.settled()
    assert len(graph.uploads) >= 4 and graph.types() == ["document"]
    assert len(graph.documents()) == 1 and graph.documents()[0]["content"] == ICS.encode("utf-8")


async def test_outside_the_window_the_file_waits_behind_the_template(
    server: Server, graph: FakeGraph
) -> None:
    await server.channel.state.record_inbound(server.channel.ids.key(WA_ID), time.time() - 25 * HOURS)
    await server.channel.get_output_channel().send_response(WA_ID, agenda())
    await server.settled()
    assert graph.types() == ["template"] and graph.uploads == []
    await server.send(template_button("Bericht lezen", "Bericht lezen"))
    assert graph.types() == ["template", "document"]
    assert graph.documents()[0]["content"] == ICS.encode("utf-8")


async def test_a_message_that_is_no_sane_calendar_file_sends_nothing(
    server: Server, graph: FakeGraph
) -> None:
    output = await open_window(server)
    for bad in (
        agenda(filename="../afspraak.ics"),
        agenda(filename="afspraak.exe"),
        agenda(ics="<html>"),
        agenda(ics="BEGIN:VCALENDAR" + "x" * 20_000),
        agenda(filename=None),
    ):
        assert calendar_document(bad["custom"]) is None
        await output.send_response(WA_ID, bad)
    await server.settled()
    assert graph.sent == [] and graph.uploads == []


def test_the_caption_is_cut_to_metas_limit_and_the_file_kept_in_the_channels_own_fields() -> None:
    body = calendar_document(agenda(text="x" * 2000)["custom"])
    assert body is not None
    assert len(body["document"]["caption"]) == 1024 and "id" not in body["document"]
    assert body["_wa"]["upload"] == {"content": ICS, "type": "text/plain"}


async def test_meta_takes_no_calendar_type_for_a_document_so_the_file_goes_as_text(
    server: Server, graph: FakeGraph
) -> None:
    with pytest.raises(GraphRejected) as refused:
        await server.channel.graph.upload(ICS.encode(), "text/calendar", "afspraak-AF-7K3M2P.ics")
    assert refused.value.code == 100
    assert await server.channel.graph.upload(ICS.encode(), "text/plain", "afspraak-AF-7K3M2P.ics")
