"""Appointments in the chat, the pure part: the citizen's wish in their own words ("volgende week
dinsdagmiddag"), which of the free slots fit it, a change or cancellation in free text ("ik kan
dinsdag niet"), and the replies (wording: bot/domain/afspraken.yml).

No Rasa and no HTTP: the slots and the booking come from the handover service through the gateway
(handover/README.md, "Appointments"). The wishes are few and fixed (a day, a part of the day, a
date, an hour), and the choice is always among the published slots, so a small reader of these
Dutch words is enough; a general date library would need a new dependency in Rasa's environment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, List, Mapping, Optional, Sequence, Tuple
from zoneinfo import ZoneInfo

import yaml

from bot.intake.knowledge import KNOWLEDGE_DIR
from bot.intake.schedule import DAYS, MONTHS
from bot.intake.state import Phrase, Reply, choice_payload

# The municipality's time zone: the service sends local times with their offset.
ZONE = ZoneInfo("Europe/Amsterdam")
CHOICE_PREFIX = "afspraak|"
# Slot afspraak_fase: slots were offered (choosing) or a booked appointment is being moved.
CHOOSING = "kiezen"
MOVING = "verzetten"
OTHER_MOMENT = CHOICE_PREFIX + "anders"
ASK = CHOICE_PREFIX + "vragen"  # "Afspraak maken" under the outcome of a type 2 or 3 question
CANCEL = CHOICE_PREFIX + "afzeggen"
MOVE = CHOICE_PREFIX + "verzetten"
MAX_OFFERED = 3

WEEKDAYS = DAYS  # the Dutch names, one list for the bot (bot/intake/schedule.py)
SHORT_WEEKDAYS = ("ma", "di", "wo", "do", "vr", "za", "zo")
# "dec": the first three letters, for a slot button (bot/i18n/catalogue.py translates the title).
SHORT_MONTHS = tuple(month[:3] for month in MONTHS)
# Parts of the day, as the citizen says them; "morgen" alone is tomorrow, "'s morgens" the morning.
PARTS = {
    "ochtend": (time(0), time(12)),
    "morgens": (time(0), time(12)),
    "middag": (time(12), time(17)),
    "middags": (time(12), time(17)),
    "avond": (time(17), time.max),
    "avonds": (time(17), time.max),
}
_WORD = re.compile(r"[a-zë]+|\d{1,2}[:.]\d{2}|\d{1,2}[-/]\d{1,2}|\d+")
_CANCEL_WORDS = re.compile(
    r"\b(afzeggen|annuleren|zeg\w* (ik )?(de afspraak )?af|hoeft niet meer|niet meer nodig)\b"
)
_MOVE_WORDS = re.compile(
    r"\b(verzetten|verplaatsen|ander moment|andere dag|andere tijd|past (me |mij )?niet)\b"
)
_WANTS = re.compile(r"\b(afspraak|afspreken|langskomen|langs komen)\b")
# A payment arrangement ("afspraak om in delen te betalen") is not an appointment.
_ARRANGEMENT = re.compile(r"\b(betal\w*|afbetal\w*|in delen|termijn\w*|regeling)\b")
_CANNOT = re.compile(r"\bkan\b.*\bniet\b|\blukt\b.*\bniet\b")


@dataclass(frozen=True)
class Slot:
    """A free slot as the handover service lists it (GET /api/appointments/slots)."""

    id: int
    starts_at: datetime  # aware
    mode: str  # stadskantoor | telefoon | video
    moment: str  # "dinsdag 8 december, 10.00 uur"
    location: Optional[str] = None
    organisation_name: Optional[str] = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> "Slot":
        return cls(
            id=int(data["id"]),
            starts_at=datetime.fromisoformat(str(data["starts_at"])),
            mode=str(data["mode"]),
            moment=str(data["moment"]),
            location=data.get("location"),
            organisation_name=data.get("organisation_name"),
        )


@dataclass(frozen=True)
class Wish:
    """When the citizen can: the days from `first` to `last`, optionally one part of the day or
    from an hour on."""

    first: date
    last: date
    weekday: Optional[int] = None
    part: Optional[Tuple[time, time]] = None
    hour: Optional[time] = None

    def fits(self, when: datetime) -> bool:
        day, at = when.date(), when.time()
        if not self.first <= day <= self.last:
            return False
        if self.weekday is not None and day.weekday() != self.weekday:
            return False
        if self.part is not None and not self.part[0] <= at < self.part[1]:
            return False
        return self.hour is None or self.hour <= at < _plus_hours(self.hour, 1)


def _plus_hours(at: time, hours: int) -> time:
    return time(min(at.hour + hours, 23), at.minute) if at.hour + hours < 24 else time.max


def _words(text: str) -> List[str]:
    return _WORD.findall(text.lower().replace("'s ", " "))


def parse_wish(text: str, today: date) -> Optional[Wish]:
    """The moment in the citizen's words, or None when the text names no day, date or part of
    the day. "volgende week dinsdagmiddag" -> next week's Tuesday, 12-17 h."""
    words = _words(text)
    weekday: Optional[int] = None
    part: Optional[Tuple[time, time]] = None
    hour: Optional[time] = None
    first: Optional[date] = None
    last: Optional[date] = None
    for i, word in enumerate(words):
        day_word, part_word = _split_compound(word)
        if day_word in WEEKDAYS:
            weekday = WEEKDAYS.index(day_word)
        elif day_word in ("vandaag",):
            first = last = today
        elif day_word == "morgen" and not (i > 0 and words[i - 1] in ("s",)):
            first = last = today + timedelta(days=1)
        elif day_word == "overmorgen":
            first = last = today + timedelta(days=2)
        if part_word:
            part = PARTS[part_word]
        elif word in PARTS:
            part = PARTS[word]
        if word in ("week",) and i > 0 and words[i - 1] in ("volgende", "komende"):
            monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
            first, last = monday, monday + timedelta(days=6)
        if word == "week" and i > 0 and words[i - 1] == "deze":
            first, last = today, today + timedelta(days=6 - today.weekday())
        if word in MONTHS and i > 0 and words[i - 1].isdigit():
            first = last = _date(today, int(words[i - 1]), MONTHS.index(word) + 1)
        if re.fullmatch(r"\d{1,2}[-/]\d{1,2}", word):
            d, m = (int(x) for x in re.split(r"[-/]", word))
            first = last = _date(today, d, m)
        if re.fullmatch(r"\d{1,2}[:.]\d{2}", word):
            h, m = (int(x) for x in re.split(r"[:.]", word))
            hour = time(h, m) if h < 24 and m < 60 else None
        if word == "uur" and i > 0 and words[i - 1].isdigit() and int(words[i - 1]) < 24:
            hour = time(int(words[i - 1]))
    if weekday is None and part is None and hour is None and first is None:
        return None
    if first is None or last is None:
        # A weekday alone: its next date from today; no day at all: the coming two weeks.
        if weekday is not None:
            ahead = (weekday - today.weekday()) % 7
            first = last = today + timedelta(days=ahead)
        else:
            first, last = today, today + timedelta(days=13)
    elif weekday is not None and first != last:
        ahead = (weekday - first.weekday()) % 7
        first = last = first + timedelta(days=ahead)
    return Wish(first=first, last=last, weekday=weekday, part=part, hour=hour)


def _split_compound(word: str) -> Tuple[str, Optional[str]]:
    """ "dinsdagmiddag" -> ("dinsdag", "middag"); "morgenochtend" -> ("morgen", "ochtend")."""
    for part in ("ochtend", "middag", "avond"):
        if word.endswith(part) and len(word) > len(part):
            return word[: -len(part)], part
    return word, None


def _date(today: date, day: int, month: int) -> Optional[date]:
    try:
        found = date(today.year, month, day)
    except ValueError:
        return None
    return found if found >= today else found.replace(year=today.year + 1)


def fitting(
    slots: Sequence[Slot], wish: Optional[Wish], zone: ZoneInfo, limit: int = MAX_OFFERED
) -> List[Slot]:
    """The first slots that fit the wish (all of them without a wish), earliest first."""
    ordered = sorted(slots, key=lambda s: s.starts_at)
    chosen = [s for s in ordered if wish is None or wish.fits(s.starts_at.astimezone(zone))]
    return chosen[:limit]


# --- change and cancel in free text --------------------------------------------------------


@dataclass(frozen=True)
class ChangeRequest:
    """The citizen wants to cancel (`cancel`), or cannot come at the booked moment and wants
    another (`move`); `wish`: a new moment they named ("kan het donderdag?"), if any."""

    cancel: bool
    wish: Optional[Wish] = None


def read_change(text: str, booked: datetime, today: date, zone: ZoneInfo) -> Optional[ChangeRequest]:
    """ "ik wil de afspraak afzeggen" -> cancel; "ik kan dinsdag niet" (the booked day) -> move;
    None when the message is not about the appointment."""
    lowered = " ".join(text.lower().split())
    if _CANCEL_WORDS.search(lowered):
        return ChangeRequest(cancel=True)
    wish = parse_wish(lowered, today)
    if _MOVE_WORDS.search(lowered):
        return ChangeRequest(cancel=False)
    if _CANNOT.search(lowered) and (
        wish is None or wish.fits(booked.astimezone(zone)) or _same_day(wish, booked, zone)
    ):
        # "kan dinsdag niet" names the booked moment: another moment, not that one.
        return ChangeRequest(cancel=False)
    return None


def _same_day(wish: Wish, booked: datetime, zone: ZoneInfo) -> bool:
    return wish.first <= booked.astimezone(zone).date() <= wish.last


def wants_appointment(text: str) -> bool:
    """ "Kan ik een afspraak maken?": the citizen asks for an appointment (not to cancel one)."""
    lowered = " ".join(text.lower().split())
    return bool(_WANTS.search(lowered)) and not (
        _CANCEL_WORDS.search(lowered) or _ARRANGEMENT.search(lowered)
    )


# --- replies --------------------------------------------------------------------------------


def button_title(slot: Slot, zone: ZoneInfo) -> str:
    """ "di 8 dec 10.00": a button title stays short (at most 20 characters)."""
    local = slot.starts_at.astimezone(zone)
    return f"{SHORT_WEEKDAYS[local.weekday()]} {local.day} {SHORT_MONTHS[local.month - 1]} {local:%H.%M}"


def offer(slots: Sequence[Slot], zone: ZoneInfo, *, response: str = "utter_afspraak_aanbod") -> Reply:
    """The slots as buttons, and "another moment" for free text."""
    if not slots:
        return Reply(response="utter_afspraak_geen_tijdsloten")
    buttons = tuple((button_title(s, zone), choice_payload(f"{CHOICE_PREFIX}{s.id}")) for s in slots)
    return Reply(response=response, buttons=(*buttons, ("Ander moment", choice_payload(OTHER_MOMENT))))


def chosen_slot(choice: Optional[str]) -> Optional[int]:
    """The slot id of a pressed slot button, else None."""
    if not choice or not choice.startswith(CHOICE_PREFIX):
        return None
    rest = choice[len(CHOICE_PREFIX) :]
    return int(rest) if rest.isdigit() else None


WORDING_FILE = KNOWLEDGE_DIR / "afspraken.yml"


@lru_cache(maxsize=1)
def wording() -> Mapping[str, Mapping[str, str]]:
    """The sentences for where and who (bot/knowledge/afspraken.yml)."""
    raw = yaml.safe_load(WORDING_FILE.read_text(encoding="utf-8")) or {}
    return {part: {str(k): str(v) for k, v in (raw.get(part) or {}).items()} for part in ("waar", "wie")}


def confirmation(appointment: Mapping[str, Any]) -> Reply:
    """Booked or moved (the service's answer): reference, moment, where or how, who joins; what
    to bring is in the response."""
    names = [str(n) for n in appointment.get("organisation_names") or appointment.get("organisations") or ()]
    return Reply(
        response="utter_afspraak_bevestigd",
        variables={
            "referentie": str(appointment.get("reference") or ""),
            "moment": str(appointment.get("moment") or ""),
            "waar": where(str(appointment.get("mode") or ""), appointment.get("location")),
            "wie": who(names),
        },
    )


# The calendar file as the citizen receives it: "afspraak-AF-7K3M2P.ics" (the reference only; the
# widget and the WhatsApp channel check the name against this pattern too).
CALENDAR_FILE_NAME = re.compile(r"afspraak-[A-Z0-9-]{1,20}\.ics")


def calendar_file(ics: str, reference: str, *, cancelled: bool = False) -> Reply:
    """After the confirmation: the appointment's iCalendar file (made by the handover service),
    sent as a structured message with the file (bot/domain/afspraken.yml, utter_afspraak_agenda).
    After a cancellation the file cancels it (same UID, METHOD:CANCEL): opening it takes the
    appointment out of a calendar it was put in (utter_afspraak_agenda_weg)."""
    name = f"afspraak-{reference}.ics"
    if not CALENDAR_FILE_NAME.fullmatch(name):
        name = "afspraak.ics"
    response = "utter_afspraak_agenda_weg" if cancelled else "utter_afspraak_agenda"
    return Reply(response=response, attachment={"filename": name, "ics": ics})


def reminder(entities: Mapping[str, str]) -> Reply:
    """The day before: the handover service's event afspraak_herinnering, with Dutch entity names."""
    return Reply(
        response="utter_afspraak_herinnering",
        variables={
            "referentie": entities.get("referentie", ""),
            "moment": entities.get("moment", ""),
            "waar": where(entities.get("soort", ""), entities.get("plaats")),
        },
    )


def where(mode: str, location: Optional[str]) -> Phrase:
    places = wording()["waar"]
    if mode == "stadskantoor":
        if location:
            return Phrase(places["stadskantoor"], {"plaats": location})
        return Phrase(places["stadskantoor_zonder_adres"])
    return Phrase(places.get(mode, places["telefoon"]))


def who(names: Sequence[str]) -> Phrase:
    """The municipality and the organisations that join (their names as the service gives them)."""
    if not names:
        return Phrase(wording()["wie"]["alleen_gemeente"])
    return Phrase(wording()["wie"]["met_organisaties"], {"namen": ", ".join(names)})


def answer_to_wish(slots: Sequence[Slot], wish: Optional[Wish], zone: ZoneInfo) -> Tuple[Reply, ...]:
    """The citizen typed a moment: the slots that fit it, or, when none does, the first free ones."""
    fits = fitting(slots, wish, zone)
    if fits:
        return (offer(fits, zone, response="utter_afspraak_ander_aanbod"),)
    first = fitting(slots, None, zone)
    if not first:
        return (Reply(response="utter_afspraak_geen_tijdsloten"),)
    return (offer(first, zone, response="utter_afspraak_niets_op_dat_moment"),)


def slot_taken(alternatives: Sequence[Slot], zone: ZoneInfo) -> Reply:
    """Someone else was first (409 slot_taken): the other free slots the service sent along."""
    if not alternatives:
        return Reply(response="utter_afspraak_geen_tijdsloten")
    return offer(alternatives, zone, response="utter_afspraak_bezet")


APPOINTMENT_BUTTON = ("Afspraak maken", choice_payload(ASK))


def ask_moment() -> Reply:
    """ "Ander moment": the citizen types when it suits them."""
    return Reply(response="utter_afspraak_wanneer")


def ask_change() -> Reply:
    """ "ik kan dinsdag niet": move or cancel? (buttons in the response)."""
    return Reply(response="utter_afspraak_verzetten_vraag")


def cancelled() -> Reply:
    return Reply(response="utter_afspraak_afgezegd")


def not_arranged() -> Reply:
    """The service could not be reached or refused: say so honestly."""
    return Reply(response="utter_afspraak_niet_gelukt")
