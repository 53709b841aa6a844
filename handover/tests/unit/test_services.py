"""Queue rules against a real (migrated) database: SQLite always, PostgreSQL when available."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handover import services
from handover.models import Case, Message, OutboxMessage, Role, Status, StatusChange, utcnow
from handover.services import NewCase, TranscriptEntry
from handover.teams import TeamMapping
from handover.uow import UnitOfWork
from tests.conftest import add_user

TEAMS = TeamMapping.from_dict(
    {
        "default": "algemeen",
        "teams": {
            "inkomen_schulden": {"topics": ["schulden"], "organisations": ["cjib"]},
            "zorg": {"topics": ["zorg"], "organisations": ["cak"]},
            "algemeen": {},
        },
    }
)

SM = async_sessionmaker[AsyncSession]


async def _last_casemanager_message_id(sessionmaker: Any, case_id: int) -> int:
    async with sessionmaker() as session:
        found = await session.scalar(
            select(func.max(Message.id)).where(Message.case_id == case_id, Message.role == "casemanager")
        )
    return int(found)


def new_case(sender: str, **kw: object) -> NewCase:
    values: dict[str, object] = dict(
        channel="socketio",
        sender_id=sender,
        kind="chat",
        topic="schulden",
        transcript=(TranscriptEntry("citizen", "hallo"),),
        consent=True,
    )
    values.update(kw)
    return NewCase(**values)  # type: ignore[arg-type]


async def create(sm: SM, sender: str, **kw: object) -> Case:
    async with UnitOfWork(sm) as uow:
        case, created = await services.create_case(uow, TEAMS, new_case(sender, **kw))
    assert created
    return case


async def test_reference_format_and_uniqueness(sessionmaker: SM) -> None:
    refs = {(await create(sessionmaker, f"s{i}")).reference for i in range(30)}
    assert len(refs) == 30
    for ref in refs:
        assert re.fullmatch(r"HV-[2-9A-HJKMNP-Z]{4}", ref), ref
        assert not set(ref[3:]) & set("0O1IL")
        assert services.is_valid_reference(ref)


def test_generated_references_never_use_ambiguous_characters() -> None:
    chars = set("".join(services.generate_reference()[3:] for _ in range(2000)))
    assert not chars & set("0O1IL")
    assert chars <= set(services.REFERENCE_ALPHABET)


async def test_duplicate_open_case_returns_existing(sessionmaker: SM) -> None:
    first = await create(sessionmaker, "dup")
    async with UnitOfWork(sessionmaker) as uow:
        again, created = await services.create_case(uow, TEAMS, new_case("dup"))
    assert not created and again.id == first.id
    # Same sender on another channel is a different conversation.
    async with UnitOfWork(sessionmaker) as uow:
        _other, created = await services.create_case(uow, TEAMS, new_case("dup", channel="whatsapp"))
    assert created


async def test_concurrent_creates_for_one_conversation_make_one_case(sessionmaker: SM) -> None:
    async def attempt() -> tuple[int, bool]:
        async with UnitOfWork(sessionmaker) as uow:
            case, created = await services.create_case(uow, TEAMS, new_case("racer"))
        return case.id, created

    results = await asyncio.gather(*(attempt() for _ in range(8)))
    assert len({case_id for case_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1


async def test_closed_case_allows_new_case_for_same_conversation(sessionmaker: SM) -> None:
    user = await add_user(sessionmaker, "anna")
    first = await create(sessionmaker, "again")
    async with UnitOfWork(sessionmaker) as uow:
        await services.claim(uow, first.reference, user)
    async with UnitOfWork(sessionmaker) as uow:
        await services.close(uow, first.reference, user, "geholpen", "")
    second = await create(sessionmaker, "again")
    assert second.id != first.id


async def test_queue_order_urgent_first_then_oldest(sessionmaker: SM) -> None:
    old = await create(sessionmaker, "old")
    newer = await create(sessionmaker, "newer")
    urgent = await create(sessionmaker, "urgent", urgent=True)
    async with sessionmaker() as session:
        page = await services.list_queue(session, "inkomen_schulden")
        assert [c.reference for c in page.cases] == [urgent.reference, old.reference, newer.reference]
        assert [await services.queue_position(session, c) for c in page.cases] == [1, 2, 3]


async def test_team_is_derived_from_topic_then_organisations(sessionmaker: SM) -> None:
    by_topic = await create(sessionmaker, "a", topic="zorg", organisations=["cjib"])
    by_org = await create(sessionmaker, "b", topic="iets anders", organisations=["onbekend", "cak"])
    fallback = await create(sessionmaker, "c", topic=None, organisations=[])
    assert (by_topic.team, by_org.team, fallback.team) == ("zorg", "zorg", "algemeen")
    async with sessionmaker() as session:
        assert [c.team for c in (await services.list_queue(session, "zorg")).cases] == ["zorg", "zorg"]


async def test_claim_transitions_and_history(sessionmaker: SM) -> None:
    anna = await add_user(sessionmaker, "anna")
    bob = await add_user(sessionmaker, "bob")
    case = await create(sessionmaker, "c1")
    async with UnitOfWork(sessionmaker) as uow:
        claimed = await services.claim(uow, case.reference.lower(), anna)
    assert claimed.status == Status.IN_PROGRESS.value and claimed.claimed_by_id == anna.id
    assert uow.effects.events[0]["type"] == "case_claimed"

    with pytest.raises(services.AlreadyClaimed):
        async with UnitOfWork(sessionmaker) as uow:
            await services.claim(uow, case.reference, bob)
    with pytest.raises(services.NotClaimedByYou):
        async with UnitOfWork(sessionmaker) as uow:
            await services.unclaim(uow, case.reference, bob)
    async with UnitOfWork(sessionmaker) as uow:
        back = await services.unclaim(uow, case.reference, anna)
    assert back.status == Status.WAITING.value and back.claimed_by_id is None
    with pytest.raises(services.InvalidTransition):
        async with UnitOfWork(sessionmaker) as uow:
            await services.close(uow, case.reference, anna, "klaar", "")
    async with UnitOfWork(sessionmaker) as uow:
        await services.claim(uow, case.reference, bob)
    async with UnitOfWork(sessionmaker) as uow:
        closed = await services.close(uow, case.reference, bob, "geholpen", "Belt CJIB maandag")
    assert closed.status == Status.CLOSED.value
    with pytest.raises(services.InvalidTransition):
        async with UnitOfWork(sessionmaker) as uow:
            await services.claim(uow, case.reference, anna)
    with pytest.raises(services.CaseNotFound):
        async with UnitOfWork(sessionmaker) as uow:
            await services.claim(uow, "HV-ZZZZ", anna)

    async with sessionmaker() as session:
        steps = [(h.from_status, h.to_status, h.actor_id) for h in await services.history(session, closed)]
    assert steps == [
        (None, "wachtend", None),
        ("wachtend", "in_behandeling", anna.id),
        ("in_behandeling", "wachtend", anna.id),
        ("wachtend", "in_behandeling", bob.id),
        ("in_behandeling", "afgerond", bob.id),
    ]


async def test_teamleader_may_unclaim_someone_elses_case(sessionmaker: SM) -> None:
    anna = await add_user(sessionmaker, "anna")
    lead = await add_user(sessionmaker, "lead", role=Role.TEAMLEIDER)
    case = await create(sessionmaker, "c1")
    async with UnitOfWork(sessionmaker) as uow:
        await services.claim(uow, case.reference, anna)
    async with UnitOfWork(sessionmaker) as uow:
        assert (await services.unclaim(uow, case.reference, lead)).status == "wachtend"


async def test_concurrent_claims_on_one_case_have_exactly_one_winner(sessionmaker: SM) -> None:
    users = [await add_user(sessionmaker, f"cm{i}") for i in range(10)]
    case = await create(sessionmaker, "contested")

    async def attempt(user_index: int) -> int | None:
        try:
            async with UnitOfWork(sessionmaker) as uow:
                await services.claim(uow, case.reference, users[user_index])
            return users[user_index].id
        except services.AlreadyClaimed:
            return None

    winners = [w for w in await asyncio.gather(*(attempt(i) for i in range(10))) if w]
    assert len(winners) == 1
    async with sessionmaker() as session:
        claims = await session.scalar(
            select(func.count()).select_from(StatusChange).where(StatusChange.to_status == "in_behandeling")
        )
    assert claims == 1


async def test_claim_next_takes_queue_order_and_never_doubles(sessionmaker: SM) -> None:
    users = [await add_user(sessionmaker, f"cm{i}") for i in range(8)]
    cases = [await create(sessionmaker, f"s{i}") for i in range(5)]
    urgent = await create(sessionmaker, "hot", urgent=True)
    async with UnitOfWork(sessionmaker) as uow:
        first = await services.claim_next(uow, users[0])
    assert first.id == urgent.id

    async def attempt(user_index: int) -> int | None:
        try:
            async with UnitOfWork(sessionmaker) as uow:
                return (await services.claim_next(uow, users[user_index])).id
        except services.QueueEmpty:
            return None

    got = [c for c in await asyncio.gather(*(attempt(i) for i in range(1, 8))) if c]
    assert sorted(got) == sorted(c.id for c in cases)
    with pytest.raises(services.QueueEmpty):
        async with UnitOfWork(sessionmaker) as uow:
            await services.claim_next(uow, users[0])


async def test_claim_next_respects_team_filter(sessionmaker: SM) -> None:
    anna = await add_user(sessionmaker, "anna")
    await create(sessionmaker, "money", topic="schulden")
    care = await create(sessionmaker, "care", topic="zorg")
    async with UnitOfWork(sessionmaker) as uow:
        assert (await services.claim_next(uow, anna, ["zorg"])).id == care.id
    with pytest.raises(services.QueueEmpty):
        async with UnitOfWork(sessionmaker) as uow:
            await services.claim_next(uow, anna, ["zorg"])


async def test_transfer_to_colleague_and_team(sessionmaker: SM) -> None:
    anna = await add_user(sessionmaker, "anna")
    bob = await add_user(sessionmaker, "bob", first_name="Bob")
    case = await create(sessionmaker, "t1")
    async with UnitOfWork(sessionmaker) as uow:
        await services.claim(uow, case.reference, anna)
    async with UnitOfWork(sessionmaker) as uow:
        moved = await services.transfer_to_user(uow, case.reference, anna, "bob")
    assert moved.claimed_by_id == bob.id and moved.status == "in_behandeling"
    with pytest.raises(services.UnknownUser):
        async with UnitOfWork(sessionmaker) as uow:
            await services.transfer_to_user(uow, case.reference, bob, "nobody")
    with pytest.raises(services.UnknownTeam):
        async with UnitOfWork(sessionmaker) as uow:
            await services.transfer_to_team(uow, case.reference, bob, "nope", TEAMS)
    async with UnitOfWork(sessionmaker) as uow:
        queued = await services.transfer_to_team(uow, case.reference, bob, "zorg", TEAMS)
    assert (queued.team, queued.status, queued.claimed_by_id) == ("zorg", "wachtend", None)
    async with sessionmaker() as session:
        intents = list(await session.scalars(select(OutboxMessage.intent).order_by(OutboxMessage.id)))
    assert intents == ["medewerker_gekoppeld", "medewerker_gekoppeld"]


async def test_messages_rules(sessionmaker: SM) -> None:
    anna = await add_user(sessionmaker, "anna")
    bob = await add_user(sessionmaker, "bob")
    case = await create(sessionmaker, "m1")
    with pytest.raises(services.SenderMismatch):
        async with UnitOfWork(sessionmaker) as uow:
            await services.add_citizen_message(uow, case.reference, "someone-else", "hoi")
    with pytest.raises(services.InvalidInput):
        async with UnitOfWork(sessionmaker) as uow:
            await services.add_citizen_message(uow, case.reference, "m1", "   ")
    async with UnitOfWork(sessionmaker) as uow:
        await services.add_citizen_message(uow, case.reference, "m1", "Bent u er nog?")
    with pytest.raises(services.InvalidTransition):  # not claimed yet
        async with UnitOfWork(sessionmaker) as uow:
            await services.send_casemanager_message(uow, case.reference, anna, "Hallo")
    async with UnitOfWork(sessionmaker) as uow:
        await services.claim(uow, case.reference, anna)
    with pytest.raises(services.NotClaimedByYou):
        async with UnitOfWork(sessionmaker) as uow:
            await services.send_casemanager_message(uow, case.reference, bob, "Hallo")
    async with UnitOfWork(sessionmaker) as uow:
        await services.send_casemanager_message(uow, case.reference, anna, "Hallo, ik ben Anna")
    async with sessionmaker() as session:
        texts = [(m.role, m.text) for m in await services.transcript(session, case)]
        outbox = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    assert texts[-2:] == [("citizen", "Bent u er nog?"), ("casemanager", "Hallo, ik ben Anna")]
    assert outbox[-1].intent == "medewerker_bericht"
    sent = await _last_casemanager_message_id(sessionmaker, case.id)
    assert outbox[-1].entities == {"tekst": "Hallo, ik ben Anna", "naam": "Anna", "bericht_id": str(sent)}


async def test_callback_case_needs_contact_and_gets_only_the_closing(sessionmaker: SM) -> None:
    anna = await add_user(sessionmaker, "anna")
    with pytest.raises(services.InvalidInput):
        new_case("cb", kind="callback")
    case = await create(sessionmaker, "cb", kind="callback", contact_phone="0612345678")
    async with UnitOfWork(sessionmaker) as uow:
        await services.claim(uow, case.reference, anna)
    with pytest.raises(services.NotAChat):
        async with UnitOfWork(sessionmaker) as uow:
            await services.send_casemanager_message(uow, case.reference, anna, "Hallo")
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    # Not in a live chat, but the agreed next steps go to the citizen's conversation.
    async with UnitOfWork(sessionmaker) as uow:
        await services.close(uow, case.reference, anna, "teruggebeld", "U stuurt ons de brief")
    async with sessionmaker() as session:
        (closing,) = (await session.scalars(select(OutboxMessage))).all()
    assert (closing.intent, closing.sender_id, closing.channel) == ("terug_naar_bot", "cb", "socketio")
    assert closing.entities == {"referentie": case.reference, "afspraken": "U stuurt ons de brief"}


async def test_queue_position_updates_only_on_change(sessionmaker: SM) -> None:
    anna = await add_user(sessionmaker, "anna")
    a = await create(sessionmaker, "a")
    b = await create(sessionmaker, "b")
    c = await create(sessionmaker, "c", kind="callback", contact_phone="06")
    d = await create(sessionmaker, "d")
    async with UnitOfWork(sessionmaker) as uow:
        assert await services.refresh_queue_positions(uow, "inkomen_schulden") == 0  # nothing moved
    async with UnitOfWork(sessionmaker) as uow:
        await services.claim(uow, a.reference, anna)
    async with UnitOfWork(sessionmaker) as uow:
        told = await services.refresh_queue_positions(uow, "inkomen_schulden")
    assert told == 2  # b and d moved up; c moved too but is a callback request
    async with UnitOfWork(sessionmaker) as uow:
        assert await services.refresh_queue_positions(uow, "inkomen_schulden") == 0
    async with sessionmaker() as session:
        updates = (
            await session.execute(
                select(OutboxMessage.sender_id, OutboxMessage.entities)
                .where(OutboxMessage.intent == "wachtrij_update")
                .order_by(OutboxMessage.id)
            )
        ).all()
        refreshed_c = await session.get_one(Case, c.id)
    assert [(s, e["positie"]) for s, e in updates] == [("b", 1), ("d", 3)]
    assert refreshed_c.notified_position == 3  # nobody to push to: stays as told on creation
    assert b.reference != d.reference


async def wachtrij_updates(sm: SM) -> list[tuple[str, int, str]]:
    async with sm() as session:
        rows = await session.execute(
            select(OutboxMessage.sender_id, OutboxMessage.entities, OutboxMessage.status)
            .where(OutboxMessage.intent == "wachtrij_update")
            .order_by(OutboxMessage.id)
        )
        return [(s, e["positie"], status) for s, e, status in rows]


async def test_position_pushes_are_rate_limited_per_citizen(sessionmaker: SM) -> None:
    """Within the interval nothing is queued; after it the newest position is pushed once."""
    anna = await add_user(sessionmaker, "anna")
    a, b, c = [await create(sessionmaker, s) for s in ("a", "b", "c")]  # told 1, 2, 3 on creation
    t0 = utcnow()
    limit = dt.timedelta(seconds=20)

    async def refresh(after: float, team: str | None = "inkomen_schulden") -> int:
        async with UnitOfWork(sessionmaker) as uow:
            return await services.refresh_queue_positions(
                uow, team, min_interval=limit, now=t0 + dt.timedelta(seconds=after)
            )

    for i, case in enumerate((a, b)):
        async with UnitOfWork(sessionmaker) as uow:
            await services.claim(uow, case.reference, anna)
        assert await refresh(5 + 5 * i) == 0  # c moved up (3 -> 2 -> 1) inside its interval
    assert await wachtrij_updates(sessionmaker) == []
    assert await refresh(25, team=None) == 1  # the sweep, once the interval has passed
    assert await refresh(26, team=None) == 0
    assert await wachtrij_updates(sessionmaker) == [("c", 1, "pending")]  # never position 2

    # Back in the queue after a transfer to another team: told at once, interval or not.
    async with UnitOfWork(sessionmaker) as uow:
        await services.claim(uow, c.reference, anna)
    async with UnitOfWork(sessionmaker) as uow:
        await services.transfer_to_team(uow, c.reference, anna, "zorg", TEAMS)
    assert await refresh(27, team="zorg") == 1
    assert await wachtrij_updates(sessionmaker) == [("c", 1, "superseded"), ("c", 1, "pending")]


async def test_close_requires_outcome_and_enqueues_terug_naar_bot(sessionmaker: SM) -> None:
    anna = await add_user(sessionmaker, "anna")
    case = await create(sessionmaker, "x")
    async with UnitOfWork(sessionmaker) as uow:
        await services.claim(uow, case.reference, anna)
    with pytest.raises(services.InvalidInput):
        async with UnitOfWork(sessionmaker) as uow:
            await services.close(uow, case.reference, anna, "  ", "x")
    async with UnitOfWork(sessionmaker) as uow:
        await services.close(uow, case.reference, anna, "geholpen", "U belt zelf het CJIB")
    async with sessionmaker() as session:
        last = await session.scalar(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(1))
    assert last is not None and last.intent == "terug_naar_bot"
    assert last.entities == {"referentie": case.reference, "afspraken": "U belt zelf het CJIB"}


async def test_notes_and_follow_ups(sessionmaker: SM) -> None:
    anna = await add_user(sessionmaker, "anna")
    bob = await add_user(sessionmaker, "bob")
    case = await create(sessionmaker, "n")
    due = dt.date.today() + dt.timedelta(days=14)
    async with UnitOfWork(sessionmaker) as uow:
        await services.claim(uow, case.reference, anna)
        await services.add_note(uow, case.reference, anna, "Belt liever 's ochtends")
        task = await services.add_follow_up(uow, case.reference, anna, due, "Nabellen over regeling")
    with pytest.raises(services.NotClaimedByYou):
        async with UnitOfWork(sessionmaker) as uow:
            await services.complete_follow_up(uow, task.id, bob)
    async with sessionmaker() as session:
        assert [f.due_date for f, _ in await services.open_follow_ups_for(session, anna)] == [due]
    async with UnitOfWork(sessionmaker) as uow:
        await services.complete_follow_up(uow, task.id, anna)
    async with sessionmaker() as session:
        assert await services.open_follow_ups_for(session, anna) == []
        assert [n.text for n in await services.notes(session, case)] == ["Belt liever 's ochtends"]


async def test_availability_counts_only_recent_online_casemanagers(sessionmaker: SM) -> None:
    from handover.settings import OfficeHours

    hours = OfficeHours.parse("mon-fri 09:00-17:00")
    anna = await add_user(sessionmaker, "anna")
    await add_user(sessionmaker, "bob")
    monday_10 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.timezone.utc)  # 10:00 in Amsterdam
    async with UnitOfWork(sessionmaker) as uow:
        await services.touch_presence(uow, anna.id, online=True)
    async with sessionmaker() as session:
        now = dt.datetime.now(dt.timezone.utc)
        assert (await services.availability(session, hours, 90, now)).online_casemanagers == 1
        later = now + dt.timedelta(minutes=5)
        assert (await services.availability(session, hours, 90, later)).online_casemanagers == 0
        avail = await services.availability(session, hours, 90, monday_10)
    assert avail.open
    assert services.Availability(open=True, online_casemanagers=0).offer == "callback"
    assert services.Availability(open=False, online_casemanagers=3).offer == "callback"
    assert services.Availability(open=True, online_casemanagers=1).offer == "live"


def test_expected_wait() -> None:
    assert services.expected_wait_minutes(None, 2, 8) is None
    assert services.expected_wait_minutes(3, 0, 8) == 24
    assert services.expected_wait_minutes(3, 2, 8) == 12
