"""Open Klant registration (openklant.py) end to end: the real handover app (create_app through
aiohttp_client, SQLite and PostgreSQL) against the fake Open Klant of tests/fake_openklant.py, which
enforces the Klantinteracties API's required fields, enums, lengths and token."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, update

from handover.keys import sessionmaker_key
from handover.models import OpenKlantRegistration
from handover.openklant import fit
from handover.settings import Settings, SettingsError
from tests.api.test_api import create_case, login
from tests.conftest import BOT, FakeRasa, add_user, make_settings
from tests.fake_openklant import BASE, FakeOpenKlant, make_fake_openklant_app

Client = TestClient[Any, Any]
TOKEN = "ok-test-token-5f1c"


@pytest.fixture
async def fake_openklant(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> AsyncIterator[FakeOpenKlant]:
    fake = FakeOpenKlant(token=TOKEN)
    server = await aiohttp_server(make_fake_openklant_app(fake))
    fake.url = str(server.make_url(BASE))
    yield fake
    fake.hanging.set()  # let requests that were made to hang end before the server stops


def openklant_settings(db_url: str, rasa_url: str, fake: FakeOpenKlant, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "openklant_url": fake.url,
        "openklant_token": TOKEN,
        "openklant_timeout_seconds": 0.5,
        "outbox_poll_seconds": 0.1,
        "outbox_max_attempts": 12,
    }
    values.update(overrides)
    return make_settings(db_url, rasa_url, **values)


@pytest.fixture
def settings(db_url: str, fake_rasa: FakeRasa, fake_openklant: FakeOpenKlant) -> Settings:
    return openklant_settings(db_url, fake_rasa.url, fake_openklant)


async def handled_case(
    client: Client,
    sender: str = "burger-ok-1",
    *,
    user: str = "anna",
    new_user: bool = True,
    follow_ups: tuple[str, ...] = (),
    **case: Any,
) -> tuple[str, str]:
    """A case created by the bot (with consent for registration unless overridden), claimed by
    ``user``, with optional follow-up tasks: (reference, CSRF token)."""
    if new_user:
        await add_user(client.app[sessionmaker_key], user)
    token = await login(client, user)
    created = await create_case(client, sender, **({"consent_registration": True} | case))
    reference = str(created["reference"])
    claimed = await client.post(f"/zaken/{reference}/claim", data={"csrf_token": token})
    assert claimed.status == 200
    for n, text in enumerate(follow_ups, start=1):
        due = (dt.date.today() + dt.timedelta(days=n)).isoformat()
        added = await client.post(
            f"/zaken/{reference}/nazorg", data={"csrf_token": token, "datum": due, "omschrijving": text}
        )
        assert added.status == 200
    return reference, token


async def close(client: Client, reference: str, token: str, label: str = "opgelost") -> None:
    closed = await client.post(
        f"/zaken/{reference}/afronden",
        data={
            "csrf_token": token,
            "uitkomst": "Uitgelegd hoe een betalingsregeling werkt",
            "afspraken": "U belt het CJIB.",
            "uitkomstlabel": label,
        },
    )
    assert closed.status == 200, await closed.text()


async def case_json(client: Client, reference: str) -> dict[str, Any]:
    resp = await client.get(f"/zaken/{reference}", headers={"Accept": "application/json"})
    assert resp.status == 200
    data: dict[str, Any] = await resp.json()
    return data


async def wait_state(
    client: Client, reference: str, state: str, *, with_reason: bool = False
) -> dict[str, Any]:
    """Poll the case JSON (what staff see) until the registration reaches ``state``."""
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        registration: dict[str, Any] = (await case_json(client, reference))["openklant"]
        if registration["state"] == state and (registration["reason"] or not with_reason):
            return registration
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"registration stayed {registration}")
        await asyncio.sleep(0.05)


async def test_a_closed_case_with_consent_is_registered_with_what_the_consent_covers(
    client: Client, fake_openklant: FakeOpenKlant
) -> None:
    reference, token = await handled_case(
        client,
        summary={
            "topic": "gemeente.schuldhulp",
            "organisations": ["cjib"],
            "summary_text": "Ik ben Jan de Vries en ik kan de boete niet betalen. Taal: Pools.",
        },
        contact={"phone": "0612345678"},
        language="pl",  # the bot's structured field decides Open Klant's taal, not the summary's words
    )
    before = await case_json(client, reference)
    assert before["openklant"]["state"] == "niet_afgerond" and before["language"] == "pl"
    await close(client, reference, token)

    registered = await wait_state(client, reference, "geregistreerd")
    (contact,) = fake_openklant.klantcontacten.values()
    assert registered["klantcontact_uuid"] == contact["uuid"]
    assert contact["referentienummer"] == reference
    assert contact["kanaal"] == "chat" and contact["taal"] == "pol" and contact["vertrouwelijk"] is True
    assert contact["onderwerp"] == "Hulp bij schulden"  # the topic's label, not its id
    assert contact["indicatieContactGelukt"] is True
    # Only the redacted summary: no name, no phone number, no transcript.
    assert "Jan de Vries" not in contact["inhoud"] and "boete" in contact["inhoud"]
    assert "0612345678" not in str(contact)
    (betrokkene,) = fake_openklant.betrokkenen.values()
    assert (betrokkene["rol"], betrokkene["initiator"], betrokkene["wasPartij"]) == ("klant", True, None)
    (actor,) = fake_openklant.actoren.values()
    assert actor["soortActor"] == "medewerker" and actor["naam"] == "Anna Tester"
    assert actor["actoridentificator"]["objectId"] == "anna"
    (link,) = fake_openklant.actorklantcontacten.values()
    assert (link["actor"]["uuid"], link["klantcontact"]["uuid"]) == (actor["uuid"], contact["uuid"])
    assert fake_openklant.rejected == []
    page = await (await client.get(f"/zaken/{reference}")).text()
    assert 'data-status="geregistreerd"' in page and contact["uuid"] in page


async def test_no_registration_without_consent_for_it(client: Client, fake_openklant: FakeOpenKlant) -> None:
    reference, token = await handled_case(client, consent_registration=False)
    await close(client, reference, token)
    # The close is committed; the drainer would have been woken by it. Nothing was queued at all.
    async with client.app[sessionmaker_key]() as session:
        assert await session.scalar(select(OpenKlantRegistration.id)) is None
    assert fake_openklant.requests == []
    registration = (await case_json(client, reference))["openklant"]
    assert registration["state"] == "geen_toestemming"


@pytest.mark.parametrize("failure", [500, 503, "timeout", "timeout_after"])
async def test_a_failed_call_is_retried_without_a_duplicate(
    client: Client, fake_openklant: FakeOpenKlant, failure: int | str
) -> None:
    """POST /maak-klantcontact fails once. "timeout_after": Open Klant made the klantcontact but the
    answer never arrived; the retry finds it by referentienummer instead of making a second one."""
    reference, token = await handled_case(client)
    fake_openklant.requests.clear()
    fake_openklant.fail_on[("POST", "/maak-klantcontact")] = [failure]
    # Then Open Klant stays down (the lookup fails) until the test has seen the pending state.
    fake_openklant.fail_on[("GET", "/klantcontacten")] = [None, *[503] * 1000]
    await close(client, reference, token)
    # The failed attempt is shown while the retry waits.
    await wait_state(client, reference, "wachtend", with_reason=True)
    fake_openklant.fail_on.clear()
    await due_now(client)
    await wait_state(client, reference, "geregistreerd")
    posts = fake_openklant.requests.count(("POST", "/maak-klantcontact"))
    assert posts == (1 if failure == "timeout_after" else 2)
    assert len(fake_openklant.klantcontacten) == 1 and len(fake_openklant.betrokkenen) == 1
    assert len(fake_openklant.actoren) == 1 and len(fake_openklant.actorklantcontacten) == 1
    async with client.app[sessionmaker_key]() as session:
        row = await session.scalar(select(OpenKlantRegistration))
        assert row is not None and row.last_error is None and row.needs_sync is False


@pytest.mark.parametrize(
    "call",
    [("POST", "/actoren"), ("POST", "/actorklantcontacten"), ("POST", "/internetaken"), ("PATCH", None)],
)
async def test_a_lost_answer_at_any_step_makes_nothing_twice(
    client: Client, fake_openklant: FakeOpenKlant, call: tuple[str, str | None]
) -> None:
    """Each step is done by Open Klant but its answer is lost; the retry looks it up first."""
    reference, token = await handled_case(client, follow_ups=("Nabellen over de regeling",))
    follow_up_id = (await case_json(client, reference))["follow_ups"][0]["id"]
    if call[0] == "PATCH":
        await close(client, reference, token)
        await fake_openklant.wait_for(lambda f: len(f.internetaken) == 1)
        await wait_state(client, reference, "geregistreerd")
        task = next(iter(fake_openklant.internetaken))
        fake_openklant.fail_on[("PATCH", f"/internetaken/{task}")] = ["timeout_after"]
        done = await client.post(f"/nazorg/{follow_up_id}/gereed", data={"csrf_token": token})
        assert done.status == 200
    else:
        fake_openklant.fail_on[call] = ["timeout_after"]
        done = await client.post(f"/nazorg/{follow_up_id}/gereed", data={"csrf_token": token})
        assert done.status == 200
        await close(client, reference, token)
    await fake_openklant.wait_for(lambda f: any(t["status"] == "verwerkt" for t in f.internetaken.values()))
    await fake_openklant.wait_for(lambda f: not any(f.fail_on.values()))
    await wait_synced(client)
    await wait_state(client, reference, "geregistreerd")
    assert len(fake_openklant.klantcontacten) == 1 and len(fake_openklant.actoren) == 1
    assert len(fake_openklant.actorklantcontacten) == 1 and len(fake_openklant.internetaken) == 1


async def due_now(client: Client) -> None:
    """Registrations waiting for a retry are due at once (instead of after the backoff)."""
    async with client.app[sessionmaker_key]() as session, session.begin():
        await session.execute(
            update(OpenKlantRegistration).values(next_attempt_at=dt.datetime.now(dt.timezone.utc))
        )


async def wait_synced(client: Client) -> None:
    """Until no registration has work left (the retry after a lost answer is done)."""
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        async with client.app[sessionmaker_key]() as session:
            left = await session.scalar(
                select(OpenKlantRegistration.id).where(OpenKlantRegistration.needs_sync)
            )
        if left is None:
            return
        assert asyncio.get_running_loop().time() < deadline, "a registration kept work left"
        await asyncio.sleep(0.05)


async def test_a_contact_of_another_system_with_our_number_is_not_taken_for_ours(
    client: Client, fake_openklant: FakeOpenKlant
) -> None:
    reference, token = await handled_case(client)
    fake_openklant.klantcontacten["vreemd"] = {
        "uuid": "vreemd", "referentienummer": reference, "kanaal": "telefoon", "onderwerp": "Parkeren",
        "hadBetrokkenActoren": [], "leiddeTotInterneTaken": [],
    }  # fmt: skip
    await close(client, reference, token)
    registered = await wait_state(client, reference, "geregistreerd")
    assert registered["klantcontact_uuid"] != "vreemd" and len(fake_openklant.klantcontacten) == 2
    (link,) = fake_openklant.actorklantcontacten.values()
    assert link["klantcontact"]["uuid"] == registered["klantcontact_uuid"]


async def test_the_casemanager_actor_is_reused(client: Client, fake_openklant: FakeOpenKlant) -> None:
    first, token = await handled_case(client, "burger-ok-a")
    await close(client, first, token)
    await wait_state(client, first, "geregistreerd")
    second, token = await handled_case(client, "burger-ok-b", new_user=False)
    await close(client, second, token)
    await wait_state(client, second, "geregistreerd")
    assert len(fake_openklant.klantcontacten) == 2
    assert len(fake_openklant.actoren) == 1
    assert len(fake_openklant.actorklantcontacten) == 2
    assert fake_openklant.requests.count(("POST", "/actoren")) == 1


async def test_follow_up_becomes_an_interne_taak_and_is_patched_when_done(
    client: Client, fake_openklant: FakeOpenKlant
) -> None:
    long_text = "Bel de inwoner terug over de betalingsregeling met het CJIB. " * 30  # > 1000 characters
    reference, token = await handled_case(client, follow_ups=(long_text,))
    await close(client, reference, token)
    await wait_state(client, reference, "geregistreerd")
    await fake_openklant.wait_for(lambda f: len(f.internetaken) == 1)
    (task,) = fake_openklant.internetaken.values()
    (contact,) = fake_openklant.klantcontacten.values()
    (actor,) = fake_openklant.actoren.values()
    assert task["status"] == "te_verwerken"
    assert task["aanleidinggevendKlantcontact"]["uuid"] == contact["uuid"]
    assert [a["uuid"] for a in task["toegewezenAanActoren"]] == [actor["uuid"]]
    assert task["referentienummer"] == f"{reference}-1"
    assert len(task["toelichting"]) <= 1000 and task["toelichting"].endswith("…")
    assert len(task["gevraagdeHandeling"]) <= 200

    follow_up_id = (await case_json(client, reference))["follow_ups"][0]["id"]
    done = await client.post(f"/nazorg/{follow_up_id}/gereed", data={"csrf_token": token})
    assert done.status == 200
    await fake_openklant.wait_for(lambda f: next(iter(f.internetaken.values()))["status"] == "verwerkt")
    assert next(iter(fake_openklant.internetaken.values()))["afgehandeldOp"]
    assert len(fake_openklant.internetaken) == 1


async def test_callback_request_handled_is_registered_as_contact_not_made(
    client: Client, fake_openklant: FakeOpenKlant
) -> None:
    reference, token = await handled_case(
        client, "burger-ok-cb", kind="callback", consent=False, channel="whatsapp",
        contact={"phone": "+31612345678", "moment": "na 16 uur"},
    )  # fmt: skip
    await close(client, reference, token, label="geen_contact")
    await wait_state(client, reference, "geregistreerd")
    (contact,) = fake_openklant.klantcontacten.values()
    assert contact["kanaal"] == "whatsapp" and contact["indicatieContactGelukt"] is False
    assert "+31612345678" not in str(contact)


async def test_a_long_summary_is_cut_to_the_limit(client: Client, fake_openklant: FakeOpenKlant) -> None:
    long_summary = "Ik heb een brief gekregen over een boete en ik weet niet wat ik moet doen. " * 40
    reference, token = await handled_case(
        client, summary={"topic": "gemeente.schuldhulp", "summary_text": long_summary}
    )
    await close(client, reference, token)
    await wait_state(client, reference, "geregistreerd")
    (contact,) = fake_openklant.klantcontacten.values()
    assert 900 < len(contact["inhoud"]) <= 1000 and contact["inhoud"].endswith("…")
    assert fake_openklant.rejected == []


async def test_data_open_klant_rejects_fails_at_once_with_the_field_name(
    client: Client, fake_openklant: FakeOpenKlant
) -> None:
    fake_openklant.reject_field = "klantcontact.onderwerp"
    reference, token = await handled_case(client)
    await close(client, reference, token)
    failed = await wait_state(client, reference, "mislukt")
    assert failed["reason"] == "Open Klant keurt de gegevens af (klantcontact.onderwerp)"
    assert fake_openklant.requests.count(("POST", "/maak-klantcontact")) == 1  # waiting would not help


async def test_erasing_the_case_before_it_was_sent_cancels_the_registration(
    client: Client, fake_openklant: FakeOpenKlant
) -> None:
    reference, token = await handled_case(client, "burger-ok-wis")
    fake_openklant.fail_next = [503] * 1000  # Open Klant is down
    await close(client, reference, token)
    await wait_state(client, reference, "wachtend", with_reason=True)
    erased = await client.post("/api/conversations/socketio/burger-ok-wis/erase", headers=BOT)
    assert erased.status == 200 and await erased.json() == {"erased_cases": 1}
    async with client.app[sessionmaker_key]() as session:
        # Nothing is left to send: the row went with the case.
        assert await session.scalar(select(OpenKlantRegistration.id)) is None
    assert fake_openklant.klantcontacten == {}


async def test_a_bad_token_is_a_visible_failure_not_a_crash(
    db_url: str,
    fake_rasa: FakeRasa,
    fake_openklant: FakeOpenKlant,
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> None:
    from handover.app import create_app

    client = await aiohttp_client(
        create_app(openklant_settings(db_url, fake_rasa.url, fake_openklant, openklant_token="wrong"))
    )
    reference, token = await handled_case(client)
    await close(client, reference, token)
    failed = await wait_state(client, reference, "mislukt")
    assert "OPENKLANT_TOKEN" in failed["reason"]
    assert "wrong" not in failed["reason"]
    page = await (await client.get(f"/zaken/{reference}")).text()
    assert 'data-status="mislukt"' in page and "Open Klant weigert de sleutel" in page
    assert fake_openklant.klantcontacten == {}
    # The service keeps working.
    assert (await client.get("/healthz")).status == 200


async def test_a_failed_registration_can_be_tried_again_once_fixed(
    client: Client, fake_openklant: FakeOpenKlant
) -> None:
    fake_openklant.reject_field = "klantcontact.onderwerp"
    reference, token = await handled_case(client)
    await close(client, reference, token)
    await wait_state(client, reference, "mislukt")
    page = await (await client.get(f"/zaken/{reference}")).text()
    assert f'action="/zaken/{reference}/openklant"' in page
    # A colleague who did not handle the case may not; nor may anyone retry what did not fail.
    await add_user(client.app[sessionmaker_key], "bram")
    bram = await login(client, "bram")
    refused = await client.post(
        f"/zaken/{reference}/openklant", data={"csrf_token": bram}, headers={"Accept": "application/json"}
    )
    assert refused.status == 409 and fake_openklant.klantcontacten == {}
    token = await login(client, "anna")
    fake_openklant.reject_field = None  # Open Klant fixed
    retried = await client.post(f"/zaken/{reference}/openklant", data={"csrf_token": token})
    assert retried.status == 200
    await wait_state(client, reference, "geregistreerd")
    again = await client.post(
        f"/zaken/{reference}/openklant", data={"csrf_token": token}, headers={"Accept": "application/json"}
    )
    assert again.status == 400 and "mislukte registratie" in (await again.json())["detail"]
    assert len(fake_openklant.klantcontacten) == 1


async def test_off_when_unset(
    db_url: str,
    fake_rasa: FakeRasa,
    fake_openklant: FakeOpenKlant,
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> None:
    from handover.app import create_app

    client = await aiohttp_client(create_app(make_settings(db_url, fake_rasa.url)))
    reference, token = await handled_case(client)
    await close(client, reference, token)
    async with client.app[sessionmaker_key]() as session:
        assert await session.scalar(select(OpenKlantRegistration.id)) is None
    assert (await case_json(client, reference))["openklant"]["state"] == "uit"
    assert fake_openklant.requests == []


async def test_pending_registration_survives_a_restart(
    db_url: str,
    fake_rasa: FakeRasa,
    fake_openklant: FakeOpenKlant,
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> None:
    """Queued while Open Klant was down, sent by the next instance after a restart."""
    from handover.app import create_app

    first = await aiohttp_client(create_app(openklant_settings(db_url, fake_rasa.url, fake_openklant)))
    reference, token = await handled_case(first)
    fake_openklant.fail_next = [503] * 1000
    await close(first, reference, token)
    await wait_state(first, reference, "wachtend", with_reason=True)
    await first.close()
    fake_openklant.fail_next = []
    second = await aiohttp_client(create_app(openklant_settings(db_url, fake_rasa.url, fake_openklant)))
    await due_now(second)
    await login(second, "anna")
    await wait_state(second, reference, "geregistreerd")
    assert len(fake_openklant.klantcontacten) == 1


@pytest.mark.postgres
async def test_two_instances_register_each_case_once(
    pg_only_url: str,
    fake_rasa: FakeRasa,
    fake_openklant: FakeOpenKlant,
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> None:
    """On PostgreSQL (SQLite serves one instance): leases with SKIP LOCKED split the work."""
    from handover.app import create_app

    one = await aiohttp_client(create_app(openklant_settings(pg_only_url, fake_rasa.url, fake_openklant)))
    two = await aiohttp_client(create_app(openklant_settings(pg_only_url, fake_rasa.url, fake_openklant)))
    references = []
    for n in range(6):
        reference, token = await handled_case(one, f"burger-ok-{n}", new_user=n == 0)
        await close(one, reference, token)
        references.append(reference)
    await login(two, "anna")
    for reference in references:
        await wait_state(two, reference, "geregistreerd")
    assert sorted(k["referentienummer"] for k in fake_openklant.klantcontacten.values()) == sorted(references)
    assert fake_openklant.requests.count(("POST", "/maak-klantcontact")) == 6
    assert len(fake_openklant.actoren) == 1


def test_fit_cuts_at_a_word_within_the_limit() -> None:
    text = "woord " * 300
    cut = fit(text, 200)
    assert len(cut) <= 200 and cut.endswith("woord…")
    assert fit("kort", 200) == "kort"
    assert fit("x" * 1500, 1000) == "x" * 999 + "…"


def test_settings_token_is_secret_and_required() -> None:
    settings = Settings.from_env({"OPENKLANT_URL": "https://ok.example.nl", "OPENKLANT_TOKEN": "geheim-123"})
    assert settings.openklant_url == "https://ok.example.nl/klantinteracties/api/v1"
    assert "geheim-123" not in repr(settings)
    assert Settings.from_env({}).openklant_enabled is False
    with pytest.raises(SettingsError, match="OPENKLANT_TOKEN"):
        Settings.from_env({"OPENKLANT_URL": "https://ok.example.nl"})
    with pytest.raises(SettingsError, match="OPENKLANT_URL"):
        Settings.from_env({"OPENKLANT_URL": "ok.example.nl", "OPENKLANT_TOKEN": "x"})
