"""Directory of professional lines per organisation, shown on the case page.

The bot team owns ``bot/knowledge/organisaties.yml``; its exact shape may change, so the
loader accepts a mapping or a list of organisations and picks out contact-like fields.
A missing or unreadable file yields an empty directory instead of a failing service.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

_NAME_KEYS = ("naam", "name", "label", "titel")
_ROUTE_LIST_KEYS = (
    "professionele_lijnen",
    "professional_lines",
    "professionele_lijn",
    "contactroutes",
    "routes",
    "contact",
    "contacten",
)
_SCALAR_KEYS = {
    "professionallijn": "Professionele lijn",
    "professionele_lijn": "Professionele lijn",
    "telefoon": "Telefoon",
    "phone": "Telefoon",
    "bereikbaar": "Bereikbaar",
    "email": "E-mail",
    "e-mail": "E-mail",
    "website": "Website",
    "url": "Website",
    "contact": "Contactpagina",
}


@dataclass(frozen=True)
class Route:
    label: str
    value: str
    note: str = ""


@dataclass(frozen=True)
class Organisation:
    id: str
    name: str
    routes: tuple[Route, ...]


@dataclass(frozen=True)
class Directory:
    organisations: dict[str, Organisation]

    @classmethod
    def load(cls, path: Path) -> Directory:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            log.info("contacts file %s not found; directory is empty", path)
            return cls({})
        except (OSError, yaml.YAMLError):
            log.warning("contacts file %s unreadable; directory is empty", path, exc_info=True)
            return cls({})
        return cls.from_data(data)

    @classmethod
    def from_data(cls, data: Any) -> Directory:
        if isinstance(data, dict) and len(data) == 1:
            (only,) = data.values()
            if isinstance(only, (list, dict)) and not _looks_like_org(data):
                data = only  # e.g. {"organisaties": [...]}
        items: Iterable[tuple[str, Any]]
        if isinstance(data, dict):
            items = ((str(k), v) for k, v in data.items())
        elif isinstance(data, list):
            items = ((str(v.get("id", "")), v) for v in data if isinstance(v, dict))
        else:
            return cls({})
        orgs: dict[str, Organisation] = {}
        for org_id, spec in items:
            if not isinstance(spec, dict):
                continue
            org_id = org_id or str(spec.get("id", ""))
            if not org_id:
                continue
            name = next((str(spec[k]) for k in _NAME_KEYS if spec.get(k)), org_id)
            orgs[org_id.lower()] = Organisation(id=org_id, name=name, routes=_routes(spec))
        return cls(orgs)

    def search(self, query: str = "") -> list[Organisation]:
        """Every organisation by name; with ``query``, those whose id, name or a route (label,
        value, note) contains each of its words, case-insensitive."""
        words = query.lower().split()
        found = []
        for org in sorted(self.organisations.values(), key=lambda o: o.name.lower()):
            routes = (f"{r.label} {r.value} {r.note}" for r in org.routes)
            haystack = " ".join([org.id, org.name, *routes]).lower()
            if all(word in haystack for word in words):
                found.append(org)
        return found

    def for_organisations(self, ids: Iterable[str]) -> list[Organisation]:
        """Known organisations in the given order; unknown ids get an empty entry."""
        result = []
        for org_id in ids:
            org = self.organisations.get(str(org_id).lower())
            result.append(org or Organisation(id=str(org_id), name=str(org_id), routes=()))
        return result


def _looks_like_org(data: dict[str, Any]) -> bool:
    return any(k in data for k in (*_NAME_KEYS, *_ROUTE_LIST_KEYS))


def _routes(spec: dict[str, Any]) -> tuple[Route, ...]:
    routes: list[Route] = []
    for key in _ROUTE_LIST_KEYS:
        value = spec.get(key)
        if isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    label = str(item.get("label") or item.get("naam") or item.get("name") or key)
                    val = item.get("waarde") or item.get("value") or item.get("telefoon") or ""
                    val = val or item.get("email") or item.get("url") or ""
                    note = str(item.get("toelichting") or item.get("note") or "")
                    routes.append(Route(label=label, value=str(val), note=note))
                elif item:
                    routes.append(Route(label=key.replace("_", " ").capitalize(), value=str(item)))
        elif isinstance(value, dict):
            routes.extend(_routes(value))
    for key, label in _SCALAR_KEYS.items():
        value = spec.get(key)
        if isinstance(value, (str, int)) and str(value).strip():
            routes.append(Route(label=label, value=str(value)))
    return tuple(routes)
