"""Settings parsing, team mapping and the contacts directory loader (no database)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from handover.directory import Directory
from handover.settings import HANDOVER_ROOT, OfficeHours, Settings, SettingsError
from handover.teams import TeamMapping

UTC = dt.timezone.utc


@pytest.mark.parametrize(
    ("utc_time", "expected"),
    [
        (dt.datetime(2026, 1, 5, 7, 59, tzinfo=UTC), False),  # Mon 08:59 Amsterdam (CET)
        (dt.datetime(2026, 1, 5, 8, 0, tzinfo=UTC), True),  # Mon 09:00
        (dt.datetime(2026, 1, 5, 15, 59, tzinfo=UTC), True),  # Mon 16:59
        (dt.datetime(2026, 1, 5, 16, 0, tzinfo=UTC), False),  # Mon 17:00
        (dt.datetime(2026, 7, 6, 7, 30, tzinfo=UTC), True),  # Mon 09:30 in summer time (CEST)
        (dt.datetime(2026, 1, 10, 10, 0, tzinfo=UTC), False),  # Saturday
    ],
)
def test_default_office_hours_in_amsterdam(utc_time: dt.datetime, expected: bool) -> None:
    assert OfficeHours.parse("mon-fri 09:00-17:00").is_open(utc_time) is expected


def test_office_hours_with_several_segments() -> None:
    hours = OfficeHours.parse("Mon-Thu 09:00-17:00; fri 09:00-12:00")
    friday_13 = dt.datetime(2026, 1, 9, 12, 0, tzinfo=UTC)
    thursday_13 = dt.datetime(2026, 1, 8, 12, 0, tzinfo=UTC)
    assert not hours.is_open(friday_13) and hours.is_open(thursday_13)


CET = dt.timezone(dt.timedelta(hours=1))
CEST = dt.timezone(dt.timedelta(hours=2))


@pytest.mark.parametrize(
    ("utc_time", "expected"),
    [
        # Mon 08:59 Amsterdam: at nine the same day
        (dt.datetime(2026, 1, 5, 7, 59, tzinfo=UTC), dt.datetime(2026, 1, 5, 9, 0, tzinfo=CET)),
        (dt.datetime(2026, 1, 5, 8, 0, tzinfo=UTC), None),  # Mon 09:00: open
        # Fri 17:00: on Monday
        (dt.datetime(2026, 1, 9, 16, 0, tzinfo=UTC), dt.datetime(2026, 1, 12, 9, 0, tzinfo=CET)),
        # Sat 28 March 2026, the night the clocks go forward: Monday at nine in summer time
        (dt.datetime(2026, 3, 28, 12, 0, tzinfo=UTC), dt.datetime(2026, 3, 30, 9, 0, tzinfo=CEST)),
    ],
)
def test_next_opening_in_the_office_hours_timezone(
    utc_time: dt.datetime, expected: dt.datetime | None
) -> None:
    opens = OfficeHours.parse("mon-fri 09:00-17:00").next_open(utc_time)
    assert opens == expected
    if opens is not None:
        assert opens.utcoffset() == expected.utcoffset()  # type: ignore[union-attr]


def test_next_opening_with_only_one_day_a_week() -> None:
    hours = OfficeHours.parse("wed 10:00-12:00")
    wednesday_noon = dt.datetime(2026, 1, 7, 11, 0, tzinfo=UTC)  # 12:00 in Amsterdam: just closed
    assert hours.next_open(wednesday_noon) == dt.datetime(2026, 1, 14, 10, 0, tzinfo=CET)
    assert OfficeHours.parse("").next_open(wednesday_noon) is None


def test_a_window_until_24_00_has_no_closed_minute() -> None:
    hours = OfficeHours.parse("mon-sun 00:00-24:00")
    last_second = dt.datetime(2026, 1, 5, 22, 59, 59, tzinfo=UTC)  # 23:59:59 in Amsterdam
    for moment in (last_second, last_second + dt.timedelta(seconds=1)):
        assert hours.is_open(moment) and hours.next_open(moment) is None
    assert not OfficeHours.parse("mon-sun 00:00-23:59").is_open(last_second)


@pytest.mark.parametrize(
    "spec",
    [
        "weekdays 9-5", "fri-mon 09:00-17:00", "mon 17:00-09:00", "xyz 09:00-10:00",
        "mon 09:00-24:30", "mon 24:00-24:00",
    ],
)
def test_bad_office_hours_are_rejected(spec: str) -> None:
    with pytest.raises(SettingsError):
        OfficeHours.parse(spec)


def test_settings_from_env() -> None:
    s = Settings.from_env(
        {
            "HANDOVER_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
            "HANDOVER_SHARED_SECRET": "s3cret",
            "HANDOVER_PORT": "9000",
            "RASA_URL": "http://rasa:5005/",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "HANDOVER_COOKIE_SECURE": "true",
            "HANDOVER_OFFICE_HOURS": "mon-sat 08:00-20:00",
        }
    )
    assert s.port == 9000 and s.rasa_url == "http://rasa:5005" and s.cookie_secure
    assert not s.is_sqlite and s.redis_url == "redis://127.0.0.1:6379/0"
    assert 5 in s.office_hours.windows
    defaults = Settings.from_env({})
    assert defaults.is_sqlite and defaults.database_url.endswith("handover/var/handover.db")
    assert (defaults.host, defaults.port, defaults.redis_url) == ("127.0.0.1", 8080, None)
    with pytest.raises(SettingsError):
        Settings.from_env({"HANDOVER_PORT": "eighty"})


def test_widget_session_minutes_setting() -> None:
    # One variable for the bot's website channel and the close form of this service.
    assert Settings.from_env({}).widget_session_minutes == 120
    assert Settings.from_env({"WIDGET_SESSION_MINUTES": "30"}).widget_session_minutes == 30
    for bad in ("0", "-5", "twee uur"):
        with pytest.raises(SettingsError):
            Settings.from_env({"WIDGET_SESSION_MINUTES": bad})


def test_position_push_interval_setting() -> None:
    assert Settings.from_env({}).position_push_seconds == 20
    assert Settings.from_env({"HANDOVER_POSITION_PUSH_SECONDS": "0"}).position_push_seconds == 0
    assert Settings.from_env({"HANDOVER_POSITION_PUSH_SECONDS": "2.5"}).position_push_seconds == 2.5
    for bad in ("-1", "nan", "soms"):
        with pytest.raises(SettingsError):
            Settings.from_env({"HANDOVER_POSITION_PUSH_SECONDS": bad})


def test_conversation_retention_setting() -> None:
    def days(value: str | None) -> int:
        env = {} if value is None else {"HANDOVER_RETENTION_CONVERSATION_DAYS": value}
        return Settings.from_env(env).retention_conversation_days

    assert days(None) == days("") == days(" ") == 30  # empty is unset: the default
    assert days("0") == 0 and days("7") == 7  # 0 switches it off
    for bad in ("-1", "dertig"):
        with pytest.raises(SettingsError):
            days(bad)


def test_shipped_teams_file_maps_topics_and_organisations() -> None:
    teams = TeamMapping.load(HANDOVER_ROOT / "teams.yml")
    assert teams.team_for("schulden", []) == "inkomen_schulden"
    assert teams.team_for("Zorg", ["ind"]) == "zorg"
    assert teams.team_for("iets", ["ind"]) == "migratie"
    assert teams.team_for(None, []) == "algemeen"
    assert teams.team_for("gemeente.schuldhulp", []) == "inkomen_schulden"
    assert teams.team_for("cak.eigen_bijdrage", ["ind"]) == "zorg"  # owner of the topic first
    assert teams.team_for("gemeente.huisvesting", []) == "algemeen"
    assert set(teams.teams) >= {"inkomen_schulden", "zorg", "migratie", "algemeen"}


def test_the_team_a_topic_itself_belongs_to() -> None:
    """What a corrected topic says about the team (services/intake.py): no default team."""
    teams = TeamMapping.load(HANDOVER_ROOT / "teams.yml")
    assert teams.team_of_topic("gemeente.wmo") == "zorg"  # listed as a topic
    assert teams.team_of_topic("cak.eigen_bijdrage") == "zorg"  # through the owning organisation
    assert teams.team_of_topic("ind.verblijfsvergunning") == "migratie"
    assert teams.team_of_topic("svb.kinderbijslag") == "inkomen_schulden"
    assert teams.team_of_topic("gemeente.huisvesting") is None  # maps to nothing: says nothing
    assert teams.team_of_topic("digid.hulp") is None
    assert teams.team_of_topic(None) is None and teams.team_of_topic("") is None


def test_missing_teams_file_still_has_default(tmp_path: Path) -> None:
    teams = TeamMapping.load(tmp_path / "none.yml")
    assert teams.team_for("schulden", ["cjib"]) == "algemeen"


def test_directory_tolerates_missing_and_broken_files(tmp_path: Path) -> None:
    assert Directory.load(tmp_path / "missing.yml").organisations == {}
    broken = tmp_path / "broken.yml"
    broken.write_text("organisaties: [unclosed", encoding="utf-8")
    assert Directory.load(broken).organisations == {}


def test_directory_reads_shipped_contacts_and_bot_style_lists(tmp_path: Path) -> None:
    shipped = Directory.load(HANDOVER_ROOT / "contacts.yml")
    ind = shipped.for_organisations(["IND"])[0]
    assert ind.name == "IND" and "Ketenservicelijn" in [r.label for r in ind.routes]
    bot_style = tmp_path / "organisaties.yml"
    bot_style.write_text(
        "- id: svb\n  naam: Sociale Verzekeringsbank\n  telefoon: '0000'\n"
        "  professionele_lijnen:\n    - {label: Ketenpartnerlijn, waarde: '1111'}\n",
        encoding="utf-8",
    )
    svb, unknown = Directory.load(bot_style).for_organisations(["svb", "xyz"])
    assert svb.name == "Sociale Verzekeringsbank"
    assert [(r.label, r.value) for r in svb.routes] == [("Ketenpartnerlijn", "1111"), ("Telefoon", "0000")]
    assert unknown.routes == ()


def test_directory_reads_the_bot_knowledge_shape() -> None:
    # Shape of bot/knowledge/organisaties.yml: a mapping under "organisaties", scalar fields.
    data = {
        "organisaties": {
            "cjib": {
                "naam": "CJIB",
                "wat": "Het CJIB zorgt dat boetes worden betaald.",
                "contact": "https://www.cjib.nl/contact",
                "professionallijn": "Lijn voor het schuldenloket.",
            }
        }
    }
    (cjib,) = Directory.from_data(data).for_organisations(["cjib"])
    assert [(r.label, r.value) for r in cjib.routes] == [
        ("Professionele lijn", "Lijn voor het schuldenloket."),
        ("Contactpagina", "https://www.cjib.nl/contact"),
    ]


def test_security_settings() -> None:
    defaults = Settings.from_env({})
    assert defaults.cookie_secure is None  # automatic: Secure except plain HTTP on loopback
    assert not defaults.trust_proxy
    assert (defaults.login_max_failures, defaults.login_max_failures_per_ip) == (5, 20)
    assert defaults.login_window_seconds == 900
    assert Settings.from_env({"HANDOVER_COOKIE_SECURE": "auto"}).cookie_secure is None
    assert Settings.from_env({"HANDOVER_COOKIE_SECURE": "false"}).cookie_secure is False
    assert Settings.from_env({"HANDOVER_COOKIE_SECURE": "true"}).cookie_secure is True
    custom = Settings.from_env(
        {
            "HANDOVER_TRUST_PROXY": "true",
            "HANDOVER_LOGIN_MAX_FAILURES": "3",
            "HANDOVER_LOGIN_MAX_FAILURES_PER_IP": "50",
            "HANDOVER_LOGIN_WINDOW_SECONDS": "60",
        }
    )
    assert custom.trust_proxy and custom.login_max_failures == 3
    assert (custom.login_max_failures_per_ip, custom.login_window_seconds) == (50, 60)
    with pytest.raises(SettingsError):
        Settings.from_env({"HANDOVER_LOGIN_MAX_FAILURES": "vijf"})
