"""The WhatsApp channel's own words in the conversation's language (issue 15, item 3).

Dutch in bot/channels/whatsapp/teksten.yml, each translation in the `whatsapp:` part of
bot/i18n/<taal>.yml with the Dutch it translates (`nl`). The channel reads the conversation language
from the tracker (slot `taal`) only when it says something itself."""

from __future__ import annotations

import time
from typing import Any, Dict, Optional

import pytest

from bot.channels.whatsapp.channel import UNSUPPORTED_REPLY, WhatsAppConfig
from bot.channels.whatsapp.texts import (
    BUTTONS,
    MAX_BUTTON_TITLE,
    REQUIRED,
    TEXTS,
    TRANSLATIONS,
    load_translations,
    texts,
)
from bot.intake.language import LANGUAGES
from tests.channels.conftest import StartServer
from tests.channels.helpers import WA_ID, FakeGraph, Server, media_message, text_message

TRANSLATED = [language for language in LANGUAGES if language != "nl"]
DUTCH_REPLY = {"text": UNSUPPORTED_REPLY, "buttons": [TEXTS["knop_medewerker"]]}


def test_the_dutch_file_has_exactly_the_texts_the_channel_uses() -> None:
    assert sorted(TEXTS) == sorted(REQUIRED)


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_language_has_every_text_and_no_other(language: str) -> None:
    found = TRANSLATIONS[language]
    assert sorted(set(REQUIRED) - set(found)) == [], f"bot/i18n/{language}.yml whatsapp: ontbreekt"
    assert sorted(set(found) - set(REQUIRED)) == [], f"bot/i18n/{language}.yml whatsapp: te veel"


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_translation_translates_the_current_dutch_text(language: str) -> None:
    stale = {key: t.dutch for key, t in TRANSLATIONS[language].items() if t.dutch != TEXTS.get(key)}
    assert stale == {}, f"bot/i18n/{language}.yml whatsapp: het Nederlands is veranderd, vertaal opnieuw"


@pytest.mark.parametrize("language", LANGUAGES)
def test_button_titles_fit_whatsapp_and_the_sentences_name_the_button_as_it_reads(language: str) -> None:
    words = texts(language)
    for key in BUTTONS:
        assert 0 < len(words[key]) <= MAX_BUTTON_TITLE, f"{language}.{key}: {words[key]!r}"
    for key, dutch in TEXTS.items():
        if f"'{TEXTS['knop_medewerker']}'" in dutch:
            assert f"'{words['knop_medewerker']}'" in words[key], f"{language}.{key}"


def test_a_language_without_translations_gets_dutch(tmp_path: Any) -> None:
    assert load_translations("pl", tmp_path) == {}
    assert texts(None) == TEXTS and texts("nl") == TEXTS and texts("xx") == TEXTS


# -- the channel -------------------------------------------------------------------------------------


async def conversation_in(server: Server, language: Optional[str]) -> str:
    """A citizen who wrote once; their conversation's language as the bot stored it."""
    await server.send(text_message("Dzień dobry"))
    sender = server.agent.messages[-1].sender_id
    server.agent.tracker_store.slots[sender] = {"taal": language}
    return sender


def button_reply_body(reply: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "text": reply["interactive"]["body"]["text"],
        "buttons": [b["reply"]["title"] for b in reply["interactive"]["action"]["buttons"]],
    }


async def test_a_photo_in_a_polish_conversation_gets_the_polish_answer_and_button(
    server: Server, graph: FakeGraph
) -> None:
    await conversation_in(server, "pl")
    await server.send(media_message("voice note"))
    polish = TRANSLATIONS["pl"]
    assert button_reply_body(graph.sent[-1]) == {
        "text": polish["niet_leesbaar"].text,
        "buttons": [polish["knop_medewerker"].text],
    }
    assert graph.sent[-1]["interactive"]["action"]["buttons"][0]["reply"]["id"] == "/medewerker"


async def test_a_photo_with_a_caption_in_an_arabic_conversation_gets_the_arabic_notice(
    server: Server, graph: FakeGraph
) -> None:
    await conversation_in(server, "ar")
    server.agent.echo = True
    await server.send(media_message("photo"))  # with a caption: the caption is read
    assert graph.delivered_texts()[0] == TRANSLATIONS["ar"]["alleen_bijschrift"].text


async def test_a_conversation_that_was_dutch_all_along_gets_dutch(server: Server, graph: FakeGraph) -> None:
    await conversation_in(server, None)  # the slot stays empty in a Dutch conversation
    await server.send(media_message("voice note"))
    assert button_reply_body(graph.sent[-1]) == DUTCH_REPLY


async def test_without_the_tracker_the_notice_still_goes_out_in_dutch(
    server: Server, graph: FakeGraph
) -> None:
    await conversation_in(server, "uk")
    server.agent.tracker_store.broken = True
    await server.send(media_message("voice note"))
    assert button_reply_body(graph.sent[-1]) == DUTCH_REPLY


# -- the template outside the 24-hour window, in the conversation language --------------------------

APPROVED = ("en_US", "pl", "ar", "uk")  # at Meta, besides Dutch (WHATSAPP_TEMPLATE_LANGUAGES)


@pytest.mark.parametrize(
    "language, code", [("pl", "pl"), ("en", "en_US"), ("uk", "uk"), ("tr", "nl"), (None, "nl")]
)
async def test_the_template_goes_in_the_conversation_language_when_meta_approved_it(
    start_server: StartServer, graph: FakeGraph, language: Optional[str], code: str
) -> None:
    server = await start_server(template_languages=APPROVED)
    server.agent.reply = {"text": "Waar gaat uw vraag over?"}
    server.agent.tracker_store.slots[WA_ID] = {"taal": language}  # the conversation's language
    # Meta delivers a message from 25 hours ago (e.g. after an outage): the window is closed.
    await server.send(text_message("hallo", timestamp=time.time() - 25 * 3600))
    assert [m["template"]["language"]["code"] for m in graph.sent] == [code]  # Turkish: not approved


async def test_without_the_tracker_the_template_goes_in_dutch(
    start_server: StartServer, graph: FakeGraph
) -> None:
    server = await start_server(template_languages=APPROVED)
    server.agent.reply = {"text": "Waar gaat uw vraag over?"}
    server.agent.tracker_store.slots[WA_ID] = {"taal": "pl"}
    server.agent.tracker_store.broken = True
    await server.send(text_message("hallo", timestamp=time.time() - 25 * 3600))
    assert [m["template"]["language"]["code"] for m in graph.sent] == ["nl"]


def test_template_languages_come_from_the_environment_and_must_be_codes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WHATSAPP_TEMPLATE_LANGUAGES", "en_US, pl,uk")
    assert WhatsAppConfig.from_credentials(None).template_languages == ("en_US", "pl", "uk")
    assert WhatsAppConfig.from_credentials(None).delivery().template_code("en") == "en_US"
    monkeypatch.setenv("WHATSAPP_TEMPLATE_LANGUAGES", "Engels")
    with pytest.raises(ValueError, match="WHATSAPP_TEMPLATE_LANGUAGES"):
        WhatsAppConfig.from_credentials(None)
    monkeypatch.delenv("WHATSAPP_TEMPLATE_LANGUAGES")
    assert WhatsAppConfig.from_credentials(None).template_languages == ()
