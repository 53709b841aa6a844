"""Translations of what the citizen reads (issue 15, item 3). Dutch is the source.

One file per language next to this module (`en.yml`, `pl.yml`, `tr.yml`, `ar.yml`, `uk.yml`), written
by people for this product (no machine translation). Two parts:
- `responses`: per domain response (its name in bot/domain/), the `text` and the button `titles`
  (in the order of the Dutch buttons), and for a structured message (custom payload) its `text` and
  `label`. The same {variables} as the Dutch.
- `teksten`: Dutch text from the knowledge files (stroomschema questions, options and advice, topic
  and menu buttons, what to do today ...) -> the translation. The Dutch text is the key (gettext's
  msgid): a changed Dutch text shows up as a missing and an extra key in tests/bot/test_vertaling.py.

`source()` collects every Dutch key from bot/domain and the knowledge files (one source of truth);
`catalogue(language)` reads a language's file. Not under bot/domain or bot/data: editing a translation
needs no new model. Anything without a translation is sent in Dutch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, FrozenSet, Mapping, Optional, Set, Tuple

import yaml

from bot.intake.appointments import SHORT_MONTHS, SHORT_WEEKDAYS
from bot.intake.appointments import wording as appointment_wording
from bot.intake.knowledge import knowledge
from bot.intake.language import DUTCH, LANGUAGES
from bot.intake.schedule import DAYS, MONTHS
from bot.intake.schema import schema

I18N_DIR = Path(__file__).resolve().parent
DOMAIN_DIR = I18N_DIR.parent / "domain"
# "1. " before a numbered step (bot/intake/advice.py numbered()) or "- " before a listed signal
# (bot/intake/consent.py): kept, the text itself translated.
NUMBERED = re.compile(r"^(\d+\.\s+|-\s+)(.*)$")
# A moment as bot/intake/schedule.py when_in_words() writes it ("maandag 7 december om 9.00 uur") and
# as the handover service does for appointments ("dinsdag 8 december, 14.00 uur").
MOMENT = re.compile(
    rf"^({'|'.join(DAYS)}) (\d{{1,2}}) ({'|'.join(MONTHS)})(?: om|,) (\d{{1,2}})\.(\d{{2}}) uur$"
)
# A slot button as bot/intake/appointments.py button_title() writes it ("di 8 dec 10.00").
SLOT_BUTTON = re.compile(
    rf"^({'|'.join(SHORT_WEEKDAYS)}) (\d{{1,2}}) ({'|'.join(SHORT_MONTHS)}) (\d{{2}})\.(\d{{2}})$"
)
# Office hours as bot/intake/schedule.py office_hours_in_words() writes them ("maandag tot en met
# vrijdag van 9.00 tot 17.00 uur, zaterdag van 10.00 tot 12.00 uur en …"): one group each.
_DAY = "|".join(DAYS)
_TIME = r"\d{1,2}\.\d{2}"
HOURS_GROUP = rf"(?:(elke dag)|({_DAY})(?: (tot en met|en) ({_DAY}))?) van ({_TIME}) tot ({_TIME}) uur"
OFFICE_HOURS = re.compile(rf"^{HOURS_GROUP}(?:, {HOURS_GROUP})*(?: en {HOURS_GROUP})?$")
HOURS_PARTS = re.compile(HOURS_GROUP)  # one group's parts: every day, first day, joiner, last day, times
# Rasa's own placeholder rule (rasa.core.nlg.interpolator): {name}, no braces or newline inside.
PLACEHOLDER = re.compile(r"{([^\n{}]+?)}")


@dataclass(frozen=True)
class Response:
    """What a citizen reads of one domain response: text, button titles, a structured message's label."""

    text: Optional[str] = None
    titles: Tuple[str, ...] = ()
    label: Optional[str] = None
    dutch: Optional[str] = None  # in a translation: the Dutch text it translates (to see it is current)


@dataclass(frozen=True)
class DutchResponse:
    """A domain response that can be translated, with what sending it needs besides the words."""

    words: Response
    payloads: Tuple[str, ...] = ()  # of its buttons, unchanged in every language
    custom: Optional[Mapping[str, Any]] = None  # the structured message (custom payload), Dutch


@dataclass(frozen=True)
class Source:
    """Every Dutch text a citizen can read: domain responses by name and knowledge texts."""

    responses: Mapping[str, DutchResponse]
    texts: FrozenSet[str]
    titles: FrozenSet[str]  # the texts that are button titles (WhatsApp: at most 20 characters)


@dataclass(frozen=True)
class Catalogue:
    """One language's translations."""

    language: str
    responses: Mapping[str, Response]
    texts: Mapping[str, str]
    # Moments ("maandag 7 december om 9.00 uur"): the names of the days and months in DAYS and
    # MONTHS order, and the form with {dag} {datum} {maand} {uur} {minuut}; empty: left in Dutch.
    days: Tuple[str, ...] = ()
    months: Tuple[str, ...] = ()
    moment_form: Optional[str] = None
    # Slot buttons ("di 8 dec 10.00"): short names in SHORT_WEEKDAYS and SHORT_MONTHS order and the
    # form with the same placeholders; at most 20 characters (WhatsApp); empty: left in Dutch.
    short_days: Tuple[str, ...] = ()
    short_months: Tuple[str, ...] = ()
    button_form: Optional[str] = None
    # Office hours: {dagen} {van} {tot} per group, the day ranges ({eerste} {laatste}), "every day",
    # and the words that join the groups; empty: left in Dutch.
    hours: Mapping[str, str] = field(default_factory=dict)

    def text(self, dutch: str) -> str:
        """The translation of a knowledge text or a moment; a text joined from several (one per
        line, numbered steps, listed signals) line by line; Dutch where there is none."""
        found = self.texts.get(dutch)
        if found is not None:
            return found
        moment = MOMENT.match(dutch)
        if moment and self.moment_form and len(self.days) == len(DAYS) and len(self.months) == len(MONTHS):
            day, date, month, hour, minute = moment.groups()
            return self.moment_form.format(
                dag=self.days[DAYS.index(day)],
                datum=date,
                maand=self.months[MONTHS.index(month)],
                uur=hour,
                minuut=minute,
            )
        button = SLOT_BUTTON.match(dutch)
        if (
            button
            and self.button_form
            and len(self.short_days) == len(SHORT_WEEKDAYS)
            and len(self.short_months) == len(SHORT_MONTHS)
        ):
            day, date, month, hour, minute = button.groups()
            return self.button_form.format(
                dag=self.short_days[SHORT_WEEKDAYS.index(day)],
                datum=date,
                maand=self.short_months[SHORT_MONTHS.index(month)],
                uur=hour,
                minuut=minute,
            )
        hours = self._office_hours(dutch)
        if hours is not None:
            return hours
        if "\n" not in dutch and not NUMBERED.match(dutch):
            return dutch
        lines = []
        for line in dutch.split("\n"):
            numbered = NUMBERED.match(line)
            if numbered:
                lines.append(numbered.group(1) + self.texts.get(numbered.group(2), numbered.group(2)))
            else:
                lines.append(self.texts.get(line, line))
        return "\n".join(lines)

    def _office_hours(self, dutch: str) -> Optional[str]:
        needed = ("openingstijd", "dagen_tot_en_met", "dagen_en", "elke_dag")
        complete = len(self.days) == len(DAYS) and all(k in self.hours for k in needed)
        if not complete or not OFFICE_HOURS.match(dutch):
            return None
        groups = []
        for every, first, joiner, last, opens, closes in HOURS_PARTS.findall(dutch):
            if every:
                days = self.hours["elke_dag"]
            elif not last:
                days = self.days[DAYS.index(first)]
            else:
                form = self.hours["dagen_tot_en_met" if joiner == "tot en met" else "dagen_en"]
                days = form.format(eerste=self.days[DAYS.index(first)], laatste=self.days[DAYS.index(last)])
            groups.append(self.hours["openingstijd"].format(dagen=days, van=opens, tot=closes))
        if len(groups) == 1:
            return groups[0]
        # Between groups a comma and before the last "and"; or one separator throughout ("; "),
        # clearer where the groups have commas of their own.
        comma = self.hours.get("komma", ", ")
        last = f" {self.hours['en']} " if self.hours.get("en") else comma
        return comma.join(groups[:-1]) + last + groups[-1]


def fill(template: str, values: Mapping[str, Any]) -> Optional[str]:
    """The template with its {variables} filled the way Rasa fills a response (interpolator.py);
    None when a variable has no value (then the Dutch response is sent: Rasa fills it from slots)."""
    try:
        text = PLACEHOLDER.sub(r"{0[\1]}", template).format(values)
    except (KeyError, IndexError, ValueError):
        return None
    if "0[" in text:  # a placeholder in double braces: Rasa keeps the braces, escaped once
        return template.format({})
    return text


def _dutch_response(variations: Any) -> Optional[DutchResponse]:
    """A response with one variation for every channel; channel-specific ones stay as they are."""
    if not isinstance(variations, list) or len(variations) != 1 or "channel" in variations[0]:
        return None
    variation: Dict[str, Any] = variations[0]
    custom = variation.get("custom")
    data = custom.get("data") if isinstance(custom, dict) else None
    if isinstance(data, dict) and isinstance(data.get("text"), str):
        label = data.get("label")
        return DutchResponse(
            Response(data["text"], (), label if isinstance(label, str) else None), (), custom
        )
    if not variation.get("text"):
        return None
    buttons = variation.get("buttons") or ()
    return DutchResponse(
        Response(str(variation["text"]), tuple(str(b["title"]) for b in buttons)),
        tuple(str(b["payload"]) for b in buttons),
    )


@lru_cache(maxsize=1)
def source() -> Source:
    """The Dutch source, from bot/domain/*.yml and the knowledge files."""
    responses: Dict[str, DutchResponse] = {}
    for path in sorted(DOMAIN_DIR.glob("*.yml")):
        part = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for name, variations in (part.get("responses") or {}).items():
            found = _dutch_response(variations)
            if found is not None:
                responses[name] = found
    texts: Set[str] = set()
    titles: Set[str] = set(ENGINE_BUTTONS)
    for where, text in schema().texts():
        (titles if ".opties[" in where else texts).add(text)
    kb = knowledge()
    for topic in kb.topics.values():
        texts.add(topic.label)
        titles.add(topic.knop)
    for event in kb.life_events.values():
        texts |= {event.label, *([event.erkenning] if event.erkenning else [])}
        titles.add(event.knop)
    texts |= {signal.vandaag for signal in kb.signals.values() if signal.vandaag}
    texts |= {signal.label for signal in kb.signals.values()}  # listed in the consent summary
    titles |= {group.knop for group in kb.menu}
    texts |= {org.wat for org in kb.organisations.values()}
    texts |= {sentence for part in appointment_wording().values() for sentence in part.values()}
    return Source(responses, frozenset(texts | titles), frozenset(titles))


# Button titles the engine writes itself (bot/intake/engine.py, consent.py, conversation.py,
# appointments.py).
# tests/bot/test_vertaling.py checks the list against engine.py's source.
ENGINE_BUTTONS: Tuple[str, ...] = (
    "Zelf doen",
    "Hulp medewerker",
    "Ja, dat klopt",
    "Iets anders",
    "Dit past niet",
    "Praat met medewerker",
    "Kies een onderwerp",
    "Terug",
    "Klopt niet",
    "Meer stappen",
    "Alle organisaties",
    "Ander moment",
    "Afspraak maken",
)


class CatalogueError(ValueError):
    """A translation file that cannot be read as a catalogue."""


def _response(where: str, raw: Any) -> Response:
    if not isinstance(raw, dict) or not isinstance(raw.get("tekst"), str):
        raise CatalogueError(f"{where}: een vertaling heeft 'nl' en 'tekst' (en soms 'knoppen', 'label')")
    titles = raw.get("knoppen") or ()
    label = raw.get("label")
    return Response(raw["tekst"], tuple(str(t) for t in titles), label, raw.get("nl"))


def _texts(where: str, language: str, raw: Any) -> Dict[str, str]:
    texts: Dict[str, str] = {}
    for i, pair in enumerate(raw or ()):
        if (
            not isinstance(pair, dict)
            or not isinstance(pair.get("nl"), str)
            or not isinstance(pair.get(language), str)
        ):
            raise CatalogueError(f"{where}: teksten[{i}] heeft 'nl' en '{language}' nodig")
        if pair["nl"] in texts:
            raise CatalogueError(f"{where}: teksten[{i}] staat er twee keer in: {pair['nl']!r}")
        texts[pair["nl"]] = pair[language]
    return texts


def load_catalogue(language: str, directory: Path = I18N_DIR) -> Catalogue:
    """A language's file; a missing file is an empty catalogue (everything Dutch)."""
    path = directory / f"{language}.yml"
    if not path.exists():
        return Catalogue(language, {}, {})
    where = str(path.relative_to(directory.parent.parent)) if directory == I18N_DIR else str(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    responses = {
        str(name): _response(f"{where}: {name}", value)
        for name, value in (raw.get("responses") or {}).items()
    }
    moment = raw.get("moment") or {}
    return Catalogue(
        language,
        responses,
        _texts(where, language, raw.get("teksten")),
        tuple(str(d) for d in moment.get("dagen") or ()),
        tuple(str(m) for m in moment.get("maanden") or ()),
        moment.get("vorm"),
        tuple(str(d) for d in moment.get("korte_dagen") or ()),
        tuple(str(m) for m in moment.get("korte_maanden") or ()),
        moment.get("knop"),
        {str(k): str(v) for k, v in (raw.get("kantoortijden") or {}).items()},
    )


@lru_cache(maxsize=len(LANGUAGES))
def catalogue(language: str) -> Optional[Catalogue]:
    """The translations for a conversation language; None for Dutch (the source itself)."""
    if language == DUTCH or language not in LANGUAGES:
        return None
    return load_catalogue(language)
