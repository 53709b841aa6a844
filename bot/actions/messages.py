"""Glue between Rasa's tracker and dispatcher and the conversation's plain objects."""

from __future__ import annotations

import copy
from typing import Any, Dict, List, Mapping, Optional, Sequence

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.i18n.catalogue import Catalogue, catalogue, fill, source
from bot.intake.language import DUTCH
from bot.intake.state import CHOICE_INTENT, Phrase, Reply, UserInput
from bot.payloads import LANG


def send(dispatcher: CollectingDispatcher, replies: Sequence[Reply], language: Optional[str] = None) -> None:
    """Utter the replies: domain responses by name, knowledge texts as text; buttons on either.
    In another conversation language, each in its translation (bot/i18n/), else in Dutch.

    With a `language` (the conversation language, once the citizen's messages showed one) every
    message carries it as `lang` in the bot event's metadata: the website channel passes it on and
    the widget sets its lang and, for Arabic, dir="rtl" (bot/channels/website/channel.py)."""
    translations = catalogue(language or DUTCH)
    marked: Dict[str, Any] = {LANG: language} if language else {}
    for reply in replies:
        if reply.attachment:
            _send_with_attachment(dispatcher, reply, translations, marked)
            continue
        if translations is not None and _send_translated(dispatcher, reply, translations, marked):
            continue
        buttons: List[Dict[str, str]] = [{"title": t, "payload": p} for t, p in reply.buttons]
        if reply.response:
            dispatcher.utter_message(
                response=reply.response, buttons=buttons or None, **_dutch(reply.variables), **marked
            )
        else:
            dispatcher.utter_message(text=reply.text, buttons=buttons or None, **marked)


def _send_translated(
    dispatcher: CollectingDispatcher, reply: Reply, translations: Catalogue, marked: Mapping[str, Any]
) -> bool:
    """Utter the reply in the catalogue's language; False (nothing sent) when the response has no
    translation or a variable of it no value, so that it goes out in Dutch as Rasa renders it."""
    buttons = [{"title": translations.text(t), "payload": p} for t, p in reply.buttons]
    if not reply.response:
        dispatcher.utter_message(text=translations.text(reply.text or ""), buttons=buttons or None, **marked)
        return True
    dutch, translated = source().responses.get(reply.response), translations.responses.get(reply.response)
    if (
        dutch is None
        or translated is None
        or translated.text is None
        or len(translated.titles) != len(dutch.payloads)
    ):
        return False
    values = {k: _translated(v, translations) for k, v in reply.variables.items()}
    text = fill(translated.text, values)
    label = fill(translated.label, values) if translated.label is not None else None
    own = [(fill(t, values), fill(p, values)) for t, p in zip(translated.titles, dutch.payloads, strict=True)]
    if (
        text is None
        or (translated.label is not None and label is None)
        or any(t is None or p is None for t, p in own)
    ):
        return False
    if dutch.custom is not None:
        dispatcher.utter_message(
            json_message=_structured(dutch.custom, values, text, label), utter_action=reply.response, **marked
        )
        return True
    domain_buttons = [{"title": str(t), "payload": str(p)} for t, p in own]
    # utter_action: the response's name in the bot event's metadata, as Rasa records it for Dutch.
    dispatcher.utter_message(
        text=text, buttons=(domain_buttons + buttons) or None, utter_action=reply.response, **marked
    )
    return True


def _send_with_attachment(
    dispatcher: CollectingDispatcher,
    reply: Reply,
    translations: Optional[Catalogue],
    marked: Mapping[str, Any],
) -> None:
    """A structured message (a response with a custom payload) with the reply's attachment added
    to it as it is (the appointment's calendar file: bot/intake/appointments.py calendar_file).
    Its words in the conversation language when translated, else Dutch."""
    dutch = source().responses.get(reply.response or "")
    if dutch is None or dutch.custom is None or dutch.words.text is None:
        raise ValueError(f"{reply.response}: an attachment needs a response with a custom payload")
    values: Mapping[str, Any] = _dutch(reply.variables)
    words = dutch.words
    translated = translations.responses.get(reply.response or "") if translations is not None else None
    if translations is not None and translated is not None and translated.text is not None:
        values = {k: _translated(v, translations) for k, v in reply.variables.items()}
        words = translated
    text = fill(words.text or "", values) or fill(dutch.words.text, _dutch(reply.variables)) or ""
    label = fill(words.label, values) if words.label is not None else dutch.words.label
    message = _structured(dutch.custom, values, text, label)
    message["data"].update(reply.attachment)
    dispatcher.utter_message(json_message=message, utter_action=reply.response, **marked)


def _structured(custom: Mapping[str, Any], values: Mapping[str, Any], text: str, label: Optional[str]) -> Any:
    """The structured message (custom payload) with its other fields filled as Rasa fills them."""
    message: Dict[str, Any] = copy.deepcopy(dict(custom))
    data: Dict[str, Any] = message["data"]
    for key, value in data.items():
        if isinstance(value, str):
            data[key] = fill(value, values) or value
    data["text"] = text
    if label is not None:
        data["label"] = label
    return message


def user_input(tracker: Tracker) -> UserInput:
    """The latest citizen message as the engine sees it."""
    message: Mapping[str, Any] = tracker.latest_message or {}
    intent = (message.get("intent") or {}).get("name") or ""
    choice = next(
        (str(e.get("value")) for e in message.get("entities") or () if e.get("entity") == "keuze"), None
    )
    return UserInput(
        text=str(message.get("text") or ""),
        intent=intent,
        parse=message,
        choice=choice if intent == CHOICE_INTENT else None,
    )


def _dutch(variables: Mapping[str, Any]) -> Dict[str, Any]:
    return {k: str(v) if isinstance(v, Phrase) else v for k, v in variables.items()}


def _translated(value: Any, translations: Catalogue) -> Any:
    """A variable that is itself a knowledge text (a topic's label, an answer) or a phrase of a
    wording file is translated too; a phrase's own values (an address, names) are not."""
    if isinstance(value, Phrase):
        filled = fill(translations.text(value.template), value.values)
        return str(value) if filled is None else filled
    return translations.text(value) if isinstance(value, str) else value
