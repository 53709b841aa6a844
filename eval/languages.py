"""Per-language scores on the multilingual set (eval/multilingual.yml, issue 15 item 6).

Two kinds of numbers, reported per language by `python -m eval.run` (part `multilingual`):
- the language layer alone (bot/intake/language.py, no model needed): whether each message's language
  is detected (`language_acc`, and `language_acc_4plus` over messages of at least 4 words, the floor
  `make test` checks in tests/eval/test_multilingual.py), and which language the conversation would
  be in after it as a first message (`conversation_language_acc`: the sticky rule, which keeps Dutch
  for a short or mixed message);
- the understanding (the model through bot/intake/routing.py, as for the other parts): topic,
  organisations, urgent, wants a person, per language.

`answers_in` says what the citizen reads in a conversation in that language: the language itself when
its file in bot/i18n translates every text (`python -m bot.i18n.missing` finds nothing), "nl" without a
file, and "<language>+nl" when some texts are missing (those are sent in Dutch).
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from typing import Any, Dict, List, Optional, Sequence

from eval.dataset import Item

MIN_WORDS_FOR_FLOOR = 4  # "messages of at least 4 words" (whitespace-separated, as typed)
LANGUAGE_ORDER = ("nl", "en", "pl", "tr", "ar", "uk")


def words(text: str) -> int:
    return len(text.split())


def _ratio(num: int, den: int) -> Optional[float]:
    return num / den if den else None


@lru_cache(maxsize=None)
def answers_in(language: str) -> str:
    """The language of the bot's texts in a conversation in `language` (see the module docstring).
    Cached: `missing` reads every translation file and the WhatsApp channel's texts (which load Rasa)."""
    from bot.i18n.catalogue import catalogue
    from bot.i18n.missing import missing

    if catalogue(language) is None:  # also the `all` row: no one language
        return "nl"
    return language if not missing(language) else f"{language}+nl"


def language_scores(items: Sequence[Item]) -> Dict[str, Dict[str, Any]]:
    """Per language (and `all`): detection and conversation-language accuracy, with the misses."""
    from bot.intake.language import ConversationLanguage, detect, update

    groups: Dict[str, List[Item]] = {"all": list(items)}
    for item in items:
        groups.setdefault(item.labels.language, []).append(item)
    out: Dict[str, Dict[str, Any]] = {}
    for lang, group in groups.items():
        detected = [detect(i.text).language for i in group]
        long_ = [(i, d) for i, d in zip(group, detected, strict=True) if words(i.text) >= MIN_WORDS_FOR_FLOOR]
        conversation = [update(ConversationLanguage(), i.text).code for i in group]
        out[lang] = {
            "n": len(group),
            "language_acc": _ratio(sum(d == i.labels.language for i, d in zip(group, detected, strict=True)),
                                   len(group)),
            "n_4plus": len(long_),
            "language_acc_4plus": _ratio(sum(d == i.labels.language for i, d in long_), len(long_)),
            "conversation_language_acc": _ratio(
                sum(c == i.labels.language for i, c in zip(group, conversation, strict=True)), len(group)),
            "conversation_languages": dict(Counter(conversation)),
            "answers_in": answers_in(lang),
            "language_misses": [
                {"id": i.id, "gold": i.labels.language, "detected": d, "text": i.text[:120]}
                for i, d in zip(group, detected, strict=True) if d != i.labels.language
            ],
        }
    return out


def ordered(languages: Sequence[str]) -> List[str]:
    """`all` first, then the six languages in the usual order, then anything else."""
    rest = sorted(lang for lang in languages if lang not in LANGUAGE_ORDER and lang != "all")
    return (["all"] if "all" in languages else []) + [x for x in LANGUAGE_ORDER if x in languages] + rest
