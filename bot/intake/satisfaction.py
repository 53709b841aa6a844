"""The one satisfaction question after a casemanager closed the case (issue 14, item 9).

The conversation (bot/intake/conversation.py) asks it after `terug_naar_bot`: a score of 1 to 5
(buttons, or typed: "4", "vier"), or "Liever niet"; after a score, whether the citizen wants to add
something in their own words, or "Klaar". The handover service keeps the answer per case
(POST /api/cases/{reference}/tevredenheid, handover/README.md). Any other message at the score
question is not an answer: the question is dropped and the message handled as a new one.
"""

from __future__ import annotations

import re
from typing import Optional

from bot.intake.deadline import NUMBERS

# Which question is open (slot `tevredenheid_vraag`)
ASKING_SCORE = "cijfer"
ASKING_WORDS = "woorden"

# Button choices (payload /kies{"keuze": ...})
PREFIX = "tevredenheid|"
SKIP = "tevredenheid|nee"
FINISHED = "tevredenheid|klaar"
SCORES = (1, 2, 3, 4, 5)
MAX_WORDS = 1000  # what the service takes (handover/openapi.yaml, postSatisfaction); longer is cut

QUESTION = "utter_tevredenheid_vraag"
ASK_WORDS = "utter_tevredenheid_woorden"
THANKS = "utter_tevredenheid_bedankt"
SKIPPED = "utter_tevredenheid_overgeslagen"

# Typed scores: a digit, or the Dutch word for it ("een 4" is how a mark is said in Dutch); the
# words are those the deadline reader knows (bot/intake/deadline.py).
NUMBER_WORDS = {word: number for word, number in NUMBERS.items() if number in SCORES}
TYPED_SCORE = re.compile(r"(?:een\s+)?([1-5]|" + "|".join(NUMBER_WORDS) + r")[.!]?")
# Typed instead of the button "Klaar" at the question for words: nothing to add.
DONE_WORDS = frozenset({"klaar", "nee", "nee dank u", "nee bedankt", "nee hoor", "niets", "nee niets"})


def chosen_score(choice: Optional[str]) -> Optional[int]:
    """The score of a score button ("tevredenheid|4"), else None."""
    if not choice or not choice.startswith(PREFIX):
        return None
    value = choice[len(PREFIX) :]
    return int(value) if value.isdigit() and int(value) in SCORES else None


def typed_score(text: str) -> Optional[int]:
    """ "4", "vier" or "een 4" typed as the whole message; None for anything else."""
    found = TYPED_SCORE.fullmatch(text.strip().lower())
    if found is None:
        return None
    word = found.group(1)
    return int(word) if word.isdigit() else NUMBER_WORDS[word]


def says_done(text: str) -> bool:
    """ "Klaar" or "nee" typed at the question for words."""
    return " ".join(re.findall(r"\w+", text.lower())) in DONE_WORDS
