"""Find and redact personal data in Dutch free text: validated patterns plus cue-based names.

Precision choices (the README's privacy section explains them to a privacy officer):
- Numbers count only when their checksum holds: BSN with the elfproef, IBAN with mod-97. An 8-digit
  BSN (an implied leading zero) is only taken right after a cue such as "bsn", because one in eleven
  random 8-digit numbers passes the check.
- Dutch phone numbers need the 0/+31/0031 prefix and exactly ten digits, so amounts, years, times,
  the municipalities' 14 0xx numbers and 0800/0900 numbers stay readable. A foreign number counts
  when it is written with its country code ("+48 512 345 678", "0032 470 …") and phonenumbers
  (privacy/phones.py) says it is a valid number of that country; without a country code a number
  is read as Dutch, so an amount or a date never becomes a foreign phone number.
- Every full date with a year counts as a date of birth (a chat cannot tell them apart); partial
  dates and years only after "geboren" or "geboortedatum".
- Names are found after cues ("mijn naam is", "ik ben", "mevrouw", "mijn zoon" ...) or when passed
  in `names`; there is no name dictionary, so a name without a cue stays.
Overlapping findings: the longest wins. `redact` is idempotent.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Iterable, Iterator

from privacy.phones import find_phone_numbers

__all__ = ["Finding", "find_pii", "is_valid_bsn", "is_valid_iban", "redact"]


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int
    text: str


PLACEHOLDERS = {
    "BSN": "[BSN]", "IBAN": "[IBAN]", "TELEFOON": "[TELEFOON]", "EMAIL": "[E-MAIL]",
    "ADRES": "[ADRES]", "GEBOORTEDATUM": "[GEBOORTEDATUM]", "NAAM": "[NAAM]",
}

# --- numbers with a checksum -------------------------------------------------------------------
_BSN = re.compile(
    r"(?<![0-9A-Za-z.,€/-])"
    r"(?:[0-9]{9}|[0-9]{3}([ .])[0-9]{3}\1[0-9]{3}|[0-9]{4}\.[0-9]{2}\.[0-9]{3}|[0-9]{8})"
    r"(?![0-9A-Za-z]|[.,/-][0-9])"
)
_BSN_CUE = re.compile(r"(?i)(?:bsn|burgerservicenummer|sofi-?nummer)(?:\s+(?:is|nummer))?\W{0,12}$")
_CURRENCY = re.compile(r"(?i)(?:€|eur|euro)\s*$")
_IBAN_START = re.compile(r"(?<![0-9A-Za-z])[A-Za-z]{2}[0-9]{2}")
# IBAN lengths of the EU/EEA countries plus CH and GB.
_IBAN_LENGTH = {
    "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20, "ES": 24,
    "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26, "IT": 27, "LI": 21,
    "LT": 20, "LU": 20, "LV": 21, "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24,
    "SI": 19, "SK": 24,
}


def is_valid_bsn(s: str) -> bool:
    """Elfproef: 9 digits (8 = implied leading zero), weights 9..2 and -1, sum divisible by 11."""
    digits = re.sub(r"[ .]", "", s)
    if not re.fullmatch(r"[0-9]{8,9}", digits):
        return False
    digits = digits.zfill(9)
    if digits.startswith("00"):  # issued numbers have at most one leading zero
        return False
    total = sum(int(d) * w for d, w in zip(digits, (9, 8, 7, 6, 5, 4, 3, 2, -1), strict=True))
    return total % 11 == 0


def is_valid_iban(s: str) -> bool:
    """Known country length and the ISO 13616 mod-97 check."""
    iban = re.sub(r"\s", "", s).upper()
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]+", iban) or _IBAN_LENGTH.get(iban[:2]) != len(iban):
        return False
    return int("".join(str(int(ch, 36)) for ch in iban[4:] + iban[:4])) % 97 == 1


def _bsns(text: str) -> Iterator[tuple[str, int, int]]:
    for m in _BSN.finditer(text):
        before = text[max(0, m.start() - 40): m.start()]
        if _CURRENCY.search(before) or not is_valid_bsn(m.group()):
            continue
        if len(m.group()) == 8 and not _BSN_CUE.search(before):
            continue
        yield "BSN", m.start(), m.end()


def _ibans(text: str) -> Iterator[tuple[str, int, int]]:
    # Walk alphanumerics (single spaces allowed) up to the country's length: a greedy regex would
    # swallow the words after the IBAN.
    for m in _IBAN_START.finditer(text):
        length = _IBAN_LENGTH.get(m.group()[:2].upper())
        if length is None:
            continue
        count, end = 0, m.start()
        while end < len(text) and count < length:
            ch = text[end]
            if ch.isascii() and ch.isalnum():
                count += 1
            elif not (ch == " " and end + 1 < len(text) and text[end + 1].isalnum()):
                break
            end += 1
        if count == length and not text[end:end + 1].isalnum() and is_valid_iban(text[m.start():end]):
            yield "IBAN", m.start(), end


# --- phone numbers -----------------------------------------------------------------------------
_PHONE = re.compile(
    r"(?<![0-9A-Za-z+€.,/-])(?:(?P<intl>(?:\+|00)31)[ -]?(?:\(0\)[ -]?)?|\(?0)"
    r"[1-9][0-9]{0,3}\)?[ -]?[0-9]{2,4}(?: ?[0-9]{2,4}){0,3}(?![0-9]|[.,][0-9])"
)


def _phones(text: str) -> Iterator[tuple[str, int, int]]:
    for m in _PHONE.finditer(text):
        candidate = m.group()
        # Digits after the country code (or the leading 0): always nine in the Netherlands.
        # Drop trailing groups the greedy pattern took from what follows ("06 1234 5678 12 keer").
        ends = [len(candidate)] + [i for i in range(len(candidate) - 1, 0, -1) if candidate[i] == " "]
        for cut in ends:
            digits = re.sub(r"[^0-9]", "", re.sub(r"\(0\)", "", candidate[:cut]))
            digits = digits[len(re.sub(r"[^0-9]", "", m.group("intl") or "0")):]
            if len(digits) == 9 and digits[0] != "0":
                yield "TELEFOON", m.start(), m.start() + len(candidate[:cut].rstrip())
                break


_NL_COUNTRY_CODE = 31


def _foreign_phones(text: str) -> Iterator[tuple[str, int, int]]:
    # Dutch numbers follow the stricter rule above (0800/0900 and 14 0xx stay readable).
    for number in find_phone_numbers(text, international_only=True):
        if number.country_code != _NL_COUNTRY_CODE:
            yield "TELEFOON", number.start, number.end


# WhatsApp's id of a Dutch contact is the number in international form without "+": 31612345678.
_WA_ID_NL = re.compile(r"(?<![0-9A-Za-z+€.,/-])31[1-9][0-9]{8}(?![0-9]|[.,][0-9])")


# --- e-mail, address, dates --------------------------------------------------------------------
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")
_STREET_SUFFIX = (
    "straat|laan|weg|plein|gracht|kade|singel|dijk|pad|hof|dreef|steeg|markt|park|plantsoen|erf|baan|wal|"
    "veld|ring|allee|boulevard|haven|burgwal|kamp|hoek|horst|zoom|dam|akker|brink|gaarde|hoeve|zijde|oord"
)
_NR = r"[0-9]{1,5}(?:-?[A-Za-z](?![A-Za-z])|-[0-9]{1,4})?(?![0-9])"
_PC = r"[1-9][0-9]{3}(?: ?[A-Z]{2}|[a-z]{2})(?<!S[ADS])(?![A-Za-z0-9])"
_PLACE = (
    r"(?!(?:Ik|Het|De|Een|Mijn|Wij|We|Hoe|Wat|Waar|Kan|Kunt|Graag|Dank|Dit|Dat|Er|Maar|En|Ook|Is|U|Uw)\b)"
    r"[A-Z][a-zà-ÿ'-]+(?:[ -][A-Z][a-zà-ÿ'-]+)?"
)
_ADDRESS = re.compile(
    rf"(?<![\w-])(?:[A-Za-z][a-zà-ÿ'-]+(?:{_STREET_SUFFIX})\s+{_NR}(?:\s*,?\s*{_PC}(?:,?\s+{_PLACE})?)?"
    rf"|{_PC}(?:\s*,?\s*(?:(?i:nr\.?|nummer|huisnummer)\s*)?{_NR})?(?:,?\s+{_PLACE})?)"
)
_ADDRESS_CUE = re.compile(
    rf"(?i:\bik woon (?:op|aan)|\bmijn adres is|\badres:)\s+(?:(?i:de|het)\s+)?"
    rf"(?P<v>[A-Z][\w'-]+(?:\s+[A-Za-z][\w'-]+){{0,3}}?\s+{_NR})"
)
_MONTHS = (
    "januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december|"
    "jan|feb|mrt|apr|jun|jul|aug|sept|sep|okt|nov|dec"
)
_DATE_NUM = re.compile(
    r"(?<![0-9A-Za-z.,/-])(?P<d>[0-3]?[0-9])(?P<s>[-/.])(?P<m>[01]?[0-9])(?P=s)(?P<y>(?:19|20)[0-9]{2}|[0-9]{2})"
    r"(?![0-9]|[.,/-][0-9])"
)
_DATE_TXT = re.compile(
    rf"(?<![0-9])(?P<d>[0-3]?[0-9])\s+(?i:{_MONTHS})\.?\s+(?P<y>(?:19|20)[0-9]{{2}})(?![0-9])"
)
_DATE_CUE = re.compile(
    rf"(?i:\bgeboren(?:\s+(?:op|in))?|\bgeboortedatum(?:\s+is)?:?|\bgeb\.)\s*"
    rf"(?P<v>[0-3]?[0-9](?:[-/.][01]?[0-9]|\s+(?i:{_MONTHS})\b\.?)|(?:19|20)[0-9]{{2}}(?![0-9]))"
)


def _dates(text: str) -> Iterator[tuple[str, int, int]]:
    for pattern in (_DATE_NUM, _DATE_TXT):
        for m in pattern.finditer(text):
            month_ok = "m" not in m.groupdict() or 1 <= int(m.group("m")) <= 12
            version = m.groupdict().get("s") == "." and len(m.group("y")) == 2  # "3.6.21" is a version
            if 1 <= int(m.group("d")) <= 31 and month_ok and not version:
                yield "GEBOORTEDATUM", m.start(), m.end()
    for m in _DATE_CUE.finditer(text):
        yield "GEBOORTEDATUM", m.start("v"), m.end("v")


# --- names -------------------------------------------------------------------------------------
_TUSSENVOEGSEL = re.compile(
    r"(?i:van der|van den|van de|van 't|in 't|in de|in het|op de|op den|uit de|uit den|van|de|der|den|"
    r"het|'t|ten|ter|te|la|le|du|da|di|el|al|von|vd)\s+"
)
_GAP = re.compile(r" +")
_TOKEN = re.compile(r"(?:[A-Z]\.){1,4}|[^\W\d_][^\W\d_'\u2019-]*(?:['\u2019-][^\W\d_]+)*(?![\w@])")
_STRONG_CUE = re.compile(r"(?i:\bmijn naam is|\bik heet|\bnaam\s*:|\bmet vriendelijke groet,?)\s+")
_WEAK_CUE = re.compile(
    r"(?i:\bik ben|\bmevrouw|\bmeneer|\bmevr\.|\bmw\.|\bdhr\.|\bhr\.|\bde heer|\bfamilie|\bfam\."
    r"|\bgroet(?:en)?,?"
    r"|\bmijn (?:man|vrouw|zoon|dochter|moeder|vader|partner|broer|zus|zuster|oma|opa|kind|vriend|vriendin|"
    r"buurman|buurvrouw|schoonmoeder|schoonvader|tante|oom|neef|nicht|bewindvoerder|mentor|begeleider))\s+"
)
# Capitalised words that follow the cues but are no names: pronouns, question words, organisations,
# days and months. A token in this list ends the name.
_NOT_A_NAME = frozenset(
    """ik het de een mijn u uw wij we jij je hij zij ze dit dat die deze er en maar want of ook nu hoe wat
    waar wanneer waarom wie kan kunt wil graag dank bedankt hallo hoi goedemorgen goedemiddag goedenavond ja
    nee niet geen weet heb ben is was al bij met voor van in op aan om te toe tot na als dan zo nog wel erg
    heel echt eigenlijk gewoon even alleen samen zelf ziek bang boos blij moe bezig klaar zoek sinds net pas
    bijna vaak altijd nooit soms heeft hebben werkt woont zijn wordt worden moet gaat ging krijgt kreeg kon
    overleden gescheiden getrouwd zwanger dakloos mantelzorger ondernemer team afdeling
    gemeente belastingdienst toeslagen digid uwv svb cjib duo ind cak ciz cbr rdw kvk wmo aow ww bijstand
    zorgtoeslag huurtoeslag kinderopvangtoeslag juridisch loket zorgverzekeraar woningcorporatie nederland
    nederlander nederlandse nederlands student gepensioneerd werkloos zzp zzp'er alleenstaand
    maandag dinsdag woensdag donderdag vrijdag zaterdag zondag januari februari maart april mei juni juli
    augustus september oktober november december""".split()
)


def _name_at(text: str, pos: int, strong: bool) -> int:
    """End of the name that starts at `pos` (up to four words plus tussenvoegsels); `pos` if none."""
    end, words = pos, 0
    while words < 4:
        at = pos
        if words:
            gap = _GAP.match(text, end)
            if not gap and text[end - 1] != ".":  # initials may touch the surname: "J.P.ten Brink"
                break
            at = gap.end() if gap else end
        tv = _TUSSENVOEGSEL.match(text, at)
        token = _TOKEN.match(text, tv.end() if tv else at)
        if tv and not token:  # "de" may also be a surname on its own ("meneer De")
            token, tv = _TOKEN.match(text, at), None
        if not token or token.group().lower() in _NOT_A_NAME:
            break
        if not strong and not token.group()[0].isupper():
            break
        end, words = token.end(), words + 1
    return end


def _names(text: str, names: Iterable[str]) -> Iterator[tuple[str, int, int]]:
    for cue, strong in ((_STRONG_CUE, True), (_WEAK_CUE, False)):
        for m in cue.finditer(text):
            end = _name_at(text, m.end(), strong)
            if end > m.end():
                yield "NAAM", m.end(), end
    for name in names:
        parts = [p for p in name.split() if len(p) > 1 and p.lower() not in _NOT_A_NAME]
        for part in [" ".join(name.split()), *parts]:
            if part:
                pattern = r"(?<!\w)" + r"\s+".join(map(re.escape, part.split())) + r"(?!\w)"
                for m in re.finditer(pattern, text, re.IGNORECASE):
                    yield "NAAM", m.start(), m.end()


# --- public API --------------------------------------------------------------------------------
def _simple(pattern: re.Pattern[str], kind: str, text: str) -> Iterator[tuple[str, int, int]]:
    for m in pattern.finditer(text):
        span = m.span("v") if "v" in pattern.groupindex else m.span()
        yield kind, span[0], span[1]


def find_pii(text: str, *, names: Iterable[str] = ()) -> list[Finding]:
    """All personal data in `text`, in order, without overlaps (the longest finding wins)."""
    candidates = [
        *_bsns(text), *_ibans(text), *_phones(text), *_foreign_phones(text),
        *_simple(_WA_ID_NL, "TELEFOON", text),
        *_simple(_EMAIL, "EMAIL", text),
        *_simple(_ADDRESS, "ADRES", text), *_simple(_ADDRESS_CUE, "ADRES", text), *_dates(text),
        *_names(text, names),
    ]
    starts: list[int] = []  # accepted findings, sorted by start; they never overlap
    taken: list[tuple[int, int, str]] = []
    for kind, start, end in sorted(candidates, key=lambda c: (c[1] - c[2], c[1])):
        i = bisect.bisect_left(starts, start)
        if end > start and (i == 0 or taken[i - 1][1] <= start) and (i == len(taken) or end <= taken[i][0]):
            starts.insert(i, start)
            taken.insert(i, (start, end, kind))
    return [Finding(kind, s, e, text[s:e]) for s, e, kind in taken]


def redact(text: str, *, names: Iterable[str] = ()) -> str:
    """`text` with every finding replaced by its placeholder, e.g. "[BSN]"."""
    parts, last = [], 0
    for f in find_pii(text, names=tuple(names)):
        parts += [text[last:f.start], PLACEHOLDERS[f.kind]]
        last = f.end
    return "".join(parts) + text[last:]
