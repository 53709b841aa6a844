"""The citizen's language: detected per message, sticky per conversation (issue 15, item 1).

Six languages: Dutch (the default and the source of every text), English, Polish, Turkish, Arabic and
Ukrainian. Detection uses `lingua-language-detector` (requirements/language.txt; its models are inside
the wheel), limited to these six, in its low accuracy mode. Pure functions: the detector is built on
first use, never at import.

What counts as evidence of a message (`detect`):
- quoted text ("...", „...", «...») is someone else's words (a line of a Dutch letter) and is left out;
  so are links, e-mail addresses, case references, numbers and the Dutch words of the Dutch
  administration that citizens use in every language (`DUTCH_LOANWORDS`: "toeslagen", "DigiD",
  "bijstand", "gemeente", "brief", the organisations' abbreviations ...);
- `words` counts the letters-only words that are left; lingua ranks the six languages on them, and
  `confidence` is the share lingua gives the best one (0..1).

The conversation language (`update`, state in, state out) changes only in two ways:
1. **Asked for**: the citizen names a language as a request ("English please", "po polsku",
   "türkçe lütfen", "بالعربية", "українською", "in het Nederlands graag", or only the name of the
   language in a message of at most `MAX_REQUEST_WORDS` words), or says they do not speak Dutch ("I
   don't speak Dutch", "nie mówię po niderlandzku": the message's own language). A request always
   wins, also over an earlier request. Two languages named in one message ("українською або
   англійською"): the one the message is written in, else the first named.
2. **Clearly written in another language**: at least `MIN_WORDS` words of evidence and a confidence of
   at least `MIN_CONFIDENCE`, and the conversation language was not asked for (a language the citizen
   asked for stays until they ask for another one). At the start (nothing clear said yet) one such
   message sets the language: a citizen who starts in Polish gets Polish from their first real
   message. After that it takes two clear messages in the new language in a row (`pending` holds the
   first; a clear message in the conversation's language clears it), and neither may be mixed: no
   part still in the conversation's language (`MIXED_WINDOW` words in a row with `MIXED_CONFIDENCE`:
   a Polish sentence around a line of a Dutch letter stays Polish). So one pasted Dutch letter, or
   the one Dutch sentence a citizen learned ("ik wil met een medewerker praten"), does not turn a
   Polish conversation into Dutch.
Everything else keeps the language: "ok", "ja", "DigiD?", a number, a reference, "toeslagen", a
greeting, a message mixing the conversation's language with another, a pasted Dutch letter line.

Measured (December 2026): on eval/ every message of 4 or more words is detected right (138
multilingual, 45 in `languages`, 338 Dutch openings but one: "hallo is dit de gemeente of een robot?"
reads as English with 0.73, not clear); no Dutch opening or story turn moves a Dutch conversation. The
mixed rule holds back a real switch for 14 of 2,605 (message, other current language) pairs of those
sets; a later clear message still counts. MIXED_CONFIDENCE was chosen on that count, so eval/ texts (not
their labels) informed it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Dict, FrozenSet, Iterable, Mapping, Optional, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from lingua import LanguageDetector

DUTCH = "nl"
LANGUAGES: Tuple[str, ...] = ("nl", "en", "pl", "tr", "ar", "uk")
# The language's name in Dutch, for the casemanager ("Taal: Pools") and an interpreter hint.
DUTCH_NAMES: Mapping[str, str] = {
    "nl": "Nederlands", "en": "Engels", "pl": "Pools", "tr": "Turks", "ar": "Arabisch", "uk": "Oekraïens",
}
# lingua's names (lingua.Language.<NAME>) of our languages.
_LINGUA_NAMES: Mapping[str, str] = {
    "nl": "DUTCH", "en": "ENGLISH", "pl": "POLISH", "tr": "TURKISH", "ar": "ARABIC", "uk": "UKRAINIAN",
}

MIN_WORDS = 4
MIN_CONFIDENCE = 0.80
MAX_REQUEST_WORDS = 3
# A message is mixed when some MIXED_WINDOW words in a row are the conversation's language with at
# least MIXED_CONFIDENCE (lingua's confidence is no mix detector: "w liście jest napisane: u heeft
# geen recht op zorgtoeslag meer" is Dutch with 0.87).
MIXED_WINDOW = 3
MIXED_CONFIDENCE = 0.90

DEFAULT = "standaard"  # nothing said yet that shows a language: Dutch
DETECTED = "herkend"
REQUESTED = "gevraagd"

# Words of the Dutch administration that citizens keep in Dutch whatever language they write in.
# Lowercase; a word also counts when it ends in one of `DUTCH_LOANWORD_ENDINGS` ("huurtoeslag").
DUTCH_LOANWORDS: FrozenSet[str] = frozenset("""
    digid toeslag toeslagen bijstand bijstandsuitkering uitkering gemeente gemeentehuis brief brieven
    belastingdienst belasting aangifte aanslag voorlopige blauwe envelop uwv duo ind svb cjib cak ww wia
    wajong ziektewet aow aio pgb wmo bsn kinderbijslag kindgebonden budget inburgering inburgeren
    inburgeringsexamen verblijfsvergunning verblijfssticker huur huurachterstand boete boetes aanmaning
    deurwaarder beslag beslaglegging dwangbevel incasso kwijtschelding schuldhulp schuldhulpverlening
    studiefinanciering stufi studieschuld briefadres bezwaar machtiging mijnoverheid berichtenbox loket
    juridisch eigen bijdrage terugvordering toeslagpartner voorschot woningcorporatie zorgverzekering
    zorgverzekeraar ggd wijkteam sociaal team werkplein bijzondere tegemoetkoming gezinshereniging
    gemeentelijke belastingen energietoeslag formulier vergunning oke oké ok okay
""".split())
DUTCH_LOANWORD_ENDINGS: Tuple[str, ...] = ("toeslag", "toeslagen", "uitkering", "belasting", "bijstand")

# "English please": (language, pattern). Matched on the lowercased message, anywhere in it.
_REQUESTS: Tuple[Tuple[str, str], ...] = (
    ("en", r"\b(english|engels|angielsk\w*|ingilizce|İngilizce)\s*(please|pls|plz|graag|alstublieft|"
           r"alsjeblieft|proszę|prosze|lütfen|lutfen)\b"),
    ("en", r"\b(please|pls|plz)\s+(in\s+)?english\b"),
    ("en", r"\b(speak|write|talk|answer|continue|switch\s+to)\s+(in\s+)?english\b"),
    ("en", r"\bin\s+english\s+(please|pls|plz)\b|\bkan\s+het\s+in\s+het\s+engels\b|\bspreekt\s+u\s+engels\b"),
    ("en", r"\b(can|could|may)\s+(we|you|i)\b[^.?!]{0,30}\b(in\s+)?english\b"),
    ("en", r"\bpo\s+angielsku\b|\bingilizce\s+(konuş|yaz)"),
    ("en", r"بالإنجليزي|بالانجليزي|англійською"),
    ("pl", r"\bpo\s+polsku\b|\bpo\s+polski\b|\b(polski|polish|pools)\s*(please|pls|graag|proszę|prosze)\b"),
    ("pl", r"\b(speak|write|answer)\s+(in\s+)?polish\b|\bin\s+polish\s+(please|pls)\b"),
    ("tr", r"\b(türkçe|turkce|türkce|turkish|turks)\s*(please|pls|graag|lütfen|lutfen|konuş\w*|yaz\w*|"
           r"bilen|olsun|mümkün|mumkun|musunuz|misiniz)\b"),
    ("tr", r"\b(speak|write|answer)\s+(in\s+)?turkish\b|\bin\s+turkish\s+(please|pls)\b"),
    ("ar", r"بالعربية|بالعربي|باللغة\s+العربية"),
    ("ar", r"(العربية|عربي)\s+(من\s+فضلك|لو\s+سمحت)"),
    ("ar", r"\b(speak|write|answer)\s+(in\s+)?arabic\b|\bin\s+arabic\b"),
    ("ar", r"\b(arabic|arabisch)\s*(please|pls|graag)\b"),
    ("uk", r"українською|по-українськи|по\s+українськи"),
    ("uk", r"\b(ukrainian|oekraïens|oekraiens)\s*(please|pls|graag)\b"),
    ("uk", r"\b(speak|write|answer)\s+(in\s+)?ukrainian\b|\bin\s+ukrainian\b"),
    ("nl", r"\b(in\s+het\s+)?nederlands\s+(graag|alstublieft|alsjeblieft|please|pls)\b|"
           r"\bin\s+het\s+nederlands\s+(verder|graag|alstublieft)\b|\b(dutch|nederlands)\s+(please|pls)\b"),
    ("nl", r"\b(write|answer|continue)\s+in\s+dutch\b|\bpo\s+niderlandzku\s+(proszę|prosze)\b"),
    ("nl", r"\b(can|could)\s+(we|you)\b[^.?!]{0,30}\bin\s+dutch\b"),
    ("nl", r"\b(verder|liever|graag)\s+in\s+het\s+nederlands\b"),
)
# The name of the language alone ("English?", "Polski", "عربي"), in a message of at most
# MAX_REQUEST_WORDS words.
_NAMES: Tuple[Tuple[str, str], ...] = (
    ("en", r"\b(english|engels|in\s+het\s+engels|angielski|ingilizce|İngilizce)\b"),
    ("pl", r"\b(polski|polish|pools|in\s+het\s+pools|lehçe)\b"),
    ("tr", r"\b(türkçe|turkce|türkce|turkish|turks|in\s+het\s+turks)\b"),
    ("ar", r"عربي|العربية|\barabic\b|\barabisch\b"),
    ("uk", r"українська|українською|українськ\w*|\bukrainian\b|\boekraïens\b|\boekraiens\b"),
    ("nl", r"\b(nederlands|dutch|in\s+het\s+nederlands|niderlandzki|hollandaca|felemenkçe)\b"),
)
# "I don't speak Dutch": the message's own language is the request.
_NO_DUTCH = re.compile(
    r"(\bnot|n't|\bdont|\bno|\bcannot)\s+(speak|understand|read|know)\s+(\w+\s+)?dutch"
    r"|\bno\s+dutch\b"
    r"|nie\s+(mówię|mowie|rozumiem|znam)\s+(\w+\s+)?(po\s+)?(niderlandzk|holendersk)\w*"
    r"|(hollandaca|felemenkçe|flemenkçe)\s+(bilmiyorum|konuşamıyorum|konusamiyorum|anlamıyorum|anlamiyorum)"
    r"|لا\s+(أتكلم|اتكلم|أتحدث|اتحدث|أفهم|افهم)\s+(اللغة\s+)?الهولندية"
    r"|не\s+(розмовляю|говорю|розумію|знаю)\s+(\w+\s+)?(нідерландськ|голландськ)\w*",
    re.IGNORECASE,
)
# "English or Polish please": every language named in such a list is asked for.
_NAME_CODES: Mapping[str, str] = {
    "english": "en", "engels": "en", "angielsku": "en", "angielski": "en", "ingilizce": "en",
    "англійською": "en", "polish": "pl", "pools": "pl", "polsku": "pl", "polski": "pl", "turkish": "tr",
    "turks": "tr", "türkçe": "tr", "turkce": "tr", "arabic": "ar", "arabisch": "ar", "ukrainian": "uk",
    "oekraïens": "uk", "українською": "uk", "dutch": "nl", "nederlands": "nl", "niderlandzku": "nl",
}
_NAME_ALT = "|".join(sorted(_NAME_CODES, key=len, reverse=True))
_EITHER = re.compile(
    rf"\b({_NAME_ALT})\s+(?:or|of|albo|lub|veya|ya\s+da|або|чи)\s+(?:po\s+)?({_NAME_ALT})\b"
    r"(?=\s*[,.!?]?\s*(?:please|pls|graag|alstublieft|proszę|prosze|lütfen|lutfen|будь\s+ласка|$))",
    re.IGNORECASE,
)
# "I don't speak Dutch" is no request for Dutch: a request right after one of these is skipped.
_NEGATION = re.compile(
    r"(\bnot|\bcannot|\bcan't|n't|\bdont|\bno|\bnie|\bniet|\bgeen|\bне|لا)\s+(\w+\s+)?$", re.IGNORECASE
)
_COMPILED_REQUESTS = tuple((code, re.compile(p, re.IGNORECASE)) for code, p in _REQUESTS)
_COMPILED_NAMES = tuple((code, re.compile(p, re.IGNORECASE)) for code, p in _NAMES)

_QUOTED = re.compile(r"\"[^\"]{3,}\"|“[^”]{3,}”|„[^“”]{3,}[“”]|«[^»]{3,}»|‘[^’]{8,}’")
_LINK = re.compile(r"https?://\S+|www\.\S+|\S+@\S+|\b\w+\.(nl|com|org|eu)\b", re.IGNORECASE)
_REFERENCE = re.compile(r"\b[A-Z]{2,3}-[A-Z0-9]{3,}\b")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


@dataclass(frozen=True)
class Detection:
    """What one message shows of its language."""

    language: Optional[str]  # the best of LANGUAGES, None when nothing is left to judge
    confidence: float  # lingua's share for that language, 0..1
    words: int  # words of evidence: loanwords, numbers, links and quoted text not counted

    @property
    def clear(self) -> bool:
        """Long and certain enough to set or change the conversation language."""
        return self.language is not None and self.words >= MIN_WORDS and self.confidence >= MIN_CONFIDENCE


@dataclass(frozen=True)
class ConversationLanguage:
    """The language the bot answers in, and why (`DEFAULT`, `DETECTED` or `REQUESTED`)."""

    code: str = DUTCH
    source: str = DEFAULT
    pending: Optional[str] = None  # one clear message in this language so far; a second one switches

    @property
    def dutch_name(self) -> str:
        return DUTCH_NAMES[self.code]

    def as_json(self) -> Dict[str, Optional[str]]:
        return {"code": self.code, "source": self.source, "pending": self.pending}

    @classmethod
    def from_json(cls, value: Any) -> "ConversationLanguage":
        """From `as_json`; anything unknown is the default (Dutch)."""
        if isinstance(value, Mapping) and value.get("code") in LANGUAGES:
            source = str(value.get("source") or DEFAULT)
            pending = value.get("pending") if value.get("pending") in LANGUAGES else None
            return cls(str(value["code"]), source if source in (DEFAULT, DETECTED, REQUESTED) else DEFAULT,
                       pending)
        return cls()


@lru_cache(maxsize=1)
def _detector() -> "LanguageDetector":
    from lingua import Language, LanguageDetectorBuilder

    languages = [getattr(Language, _LINGUA_NAMES[code]) for code in LANGUAGES]
    # Low accuracy mode (trigrams only): about 20 MB and 0.05 s to load instead of about 150 MB and
    # 1 s; less certain on very short texts, which never decide here (MIN_WORDS). Measured on eval/:
    # the same result on every message as the full mode.
    return LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()


def _code_of(lingua_language: Any) -> str:
    name = str(lingua_language.name)
    return next(code for code, lingua_name in _LINGUA_NAMES.items() if lingua_name == name)


def _is_loanword(word: str) -> bool:
    lower = word.lower()
    return lower in DUTCH_LOANWORDS or (len(lower) > 8 and lower.endswith(DUTCH_LOANWORD_ENDINGS))


def evidence(text: str) -> Tuple[str, ...]:
    """The words of `text` that say something about its language (see the module's docstring)."""
    text = _QUOTED.sub(" ", text)
    text = _LINK.sub(" ", text)
    text = _REFERENCE.sub(" ", text)
    return tuple(w for w in _WORD.findall(text) if not _is_loanword(w))


def detect(text: str) -> Detection:
    """The language of one message, with lingua's confidence and the number of words it is based on."""
    words = evidence(text)
    if not words:
        return Detection(None, 0.0, 0)
    values = _detector().compute_language_confidence_values(" ".join(words))
    if not values:
        return Detection(None, 0.0, len(words))
    best = values[0]
    return Detection(_code_of(best.language), float(best.value), len(words))


def requested_language(text: str) -> Optional[str]:
    """The language the citizen asks for in this message, if they do (see the module's docstring)."""
    lower = text.lower()
    found = [(m.start(), code) for code, pattern in _COMPILED_REQUESTS for m in pattern.finditer(lower)
             if not _NEGATION.search(lower[max(0, m.start() - 12):m.start()])]
    for m in _EITHER.finditer(lower):
        found += [(m.start(1), _NAME_CODES[m.group(1)]), (m.start(2), _NAME_CODES[m.group(2)])]
    if found:
        named = [code for _, code in sorted(found)]
        if len(set(named)) > 1:  # two languages: the message's own one, else the first named
            own = detect(text).language
            return own if own in named else named[0]
        return named[0]
    no_dutch = _NO_DUTCH.search(lower)
    if no_dutch:
        detection = detect(_NO_DUTCH.sub(" ", lower))
        if detection.language not in (None, DUTCH) and detection.words >= 3:
            return detection.language
        return _other_than_dutch(no_dutch.group(0))
    if len(_WORD.findall(lower)) <= MAX_REQUEST_WORDS:
        names = [(m.start(), code) for code, pattern in _COMPILED_NAMES for m in pattern.finditer(lower)]
        if names:
            return max(names)[1]
    return None


def _other_than_dutch(lower: str) -> Optional[str]:
    """For "I don't speak Dutch" with too little else: the language the negation is written in."""
    if re.search(r"[\u0600-\u06ff]", lower):
        return "ar"
    if re.search(r"[\u0400-\u04ff]", lower):
        return "uk"
    if re.search(r"\bnie\b", lower):
        return "pl"
    if re.search(r"bilmiyorum|konuşamıyorum|konusamiyorum|anlamıyorum|anlamiyorum", lower):
        return "tr"
    return "en"


def update(current: ConversationLanguage, text: str) -> ConversationLanguage:
    """The conversation language after the citizen's message `text` (see the module's docstring)."""
    asked = requested_language(text)
    if asked is not None:
        return ConversationLanguage(asked, REQUESTED)
    if current.source == REQUESTED:
        return current
    detection = detect(text)
    if not detection.clear:
        return current
    language = str(detection.language)
    if language == current.code:  # the conversation's language confirmed
        source = DETECTED if current.source == DEFAULT else current.source
        return replace(current, source=source, pending=None)
    if current.source == DEFAULT:
        return ConversationLanguage(language, DETECTED)  # the first real message
    if has_part_in(evidence(text), current.code):
        return current  # mixed: part of the message is still in the conversation's language
    if current.pending == language:
        return ConversationLanguage(language, DETECTED)  # the second clear message in a row
    return replace(current, pending=language)


def has_part_in(words: Tuple[str, ...], code: str) -> bool:
    """Whether some MIXED_WINDOW words in a row are in language `code` (see `MIXED_CONFIDENCE`)."""
    for start in range(len(words) - MIXED_WINDOW + 1):
        values = _detector().compute_language_confidence_values(" ".join(words[start:start + MIXED_WINDOW]))
        if values and _code_of(values[0].language) == code and values[0].value >= MIXED_CONFIDENCE:
            return True
    return False


def conversation_language(
    messages: Iterable[str], start: Optional[ConversationLanguage] = None
) -> ConversationLanguage:
    """The language after all of `messages` (the citizen's texts, oldest first)."""
    state = start or ConversationLanguage()
    for text in messages:
        state = update(state, str(text))
    return state
