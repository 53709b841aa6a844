"""A local fake of Open Klant's Klantinteracties API (0.9.0, as Open Klant 2.18 serves it), for tests.

It enforces what the real API checks for the calls the handover service makes (required fields,
enums, maxLength, types, the ``Authorization: Token <key>`` header, references to objects that
exist) and answers with the real shapes: ``uuid`` and ``url`` on every object, ``{"uuid": ...}``
references, paginated lists (``count``/``next``/``previous``/``results``), vng-api-common's 400
body with ``invalidParams``. Field definitions: maykinmedia/open-klant,
src/openklant/components/klantinteracties/openapi.yaml (schemas Klantcontact,
BetrokkeneKlantcontactReadOnly, Actor, Actoridentificator, ActorKlantcontact, InterneTaak).

Stricter than the real API in one way: an unknown field is an error (Open Klant ignores it), so a
misspelled field name fails a test instead of being dropped silently.

``fail_next``: the next requests answer with these statuses (500, 503, ...), None (answered
normally) or ``"timeout"`` (no answer at all);
``"timeout_after"`` does the work first and then does not answer (the response is lost), which
is what makes a retry dangerous.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BASE = "/klantinteracties/api/v1"


class Invalid(Exception):
    def __init__(self, name: str, code: str, reason: str) -> None:
        super().__init__(reason)
        self.param = {"name": name, "code": code, "reason": reason}


@dataclass
class FakeOpenKlant:
    token: str
    url: str = ""  # the API root, ending in /klantinteracties/api/v1
    klantcontacten: dict[str, dict[str, Any]] = field(default_factory=dict)
    betrokkenen: dict[str, dict[str, Any]] = field(default_factory=dict)
    actoren: dict[str, dict[str, Any]] = field(default_factory=dict)
    actorklantcontacten: dict[str, dict[str, Any]] = field(default_factory=dict)
    internetaken: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_next: list[int | str | None] = field(default_factory=list)
    # The same, for one call only: ("POST", "/maak-klantcontact") -> [500].
    fail_on: dict[tuple[str, str], list[int | str | None]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    hanging: asyncio.Event = field(default_factory=asyncio.Event)
    # A field this Open Klant rejects whatever its value (an installation with other rules).
    reject_field: str | None = None

    def object_url(self, kind: str, key: str) -> str:
        return f"{self.url}/{kind}/{key}"

    async def wait_for(self, predicate: Callable[[FakeOpenKlant], bool], timeout: float = 10.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate(self):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"fake Open Klant did not get there; requests: {self.requests}")
            await asyncio.sleep(0.02)


# --- validation as the real serializers do it ----------------------------------------------


def _text(data: dict[str, Any], name: str, limit: int, *, required: bool = False, prefix: str = "") -> None:
    if name not in data:
        if required:
            raise Invalid(prefix + name, "required", "Dit veld is vereist.")
        return
    value = data[name]
    if value is None and not required:
        return
    if not isinstance(value, str):
        raise Invalid(prefix + name, "invalid", "Geen geldige string.")
    if required and not value:
        raise Invalid(prefix + name, "blank", "Dit veld mag niet leeg zijn.")
    if len(value) > limit:
        raise Invalid(
            prefix + name, "max_length", f"Zorg ervoor dat dit veld niet meer dan {limit} karakters bevat."
        )


def _bool(
    data: dict[str, Any], name: str, *, required: bool = False, nullable: bool = False, prefix: str = ""
) -> None:
    if name not in data:
        if required:
            raise Invalid(prefix + name, "required", "Dit veld is vereist.")
        return
    if data[name] is None and nullable:
        return
    if not isinstance(data[name], bool):
        raise Invalid(prefix + name, "invalid", "Moet een geldige boolean zijn.")


def _enum(
    data: dict[str, Any], name: str, choices: set[str], *, required: bool = False, prefix: str = ""
) -> None:
    if name not in data:
        if required:
            raise Invalid(prefix + name, "required", "Dit veld is vereist.")
        return
    if data[name] not in choices:
        raise Invalid(prefix + name, "invalid_choice", f'"{data[name]}" is een ongeldige keuze.')


def _datetime(data: dict[str, Any], name: str, *, prefix: str = "") -> None:
    if name not in data or data[name] is None:
        return
    try:
        parsed = dt.datetime.fromisoformat(str(data[name]).replace("Z", "+00:00"))
    except ValueError as e:
        raise Invalid(prefix + name, "invalid", "Datetime heeft een ongeldig formaat.") from e
    if parsed.tzinfo is None:
        raise Invalid(prefix + name, "invalid", "Datetime zonder tijdzone.")


def _known(data: Any, allowed: set[str], prefix: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise Invalid(prefix.rstrip(".") or "body", "invalid", "Verwacht een object.")
    for key in data:
        if key not in allowed:
            raise Invalid(prefix + key, "unknown", "Onbekend veld (de fake is hier strenger dan Open Klant).")
    return data


def _reference(data: dict[str, Any], name: str, existing: dict[str, Any], *, prefix: str = "") -> str:
    ref = data.get(name)
    if not isinstance(ref, dict) or not isinstance(ref.get("uuid"), str):
        raise Invalid(prefix + name, "required", "Verwacht een object met een uuid.")
    if ref["uuid"] not in existing:
        raise Invalid(prefix + name, "does_not_exist", "Object bestaat niet.")
    return str(ref["uuid"])


KLANTCONTACT = {"kanaal", "onderwerp", "inhoud", "taal", "vertrouwelijk", "plaatsgevondenOp",
                "indicatieContactGelukt", "referentienummer", "reactie", "verdereActieOndernomen",
                "hoofdOnderwerpType", "metadata"}  # fmt: skip
BETROKKENE = {"wasPartij", "rol", "initiator", "organisatienaam", "contactnaam", "bezoekadres",
              "correspondentieadres"}  # fmt: skip
ACTOR = {"naam", "soortActor", "indicatieActief", "actoridentificator", "actorIdentificatie"}
ACTORIDENTIFICATOR = {"objectId", "codeObjecttype", "codeRegister", "codeSoortObjectId"}
INTERNETAAK = {"referentienummer", "gevraagdeHandeling", "aanleidinggevendKlantcontact",
               "toegewezenAanActoren", "toelichting", "status", "afgehandeldOp"}  # fmt: skip


def check_klantcontact(data: Any) -> dict[str, Any]:
    p = "klantcontact."
    data = _known(data, KLANTCONTACT, p)
    _text(data, "kanaal", 50, required=True, prefix=p)
    _text(data, "onderwerp", 200, required=True, prefix=p)
    _text(data, "inhoud", 1000, prefix=p)
    _text(data, "taal", 3, required=True, prefix=p)
    _bool(data, "vertrouwelijk", required=True, prefix=p)
    _bool(data, "indicatieContactGelukt", nullable=True, prefix=p)
    _text(data, "referentienummer", 10, prefix=p)
    _datetime(data, "plaatsgevondenOp", prefix=p)
    return data


def check_betrokkene(data: Any) -> dict[str, Any]:
    p = "betrokkene."
    data = _known(data, BETROKKENE, p)
    _enum(data, "rol", {"vertegenwoordiger", "klant"}, required=True, prefix=p)
    _bool(data, "initiator", required=True, prefix=p)
    return data


def check_actor(data: Any) -> dict[str, Any]:
    data = _known(data, ACTOR, "")
    _text(data, "naam", 200, required=True)
    _enum(
        data,
        "soortActor",
        {"medewerker", "geautomatiseerde_actor", "organisatorische_eenheid"},
        required=True,
    )
    _bool(data, "indicatieActief")
    ident = data.get("actoridentificator")
    if ident is not None:
        _known(ident, ACTORIDENTIFICATOR, "actoridentificator.")
        for name in ACTORIDENTIFICATOR:
            _text(ident, name, 200, prefix="actoridentificator.")
    return data


# --- the app --------------------------------------------------------------------------------


def make_fake_openklant_app(fake: FakeOpenKlant) -> web.Application:
    @web.middleware
    async def gate(request: web.Request, handler: Any) -> web.StreamResponse:
        fake.requests.append((request.method, request.path.removeprefix(BASE)))
        if request.headers.get("Authorization") != f"Token {fake.token}":
            return web.json_response({"detail": "Ongeldige token."}, status=401)
        after = False
        targeted = fake.fail_on.get((request.method, request.path.removeprefix(BASE)))
        if targeted or fake.fail_next:
            failure = targeted.pop(0) if targeted else fake.fail_next.pop(0)
            if failure == "timeout":
                await fake.hanging.wait()
            elif failure == "timeout_after":
                after = True
            elif failure is not None:
                return web.json_response({"title": "Server error"}, status=int(failure))
        try:
            if fake.reject_field and request.method == "POST" and request.path.endswith("/maak-klantcontact"):
                raise Invalid(fake.reject_field, "invalid", "Deze installatie keurt dit veld af.")
            response = await handler(request)
        except Invalid as e:
            body = {
                "type": "http://testserver/ref/fouten/ValidationError/",
                "code": "invalid",
                "title": "Invalid input.",
                "status": 400,
                "detail": "",
                "instance": f"urn:uuid:{uuid.uuid4()}",
                "invalidParams": [e.param],
            }
            fake.rejected.append(e.param)
            return web.json_response(body, status=400)
        if after:  # done, but the answer never arrives
            await fake.hanging.wait()
        return response

    async def body_of(request: web.Request) -> dict[str, Any]:
        if request.content_type != "application/json":
            raise Invalid("body", "parse_error", "Verwacht application/json.")
        data = await request.json()
        if not isinstance(data, dict):
            raise Invalid("body", "parse_error", "Verwacht een object.")
        return data

    def page(rows: list[dict[str, Any]]) -> web.Response:
        return web.json_response({"count": len(rows), "next": None, "previous": None, "results": rows})

    def new(kind: str, store: dict[str, dict[str, Any]], data: dict[str, Any]) -> dict[str, Any]:
        key = str(uuid.uuid4())
        store[key] = {"uuid": key, "url": fake.object_url(kind, key), **data}
        return store[key]

    def ref(kind: str, key: str) -> dict[str, str]:
        return {"uuid": key, "url": fake.object_url(kind, key)}

    async def maak_klantcontact(request: web.Request) -> web.Response:
        data = _known(await body_of(request), {"klantcontact", "betrokkene", "onderwerpobject"}, "")
        if "klantcontact" not in data:
            raise Invalid("klantcontact", "required", "Dit veld is vereist.")
        klantcontact = check_klantcontact(data["klantcontact"])
        betrokkene = check_betrokkene(data["betrokkene"]) if data.get("betrokkene") is not None else None
        created = new(
            "klantcontacten",
            fake.klantcontacten,
            {
                "nummer": None,
                "inhoud": "",
                "reactie": "",
                "indicatieContactGelukt": None,
                "hoofdOnderwerpType": "",
                "verdereActieOndernomen": False,
                "metadata": {},
                "referentienummer": None,
                **klantcontact,
                "gingOverOnderwerpobjecten": [],
                "hadBetrokkenActoren": [],
                "omvatteBijlagen": [],
                "hadBetrokkenen": [],
                "leiddeTotInterneTaken": [],
            },
        )
        answer_betrokkene = None
        if betrokkene is not None:
            answer_betrokkene = new(
                "betrokkenen",
                fake.betrokkenen,
                {
                    "wasPartij": None,
                    "hadKlantcontact": ref("klantcontacten", created["uuid"]),
                    "digitaleAdressen": [],
                    "volledigeNaam": "",
                    "organisatienaam": "",
                    **betrokkene,
                },
            )
            created["hadBetrokkenen"].append(ref("betrokkenen", answer_betrokkene["uuid"]))
        answer = {"klantcontact": created, "betrokkene": answer_betrokkene, "onderwerpobject": None}
        return web.json_response(answer, status=201)

    async def list_klantcontacten(request: web.Request) -> web.Response:
        wanted = request.query.get("referentienummer")
        rows = [k for k in fake.klantcontacten.values() if wanted is None or k["referentienummer"] == wanted]
        return page(rows)

    async def list_actoren(request: web.Request) -> web.Response:
        q = request.query
        rows = []
        for actor in fake.actoren.values():
            ident = actor.get("actoridentificator") or {}
            if "actoridentificatorObjectId" in q and ident.get("objectId") != q["actoridentificatorObjectId"]:
                continue
            if (
                "actoridentificatorCodeRegister" in q
                and ident.get("codeRegister") != q["actoridentificatorCodeRegister"]
            ):
                continue
            if "soortActor" in q and actor["soortActor"] != q["soortActor"]:
                continue
            rows.append(actor)
        return page(rows)

    async def create_actor(request: web.Request) -> web.Response:
        data = check_actor(await body_of(request))
        return web.json_response(new("actoren", fake.actoren, {"indicatieActief": True, **data}), status=201)

    async def list_actorklantcontacten(request: web.Request) -> web.Response:
        q = request.query
        rows = [
            r
            for r in fake.actorklantcontacten.values()
            if r["actor"]["uuid"] == q.get("actor__uuid", r["actor"]["uuid"])
            and r["klantcontact"]["uuid"] == q.get("klantcontact__uuid", r["klantcontact"]["uuid"])
        ]
        return page(rows)

    async def create_actorklantcontact(request: web.Request) -> web.Response:
        data = _known(await body_of(request), {"actor", "klantcontact"}, "")
        actor = _reference(data, "actor", fake.actoren)
        klantcontact = _reference(data, "klantcontact", fake.klantcontacten)
        row = new(
            "actorklantcontacten",
            fake.actorklantcontacten,
            {"actor": ref("actoren", actor), "klantcontact": ref("klantcontacten", klantcontact)},
        )
        fake.klantcontacten[klantcontact]["hadBetrokkenActoren"].append(fake.actoren[actor])
        return web.json_response(row, status=201)

    def check_internetaak(data: dict[str, Any], *, partial: bool) -> None:
        _known(data, INTERNETAAK, "")
        _text(data, "gevraagdeHandeling", 200, required=not partial)
        _text(data, "toelichting", 1000)
        _text(data, "referentienummer", 10)
        _enum(data, "status", {"te_verwerken", "verwerkt"}, required=not partial)
        _datetime(data, "afgehandeldOp")
        if not partial or "aanleidinggevendKlantcontact" in data:
            _reference(data, "aanleidinggevendKlantcontact", fake.klantcontacten)
        actors = data.get("toegewezenAanActoren", [])
        if not isinstance(actors, list):
            raise Invalid("toegewezenAanActoren", "not_a_list", "Verwacht een lijst.")
        for i, _actor in enumerate(actors):
            _reference({"a": _actor}, "a", fake.actoren, prefix=f"toegewezenAanActoren.{i}.")

    async def list_internetaken(request: web.Request) -> web.Response:
        wanted = request.query.get("referentienummer")
        return page(
            [t for t in fake.internetaken.values() if wanted is None or t.get("referentienummer") == wanted]
        )

    async def create_internetaak(request: web.Request) -> web.Response:
        data = await body_of(request)
        check_internetaak(data, partial=False)
        klantcontact = data["aanleidinggevendKlantcontact"]["uuid"]
        row = new(
            "internetaken",
            fake.internetaken,
            {
                "nummer": None,
                "referentienummer": None,
                "toelichting": "",
                "afgehandeldOp": None,
                **data,
                "aanleidinggevendKlantcontact": ref("klantcontacten", klantcontact),
                "toegewezenAanActoren": [
                    ref("actoren", a["uuid"]) for a in data.get("toegewezenAanActoren", [])
                ],
                "toegewezenOp": dt.datetime.now(dt.timezone.utc).isoformat(),
            },
        )
        fake.klantcontacten[klantcontact]["leiddeTotInterneTaken"].append(ref("internetaken", row["uuid"]))
        return web.json_response(row, status=201)

    async def patch_internetaak(request: web.Request) -> web.Response:
        row = fake.internetaken.get(request.match_info["uuid"])
        if row is None:
            return web.json_response({"detail": "Niet gevonden."}, status=404)
        data = await body_of(request)
        check_internetaak(data, partial=True)
        row.update(data)
        return web.json_response(row)

    app = web.Application(middlewares=[gate])
    app.router.add_post(f"{BASE}/maak-klantcontact", maak_klantcontact)
    app.router.add_get(f"{BASE}/klantcontacten", list_klantcontacten)
    app.router.add_get(f"{BASE}/actoren", list_actoren)
    app.router.add_post(f"{BASE}/actoren", create_actor)
    app.router.add_get(f"{BASE}/actorklantcontacten", list_actorklantcontacten)
    app.router.add_post(f"{BASE}/actorklantcontacten", create_actorklantcontact)
    app.router.add_get(f"{BASE}/internetaken", list_internetaken)
    app.router.add_post(f"{BASE}/internetaken", create_internetaak)
    app.router.add_patch(f"{BASE}/internetaken/{{uuid}}", patch_internetaak)
    return app
