"""openapi.yaml matches the router: every /api/ route is described, and nothing more."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import schemathesis
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient

from handover.app import create_app
from handover.settings import HANDOVER_ROOT, Settings

SPEC_PATH = HANDOVER_ROOT / "openapi.yaml"


def _spec() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text())
    return spec


def _router_operations(prefix: str = "") -> set[tuple[str, str]]:
    app = create_app(Settings(database_url="sqlite+aiosqlite://", shared_secret="x"))
    found = set()
    for route in app.router.routes():
        if route.method == "HEAD" or isinstance(route.resource, web.StaticResource) or route.resource is None:
            continue  # HEAD comes with every GET
        info = route.resource.get_info()
        path = str(info.get("formatter") or info.get("path"))
        if path.startswith(prefix):
            found.add((route.method.lower(), path))
    return found


def _spec_operations() -> set[tuple[str, str]]:
    methods = {"get", "post", "put", "patch", "delete"}
    return {(m, path) for path, item in _spec()["paths"].items() for m in item if m in methods}


def test_every_api_route_is_described() -> None:
    missing = _router_operations("/api/") - _spec_operations()
    assert not missing, f"describe these routes in openapi.yaml: {sorted(missing)}"


def test_every_described_operation_exists() -> None:
    stale = _spec_operations() - _router_operations()
    assert not stale, f"openapi.yaml describes routes the service does not have: {sorted(stale)}"


def test_bot_operations_declare_the_secret_and_401() -> None:
    spec = _spec()
    for path, item in spec["paths"].items():
        if not path.startswith("/api/") or path == "/api/openapi.yaml":
            continue
        for method, operation in item.items():
            if method == "parameters":
                continue
            if operation["tags"] == ["workspace"]:  # /api/inzicht: the staff's JSON of a page
                assert operation["security"] == [{"staffSession": []}], (method, path)
                continue
            assert operation["security"] == [{"botSecret": []}], (method, path)
            assert "401" in operation["responses"], (method, path)


def test_spec_is_valid_and_loads_in_schemathesis() -> None:
    schema = schemathesis.openapi.from_path(SPEC_PATH)
    schema.validate()
    assert all(result.ok() for result in schema.get_all_operations())


async def test_served_as_is_without_secrets(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]], sqlite_url: str
) -> None:
    client = await aiohttp_client(create_app(Settings(database_url=sqlite_url, shared_secret="geheim-123")))
    resp = await client.get("/api/openapi.yaml")  # no Authorization: public
    assert resp.status == 200 and resp.content_type == "application/yaml"
    body = await resp.read()
    assert body == SPEC_PATH.read_bytes()
    assert b"geheim-123" not in body and not re.search(rb"(?i)password|wachtwoord:", body)
