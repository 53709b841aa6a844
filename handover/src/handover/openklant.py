"""Registers closed cases in Open Klant, the municipality's customer-contact registry (Common Ground).

Klantinteracties API 0.9.0 as Open Klant 2.18 implements it (its OpenAPI spec:
maykinmedia/open-klant, src/openklant/components/klantinteracties/openapi.yaml). Plain HTTP with
aiohttp: the Python client on PyPI needs Python 3.12, this service runs on 3.10.

Per case, only when the citizen agreed (``Case.consent_registration``), through a durable outbox
(``OpenKlantRegistration``, one row per case, leased like rasa_delivery.py so that two instances
never work on one row). Each step is looked up before it is created and stored as soon as it
succeeded, so a retry (after a 500, a timeout, a restart or another instance's lease) never makes a
second object:

1. the klantcontact with its betrokkene (``POST /maak-klantcontact``), found again by our
   reference as ``referentienummer``;
2. the casemanager as actor (soortActor ``medewerker``), found by our username in
   ``actoridentificator``, created when missing;
3. the link ``POST /actorklantcontacten``;
4. each follow-up task (nazorg) as an interne taak (``POST /internetaken``, referentienummer
   ``<reference>-<n>``), patched to ``verwerkt`` when it is done in the workspace.

What is sent is the redacted copy only (redaction.py): never the transcript, contact details, the
sender id or the citizen's name. The token is never logged; errors are kept as a plain reason.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .background import stop_gracefully
from .keys import (
    background_tasks_key,
    http_key,
    labels_key,
    openklant_wakeup_key,
    sessionmaker_key,
    settings_key,
)
from .labels import Labels
from .languages import iso639_2
from .models import (
    Case,
    Channel,
    FollowUp,
    Message,
    OpenKlantRegistration,
    RegistrationStatus,
    User,
    utcnow,
)

log = logging.getLogger(__name__)

# One registration is several calls; the lease is renewed after each step.
LEASE = dt.timedelta(seconds=60)
# Worked on side by side; each within its lease.
BATCH = 5
# Field limits of the Klantinteracties API 0.9.0 (maxLength in its OpenAPI spec).
MAX_KANAAL, MAX_ONDERWERP, MAX_INHOUD, MAX_REFERENTIE = 50, 200, 1000, 10
MAX_HANDELING, MAX_TOELICHTING, MAX_NAAM = 200, 1000, 200
# How our casemanagers are identified in Open Klant's actoridentificator.
ACTOR_REGISTER = "gemeente-intake"
ACTOR_OBJECTTYPE = "medewerker"
ACTOR_SOORT_ID = "gebruikersnaam"


class OpenKlantError(Exception):
    """A call failed; ``reason`` is plain Dutch for staff, ``retry`` says whether waiting may help."""

    def __init__(self, reason: str, *, retry: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


def fit(text: str | None, limit: int) -> str:
    """At most ``limit`` characters: cut at a word where possible and marked with an ellipsis."""
    text = " ".join((text or "").split()) if len(text or "") > limit else (text or "").strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip() + "…"


def backoff(attempts: int) -> dt.timedelta:
    """1, 2, 4 ... seconds, capped at ten minutes: Open Klant may be down for a while."""
    return dt.timedelta(seconds=min(2 ** max(attempts - 1, 0), 600))


def channel_name(channel: Channel) -> str:
    return "whatsapp" if channel == Channel.WHATSAPP else "chat"


class OpenKlantClient:
    """The few calls of the Klantinteracties API this service makes."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, token: str, timeout: float) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        try:
            async with self._http.request(
                method,
                self._base + path,
                json=body,
                params=params,
                headers=self._headers,
                timeout=self._timeout,
            ) as resp:
                if resp.status >= 400:
                    raise await _error(resp, method, path)
                data = await resp.json(content_type=None)
        except asyncio.TimeoutError as e:
            raise OpenKlantError("Open Klant antwoordde niet op tijd", retry=True) from e
        except aiohttp.ClientError as e:
            raise OpenKlantError("Open Klant is niet bereikbaar", retry=True) from e
        except ValueError as e:  # not JSON
            raise OpenKlantError("Open Klant gaf een onleesbaar antwoord", retry=True) from e
        if not isinstance(data, dict):
            raise OpenKlantError("Open Klant gaf een onleesbaar antwoord", retry=True)
        return data

    async def find_one(
        self, path: str, params: dict[str, str], match: Callable[[dict[str, Any]], bool] | None = None
    ) -> dict[str, Any] | None:
        """The first object of the list that ``match`` accepts (one page: our keys are specific)."""
        results = (await self.call("GET", path, params=params)).get("results")
        for row in results if isinstance(results, list) else ():
            if isinstance(row, dict) and (match is None or match(row)):
                return row
        return None


async def _error(resp: aiohttp.ClientResponse, method: str, path: str) -> OpenKlantError:
    status = resp.status
    if status in (401, 403):
        return OpenKlantError(
            "Open Klant weigert de sleutel: controleer OPENKLANT_TOKEN en de rechten ervan", retry=False
        )
    if status == 400:
        # vng-api-common's errors: invalidParams names the fields (their values are ours: not logged).
        try:
            data = await resp.json(content_type=None)
            names = sorted({str(p.get("name")) for p in data.get("invalidParams", []) if isinstance(p, dict)})
        except (ValueError, AttributeError, aiohttp.ClientError):
            names = []
        fields = f" ({', '.join(names)})" if names else ""
        return OpenKlantError(f"Open Klant keurt de gegevens af{fields}"[:255], retry=False)
    if status == 429 or status >= 500:
        return OpenKlantError(f"Open Klant gaf een storing (HTTP {status})", retry=True)
    # The route pattern only: paths carry uuids, nothing personal, but keep the reason short.
    return OpenKlantError(
        f"Open Klant antwoordde HTTP {status} op {method} {path.split('/')[1]}", retry=False
    )


# --- what a registration sends -------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    follow_up_id: int
    referentienummer: str | None
    gevraagde_handeling: str
    toelichting: str
    done: bool
    internetaak_uuid: str | None
    verwerkt: bool


@dataclass(frozen=True)
class Work:
    """One registration as read from the database before the calls (no session is held open)."""

    registration_id: int
    reference: str
    klantcontact: dict[str, Any]
    actor: dict[str, Any] | None
    actor_username: str | None
    klantcontact_uuid: str | None
    actor_uuid: str | None
    actor_linked: bool
    tasks: tuple[Task, ...]


def klantcontact_body(case: Case, labels: Labels, started_at: dt.datetime) -> dict[str, Any]:
    topic = labels.topic(case.topic) if case.topic else labels.life_event(case.life_event)
    return {
        "klantcontact": {
            "kanaal": fit(channel_name(case.channel), MAX_KANAAL),
            "onderwerp": fit(topic if topic != "–" else "Vraag aan de gemeente", MAX_ONDERWERP),
            "inhoud": fit(case.summary_redacted, MAX_INHOUD),
            "taal": iso639_2(case.language),  # Open Klant wants ISO 639-2/B
            "vertrouwelijk": True,
            "plaatsgevondenOp": started_at.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z"),
            "indicatieContactGelukt": case.outcome_label != "geen_contact",
            "referentienummer": case.reference[:MAX_REFERENTIE],
        },
        "betrokkene": {"rol": "klant", "initiator": True},
    }


def actor_body(user: User) -> dict[str, Any]:
    return {
        "naam": fit(user.display_name, MAX_NAAM),
        "soortActor": "medewerker",
        "indicatieActief": True,
        "actoridentificator": {
            "objectId": user.username,
            "codeObjecttype": ACTOR_OBJECTTYPE,
            "codeRegister": ACTOR_REGISTER,
            "codeSoortObjectId": ACTOR_SOORT_ID,
        },
    }


def task_of(reference: str, number: int, follow_up: FollowUp) -> Task:
    description = follow_up.description_redacted or ""
    referentie = f"{reference}-{number}"
    return Task(
        follow_up_id=follow_up.id,
        referentienummer=referentie if len(referentie) <= MAX_REFERENTIE else None,
        gevraagde_handeling=fit(
            f"Nazorg uiterlijk {follow_up.due_date:%d-%m-%Y}: {description}", MAX_HANDELING
        ),
        toelichting=fit(description, MAX_TOELICHTING),
        done=follow_up.done,
        internetaak_uuid=follow_up.internetaak_uuid,
        verwerkt=follow_up.internetaak_verwerkt,
    )


async def _work_of(session: AsyncSession, row: OpenKlantRegistration, labels: Labels) -> Work | None:
    case = await session.get(Case, row.case_id)
    if case is None:
        return None
    first = await session.scalar(select(func.min(Message.created_at)).where(Message.case_id == case.id))
    user = await session.get(User, case.claimed_by_id) if case.claimed_by_id else None
    follow_ups = list(
        await session.scalars(select(FollowUp).where(FollowUp.case_id == case.id).order_by(FollowUp.id))
    )
    return Work(
        registration_id=row.id,
        reference=row.reference,
        klantcontact=klantcontact_body(
            case, labels, min(first, case.created_at) if first else case.created_at
        ),
        actor=actor_body(user) if user else None,
        actor_username=user.username if user else None,
        klantcontact_uuid=row.klantcontact_uuid,
        actor_uuid=row.actor_uuid,
        actor_linked=row.actor_linked,
        tasks=tuple(task_of(row.reference, n, f) for n, f in enumerate(follow_ups, start=1)),
    )


# --- the outbox ----------------------------------------------------------------------------


async def _lease_batch(sessionmaker: async_sessionmaker[AsyncSession]) -> list[int]:
    """Lease due registrations; SKIP LOCKED lets several instances drain side by side."""
    now = utcnow()
    async with sessionmaker() as session, session.begin():
        rows = list(
            await session.scalars(
                select(OpenKlantRegistration)
                .where(
                    OpenKlantRegistration.needs_sync.is_(True),
                    OpenKlantRegistration.next_attempt_at <= now,
                    (OpenKlantRegistration.lease_until.is_(None)) | (OpenKlantRegistration.lease_until < now),
                )
                .order_by(OpenKlantRegistration.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        )
        for row in rows:
            row.lease_until = now + LEASE
    return [row.id for row in rows]


async def _store(
    sessionmaker: async_sessionmaker[AsyncSession],
    registration_id: int,
    *,
    follow_up: tuple[int, dict[str, Any]] | None = None,
    **values: Any,
) -> None:
    """Keep a step's result at once (and renew the lease): a retry must not create it again."""
    async with sessionmaker() as session, session.begin():
        row = await session.get(OpenKlantRegistration, registration_id, with_for_update=True)
        if row is None:  # erased meanwhile
            return
        for key, value in values.items():
            setattr(row, key, value)
        row.lease_until = utcnow() + LEASE
        if follow_up is not None:
            task = await session.get(FollowUp, follow_up[0])
            if task is not None:
                for key, value in follow_up[1].items():
                    setattr(task, key, value)


def _uuid(data: dict[str, Any] | None) -> str:
    value = (data or {}).get("uuid")
    if not isinstance(value, str) or not value:
        raise OpenKlantError("Open Klant gaf geen uuid terug", retry=True)
    return value


async def sync(client: OpenKlantClient, sessionmaker: async_sessionmaker[AsyncSession], work: Work) -> None:
    """Do what is left of one registration, step by step; raises OpenKlantError."""
    rid = work.registration_id
    klantcontact = work.klantcontact_uuid
    if klantcontact is None:
        ours = work.klantcontact["klantcontact"]
        # Another system may use the same referentienummer: only ours counts (same channel and topic).
        found = await client.find_one(
            "/klantcontacten",
            {"referentienummer": work.reference},
            lambda k: (k.get("kanaal"), k.get("onderwerp")) == (ours["kanaal"], ours["onderwerp"]),
        )
        if found is None:
            created = await client.call("POST", "/maak-klantcontact", body=work.klantcontact)
            found = created.get("klantcontact") if isinstance(created.get("klantcontact"), dict) else None
        klantcontact = _uuid(found)
        await _store(sessionmaker, rid, klantcontact_uuid=klantcontact)
        log.info("open klant: case %s registered as klantcontact %s", work.reference, klantcontact)
    actor = work.actor_uuid
    if actor is None and work.actor is not None and work.actor_username is not None:
        found = await client.find_one(
            "/actoren",
            {
                "actoridentificatorObjectId": work.actor_username,
                "actoridentificatorCodeRegister": ACTOR_REGISTER,
                "soortActor": "medewerker",
            },
        )
        actor = _uuid(found if found is not None else await client.call("POST", "/actoren", body=work.actor))
        await _store(sessionmaker, rid, actor_uuid=actor)
    if actor is not None and not work.actor_linked:
        link = {"actor__uuid": actor, "klantcontact__uuid": klantcontact}
        if await client.find_one("/actorklantcontacten", link) is None:
            await client.call(
                "POST",
                "/actorklantcontacten",
                body={"actor": {"uuid": actor}, "klantcontact": {"uuid": klantcontact}},
            )
        await _store(sessionmaker, rid, actor_linked=True)
    for task in work.tasks:
        uuid = task.internetaak_uuid
        if uuid is None:
            found = (
                await client.find_one(
                    "/internetaken",
                    {"referentienummer": task.referentienummer},
                    lambda t: (t.get("aanleidinggevendKlantcontact") or {}).get("uuid") == klantcontact,
                )
                if task.referentienummer
                else None
            )
            if found is None:
                body: dict[str, Any] = {
                    "gevraagdeHandeling": task.gevraagde_handeling,
                    "toelichting": task.toelichting,
                    "status": "te_verwerken",
                    "aanleidinggevendKlantcontact": {"uuid": klantcontact},
                    "toegewezenAanActoren": [{"uuid": actor}] if actor else [],
                }
                if task.referentienummer:
                    body["referentienummer"] = task.referentienummer
                found = await client.call("POST", "/internetaken", body=body)
            uuid = _uuid(found)
            await _store(sessionmaker, rid, follow_up=(task.follow_up_id, {"internetaak_uuid": uuid}))
        if task.done and not task.verwerkt:
            await client.call(
                "PATCH",
                f"/internetaken/{uuid}",
                body={"status": "verwerkt", "afgehandeldOp": utcnow().isoformat().replace("+00:00", "Z")},
            )
            await _store(sessionmaker, rid, follow_up=(task.follow_up_id, {"internetaak_verwerkt": True}))


async def _finish(
    sessionmaker: async_sessionmaker[AsyncSession], rid: int, error: OpenKlantError | None, max_attempts: int
) -> None:
    now = utcnow()
    async with sessionmaker() as session, session.begin():
        # Locked first: a follow-up done meanwhile (services.registration) waits for this, or is seen below.
        row = await session.get(OpenKlantRegistration, rid, with_for_update=True, populate_existing=True)
        if row is None:
            return
        row.lease_until = None
        if error is None:
            left = await session.scalar(
                select(func.count(FollowUp.id)).where(
                    FollowUp.case_id == row.case_id,
                    (FollowUp.internetaak_uuid.is_(None))
                    | (FollowUp.done.is_(True) & FollowUp.internetaak_verwerkt.is_(False)),
                )
            )
            row.status = RegistrationStatus.REGISTERED
            row.registered_at = row.registered_at or now
            row.last_error = None
            row.attempts = 0
            row.needs_sync = bool(left)
            row.next_attempt_at = now
            return
        row.attempts += 1
        row.last_error = error.reason[:255]
        if not error.retry or row.attempts >= max_attempts:
            row.status = RegistrationStatus.FAILED
            row.needs_sync = False
            log.error("open klant: registration of case %s failed: %s", row.reference, error.reason)
        else:
            row.next_attempt_at = now + backoff(row.attempts)
            log.warning(
                "open klant: case %s attempt %s failed: %s", row.reference, row.attempts, error.reason
            )


async def drain_once(
    sessionmaker: async_sessionmaker[AsyncSession], client: OpenKlantClient, labels: Labels, max_attempts: int
) -> int:
    """One round; returns how many registrations were attempted."""
    leased = await _lease_batch(sessionmaker)
    await asyncio.gather(*(_register(sessionmaker, client, labels, rid, max_attempts) for rid in leased))
    return len(leased)


async def _register(
    sessionmaker: async_sessionmaker[AsyncSession],
    client: OpenKlantClient,
    labels: Labels,
    rid: int,
    max_attempts: int,
) -> None:
    async with sessionmaker() as session:
        row = await session.get(OpenKlantRegistration, rid)
        work = await _work_of(session, row, labels) if row is not None else None
    if work is None:
        return  # erased meanwhile: nothing to send
    error: OpenKlantError | None = None
    try:
        await sync(client, sessionmaker, work)
    except OpenKlantError as e:
        error = e
    await _finish(sessionmaker, rid, error, max_attempts)


async def run_drainer(app: web.Application, client: OpenKlantClient, stop: asyncio.Event) -> None:
    settings = app[settings_key]
    wakeup = app[openklant_wakeup_key]
    sessionmaker, labels = app[sessionmaker_key], app[labels_key]
    while not stop.is_set():
        try:
            while not stop.is_set() and await drain_once(
                sessionmaker, client, labels, settings.outbox_max_attempts
            ):
                pass
        except Exception:
            log.exception("open klant drain round failed")
        try:
            await asyncio.wait_for(wakeup.wait(), timeout=settings.outbox_poll_seconds)
        except asyncio.TimeoutError:
            pass
        wakeup.clear()


async def openklant_context(app: web.Application) -> AsyncIterator[None]:
    """The drainer runs only when OPENKLANT_URL is set; the wake-up event always exists."""
    settings = app[settings_key]
    app[openklant_wakeup_key] = asyncio.Event()
    if settings.openklant_url is None:
        yield
        return
    client = OpenKlantClient(
        app[http_key],
        settings.openklant_url,
        settings.openklant_token or "",
        settings.openklant_timeout_seconds,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_drainer(app, client, stop), name="openklant-drainer")
    app[background_tasks_key].append(task)
    yield
    stop.set()
    app[openklant_wakeup_key].set()
    # A round is a few calls per registration, each bounded by the timeout; leases cover the rest.
    await stop_gracefully(task, stop, settings.openklant_timeout_seconds * 2 + 5)
