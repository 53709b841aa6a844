"""The insight dashboard's figures for a period, with small cells suppressed.

Suppression (README "Inzicht"): a count from 1 to 4 is never shown ("<5"). When a group has
exactly one such cell, its smallest shown cell is suppressed too, so the hidden one cannot be
worked out from a total; every total is rounded to a multiple of 5 (and hidden below 5). A median
or 90th percentile needs at least 5 cases behind it. Shares are whole percentages of the exact
total and are left out with their cell.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..labels import Labels
from ..models import Case, InsightCount, Kind
from ..services.errors import InvalidInput

THRESHOLD = 5
DEFAULT_DAYS = 30
MAX_DAYS = 366
# Far outside these a day's start in the municipality's time zone cannot even be computed.
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2999, 12, 31)
SHOWN_SUPPRESSED = "verborgen"  # the same for a small cell and the one hidden with it


class PeriodError(InvalidInput):
    """The period in the address cannot be used (the message is for the teamleider)."""


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive

    @classmethod
    def parse(cls, query: Mapping[str, str], today: dt.date) -> Period:
        try:
            end = dt.date.fromisoformat(query["tot"]) if query.get("tot") else today
            start = dt.date.fromisoformat(query["van"]) if query.get("van") else None
        except ValueError as e:
            raise PeriodError("Geef de datums als jjjj-mm-dd, bijvoorbeeld 2026-12-01.") from e
        if not EARLIEST <= end <= LATEST or (start is not None and not EARLIEST <= start <= LATEST):
            # Checked before any arithmetic: 30 days before 0001-01-01 is no date at all.
            raise PeriodError(f"Kies datums tussen {EARLIEST.year} en {LATEST.year}.")
        if start is None:
            start = max(EARLIEST, end - dt.timedelta(days=DEFAULT_DAYS - 1))
        if not (EARLIEST <= start and end <= LATEST):
            raise PeriodError(f"Kies datums tussen {EARLIEST.year} en {LATEST.year}.")
        if end < start:
            raise PeriodError("De einddatum ligt voor de begindatum.")
        if (end - start).days >= MAX_DAYS:
            raise PeriodError(f"Kies een periode van hooguit {MAX_DAYS} dagen.")
        return cls(start, end)

    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range((self.end - self.start).days + 1)]


def rounded_total(n: int) -> int | None:
    """A total to the nearest multiple of 5; hidden below 5."""
    return None if n < THRESHOLD else int(math.floor(n / THRESHOLD + 0.5)) * THRESHOLD


def suppress(counts: Mapping[str, int]) -> dict[str, int | None]:
    """Counts 1-4 hidden (None); one hidden cell in a group takes the smallest shown one with it."""
    shown: dict[str, int | None] = {k: (None if 0 < v < THRESHOLD else v) for k, v in counts.items()}
    if sum(v is None for v in shown.values()) == 1:
        others = sorted((v, k) for k, v in shown.items() if v)
        if others:
            shown[others[0][1]] = None
    return shown


@dataclass(frozen=True)
class Cell:
    key: str
    label: str
    count: int | None  # None: suppressed
    share: int | None = None  # whole percent of the group's exact total
    desk_share: int | None = None  # share at the municipal desk (catalogue), topics only

    @property
    def shown(self) -> str:
        return SHOWN_SUPPRESSED if self.count is None else str(self.count)


@dataclass(frozen=True)
class Group:
    id: str
    title: str
    cells: tuple[Cell, ...]
    total: int | None = None  # rounded (see rounded_total); None: hidden or not meaningful
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "titel": self.title,
            "totaal": self.total,
            "toelichting": self.note,
            "cellen": [
                {
                    "sleutel": c.key,
                    "naam": c.label,
                    "aantal": c.count,
                    "aandeel_pct": c.share,
                    "aandeel_balie_pct": c.desk_share,
                }
                for c in self.cells
            ],
        }


def group(
    id_: str,
    title: str,
    counts: Mapping[str, int],
    label: Any = str,
    total: int | None = None,
    desk: Mapping[str, int] | None = None,
    note: str = "",
    keep_order: bool = False,
) -> Group:
    """A suppressed group; ``total`` (exact) gives shares and a rounded total."""
    shown = suppress(counts)
    keys = list(counts) if keep_order else sorted(counts, key=lambda k: (-counts[k], k))
    if desk:
        keys += [k for k in desk if k not in counts]
    cells = []
    for key in keys:
        count = shown.get(key, 0)
        share = round(100 * count / total) if count is not None and total else None
        cells.append(Cell(key, label(key), count, share, (desk or {}).get(key)))
    return Group(id_, title, tuple(cells), rounded_total(total) if total is not None else None, note)


def desk_shares(catalogue: Path) -> dict[str, int]:
    """Topic id -> share of visits at the municipal desk (bot/knowledge/catalogus.yml share_pct)."""
    try:
        data = yaml.safe_load(catalogue.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}
    topics = data.get("topics") if isinstance(data, dict) else None
    return {
        str(t["id"]): int(t["share_pct"])
        for t in topics or ()
        if isinstance(t, dict) and isinstance(t.get("share_pct"), int) and t.get("id")
    }


def percentile(values: list[float], q: int) -> float | None:
    """The q-th percentile (50, 90) in minutes; None with fewer than THRESHOLD values."""
    if len(values) < THRESHOLD:
        return None
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 1)


@dataclass
class TeamFacts:
    chats: int = 0
    callbacks: int = 0
    closed: int = 0
    without_consent: int = 0
    waits: list[float] = field(default_factory=list)
    to_close: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Insight:
    period: Period
    groups: dict[str, Group]
    nodes: list[dict[str, Any]]
    not_understood_pct: int | None
    teams: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {
            "periode": {"van": self.period.start.isoformat(), "tot": self.period.end.isoformat()},
            "onderdrukking": f"aantallen onder {THRESHOLD} als null; totalen afgerond op 5",
            "groepen": {k: g.as_json() for k, g in self.groups.items()},
            "stroomschema": self.nodes,
            "niet_begrepen_pct": self.not_understood_pct,
            "teams": self.teams,
        }

    def csv_rows(self) -> Iterable[list[str]]:
        yield ["groep", "sleutel", "naam", "aantal", "aandeel_pct", "aandeel_balie_pct"]
        for g in self.groups.values():
            for c in g.cells:
                yield [g.id, c.key, c.label, c.shown, _s(c.share), _s(c.desk_share)]
            if g.total is not None:
                yield [g.id, "totaal", "totaal (afgerond op 5)", str(g.total), "", ""]
        for n in self.nodes:
            for column in ("bereikt", "verlaten", "past_niet"):
                yield ["stroomschema", n["knoop"], column, _s(n[column], SHOWN_SUPPRESSED), "", ""]
        yield [
            "niet_begrepen",
            "",
            "berichten niet begrepen (%)",
            _s(self.not_understood_pct, SHOWN_SUPPRESSED),
            "",
            "",
        ]
        for t in self.teams:
            for key, value in t.items():
                if key != "team":
                    yield ["team", t["team"], key, _s(value, SHOWN_SUPPRESSED), "", ""]


def _s(value: object, none: str = "") -> str:
    return none if value is None else str(value)


async def _stream_counts(session: AsyncSession, period: Period) -> dict[str, dict[str, int]]:
    rows = await session.execute(
        select(InsightCount.measure, InsightCount.value, func.sum(InsightCount.count))
        .where(InsightCount.day >= period.start, InsightCount.day <= period.end)
        .group_by(InsightCount.measure, InsightCount.value)
    )
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for measure, value, n in rows.tuples():
        if n:
            counts[measure][value] = int(n)
    return counts


async def _per_day(session: AsyncSession, period: Period) -> dict[str, int]:
    rows = await session.execute(
        select(InsightCount.day, InsightCount.count).where(
            InsightCount.measure == "gesprek",
            InsightCount.day >= period.start,
            InsightCount.day <= period.end,
        )
    )
    found = {day: int(n) for day, n in rows.tuples()}
    return {day.isoformat(): found.get(day, 0) for day in period.days()}


async def _teams(session: AsyncSession, period: Period, zone: ZoneInfo) -> list[dict[str, Any]]:
    start = dt.datetime.combine(period.start, dt.time.min, zone)
    end = dt.datetime.combine(period.end + dt.timedelta(days=1), dt.time.min, zone)
    facts: dict[str, TeamFacts] = defaultdict(TeamFacts)
    rows = await session.execute(
        select(Case.team, Case.kind, Case.consent, Case.created_at, Case.claimed_at, Case.closed_at).where(
            Case.created_at >= start, Case.created_at < end
        )
    )
    for team, kind, consent, created, claimed, closed in rows.tuples():
        f = facts[team]
        if kind == Kind.CALLBACK:
            f.callbacks += 1
        else:
            f.chats += 1
        if not consent:
            f.without_consent += 1
        if claimed is not None:
            f.waits.append((claimed - created).total_seconds() / 60)
        if closed is not None:
            f.closed += 1
            f.to_close.append((closed - created).total_seconds() / 60)
    teams = sorted(facts)
    columns = {
        "chats": {t: facts[t].chats for t in teams},
        "terugbelverzoeken": {t: facts[t].callbacks for t in teams},
        "afgesloten": {t: facts[t].closed for t in teams},
        "zonder_toestemming_gesprek": {t: facts[t].without_consent for t in teams},
    }
    shown = {name: suppress(values) for name, values in columns.items()}
    return [
        {
            "team": t,
            **{name: shown[name][t] for name in columns},
            "wachttijd_p50_min": percentile(facts[t].waits, 50),
            "wachttijd_p90_min": percentile(facts[t].waits, 90),
            "doorlooptijd_p50_min": percentile(facts[t].to_close, 50),
            "doorlooptijd_p90_min": percentile(facts[t].to_close, 90),
        }
        for t in teams
    ]


def _nodes(counts: Mapping[str, Mapping[str, int]]) -> list[dict[str, Any]]:
    reached, left, misfit = (dict(counts.get(m, {})) for m in ("knoop", "verlaten", "past_niet"))
    names = sorted(set(reached) | set(left) | set(misfit), key=lambda n: (-reached.get(n, 0), n))
    columns = {
        "bereikt": suppress({n: reached.get(n, 0) for n in names}),
        "verlaten": suppress({n: left.get(n, 0) for n in names}),
        "past_niet": suppress({n: misfit.get(n, 0) for n in names}),
    }
    return [{"knoop": n, **{c: columns[c][n] for c in columns}} for n in names]


async def insight(
    session: AsyncSession, period: Period, labels: Labels, desk: Mapping[str, int], zone: ZoneInfo
) -> Insight:
    """Every figure of the dashboard for ``period``."""
    counts = await _stream_counts(session, period)
    conversations = counts.get("gesprek", {}).get("", 0)
    ended = sum(counts.get("uitkomst", {}).values())
    single = {
        "urgent": ("Urgent", counts.get("urgent", {}).get("", 0)),
        "crisis": ("Crisis (hulplijn gegeven)", counts.get("crisis", {}).get("", 0)),
        "toestemming_geweigerd": (
            "Geen toestemming gegeven",
            counts.get("toestemming_geweigerd", {}).get("", 0),
        ),
        "overgedragen": ("Naar een medewerker of terugbelverzoek", counts.get("overgedragen", {}).get("", 0)),
    }
    groups = [
        group(
            "per_dag",
            "Gesprekken per dag",
            await _per_day(session, period),
            total=conversations,
            keep_order=True,
        ),
        group("kanaal", "Gesprekken per kanaal", counts.get("kanaal", {}), total=conversations),
        group("taal", "Afgeronde gesprekken per taal", counts.get("taal", {}), total=ended),
        group(
            "onderwerp",
            "Onderwerpen",
            counts.get("onderwerp", {}),
            labels.topic,
            total=conversations,
            desk=desk,
            note="Een gesprek kan meer onderwerpen hebben; balie: aandeel bezoeken aan de balie.",
        ),
        group(
            "levensgebeurtenis",
            "Levensgebeurtenissen",
            counts.get("levensgebeurtenis", {}),
            labels.life_event,
            total=conversations,
        ),
        group(
            "vraagtype",
            "Soort vraag (1, 2 of 3)",
            counts.get("vraagtype", {}),
            lambda k: f"type {k}",
            total=conversations,
        ),
        group(
            "uitkomst",
            "Afloop van afgeronde gesprekken",
            counts.get("uitkomst", {}),
            total=ended,
            note="Opgelost door de assistent, overgedragen aan een medewerker, of afgebroken.",
        ),
        group(
            "signalen",
            "Signalen",
            {k: v for k, (_, v) in single.items()},
            lambda k: single[k][0],
            total=conversations,
            keep_order=True,
        ),
    ]
    messages = counts.get("berichten", {}).get("", 0)
    misunderstood = counts.get("niet_begrepen", {}).get("", 0)
    rate = round(100 * misunderstood / messages) if misunderstood >= THRESHOLD and messages else None
    return Insight(
        period,
        {g.id: g for g in groups},
        _nodes(counts),
        rate,
        await _teams(session, period, zone),
    )
