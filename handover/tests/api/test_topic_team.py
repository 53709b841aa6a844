"""A corrected topic of another team moves the case to that team (SQLite and PostgreSQL).

teams.yml decides which team a topic belongs to. The case is in progress (a correction needs a
handler), so what happens to the claim is part of the rule (services/intake.py):

- the handler works in the new team: they keep the case, which now counts for the new team;
- they do not: the case goes, unclaimed, into the new team's queue, and the answer says so.

Audited, in the history, and the receiving team's open pages get a live signal.
"""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from handover.keys import sessionmaker_key
from handover.models import AuditEntry, Case, Role, Status
from tests.api.test_api import _next_event, create_case, login
from tests.api.test_inbox import inbox, second_browser
from tests.conftest import FakeRasa, add_user

Client = TestClient[Any, Any]
JSON = {"Accept": "application/json"}
CJIB = {"topic": "cjib.betalingsregeling", "organisations": ["cjib"]}


async def case_row(client: Client, ref: str) -> Case:
    async with client.app[sessionmaker_key]() as session:
        case = await session.scalar(select(Case).where(Case.reference == ref))
        assert case is not None
        return case


async def trail(client: Client, ref: str) -> list[tuple[str, str, str]]:
    async with client.app[sessionmaker_key]() as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.reference == ref).order_by(AuditEntry.id)
        )
        return [(e.actor, e.action, e.detail) for e in rows if e.action not in ("viewed", "claimed")]


async def queue_refs(client: Any, team: str) -> list[str]:
    listing = await (await client.get(f"/wachtrij.json?team={team}")).json()
    return [c["reference"] for c in listing["cases"]]


async def test_a_topic_of_a_team_the_handler_is_not_in_hands_the_case_to_that_teams_queue(
    client: Client, fake_rasa: FakeRasa
) -> None:
    sm = client.app[sessionmaker_key]
    await add_user(sm, "anna", first_name="Anna", teams=["inkomen_schulden"])
    await add_user(sm, "zoe", first_name="Zoe", teams=["zorg"])
    token = await login(client, "anna")
    ref = (await create_case(client, "burger-1", summary=CJIB))["reference"]
    await client.post(f"/zaken/{ref}/claim", data={"csrf_token": token})
    page = await (await client.get(f"/zaken/{ref}")).text()
    assert "Werkt de behandelaar niet in dat team, dan komt de zaak in de wachtrij van dat team" in page
    anna_ws = await client.ws_connect("/ws")
    async with second_browser(client) as zoe:
        await login(zoe, "zoe")
        assert ref not in await queue_refs(zoe, "zorg")
        zoe_ws = await zoe.ws_connect("/ws")

        resp = await client.post(
            f"/zaken/{ref}/intake",
            data={"csrf_token": token, "onderwerp": "cak.eigen_bijdrage"},
            headers=JSON,
        )
        assert resp.status == 200
        assert (await resp.json())["detail"] == (
            "Intake aangepast. Dit onderwerp hoort bij team Zorg en ondersteuning. U werkt niet in dat team, "
            "dus de zaak staat nu in hun wachtrij. U kunt de inwoner in deze zaak niet meer schrijven."
        )
        # The receiving team's pages: a new case in their queue, with the reason.
        event = await _next_event(zoe_ws, "case_new")
        assert {k: event[k] for k in ("reference", "team", "old_team", "cause")} == {
            "reference": ref,
            "team": "zorg",
            "old_team": "inkomen_schulden",
            "cause": "onderwerp",
        }
        changed = await _next_event(zoe_ws, "queue_changed")
        assert changed["teams"] == ["inkomen_schulden", "zorg"]
        await zoe_ws.close()
        assert await queue_refs(zoe, "zorg") == [ref]
    # The handler's page: the case left her chats (from_id is hers).
    event = await _next_event(anna_ws, "case_new")
    assert event["from_id"] == event["actor_id"]
    await anna_ws.close()
    assert ref not in await queue_refs(client, "inkomen_schulden")
    assert (await inbox(client))["chats"] == []

    case = await case_row(client, ref)
    assert (case.team, case.status, case.claimed_by_id, case.topic) == (
        "zorg",
        Status.WAITING,
        None,
        "cak.eigen_bijdrage",
    )
    assert case.organisations == ["cak"]  # CJIB not ticked in the form; the owner of the topic added
    # The citizen hears their new place in the queue.
    await fake_rasa.wait_for(lambda f: bool(f.intents("wachtrij_update")), timeout=5)
    # anna can no longer write to the citizen in this case.
    resp = await client.post(
        f"/zaken/{ref}/berichten", data={"csrf_token": token, "tekst": "Hallo"}, headers=JSON
    )
    assert resp.status == 409
    assert await trail(client, ref) == [
        (
            "anna",
            "corrected",
            "onderwerp cjib.betalingsregeling → cak.eigen_bijdrage; organisaties cjib → cak; "
            "team inkomen_schulden → zorg",
        ),
        ("anna", "transferred", "naar team zorg: onderwerp aangepast"),
    ]
    history = await (await client.get(f"/zaken/{ref}")).text()
    assert "naar team zorg: onderwerp aangepast" in history


async def test_a_handler_who_works_in_the_new_team_keeps_the_case(client: Client) -> None:
    sm = client.app[sessionmaker_key]
    await add_user(sm, "carla", first_name="Carla", teams=["inkomen_schulden", "zorg"])
    await add_user(sm, "zoe", first_name="Zoe", teams=["zorg"])
    token = await login(client, "carla")
    ref = (await create_case(client, "burger-1", summary=CJIB))["reference"]
    await client.post(f"/zaken/{ref}/claim", data={"csrf_token": token})
    async with second_browser(client) as zoe:
        await login(zoe, "zoe")
        zoe_ws = await zoe.ws_connect("/ws")
        resp = await client.post(
            f"/zaken/{ref}/intake",
            data=[("csrf_token", token), ("onderwerp", "gemeente.wmo"), ("organisatie", "cjib")],
            headers=JSON,
        )
        assert (await resp.json())["detail"] == (
            "Intake aangepast. De zaak hoort nu bij team Zorg en ondersteuning. "
            "De behandelaar blijft dezelfde."
        )
        event = await _next_event(zoe_ws, "case_updated")
        assert {k: event[k] for k in ("reference", "team", "old_team", "change")} == {
            "reference": ref,
            "team": "zorg",
            "old_team": "inkomen_schulden",
            "change": "intake",
        }
        await zoe_ws.close()
        # Not in anyone's queue: carla still handles it.
        assert ref not in await queue_refs(zoe, "zorg")
    case = await case_row(client, ref)
    assert (case.team, case.status) == ("zorg", Status.IN_PROGRESS)
    assert [c["reference"] for c in (await inbox(client))["chats"]] == [ref]
    resp = await client.post(
        f"/zaken/{ref}/berichten", data={"csrf_token": token, "tekst": "Ik help u verder."}
    )
    assert resp.status == 200
    assert await trail(client, ref) == [
        (
            "carla",
            "corrected",
            "onderwerp cjib.betalingsregeling → gemeente.wmo; team inkomen_schulden → zorg",
        ),
    ]


async def test_a_teamleider_corrects_a_colleagues_case_and_the_colleague_is_told(client: Client) -> None:
    sm = client.app[sessionmaker_key]
    await add_user(sm, "anna", first_name="Anna", teams=["inkomen_schulden"])
    await add_user(sm, "tineke", first_name="Tineke", role=Role.TEAMLEIDER)
    anna_token = await login(client, "anna")
    ref = (await create_case(client, "burger-1", summary=CJIB))["reference"]
    await client.post(f"/zaken/{ref}/claim", data={"csrf_token": anna_token})
    anna_ws = await client.ws_connect("/ws")
    async with second_browser(client) as tineke:
        token = await login(tineke, "tineke")
        resp = await tineke.post(
            f"/zaken/{ref}/intake",
            data={"csrf_token": token, "onderwerp": "ind.verblijfsvergunning"},
            headers=JSON,
        )
        assert (await resp.json())["detail"] == (
            "Intake aangepast. Dit onderwerp hoort bij team Migratie en inburgering. Anna Tester werkt niet "
            "in dat team, dus de zaak staat nu in hun wachtrij."
        )
    event = await _next_event(anna_ws, "case_new")
    assert (event["cause"], event["team"]) == ("onderwerp", "migratie")
    assert event["from_id"] != event["actor_id"]  # anna's page says someone else moved her case
    await anna_ws.close()
    case = await case_row(client, ref)
    assert (case.team, case.status, case.claimed_by_id) == ("migratie", Status.WAITING, None)
    actions = [(actor, action) for actor, action, _ in await trail(client, ref)]
    assert actions == [("tineke", "override"), ("tineke", "corrected"), ("tineke", "transferred")]


async def test_a_topic_that_maps_to_no_team_or_the_same_team_leaves_the_team(client: Client) -> None:
    await add_user(client.app[sessionmaker_key], "anna", first_name="Anna", teams=["inkomen_schulden"])
    token = await login(client, "anna")
    ref = (await create_case(client, "burger-1", summary=CJIB))["reference"]
    await client.post(f"/zaken/{ref}/claim", data={"csrf_token": token})
    for topic in ("gemeente.huisvesting", "svb.kinderbijslag"):  # no team / inkomen_schulden
        resp = await client.post(
            f"/zaken/{ref}/intake", data={"csrf_token": token, "onderwerp": topic}, headers=JSON
        )
        assert (await resp.json())["detail"] == "Intake aangepast."
        case = await case_row(client, ref)
        assert (case.team, case.status, case.topic) == ("inkomen_schulden", Status.IN_PROGRESS, topic)
    # Organisations alone never move the case.
    resp = await client.post(
        f"/zaken/{ref}/intake",
        data=[("csrf_token", token), ("onderwerp", "svb.kinderbijslag"), ("organisatie", "cak")],
        headers=JSON,
    )
    assert (await resp.json())["detail"] == "Intake aangepast."
    assert (await case_row(client, ref)).team == "inkomen_schulden"
