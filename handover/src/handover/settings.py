"""Service configuration. This module is the only place that reads environment variables."""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

HANDOVER_ROOT = Path(__file__).resolve().parents[2]
REPO_ROOT = HANDOVER_ROOT.parent
# The service's own files (SQLite database, caches); kept 0700 (db.make_private).
VAR_DIR = HANDOVER_ROOT / "var"
DEFAULT_REDACTION_CACHE_DIR = VAR_DIR / "deduce"

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SEGMENT = re.compile(
    r"^(?P<d1>[a-z]{3})(?:-(?P<d2>[a-z]{3}))?\s+(?P<h1>\d{1,2}):(?P<m1>\d{2})-(?P<h2>\d{1,2}):(?P<m2>\d{2})$"
)
# "24:00" as the end of a window: open until midnight (a day with "00:00-24:00" has no closed minute).
END_OF_DAY = dt.time.max
# Where Open Klant serves the Klantinteracties API (its OpenAPI spec: servers).
OPENKLANT_API_PATH = "/klantinteracties/api/v1"


class SettingsError(ValueError):
    """A configuration value cannot be parsed."""


@dataclass(frozen=True)
class OfficeHours:
    """Opening hours per weekday (0 = Monday) in a given timezone."""

    windows: Mapping[int, tuple[dt.time, dt.time]]
    timezone: str = "Europe/Amsterdam"

    @classmethod
    def parse(cls, spec: str, timezone: str = "Europe/Amsterdam") -> OfficeHours:
        """Parse e.g. ``"mon-fri 09:00-17:00"`` or ``"mon-thu 09:00-17:00; fri 09:00-12:00"``."""
        windows: dict[int, tuple[dt.time, dt.time]] = {}
        for raw in re.split(r"[;,]", spec.lower()):
            part = " ".join(raw.split())
            if not part:
                continue
            match = _SEGMENT.match(part)
            if match is None:
                raise SettingsError(f"Cannot parse office hours segment {part!r}")
            try:
                first = _DAYS.index(match["d1"])
                last = _DAYS.index(match["d2"] or match["d1"])
                start = dt.time(int(match["h1"]), int(match["m1"]))
                end = _end_time(int(match["h2"]), int(match["m2"]))
            except ValueError as e:
                raise SettingsError(f"Invalid day or time in {part!r}") from e
            if last < first or end <= start:
                raise SettingsError(f"Empty range in office hours segment {part!r}")
            for day in range(first, last + 1):
                windows[day] = (start, end)
        ZoneInfo(timezone)  # fail at start-up, not at the first request
        return cls(windows=windows, timezone=timezone)

    def is_open(self, now: dt.datetime) -> bool:
        """Return whether ``now`` (timezone-aware) falls inside the opening hours."""
        local = now.astimezone(ZoneInfo(self.timezone))
        window = self.windows.get(local.weekday())
        if window is None:
            return False
        start, end = window
        return start <= local.time() and (local.time() < end or end == END_OF_DAY)

    def next_open(self, now: dt.datetime) -> dt.datetime | None:
        """The next moment the office hours open, in their timezone; None while open, or when
        there are no office hours at all."""
        if self.is_open(now):
            return None
        zone = ZoneInfo(self.timezone)
        local = now.astimezone(zone)
        for days_ahead in range(8):  # today's later window, or at the latest the same weekday next week
            day = local.date() + dt.timedelta(days=days_ahead)
            window = self.windows.get(day.weekday())
            if window is None:
                continue
            opens = dt.datetime.combine(day, window[0], tzinfo=zone)
            if opens > local:
                return opens
        return None


def _end_time(hour: int, minute: int) -> dt.time:
    return END_OF_DAY if (hour, minute) == (24, 0) else dt.time(hour, minute)


def default_database_url() -> str:
    return f"sqlite+aiosqlite:///{VAR_DIR / 'handover.db'}"


def default_contacts_file() -> Path:
    # The bot team maintains the organisation knowledge; fall back to our own copy.
    bot_file = REPO_ROOT / "bot" / "knowledge" / "organisaties.yml"
    return bot_file if bot_file.exists() else HANDOVER_ROOT / "contacts.yml"


def default_labels_file() -> Path:
    # Plain-Dutch names of topics and life events, maintained by the bot team.
    return REPO_ROOT / "bot" / "knowledge" / "onderwerpen.yml"


def _non_negative(name: str, value: float) -> float:
    if not value >= 0:  # also rejects NaN
        raise SettingsError(f"{name} must be 0 or more, not {value}")
    return value


def _days(env: Mapping[str, str], name: str, default: int) -> int:
    # Empty counts as unset (the default): only an explicit 0 means "at once" or "off".
    days = int(env.get(name, "").strip() or default)
    if days < 0:
        raise SettingsError(f"{name} must be 0 or more, not {days}")
    return days


def _positive(name: str, value: float) -> float:
    if not value > 0:  # also rejects NaN
        raise SettingsError(f"{name} must be more than 0, not {value}")
    return value


def _public_url(value: str) -> str | None:
    value = value.strip().rstrip("/")
    if value and not re.fullmatch(r"https?://[^/\s]+", value):
        raise SettingsError(f"HANDOVER_PUBLIC_URL must be like https://werkplek.example.nl, not {value!r}")
    return value or None


def _openklant_url(value: str) -> str | None:
    """The API root up to and including /klantinteracties/api/v1; only the server given: added."""
    value = value.strip().rstrip("/")
    if not value:
        return None
    if not re.fullmatch(r"https?://[^\s?#]+", value):
        raise SettingsError(f"OPENKLANT_URL must be like https://openklant.example.nl, not {value!r}")
    return value if value.endswith(OPENKLANT_API_PATH) else value + OPENKLANT_API_PATH


def _dates(value: str) -> frozenset[dt.date]:
    """``"2026-12-25, 2026-12-26"``: the closing days on which no appointment can be published."""
    try:
        return frozenset(dt.date.fromisoformat(part.strip()) for part in value.split(",") if part.strip())
    except ValueError as e:
        raise SettingsError(f"HANDOVER_HOLIDAYS must be dates like 2026-12-25, not {value!r}") from e


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on", "ja"}


def _auto_bool(value: str) -> bool | None:
    """``auto`` (or empty) gives None; anything else is read as a boolean."""
    return None if value.strip().lower() in {"", "auto"} else _bool(value)


@dataclass(frozen=True)
class Settings:
    """Everything the app factory needs; tests construct it directly."""

    database_url: str = field(default_factory=default_database_url)
    shared_secret: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    rasa_url: str | None = None
    rasa_token: str | None = None
    redis_url: str | None = None
    redis_channel: str = "handover:events"
    office_hours: OfficeHours = field(default_factory=lambda: OfficeHours.parse("mon-fri 09:00-17:00"))
    teams_file: Path = HANDOVER_ROOT / "teams.yml"
    contacts_file: Path = field(default_factory=default_contacts_file)
    labels_file: Path = field(default_factory=default_labels_file)
    # None = automatic: Secure unless plain HTTP on a loopback host (local development).
    cookie_secure: bool | None = None
    # Honour X-Forwarded-For / X-Forwarded-Proto; only behind a proxy that overwrites them.
    trust_proxy: bool = False
    session_hours: int = 10
    # A session also ends after this many minutes without a request of its user.
    session_idle_minutes: int = 30
    # The workspace's address as browsers reach it (https://werkplek.gemeente.nl): when set, the
    # only Origin a WebSocket handshake may come from. Unset: the request's own Host and scheme.
    public_url: str | None = None
    # Login rate limit: failures per username and per client address within the window.
    login_max_failures: int = 5
    login_max_failures_per_ip: int = 20
    login_window_seconds: int = 900
    demo_password: str | None = None
    minutes_per_case: int = 8
    presence_timeout_seconds: int = 90
    client_max_size: int = 256 * 1024
    outbox_poll_seconds: float = 2.0
    outbox_max_attempts: int = 12
    # Minimum time between two queue-position messages to one waiting citizen; 0 = no limit.
    position_push_seconds: float = 20.0
    rasa_timeout_seconds: float = 20.0
    log_level: str = "INFO"
    # Retention after closure: full texts are replaced by their redacted copy after
    # retention_full_days, the whole case is deleted after retention_case_days.
    retention_full_days: int = 30
    retention_case_days: int = 365
    retention_interval_seconds: float = 3600.0
    # Chatbot conversations in Rasa's tracker store are deleted this many days after their last
    # event (unless a case of the conversation is open or closed less long ago); 0 = never.
    retention_conversation_days: int = 30
    # Rasa's tracker database (the same URL Rasa uses), for erasure by reference; None = not set.
    tracker_db_url: str | None = None
    # Where the names-only lookup cache of deduce is kept (built once, see redaction.py).
    redaction_cache_dir: Path = DEFAULT_REDACTION_CACHE_DIR
    # How long the website widget remembers a conversation after the citizen's last message (its
    # data-session-minutes; the bot keeps messages for it as long): the close form's promise.
    widget_session_minutes: float = 120.0
    # Open Klant (Klantinteracties API): closed cases are registered there, with the citizen's
    # consent (openklant.py). Off when the URL is unset. The token is never shown (repr) or logged.
    openklant_url: str | None = None
    openklant_token: str | None = field(default=None, repr=False)
    openklant_timeout_seconds: float = 10.0
    # Days without appointments besides the weekly office hours (feestdagen, closing days).
    holidays: frozenset[dt.date] = frozenset()
    # The reminder of an appointment goes out this many hours before it starts (once).
    appointment_reminder_hours: float = 24.0
    appointment_poll_seconds: float = 60.0
    # Rasa's event broker (EVENT_BROKER_URL of the bot): its SQL database or RabbitMQ, read into
    # insight counts (and deleted there).
    events_url: str | None = None
    # RabbitMQ only (events_url amqp://…): the durable queue Rasa's broker publishes to.
    events_queue: str = "intake_events"
    insight_poll_seconds: float = 5.0
    # A conversation without events this long counts as ended (resolved, handed over or abandoned).
    insight_idle_minutes: float = 30.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``HANDOVER_*``, ``RASA_*``, ``REDIS_URL`` and ``WIDGET_SESSION_MINUTES``."""
        env = os.environ if environ is None else environ
        secret = env.get("HANDOVER_SHARED_SECRET", "")
        if env.get("OPENKLANT_URL", "").strip() and not env.get("OPENKLANT_TOKEN"):
            raise SettingsError("OPENKLANT_TOKEN is required when OPENKLANT_URL is set")
        tz = env.get("HANDOVER_TIMEZONE", "Europe/Amsterdam")
        try:
            return cls(
                database_url=env.get("HANDOVER_DATABASE_URL") or default_database_url(),
                shared_secret=secret,
                host=env.get("HANDOVER_HOST", "127.0.0.1"),
                port=int(env.get("HANDOVER_PORT", "8080")),
                rasa_url=(env.get("RASA_URL") or "").rstrip("/") or None,
                rasa_token=env.get("RASA_TOKEN") or None,
                redis_url=env.get("REDIS_URL") or None,
                redis_channel=env.get("HANDOVER_REDIS_CHANNEL", "handover:events"),
                office_hours=OfficeHours.parse(env.get("HANDOVER_OFFICE_HOURS", "mon-fri 09:00-17:00"), tz),
                teams_file=Path(env.get("HANDOVER_TEAMS_FILE") or HANDOVER_ROOT / "teams.yml"),
                contacts_file=Path(env["HANDOVER_CONTACTS_FILE"])
                if env.get("HANDOVER_CONTACTS_FILE")
                else default_contacts_file(),
                labels_file=Path(env.get("HANDOVER_LABELS_FILE") or default_labels_file()),
                cookie_secure=_auto_bool(env.get("HANDOVER_COOKIE_SECURE", "auto")),
                trust_proxy=_bool(env.get("HANDOVER_TRUST_PROXY", "false")),
                session_hours=int(env.get("HANDOVER_SESSION_HOURS", "10")),
                session_idle_minutes=int(
                    _positive(
                        "HANDOVER_SESSION_IDLE_MINUTES", int(env.get("HANDOVER_SESSION_IDLE_MINUTES", "30"))
                    )
                ),
                public_url=_public_url(env.get("HANDOVER_PUBLIC_URL", "")),
                login_max_failures=int(env.get("HANDOVER_LOGIN_MAX_FAILURES", "5")),
                login_max_failures_per_ip=int(env.get("HANDOVER_LOGIN_MAX_FAILURES_PER_IP", "20")),
                login_window_seconds=int(env.get("HANDOVER_LOGIN_WINDOW_SECONDS", "900")),
                demo_password=env.get("HANDOVER_DEMO_PASSWORD") or None,
                minutes_per_case=int(env.get("HANDOVER_MINUTES_PER_CASE", "8")),
                presence_timeout_seconds=int(env.get("HANDOVER_PRESENCE_TIMEOUT", "90")),
                client_max_size=int(env.get("HANDOVER_MAX_BODY_BYTES", str(256 * 1024))),
                outbox_poll_seconds=float(env.get("HANDOVER_OUTBOX_POLL_SECONDS", "2")),
                outbox_max_attempts=int(env.get("HANDOVER_OUTBOX_MAX_ATTEMPTS", "12")),
                position_push_seconds=_non_negative(
                    "HANDOVER_POSITION_PUSH_SECONDS", float(env.get("HANDOVER_POSITION_PUSH_SECONDS", "20"))
                ),
                rasa_timeout_seconds=float(env.get("RASA_TIMEOUT_SECONDS", "20")),
                log_level=env.get("HANDOVER_LOG_LEVEL", "INFO").upper(),
                retention_full_days=_days(env, "HANDOVER_RETENTION_FULL_DAYS", 30),
                retention_case_days=_days(env, "HANDOVER_RETENTION_CASE_DAYS", 365),
                retention_conversation_days=_days(env, "HANDOVER_RETENTION_CONVERSATION_DAYS", 30),
                retention_interval_seconds=_positive(
                    "HANDOVER_RETENTION_INTERVAL_SECONDS",
                    float(env.get("HANDOVER_RETENTION_INTERVAL_SECONDS", "3600")),
                ),
                tracker_db_url=env.get("HANDOVER_TRACKER_DB_URL") or None,
                redaction_cache_dir=Path(
                    env.get("HANDOVER_REDACTION_CACHE_DIR") or DEFAULT_REDACTION_CACHE_DIR
                ),
                # The same variable the bot's website channel reads: one value for both.
                widget_session_minutes=_positive(
                    "WIDGET_SESSION_MINUTES", float(env.get("WIDGET_SESSION_MINUTES", "").strip() or 120)
                ),
                openklant_url=_openklant_url(env.get("OPENKLANT_URL", "")),
                openklant_token=env.get("OPENKLANT_TOKEN") or None,
                openklant_timeout_seconds=_positive(
                    "OPENKLANT_TIMEOUT_SECONDS", float(env.get("OPENKLANT_TIMEOUT_SECONDS", "").strip() or 10)
                ),
                holidays=_dates(env.get("HANDOVER_HOLIDAYS", "")),
                appointment_reminder_hours=_positive(
                    "HANDOVER_APPOINTMENT_REMINDER_HOURS",
                    float(env.get("HANDOVER_APPOINTMENT_REMINDER_HOURS", "").strip() or 24),
                ),
                appointment_poll_seconds=_positive(
                    "HANDOVER_APPOINTMENT_POLL_SECONDS",
                    float(env.get("HANDOVER_APPOINTMENT_POLL_SECONDS", "").strip() or 60),
                ),
                events_url=env.get("HANDOVER_EVENTS_URL") or None,
                events_queue=env.get("HANDOVER_EVENTS_QUEUE") or "intake_events",
                insight_poll_seconds=_positive(
                    "HANDOVER_INSIGHT_POLL_SECONDS", float(env.get("HANDOVER_INSIGHT_POLL_SECONDS", "5"))
                ),
                insight_idle_minutes=_non_negative(
                    "HANDOVER_INSIGHT_IDLE_MINUTES", float(env.get("HANDOVER_INSIGHT_IDLE_MINUTES", "30"))
                ),
            )
        except ValueError as e:
            raise SettingsError(str(e)) from e

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def openklant_enabled(self) -> bool:
        return self.openklant_url is not None

    @property
    def session_idle(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.session_idle_minutes)


def generate_secret() -> str:
    return secrets.token_urlsafe(24)
