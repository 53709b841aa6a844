"""Which team picks up a case, derived from the intake topic and organisations."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class TeamConfigError(ValueError):
    """The teams file is malformed."""


@dataclass(frozen=True)
class Team:
    id: str
    label: str
    topics: frozenset[str] = frozenset()
    organisations: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TeamMapping:
    teams: dict[str, Team]
    default: str = "algemeen"
    _order: tuple[str, ...] = field(default=())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TeamMapping:
        default = str(data.get("default", "algemeen"))
        raw_teams = data.get("teams") or {}
        if not isinstance(raw_teams, dict):
            raise TeamConfigError("'teams' must be a mapping of team id to settings")
        teams: dict[str, Team] = {}
        for team_id, spec in raw_teams.items():
            spec = spec or {}
            if not isinstance(spec, dict):
                raise TeamConfigError(f"team {team_id!r} must be a mapping")
            teams[str(team_id)] = Team(
                id=str(team_id),
                label=str(spec.get("label", team_id)),
                topics=frozenset(_norm(t) for t in spec.get("topics") or ()),
                organisations=frozenset(_norm(o) for o in spec.get("organisations") or ()),
            )
        if default not in teams:
            teams[default] = Team(id=default, label=default)
        return cls(teams=teams, default=default, _order=tuple(teams))

    @classmethod
    def load(cls, path: Path) -> TeamMapping:
        if not path.exists():
            return cls.from_dict({})
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            raise TeamConfigError(f"cannot parse {path}") from e
        if not isinstance(data, dict):
            raise TeamConfigError(f"{path} must contain a mapping")
        return cls.from_dict(data)

    def team_for(self, topic: str | None, organisations: Iterable[str]) -> str:
        """Topic wins over organisations; the first organisation that maps decides.

        Bot topic ids look like ``cak.eigen_bijdrage``; the part before the dot is the
        organisation that owns the topic, so it is tried before the listed organisations.
        """
        if team := self.team_of_topic(topic):
            return team
        for org in organisations:
            if team := self._team_of_organisation(org):
                return team
        return self.default

    def team_of_topic(self, topic: str | None) -> str | None:
        """The team a topic itself belongs to: the first team listing it, else the team of the
        organisation that owns it (``cak.eigen_bijdrage`` -> cak). None when neither maps: such
        a topic says nothing about the team (a corrected topic then leaves the team as it is)."""
        if not topic:
            return None
        for team_id in self._order:
            if _norm(topic) in self.teams[team_id].topics:
                return team_id
        return self._team_of_organisation(topic.split(".", 1)[0]) if "." in topic else None

    def _team_of_organisation(self, org: str) -> str | None:
        for team_id in self._order:
            if _norm(org) in self.teams[team_id].organisations:
                return team_id
        return None

    def label(self, team_id: str) -> str:
        team = self.teams.get(team_id)
        return team.label if team else team_id


def _norm(value: Any) -> str:
    return str(value).strip().lower()
