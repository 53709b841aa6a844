"""The intake's plain types: what the citizen sent, what the bot says, what it remembers.

The bottom layer of bot/intake/: the engine, consent and the conversation build on these; nothing
here imports them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

CHOICE_INTENT = "kies"
HUMAN_PAYLOAD = "/medewerker"
MAX_STORY_QUOTE = 300

# Phases of the intake (slot `intake_fase`)
CONFIRMING = "bevestigen"
IN_TREE = "schema"
OWN_WORDS = "eigen_woorden"
DONE = "uitkomst"
ASKING_CONSENT = "toestemming"
CORRECTING = "aanpassen"  # the citizen types a correction of the summary (bot/intake/consent.py)
ASKING_ORGANISATIONS = "toestemming_organisaties"  # all organisations in one question
ASKING_ORGANISATION = "toestemming_organisatie"  # one at a time, when the citizen chooses so
NO_CONSENT = "geen_toestemming"
# After consent, when the municipality registers contacts in Open Klant (OPENKLANT_URL): may this one be?
ASKING_REGISTRATION = "toestemming_register"
ASKING_CONTACT = "terugbellen"
CONSENT_PHASES = (
    ASKING_CONSENT,
    CORRECTING,
    ASKING_ORGANISATIONS,
    ASKING_ORGANISATION,
    NO_CONSENT,
    ASKING_REGISTRATION,
)

# Steps outside the engine that the action must take next (they talk to the handover service).
HANDOVER_STEP = "medewerker"
CALLBACK_STEP = "terugbellen"


@dataclass(frozen=True)
class Phrase:
    """A sentence from a wording file with {variables} of its own (an address, names), as the value of
    a response variable: translated as a whole, then filled (bot/actions/messages.py)."""

    template: str
    values: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.template.format_map(dict(self.values))


@dataclass(frozen=True)
class Reply:
    """One bot message: a domain response (by name, with variables) or a text from the knowledge files."""

    response: Optional[str] = None
    text: Optional[str] = None
    buttons: Tuple[Tuple[str, str], ...] = ()  # (title, payload)
    variables: Mapping[str, Any] = field(default_factory=dict)
    # Fields added as they are to a structured message (a response with a custom payload), never
    # translated or filled in: a file for the citizen ({"filename", "ics"}: the appointment's calendar).
    attachment: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UserInput:
    """What the citizen sent: the NLU parse, and the choice when a button was pressed."""

    text: str
    intent: str
    parse: Mapping[str, Any]
    choice: Optional[str] = None


@dataclass(frozen=True)
class IntakeState:
    """Everything the intake remembers; each field is a slot of the same name."""

    intake_fase: Optional[str] = None
    intake_knoop: Optional[str] = None
    intake_vervolg: Optional[str] = None
    kandidaten: Tuple[str, ...] = ()
    onderwerp: Optional[str] = None
    levensgebeurtenis: Optional[str] = None
    organisaties: Tuple[str, ...] = ()
    extra_organisaties: Tuple[str, ...] = ()
    extra_onderwerpen: Tuple[str, ...] = ()
    urgent: bool = False
    urgentie_gevraagd: bool = False
    crisis: Tuple[str, ...] = ()  # crisis signals whose help line the citizen was given
    signalen: Tuple[str, ...] = ()
    afhankelijk: bool = False
    vraagtype: Optional[int] = None
    verhaal: Tuple[str, ...] = ()
    antwoorden: Tuple[str, ...] = ()
    misverstanden: int = 0
    past_niet: bool = False
    samenvatting: Optional[str] = None
    uitkomst_knoop: Optional[str] = None
    aanvulling: Optional[str] = None  # the citizen's own correction of the summary
    toestemming: Optional[bool] = None
    toestemming_tijd: Optional[str] = None  # ISO 8601 UTC, when the citizen decided
    toestemming_organisaties: Tuple[str, ...] = ()
    geweigerde_organisaties: Tuple[str, ...] = ()
    # The contact may be registered in the municipality's customer-contact registry (None: not asked).
    toestemming_register: Optional[bool] = None
    # Story once: the questions answered from what the citizen already told (the latest run of
    # them), the state before that run (JSON) to go back to when the citizen says it is not so, and
    # the questions the citizen then answers themselves.
    uit_verhaal: Tuple[str, ...] = ()
    voor_verhaal: Optional[str] = None
    zelf_beantwoorden: Tuple[str, ...] = ()
    genoemd: Tuple[str, ...] = ()  # topics the citizen raised in their own words (for the summary)
    dringend_gemeld: Tuple[str, ...] = ()  # urgent signals whose step for today the citizen was given
    meer_getoond: Tuple[str, ...] = ()  # "stappen" / "organisaties": the outcome shown in full

    @classmethod
    def from_slots(cls, slots: Mapping[str, Any]) -> "IntakeState":
        """Build the state from tracker slots (lists arrive as lists, numbers as floats)."""
        values: Dict[str, Any] = {}
        for name, default in cls.__dataclass_fields__.items():
            value = slots.get(name)
            if value is None:
                continue
            if isinstance(default.default, tuple) or default.default_factory is tuple:
                value = tuple(value)
            elif name in ("misverstanden", "vraagtype"):
                value = int(value)
            values[name] = value
        return cls(**values)

    def as_slots(self) -> Dict[str, Any]:
        """The state as slot values (tuples become lists)."""
        return {
            name: list(getattr(self, name)) if isinstance(getattr(self, name), tuple) else getattr(self, name)
            for name in self.__dataclass_fields__
        }


@dataclass(frozen=True)
class Turn:
    """The result of one citizen message."""

    replies: Tuple[Reply, ...]
    state: IntakeState
    followup: Optional[str] = None  # HANDOVER_STEP or CALLBACK_STEP
    understood: bool = True  # False: nothing in the message could be placed (and nothing urgent)


def choice_payload(choice: str) -> str:
    """The button payload that comes back as intent `kies` with entity `keuze`."""
    return f"/{CHOICE_INTENT}" + json.dumps({"keuze": choice}, ensure_ascii=False)


def merge(*groups: Sequence[str]) -> Tuple[str, ...]:
    """The groups one after another, each item once, in first-seen order."""
    merged: List[str] = []
    for group in groups:
        merged.extend(x for x in group if x not in merged)
    return tuple(merged)


def quoted(messages: Tuple[str, ...], limit: int) -> str:
    """The citizen's messages one by one, each in quotes, the whole at most about `limit` characters
    (the latest messages are cut first: the opening story says most)."""
    parts: List[str] = []
    used = 0
    for message in messages:
        text = message.strip()
        room = limit - used
        if not text:
            continue
        if room < 20:  # no room left: the last quote shows that more was said
            parts[-1] = parts[-1].rstrip("”").rstrip("…") + "…”"
            break
        if len(text) > room:
            text = text[: room - 1].rsplit(" ", 1)[0] + "…"
        parts.append(f"“{text}”")
        used += len(text)
    return " ".join(parts)
