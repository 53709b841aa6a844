"""Names for ids (labels.py) and which organisations a case shows (consent.py)."""

from __future__ import annotations

from pathlib import Path

from handover.consent import consented_organisations, named_organisations
from handover.labels import Labels, organisation_of_topic
from handover.models import Case
from handover.settings import default_labels_file


def test_the_bots_names_are_read() -> None:
    labels = Labels.load(default_labels_file())
    assert labels.topic("gemeente.schuldhulp") == "Hulp bij schulden"
    assert labels.topic("svb.hoogte_aow_aio") != "svb.hoogte_aow_aio"
    assert labels.life_event("overlijden_naaste") == "Iemand is overleden"
    # A life event used as the topic still gets its name; an unknown id is shown as it is.
    assert labels.topic("overlijden_naaste") == "Iemand is overleden"
    assert labels.topic("onbekend.iets") == "onbekend.iets"
    assert labels.topic(None) == "–" and labels.life_event("") == "–"
    choices = labels.topic_choices()
    assert ("svb.kinderbijslag", "Kinderbijslag aanvragen") in choices
    assert [name.lower() for _, name in choices] == sorted(name.lower() for _, name in choices)


def test_a_missing_or_broken_file_gives_ids(tmp_path: Path) -> None:
    assert Labels.load(tmp_path / "nergens.yml") == Labels({}, {})
    broken = tmp_path / "kapot.yml"
    broken.write_text("onderwerpen: [", encoding="utf-8")
    assert Labels.load(broken).topic("cjib.x") == "cjib.x"


def test_organisation_of_topic() -> None:
    assert organisation_of_topic("cjib.betalingsregeling") == "cjib"
    assert organisation_of_topic("schulden") is None and organisation_of_topic(None) is None


def _case(organisations: list[str], consent_organisations: list[str] | None, consent: bool = True) -> Case:
    return Case(organisations=organisations, consent_organisations=consent_organisations, consent=consent)


def test_only_the_organisations_the_citizen_agreed_to() -> None:
    assert consented_organisations(_case(["cjib", "svb"], None)) == ["cjib", "svb"]
    assert consented_organisations(_case(["cjib", "svb"], ["CJIB"])) == ["cjib"]
    assert consented_organisations(_case(["cjib"], [])) == []
    # Agreed to but not in the summary: still named, and shown.
    case = _case([], ["cjib", "toeslagen"])
    assert named_organisations(case) == ["cjib", "toeslagen"]
    assert consented_organisations(case) == ["cjib", "toeslagen"]
    # Without consent at all the per-organisation answer does not count (the bot ignores it too).
    assert consented_organisations(_case(["cjib"], ["svb"], consent=False)) == ["cjib"]
