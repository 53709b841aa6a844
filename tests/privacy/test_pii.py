"""The shared PII detector: validated numbers, Dutch formats, cue-based names, and what must stay."""

from __future__ import annotations

import pytest

from privacy.pii import Finding, find_pii, is_valid_bsn, is_valid_iban, redact

# 111222333 and 123456782 pass the elfproef; 123456789 and 111222334 do not.
# 10000008 is an 8-digit BSN (implied leading zero) that passes it.


@pytest.mark.parametrize("bsn", ["111222333", "123456782", "123.456.782", "123 456 782", "10000008"])
def test_valid_bsns(bsn: str) -> None:
    assert is_valid_bsn(bsn)


@pytest.mark.parametrize("number", ["123456789", "111222334", "000000000", "001234567", "12345", "12345678a"])
def test_invalid_bsns(number: str) -> None:
    assert not is_valid_bsn(number)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mijn BSN is 111222333.", "Mijn BSN is [BSN]."),
        ("bsn 123.456.782", "bsn [BSN]"),
        ("burgerservicenummer: 123 456 782", "burgerservicenummer: [BSN]"),
        ("Mijn bsn is 10000008", "Mijn bsn is [BSN]"),  # 8 digits, right after a cue
    ],
)
def test_bsn_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Mijn BSN is 123456789",  # fails the elfproef
        "klantnummer 111222334",
        "ordernummer 10000008",  # an 8-digit number without a BSN cue
        "Ik moet € 123.456.782 betalen",  # an amount, even though the digits pass the check
        "tijdstempel 1715000000.111222333",
    ],
)
def test_bsn_like_numbers_stay(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize("iban", ["NL91ABNA0417164300", "NL91 ABNA 0417 1643 00", "nl91abna0417164300",
                                  "DE89 3704 0044 0532 0130 00", "BE68539007547034"])
def test_valid_ibans(iban: str) -> None:
    assert is_valid_iban(iban)
    assert redact(f"Mijn rekening is {iban} en verder") == "Mijn rekening is [IBAN] en verder"


@pytest.mark.parametrize("iban", ["NL91ABNA0417164301", "NL91ABNA041716430", "XX91ABNA0417164300"])
def test_invalid_ibans(iban: str) -> None:
    assert not is_valid_iban(iban)
    assert redact(f"rekening {iban}") == f"rekening {iban}"


@pytest.mark.parametrize(
    "phone",
    ["06-12345678", "06 1234 5678", "0612345678", "06 12 34 56 78", "+31 6 12345678", "+316 12345678",
     "0031 6 12345678", "+31 (0)6 12345678", "010-1234567", "020 123 4567", "088-1234567", "0111-123456"],
)
def test_phone_numbers(phone: str) -> None:
    assert redact(f"Bel mij op {phone}, graag.") == "Bel mij op [TELEFOON], graag."


@pytest.mark.parametrize(
    "text",
    ["Bel de gemeente op 14 020", "Het bedrag is € 1.234.567", "Belastingtelefoon 0800-0543",
     "Dat kost 12,50 euro per maand", "om 10:30 uur", "in 2024", "0900-1234567 (betaald nummer)"],
)
def test_no_phone_false_positives(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize("text", ["31612345678", "wa_id=31612345678", "conversation ID '31201234567'"])
def test_whatsapp_ids_of_dutch_numbers(text: str) -> None:
    # WhatsApp (and so Rasa's conversation id) writes the number without "+".
    assert "[TELEFOON]" in redact(text) and "3161234" not in redact(text) and "3120123" not in redact(text)


@pytest.mark.parametrize("text", ["bedrag 31234", "kenmerk 3161234567", "1732270000.5", "316123456789"])
def test_other_numbers_starting_with_31_stay(text: str) -> None:
    assert redact(text) == text


def test_phone_stops_at_ten_digits() -> None:
    assert redact("bel 06 1234 5678 12 keer") == "bel [TELEFOON] 12 keer"


@pytest.mark.parametrize(
    "phone",
    ["+48 512 345 678", "+48512345678", "0048 512 345 678", "(+48) 512 345 678", "+32 470 12 34 56",
     "+32 (0)470 12 34 56", "+49 30 1234567", "+44 20 7946 0958", "+90 532 123 45 67", "+1 202-555-0143"],
)
def test_foreign_phone_numbers(phone: str) -> None:
    assert redact(f"Bel mij op {phone}, graag.") == "Bel mij op [TELEFOON], graag."


def test_foreign_phone_stops_where_the_number_ends() -> None:
    assert redact("bel +48 512 345 678 2 keer") == "bel [TELEFOON] 2 keer"
    assert redact("+48 512 345 678 of +32 470 12 34 56") == "[TELEFOON] of [TELEFOON]"


@pytest.mark.parametrize(
    "text",
    [
        "+48 512 345 67",  # one digit short: not a valid Polish number
        "het werd +20 graden",
        "een plus van +1.234,56 euro",
        "saldo +12 345",
        "versie 1.2.3, build +44",
        "Op 12-03-2024 om 10:30 uur",  # no country code: read as Dutch, and no Dutch number either
    ],
)
def test_no_foreign_phone_false_positives(text: str) -> None:
    assert "[TELEFOON]" not in redact(text)


def test_dutch_numbers_keep_their_own_rule_also_with_a_country_code() -> None:
    # phonenumbers accepts these as valid Dutch numbers; for redaction they stay readable.
    assert redact("Belastingtelefoon +31 800 0543") == "Belastingtelefoon +31 800 0543"


@pytest.mark.parametrize("email", ["jan.devries@example.nl", "j+post@mail.gemeente-utrecht.nl"])
def test_email(email: str) -> None:
    assert redact(f"mail naar {email}.") == "mail naar [E-MAIL]."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ik woon op 1234 AB 12.", "Ik woon op [ADRES]."),
        ("postcode 1234AB, nr 5", "postcode [ADRES]"),
        ("Kerkstraat 12, 1234 AB Utrecht", "[ADRES]"),
        ("adres: Kerkstraat 12a", "adres: [ADRES]"),
        ("ik woon aan de Vaart 12", "ik woon aan de [ADRES]"),
        ("Mijn postcode is 3511 LX", "Mijn postcode is [ADRES]"),
    ],
)
def test_address(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ik ben geboren op 12-03-1980", "Ik ben geboren op [GEBOORTEDATUM]"),
        ("geb. 3/5/80", "geb. [GEBOORTEDATUM]"),
        ("sinds 12 maart 1980", "sinds [GEBOORTEDATUM]"),
        ("geboren op 12 maart", "geboren op [GEBOORTEDATUM]"),
        ("ik ben geboren in 1980", "ik ben geboren in [GEBOORTEDATUM]"),
        ("geboortedatum: 01.02.1990", "geboortedatum: [GEBOORTEDATUM]"),
    ],
)
def test_dates_of_birth(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mijn naam is Jan de Vries en ik heb een vraag", "Mijn naam is [NAAM] en ik heb een vraag"),
        ("ik heet jan van der berg", "ik heet [NAAM]"),
        ("Ik ben Ahmed el Amrani.", "Ik ben [NAAM]."),
        ("Ik ben Fatma, mijn man Mehmet is ziek", "Ik ben [NAAM], mijn man [NAAM] is ziek"),
        ("mevrouw Jansen belde", "mevrouw [NAAM] belde"),
        ("meneer De Vries", "meneer [NAAM]"),
        ("dhr. J.P. ten Brink", "dhr. [NAAM]"),
        ("mijn dochter Sanne van den Heuvel", "mijn dochter [NAAM]"),
        ("Met vriendelijke groet, Piet Jansen", "Met vriendelijke groet, [NAAM]"),
    ],
)
def test_names_after_cues(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_given_names() -> None:
    text = "Sanne belt met sanne de wit over Jan"
    assert redact(text, names=["Sanne de Wit"]) == "[NAAM] belt met [NAAM] over Jan"


@pytest.mark.parametrize(
    "text",
    [
        "Ik ben bang dat ik mijn huis kwijtraak",
        "Ik ben DigiD kwijt",
        "Ik ben van de Gemeente",
        "Ik heb een brief van het UWV, de SVB en het CJIB",
        "Uw kenmerk is HV-7K3M; zaak K7F3QX",
        "Op maandag 3 mei om 14:00",
        "Ik heb sinds 2019 schulden, in maart 1980 was alles goed",
        "Ik moet € 1.250,00 betalen voor 1 juni",
        "De Belastingdienst en Toeslagen",
        "Ik ben Nederlander",
        "Rasa 3.6.21 met rasa_sdk 3.6.2",
    ],
)
def test_no_false_positives(text: str) -> None:
    assert find_pii(text) == []


def test_findings_carry_kind_and_span() -> None:
    text = "bel 06-12345678 of mail a@b.nl"
    assert find_pii(text) == [
        Finding("TELEFOON", 4, 15, "06-12345678"),
        Finding("EMAIL", 24, 30, "a@b.nl"),
    ]


def test_overlap_keeps_longest() -> None:
    # The postcode alone would be an address finding; the whole street address is longer and wins,
    # and the phone number inside an e-mail address is part of the e-mail.
    assert [f.kind for f in find_pii("Kerkstraat 12, 1234 AB Utrecht")] == ["ADRES"]
    assert [f.kind for f in find_pii("0612345678@example.nl")] == ["EMAIL"]


SAMPLES = [
    "Mijn BSN is 111222333 en mijn IBAN NL91ABNA0417164300, bel me op 06-12345678",
    "Mijn naam is Jan de Vries, geboren 12-03-1980, Kerkstraat 12, 1234 AB Utrecht, jan@example.nl",
    "mevrouw Jansen 0612345678 1234AB 5",
    "06-12-2023 12:00 ik heet piet",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_redact_is_idempotent(text: str) -> None:
    once = redact(text, names=["Jansen"])
    assert once != text
    assert redact(once, names=["Jansen"]) == once
    assert find_pii(once) == []
