"""Privacy rules against real migrated databases (SQLite, and PostgreSQL): who sees what,
redaction at closing, consent, audit entries, retention (explicit ``now``) and erasure."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handover import access, erasure, retention, services
from handover.access import CaseState, Reason, Viewer
from handover.db import make_engine, make_sessionmaker
from handover.models import (
    AuditEntry,
    Case,
    FollowUp,
    Message,
    Note,
    OutboxMessage,
    Role,
    Status,
    StatusChange,
    User,
    utcnow,
)
from handover.redaction import Redactor, get_redactor
from handover.services import TranscriptEntry
from handover.uow import UnitOfWork
from tests.conftest import add_user
from tests.unit.test_services import create

SM = async_sessionmaker[AsyncSession]
PII_TRANSCRIPT = (
    TranscriptEntry("bot", "Waarmee kan ik u helpen?"),
    TranscriptEntry("citizen", "Ik ben Bram de Wit, mijn BSN is 111222333 en bel me op 06-12345678."),
    TranscriptEntry("citizen", "Bram heeft een boete van het CJIB."),
)


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    r = get_redactor()
    r.load()
    return r


async def audit_rows(sm: SM, reference: str | None = None) -> list[AuditEntry]:
    async with sm() as session:
        stmt = select(AuditEntry).order_by(AuditEntry.id)
        if reference:
            stmt = stmt.where(AuditEntry.reference == reference)
        return list(await session.scalars(stmt))


async def count(sm: SM, model: type[object], **where: object) -> int:
    async with sm() as session:
        stmt = select(func.count()).select_from(model)  # type: ignore[arg-type]
        for key, value in where.items():
            stmt = stmt.where(getattr(model, key) == value)
        return int(await session.scalar(stmt) or 0)


async def claimed_case(sm: SM, user: User, sender: str = "c1", **kw: object) -> Case:
    case = await create(
        sm,
        sender,
        transcript=PII_TRANSCRIPT,
        summary_text="Bram de Wit kan de boete niet betalen",
        contact_phone="0612345678",
        **kw,
    )
    async with UnitOfWork(sm) as uow:
        await services.claim(uow, case.reference, user)
        await services.add_note(uow, case.reference, user, "Bram belt zelf het CJIB, nummer 06-12345678")
        await services.add_follow_up(uow, case.reference, user, dt.date(2030, 1, 1), "Bram terugbellen")
    async with sm() as session:
        return await services.get_case(session, case.reference)


async def close(sm: SM, case: Case, user: User, redactor: Redactor, now: dt.datetime | None = None) -> Case:
    async with UnitOfWork(sm) as uow:
        closed = await services.close(
            uow, case.reference, user, "Regeling met Bram besproken", "U belt het CJIB", redactor=redactor
        )
        if now is not None:
            closed.closed_at = now
    return closed


# --- who sees what ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "viewer", "reason"),
    [
        (CaseState("in_behandeling", "zorg", 1), Viewer(1, ("zorg",)), None),  # claimed by me
        (CaseState("in_behandeling", "zorg", 2), Viewer(1, ("zorg",)), Reason.OTHER_OWNER),
        (CaseState("in_behandeling", "zorg", 2), Viewer(1, (), True), Reason.OTHER_OWNER),  # teamleider too
        (CaseState("wachtend", "zorg", None), Viewer(1, ("zorg",)), None),  # my team's queue
        (CaseState("wachtend", "zorg", None), Viewer(1, ()), None),  # no teams: every queue
        (CaseState("wachtend", "zorg", None), Viewer(1, ("wonen",)), Reason.OTHER_TEAM),
        (CaseState("afgerond", "zorg", 1), Viewer(1, ("zorg",)), Reason.CLOSED),  # even the closer
        (CaseState("afgerond", "zorg", 1), Viewer(9, (), True), Reason.CLOSED),
    ],
)
def test_one_rule_decides_full_or_redacted(state: CaseState, viewer: Viewer, reason: Reason | None) -> None:
    assert access.redaction_reason(viewer, state) == reason


async def test_case_view_follows_the_rule(sessionmaker: SM, redactor: Redactor) -> None:
    anna = await add_user(sessionmaker, "anna")
    bob = await add_user(sessionmaker, "bob")
    case = await claimed_case(sessionmaker, anna)
    async with sessionmaker() as session:
        case = await services.get_case(session, case.reference)
        for user in (anna, bob):
            reason = access.redaction_reason(Viewer.of(user), CaseState.of(case))
            view = await access.case_view(session, case, reason=reason, redactor=redactor)
            joined = " ".join([view.summary_text or "", *(m.text for m in view.messages), view.notes[0].text])
            if user is anna:
                assert view.full and "111222333" in joined and "Bram" in joined
                assert view.contact_phone == "0612345678"
            else:
                assert not view.full and reason == Reason.OTHER_OWNER
                assert "111222333" not in joined and "Bram" not in joined and "06-12345678" not in joined
                assert "[BSN]" in joined and "[NAAM]" in joined
                assert view.contact_phone is None and access.has_hidden_contact(case, view)


async def test_export_is_for_the_claimer_or_a_teamleader(sessionmaker: SM, redactor: Redactor) -> None:
    anna = await add_user(sessionmaker, "anna")
    bob = await add_user(sessionmaker, "bob")
    lead = await add_user(sessionmaker, "lead", role=Role.TEAMLEIDER)
    case = await claimed_case(sessionmaker, anna)
    assert access.export_full_text(Viewer.of(anna), case) is True
    assert access.export_full_text(Viewer.of(lead), case) is True
    with pytest.raises(access.ExportNotAllowed):
        access.export_full_text(Viewer.of(bob), case)
    closed = await close(sessionmaker, case, anna, redactor)
    assert (
        access.export_full_text(Viewer.of(lead), closed) is False
    )  # closed: redacted, also for a teamleider
    with pytest.raises(access.ExportNotAllowed):
        access.export_full_text(Viewer.of(anna), closed)


# --- closing -----------------------------------------------------------------------------


async def test_closing_stores_redacted_copies_and_deletes_contact_details(
    sessionmaker: SM, redactor: Redactor
) -> None:
    anna = await add_user(sessionmaker, "anna")
    case = await claimed_case(sessionmaker, anna, contact_email="bram@example.nl", contact_moment="morgen")
    await close(sessionmaker, case, anna, redactor)
    async with sessionmaker() as session:
        stored = await services.get_case(session, case.reference)
        messages = list(await session.scalars(select(Message).where(Message.case_id == case.id)))
        note = await session.scalar(select(Note).where(Note.case_id == case.id))
        task = await session.scalar(select(FollowUp).where(FollowUp.case_id == case.id))
    assert (stored.contact_phone, stored.contact_email, stored.contact_moment) == (None, None, None)
    assert stored.redacted_at is not None and stored.full_text_deleted_at is None
    assert stored.summary_redacted == "[NAAM] kan de boete niet betalen"
    assert stored.outcome_redacted == "Regeling met [NAAM] besproken"
    assert stored.next_steps_redacted == "U belt het CJIB"
    assert [m.text_redacted for m in messages] == [
        "Waarmee kan ik u helpen?",
        "Ik ben [NAAM], mijn BSN is [BSN] en bel me op [TELEFOON].",
        "[NAAM] heeft een boete van het CJIB.",  # the name found in the other message
    ]
    assert note is not None and note.text_redacted == "[NAAM] belt zelf het CJIB, nummer [TELEFOON]"
    assert task is not None and task.description_redacted == "[NAAM] terugbellen"
    # The full text is still there until the retention period ends.
    assert "111222333" in messages[1].text
    assert [(e.action, e.actor) for e in await audit_rows(sessionmaker, case.reference)][-1] == (
        "redacted",
        "systeem",
    )


async def test_callback_keeps_contact_details_until_closed(sessionmaker: SM, redactor: Redactor) -> None:
    anna = await add_user(sessionmaker, "anna")
    case = await create(sessionmaker, "cb", kind="callback", contact_phone="0612345678", transcript=())
    async with UnitOfWork(sessionmaker) as uow:
        await services.claim(uow, case.reference, anna)
    async with sessionmaker() as session:
        assert (await services.get_case(session, case.reference)).contact_phone == "0612345678"
    await close(sessionmaker, case, anna, redactor)
    async with sessionmaker() as session:
        assert (await services.get_case(session, case.reference)).contact_phone is None


# --- consent ------------------------------------------------------------------------------


async def test_consent_time_and_organisations_are_stored(sessionmaker: SM) -> None:
    given = dt.datetime(2026, 3, 1, 10, 30, tzinfo=dt.timezone.utc)
    case = await create(
        sessionmaker,
        "consent",
        organisations=("cjib", "uwv"),
        consent_at=given,
        consent_organisations=("cjib",),
    )
    missing_time = await create(sessionmaker, "consent-2")
    async with sessionmaker() as session:
        stored = await services.get_case(session, case.reference)
        other = await services.get_case(session, missing_time.reference)
    assert stored.consent_at == given and stored.consent_organisations == ["cjib"]
    # consent without a time: now; without per-organisation answers: None (not asked).
    assert other.consent_at is not None and abs(other.consent_at - utcnow()) < dt.timedelta(minutes=1)
    assert other.consent_organisations is None


# --- audit --------------------------------------------------------------------------------


async def test_claim_and_claim_next_are_audited(sessionmaker: SM) -> None:
    anna = await add_user(sessionmaker, "anna")
    first = await create(sessionmaker, "a1")
    second = await create(sessionmaker, "a2")
    async with UnitOfWork(sessionmaker) as uow:
        await services.claim(uow, first.reference, anna)
    async with UnitOfWork(sessionmaker) as uow:
        await services.claim_next(uow, anna)
    rows = [(e.action, e.reference, e.actor_id, e.actor) for e in await audit_rows(sessionmaker)]
    assert rows == [
        ("claimed", first.reference, anna.id, "anna"),
        ("claimed", second.reference, anna.id, "anna"),
    ]


# --- retention ----------------------------------------------------------------------------

NOW = dt.datetime(2027, 6, 1, 12, 0, tzinfo=dt.timezone.utc)


async def test_retention_deletes_full_texts_then_whole_cases(sessionmaker: SM, redactor: Redactor) -> None:
    anna = await add_user(sessionmaker, "anna")
    young = await close(
        sessionmaker,
        await claimed_case(sessionmaker, anna, "r1"),
        anna,
        redactor,
        NOW - dt.timedelta(days=29),
    )
    month = await close(
        sessionmaker,
        await claimed_case(sessionmaker, anna, "r2"),
        anna,
        redactor,
        NOW - dt.timedelta(days=31),
    )
    year = await close(
        sessionmaker,
        await claimed_case(sessionmaker, anna, "r3"),
        anna,
        redactor,
        NOW - dt.timedelta(days=366),
    )
    waiting = await create(sessionmaker, "r4", transcript=PII_TRANSCRIPT)  # never closed: untouched
    async with UnitOfWork(sessionmaker) as uow:
        uow.session.add(
            OutboxMessage(case_id=year.id, channel="socketio", sender_id="r3", intent="x", entities={})
        )

    assert await retention.count_due(sessionmaker, full_days=30, case_days=365, now=NOW) == (1, 1)
    result = await retention.run_retention(sessionmaker, redactor, full_days=30, case_days=365, now=NOW)
    assert result.cases_deleted == [year.reference]
    assert result.full_texts_deleted == [month.reference]

    async with sessionmaker() as session:
        assert await session.get(Case, year.id) is None
        purged = await services.get_case(session, month.reference)
        kept = await services.get_case(session, young.reference)
        purged_texts = [m.text for m in await services.transcript(session, purged)]
        kept_texts = [m.text for m in await services.transcript(session, kept)]
        purged_note = (await services.notes(session, purged))[0].text
    assert purged.full_text_deleted_at == NOW
    assert (
        purged.summary_text == "[NAAM] kan de boete niet betalen"
        and purged.outcome == "Regeling met [NAAM] besproken"
    )
    assert "111222333" not in " ".join(purged_texts) and "[BSN]" in " ".join(purged_texts)
    assert purged_note == "[NAAM] belt zelf het CJIB, nummer [TELEFOON]"
    assert "111222333" in " ".join(kept_texts)  # 29 days: still in full
    # Everything of the deleted case went, its audit entries stayed.
    for model in (Message, Note, FollowUp, StatusChange, OutboxMessage):
        assert await count(sessionmaker, model, case_id=year.id) == 0
    assert [e.action for e in await audit_rows(sessionmaker, year.reference)][-1] == "retention"
    assert [e.action for e in await audit_rows(sessionmaker, month.reference)][-1] == "retention"
    async with sessionmaker() as session:
        assert (await services.get_case(session, waiting.reference)).status == Status.WAITING.value

    # Idempotent: a second (or concurrent) run finds nothing left to do.
    again = await retention.run_retention(sessionmaker, redactor, full_days=30, case_days=365, now=NOW)
    assert (again.cases_deleted, again.full_texts_deleted) == ([], [])
    assert await retention.count_due(sessionmaker, full_days=30, case_days=365, now=NOW) == (0, 0)


async def test_retention_redacts_what_has_no_copy_yet(sessionmaker: SM, redactor: Redactor) -> None:
    anna = await add_user(sessionmaker, "anna")
    case = await close(
        sessionmaker, await claimed_case(sessionmaker, anna), anna, redactor, NOW - dt.timedelta(days=40)
    )
    async with UnitOfWork(sessionmaker) as uow:  # as if closed by the old code
        old = await services.get_case(uow.session, case.reference)
        old.redacted_at = old.summary_redacted = None
        for m in await services.transcript(uow.session, old):
            m.text_redacted = None
    async with UnitOfWork(sessionmaker) as uow:  # a note the old code let anyone add after closing
        uow.session.add(Note(case_id=case.id, author_id=anna.id, text="Later: Bram belde terug"))
    await retention.run_retention(sessionmaker, redactor, full_days=30, case_days=365, now=NOW)
    async with sessionmaker() as session:
        purged = await services.get_case(session, case.reference)
        texts = " ".join(m.text for m in await services.transcript(session, purged))
        assert [n.text for n in await services.notes(session, purged)][-1] == "Later: [NAAM] belde terug"
    assert (
        "111222333" not in texts
        and "Bram" not in texts
        and purged.summary_text == "[NAAM] kan de boete niet betalen"
    )


# --- erasure ------------------------------------------------------------------------------


async def test_erasing_a_conversation_deletes_all_its_cases_and_nothing_else(
    sessionmaker: SM, redactor: Redactor
) -> None:
    anna = await add_user(sessionmaker, "anna")
    old = await close(sessionmaker, await claimed_case(sessionmaker, anna, "same"), anna, redactor)
    current = await create(sessionmaker, "same", transcript=PII_TRANSCRIPT)
    other = await create(sessionmaker, "someone-else", transcript=PII_TRANSCRIPT)
    other_channel = await create(sessionmaker, "same", channel="whatsapp")
    async with UnitOfWork(sessionmaker) as uow:
        uow.session.add(
            OutboxMessage(case_id=None, channel="socketio", sender_id="same", intent="x", entities={})
        )

    async with UnitOfWork(sessionmaker) as uow:
        erased = await erasure.erase_conversation(uow, "socketio", "same", actor="inwoner", detail="test")
    assert sorted(erased) == sorted([old.reference, current.reference])
    assert "case_erased" in {e["type"] for e in uow.effects.events}
    async with sessionmaker() as session:
        remaining = set(await session.scalars(select(Case.reference)))
    assert remaining == {other.reference, other_channel.reference}
    for case in (old, current):
        for model in (Message, Note, FollowUp, StatusChange, OutboxMessage):
            assert await count(sessionmaker, model, case_id=case.id) == 0
    assert await count(sessionmaker, OutboxMessage, sender_id="same") == 0
    entries = [
        (e.reference, e.action, e.actor) for e in await audit_rows(sessionmaker) if e.action == "erased"
    ]
    assert sorted(entries) == sorted(
        [(old.reference, "erased", "inwoner"), (current.reference, "erased", "inwoner")]
    )

    async with UnitOfWork(sessionmaker) as uow:  # idempotent
        assert await erasure.erase_conversation(uow, "socketio", "same", actor="inwoner", detail="test") == []


async def test_erasure_by_reference_without_tracker_says_so(sessionmaker: SM) -> None:
    case = await create(sessionmaker, "ref-1")
    result = await erasure.erase_by_reference(
        case.reference, transaction=lambda: UnitOfWork(sessionmaker), tracker_db_url=None, actor="beheerder"
    )
    assert result.references == [case.reference] and not result.complete
    assert result.tracker == erasure.TrackerOutcome.NOT_CONFIGURED
    [entry] = [e for e in await audit_rows(sessionmaker, case.reference) if e.action == "erased"]
    assert entry.detail is not None and "NIET verwijderd" in entry.detail
    with pytest.raises(services.CaseNotFound):
        await erasure.erase_by_reference(
            case.reference, transaction=lambda: UnitOfWork(sessionmaker), tracker_db_url=None
        )


async def test_a_failing_tracker_store_erases_nothing(sessionmaker: SM, tmp_path: object) -> None:
    case = await create(sessionmaker, "ref-2")
    with pytest.raises(erasure.TrackerEraseFailed):
        await erasure.erase_by_reference(
            case.reference,
            transaction=lambda: UnitOfWork(sessionmaker),
            tracker_db_url="sqlite:////nonexistent/dir/tracker.db",
        )
    async with sessionmaker() as session:
        assert (await services.get_case(session, case.reference)).reference == case.reference


@pytest.mark.postgres
async def test_two_instances_running_retention_at_once_do_each_case_once(
    pg_only_url: str, redactor: Redactor
) -> None:
    """Several instances share PostgreSQL (SQLite is for one process, see README)."""
    engines = [make_engine(pg_only_url), make_engine(pg_only_url)]  # two instances, own connections
    first, second = (make_sessionmaker(e) for e in engines)
    try:
        anna = await add_user(first, "anna")
        old = NOW - dt.timedelta(days=400)
        refs = set()
        for i in range(4):
            case = await claimed_case(first, anna, f"m{i}")
            refs.add((await close(first, case, anna, redactor, old)).reference)
        results = await asyncio.gather(
            *(
                retention.run_retention(sm, redactor, full_days=30, case_days=365, now=NOW)
                for sm in (first, second, first, second)
            )
        )
        deleted = [ref for result in results for ref in result.cases_deleted]
        assert sorted(deleted) == sorted(refs)  # each exactly once
        assert len([e for e in await audit_rows(first) if e.action == "retention"]) == 4
        assert await count(first, Case) == 0
    finally:
        for engine in engines:
            await engine.dispose()
