"""Plain-Dutch names for the ids the bot sends: topics ("gemeente.schuldhulp" -> "Hulp bij
schulden"), life events ("overlijden_naaste" -> "Iemand is overleden") and organisations
("svb" -> "SVB", from the directory). The workspace never shows a raw id when a name is known.

The bot team keeps the names in ``bot/knowledge/onderwerpen.yml`` (``onderwerpen`` and
``levensgebeurtenissen``, each id with a ``label``). A missing or broken file gives no names:
the ids are shown as they are, and the service still starts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .consent import consented_organisations
from .directory import Directory
from .languages import dutch_name
from .models import Case

log = logging.getLogger(__name__)


def _names(section: Any) -> dict[str, str]:
    if not isinstance(section, dict):
        return {}
    names = {}
    for key, spec in section.items():
        label = spec.get("label") if isinstance(spec, dict) else spec
        if isinstance(label, str) and label.strip():
            names[str(key)] = label.strip()
    return names


@dataclass(frozen=True)
class Labels:
    topics: dict[str, str]
    life_events: dict[str, str]

    @classmethod
    def load(cls, path: Path) -> Labels:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            log.info("labels file %s not found; ids are shown as they are", path)
            return cls({}, {})
        except (OSError, yaml.YAMLError):
            log.warning("labels file %s unreadable; ids are shown as they are", path, exc_info=True)
            return cls({}, {})
        if not isinstance(data, dict):
            return cls({}, {})
        return cls(_names(data.get("onderwerpen")), _names(data.get("levensgebeurtenissen")))

    def topic(self, topic_id: str | None) -> str:
        if not topic_id:
            return "–"
        return self.topics.get(topic_id) or self.life_events.get(topic_id) or topic_id

    def life_event(self, event_id: str | None) -> str:
        if not event_id:
            return "–"
        return self.life_events.get(event_id) or event_id

    def topic_choices(self) -> list[tuple[str, str]]:
        """(id, name) of every known topic, by name: what a casemanager can correct a topic to."""
        return sorted(self.topics.items(), key=lambda item: item[1].lower())


def organisation_of_topic(topic_id: str | None) -> str | None:
    """Bot topic ids are "<organisation>.<subject>": the organisation that owns the topic."""
    return topic_id.split(".", 1)[0] if topic_id and "." in topic_id else None


def jinja_filters(labels: Labels, directory: Directory) -> dict[str, Callable[..., str]]:
    """``onderwerp``, ``levensgebeurtenis``, ``organisatie``, ``organisaties`` and
    ``toegestane_organisaties`` (a case's organisations the citizen agreed to) and ``taal`` (the
    conversation language's Dutch name) for templates."""

    def organisation(org_id: str) -> str:
        org = directory.organisations.get(str(org_id).lower())
        return org.name if org else str(org_id)

    def organisations(ids: Iterable[str]) -> str:
        return ", ".join(organisation(i) for i in ids) or "–"

    def allowed_organisations(case: Case) -> str:
        return organisations(consented_organisations(case))

    return {
        "toegestane_organisaties": allowed_organisations,
        "onderwerp": labels.topic,
        "levensgebeurtenis": labels.life_event,
        "organisatie": organisation,
        "organisaties": organisations,
        "taal": dutch_name,
    }
