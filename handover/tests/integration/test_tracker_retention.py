"""Retention of chatbot conversations in REAL Rasa tracker data, on SQLite and PostgreSQL.

Rasa's own SQLTrackerStore (the bot's virtual environment, see rasa_tracker.py) writes
conversations whose events are days old; the retention job deletes those whose last event is
more than HANDOVER_RETENTION_CONVERSATION_DAYS old, unless a case of the conversation is open
or closed less long ago; Rasa's store then reads what is left.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handover import rasa_conversations, retention
from handover.db import make_engine
from handover.models import AuditAction, AuditEntry, Case, Status, utcnow
from handover.redaction import get_redactor
from tests.integration.test_tracker_erasure import rasa, run_cli, tracker_url  # noqa: F401 (fixture)
from tests.unit.test_services import create

SM = async_sessionmaker[AsyncSession]
NOW = dt.datetime(2027, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
DAYS = 30
EVENTS = 5  # rows per conversation (rasa_tracker.conversation); Rasa's store reads back 4
# sender -> days before NOW of its events ("first/last" when the last event is more recent)
CONVERSATIONS = {
    "old": "45",  # deleted
    "recent": "2",  # kept
    "long-chat": "45/3",  # started long ago, last event recent: kept
    "open-case": "45",  # kept: the case is still open (a WhatsApp case: the channel does not matter)
    "closed-recently": "60",  # kept: case closed 10 days ago, the period runs from closing
    "closed-long-ago": "90",  # deleted: case closed 40 days ago
}
DELETED = {"old", "closed-long-ago"}


def save_aged(url: str, now: dt.datetime, conversations: dict[str, str]) -> dict[str, int]:
    specs = [f"{sender}={age}" for sender, age in conversations.items()]
    return rasa("save-aged", url, str(now.timestamp()), *specs)


async def close_case(sm: SM, sender: str, closed_at: dt.datetime) -> None:
    case = await create(sm, sender)
    async with sm.begin() as session:
        await session.execute(
            update(Case).where(Case.id == case.id).values(status=Status.CLOSED.value, closed_at=closed_at)
        )


async def retention_entries(sm: SM) -> list[AuditEntry]:
    async with sm() as session:
        return list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == AuditAction.RETENTION.value)
                .order_by(AuditEntry.id)
            )
        )


async def test_retention_deletes_idle_conversations_but_keeps_those_of_open_cases(
    sessionmaker: SM,
    db_url: str,
    tracker_url: str,  # noqa: F811 (the fixture imported above)
) -> None:
    assert save_aged(tracker_url, NOW, CONVERSATIONS) == dict.fromkeys(CONVERSATIONS, 4)
    await create(sessionmaker, "open-case", channel="whatsapp")
    await close_case(sessionmaker, "closed-recently", NOW - dt.timedelta(days=10))
    await close_case(sessionmaker, "closed-long-ago", NOW - dt.timedelta(days=40))

    # Dry run: counts, deletes nothing, no audit entry.
    due = await rasa_conversations.expire_conversations(
        tracker_url, sessionmaker, days=DAYS, now=NOW, dry_run=True
    )
    assert (due.conversations, due.events, due.kept_for_case) == (2, 2 * EVENTS, 2)
    assert rasa("read", tracker_url, *CONVERSATIONS) == dict.fromkeys(CONVERSATIONS, 4)

    if db_url.startswith("postgresql"):
        # Another instance holds the retention lock: this one skips, deleting nothing.
        other = make_engine(db_url)
        try:
            async with other.begin() as conn:
                await conn.execute(text("SELECT pg_advisory_xact_lock(727002)"))
                held = await rasa_conversations.expire_conversations(
                    tracker_url, sessionmaker, days=DAYS, now=NOW, guard=retention._locked
                )
        finally:
            await other.dispose()
        assert held.skipped and held.conversations == 0
        assert rasa("read", tracker_url, *CONVERSATIONS) == dict.fromkeys(CONVERSATIONS, 4)
    assert await retention_entries(sessionmaker) == []

    # The retention job (cases are not due: nothing for the redactor to do).
    result = await retention.run_retention(
        sessionmaker,
        get_redactor(),
        full_days=3650,
        case_days=3650,
        now=NOW,
        conversation_days=DAYS,
        tracker_db_url=tracker_url,
    )
    assert result.tracker_error is None and result.conversations is not None
    done = result.conversations
    assert (done.conversations, done.events, done.kept_for_case) == (2, 2 * EVENTS, 2)
    left = rasa("read", tracker_url, *CONVERSATIONS)
    assert left == {sender: 0 if sender in DELETED else 4 for sender in CONVERSATIONS}

    # Audited with counts only: no sender id (they can be phone numbers) in the audit log.
    [entry] = await retention_entries(sessionmaker)
    assert entry.reference is None and entry.actor == "systeem"
    assert (
        entry.detail
        == "chatbotgesprekken verwijderd: 2 gesprekken (10 gebeurtenissen), 30 dagen na het laatste bericht"
    )
    assert not any(sender in (entry.detail or "") for sender in CONVERSATIONS)

    # Idempotent, and a case closing does not bring anything back.
    again = await retention.run_retention(
        sessionmaker,
        get_redactor(),
        full_days=3650,
        case_days=3650,
        now=NOW,
        conversation_days=DAYS,
        tracker_db_url=tracker_url,
    )
    assert again.conversations is not None and again.conversations.conversations == 0
    assert len(await retention_entries(sessionmaker)) == 1

    # 30 days after the open case closes, its conversation goes too.
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Case)
            .where(Case.sender_id == "open-case")
            .values(status=Status.CLOSED.value, closed_at=NOW)
        )
    later = await rasa_conversations.expire_conversations(
        tracker_url, sessionmaker, days=DAYS, now=NOW + dt.timedelta(days=DAYS + 1), guard=retention._locked
    )
    assert later.conversations == len(CONVERSATIONS) - len(DELETED)
    assert rasa("read", tracker_url, *CONVERSATIONS) == dict.fromkeys(CONVERSATIONS, 0)


async def test_cli_retention_covers_chatbot_conversations(
    sessionmaker: SM,
    db_url: str,
    tracker_url: str,  # noqa: F811 (the fixture imported above)
) -> None:
    now = utcnow()  # the CLI uses the real clock
    conversations = {"old": "45", "recent": "1", "old-open": "45"}
    assert save_aged(tracker_url, now, conversations) == dict.fromkeys(conversations, 4)
    await create(sessionmaker, "old-open")

    dry = await run_cli(db_url, "retention", "--dry-run", HANDOVER_TRACKER_DB_URL=tracker_url)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "chatbotgesprekken te verwijderen: 1 (5 opgeslagen gebeurtenissen)" in dry.stdout
    assert "chatbotgesprekken bewaard vanwege een open of recent afgeronde zaak: 1" in dry.stdout
    assert "er is niets veranderd" in dry.stdout
    assert rasa("read", tracker_url, *conversations) == dict.fromkeys(conversations, 4)

    real = await run_cli(db_url, "retention", HANDOVER_TRACKER_DB_URL=tracker_url)
    assert real.returncode == 0, real.stdout + real.stderr
    assert "chatbotgesprekken verwijderd: 1 (5 opgeslagen gebeurtenissen)" in real.stdout
    assert rasa("read", tracker_url, *conversations) == {"old": 0, "recent": 4, "old-open": 4}
    assert "LET OP" not in dry.stdout + real.stdout


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({}, "vallen NIET onder de bewaartermijn: HANDOVER_TRACKER_DB_URL is niet ingesteld"),
        ({"HANDOVER_RETENTION_CONVERSATION_DAYS": "0"}, "hebben geen bewaartermijn (HANDOVER_RETENTION_"),
    ],
)
async def test_cli_retention_says_when_chatbot_conversations_are_not_covered(
    db_url: str,
    tracker_url: str,  # noqa: F811 (the fixture imported above)
    env: dict[str, str],
    says: str,
) -> None:
    if env:  # switched off, with the tracker store configured: an old conversation stays
        save_aged(tracker_url, utcnow(), {"old": "45"})
        env = {**env, "HANDOVER_TRACKER_DB_URL": tracker_url}
    for args in (["--dry-run"], []):
        done = await run_cli(db_url, "retention", *args, **env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"LET OP: gesprekken in de chatbot {says}" in done.stdout
        assert "chatbotgesprekken" not in done.stdout
    if env:
        assert rasa("read", tracker_url, "old") == {"old": 4}
