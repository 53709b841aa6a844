"""Redaction: deduce for names, privacy.pii for the validated patterns, names across a case."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from handover.redaction import Redactor, get_redactor
from handover.settings import DEFAULT_REDACTION_CACHE_DIR


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    r = get_redactor()
    r.load()
    return r


@pytest.mark.parametrize(
    ("text", "gone", "expected"),
    [
        # Names without any cue: only deduce finds these.
        ("Kees Bakker zegt dat ik schulden heb", ["Kees", "Bakker"], "[NAAM] zegt dat ik schulden heb"),
        ("Ik heb met Fatima el Amrani gesproken", ["Fatima", "Amrani"], "Ik heb met [NAAM] gesproken"),
        ("Groeten, J.P. van den Berg", ["Berg"], None),
        # A title stays readable, the name goes.
        ("Bel Dhr. Pietersen morgen", ["Pietersen"], "Bel Dhr. [NAAM] morgen"),
        # Validated patterns come from privacy.pii.
        ("Mijn BSN is 111222333", ["111222333"], "Mijn BSN is [BSN]"),
        ("IBAN NL91ABNA0417164300 graag", ["NL91ABNA0417164300"], "IBAN [IBAN] graag"),
        (
            "Bel 06-12345678 of mail jan@example.nl",
            ["12345678", "jan@example.nl"],
            "Bel [TELEFOON] of mail [E-MAIL]",
        ),
        ("Ik woon Kerkstraat 12, 1234 AB Utrecht", ["Kerkstraat 12", "1234 AB"], None),
        ("geboren op 12 maart 1980", ["1980"], None),
    ],
)
def test_personal_data_is_redacted(
    redactor: Redactor, text: str, gone: list[str], expected: str | None
) -> None:
    out = redactor.redact(text)
    for part in gone:
        assert part not in out, out
    if expected is not None:
        assert out == expected


@pytest.mark.parametrize(
    "text",
    [
        "Ik heb een brief van het CJIB en de Belastingdienst over huurtoeslag",
        "Kan ik een betalingsregeling krijgen voor de boete van € 300?",
        "Mijn kenmerk is HV-7K3M, ik bel maandag 14 0xx terug",
        "Het UWV, de SVB en DUO hebben mij een brief gestuurd in 2024",
        # Nine digits that fail the elfproef are no BSN.
        "Het dossiernummer is 123456789",
    ],
)
def test_ordinary_intake_text_stays(redactor: Redactor, text: str) -> None:
    assert redactor.redact(text) == text


def test_a_name_found_once_is_redacted_in_every_text_of_the_case(redactor: Redactor) -> None:
    texts = ["Hallo, mijn naam is Fatima el Amrani.", "Fatima wil weten wat ze moet doen.", None, ""]
    out = redactor.redact_texts(texts)
    assert out[0] == "Hallo, mijn naam is [NAAM]."
    assert out[1] is not None and "Fatima" not in out[1] and out[1].endswith("wil weten wat ze moet doen.")
    assert out[2:] == [None, ""]


def test_a_false_positive_name_does_not_erase_common_words(redactor: Redactor) -> None:
    # deduce takes "Den Haag op de Laan van Meerdervoort" for a name; "den" and "de" must survive elsewhere.
    out = redactor.redact_texts(["Ik woon in Den Haag op de Laan van Meerdervoort.", "Den boom en de deur."])
    assert out[1] == "Den boom en de deur."


def test_redaction_is_idempotent(redactor: Redactor) -> None:
    once = redactor.redact_texts(["Ik ben Bram de Wit, bel 0612345678.", "Bram heeft BSN 111222333."])
    assert redactor.redact_texts(once) == once


def test_names_only_cache_is_small_and_loads_fast_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """deduce must work offline; and its full tables (1.2 GB in memory) are never loaded at run time."""
    cache = DEFAULT_REDACTION_CACHE_DIR / "cache" / "lookup_structs.pickle"
    get_redactor().load()  # built by `make setup`; built here otherwise
    assert cache.stat().st_size < 5_000_000  # deduce's full cache is ~77 MB

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("redaction tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    fresh = Redactor(DEFAULT_REDACTION_CACHE_DIR)  # a new process would do the same
    started = time.monotonic()
    fresh.load()
    assert time.monotonic() - started < 10
    assert fresh.redact("Gisteren belde Kees Bakker over de brief") == "Gisteren belde [NAAM] over de brief"


def test_one_redactor_per_cache_dir(tmp_path: Path) -> None:
    assert get_redactor() is get_redactor(DEFAULT_REDACTION_CACHE_DIR)
    assert get_redactor(tmp_path) is not get_redactor()
    assert not get_redactor(tmp_path).loaded  # nothing is loaded before first use


@pytest.mark.parametrize(
    "text",
    [
        # deduce's surname tables hold these words; in a casemanager's note they are roles.
        "burger terugbellen",
        "Burger terugbellen over de boete",
        "Nazorg: burger bellen over de regeling",
        "Klant wil een betalingsregeling",
    ],
)
def test_ordinary_words_are_no_names(redactor: Redactor, text: str) -> None:
    assert redactor.redact(text) == text


def test_staff_names_stay_in_what_staff_wrote(redactor: Redactor) -> None:
    texts = [
        "Mijn naam is Kees Bakker en Anna heeft mij eerder geholpen.",  # the citizen
        "Goedemorgen, u spreekt met Anna.",  # the casemanager's message
        "Terugbellen door Anna; overleg met Tineke de Vries.",  # a note
        "Kees belt maandag zelf het CJIB.",  # the outcome
    ]
    out = redactor.redact_texts(texts, keep=["Anna", "Anna Tester", "Tineke de Vries"], staff_texts={1, 2, 3})
    # The citizen's own words: every name goes, also one a colleague shares.
    assert out[0] == "Mijn naam is [NAAM] en [NAAM] heeft mij eerder geholpen."
    assert out[1] == "Goedemorgen, u spreekt met Anna."
    assert out[2] == "Terugbellen door Anna; overleg met Tineke de Vries."
    # The citizen's name stays redacted in what staff wrote.
    assert out[3] == "[NAAM] belt maandag zelf het CJIB."
    # Without keep nothing changes compared with before.
    assert redactor.redact_texts(texts[1:2]) == ["Goedemorgen, u spreekt met [NAAM]."]
