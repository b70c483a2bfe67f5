"""Closed-loop metrics over the tickets opened in a period, overall, by team and by owner.

- time to first response: opening -> first response by a person (hours; median and mean)
- time to close: opening -> resolution (hours; a ticket closed without being resolved counts
  from its closing)
- SLA compliance: the share of decided deadlines that were met; a deadline is decided once
  it was met or has passed (tickets still inside their window are left out, not counted as
  met)
- detractor recovery rate: of detractors' tickets whose follow-up survey was answered, the
  share whose follow-up score is higher than the original score

Durations differ between SQLite and PostgreSQL in SQL, so rows are read with one query of
the needed columns and summarised here (cheap at tens of thousands of tickets).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from npsloop.accounts.models import User
from npsloop.tickets import sla
from npsloop.tickets.models import Team, Ticket


@dataclass
class Figures:
    opened: int = 0
    open_now: int = 0
    resolved: int = 0
    first_response_hours_median: float | None = None
    first_response_hours_mean: float | None = None
    close_hours_median: float | None = None
    close_hours_mean: float | None = None
    first_response_sla_met: int = 0
    first_response_sla_decided: int = 0
    resolution_sla_met: int = 0
    resolution_sla_decided: int = 0
    sla_compliance: float | None = None  # both deadlines together, 0..1
    first_response_sla_compliance: float | None = None
    resolution_sla_compliance: float | None = None
    detractor_tickets: int = 0
    followups_answered: int = 0
    recovered: int = 0
    recovery_rate: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _hours(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else max((end - start).total_seconds() / 3600, 0.0)


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def summarise(tickets: list[Ticket], now: datetime) -> Figures:
    f = Figures(opened=len(tickets))
    first, close = [], []
    for t in tickets:
        if t.status not in sla.DONE:
            f.open_now += 1
        else:
            f.resolved += 1
        hours = _hours(t.created_at, t.first_responded_at)
        if hours is not None:
            first.append(hours)
        hours = _hours(t.created_at, t.resolved_at or t.closed_at)
        if hours is not None:
            close.append(hours)
        met = sla.first_response_met(t, now)
        if met is not None:
            f.first_response_sla_decided += 1
            f.first_response_sla_met += int(met)
        met = sla.resolution_met(t, now)
        if met is not None:
            f.resolution_sla_decided += 1
            f.resolution_sla_met += int(met)
        if t.original_category == "detractor":
            f.detractor_tickets += 1
            if t.followup_score is not None:
                f.followups_answered += 1
                f.recovered += int(bool(t.recovered))
    if first:
        f.first_response_hours_median = _round(statistics.median(first))
        f.first_response_hours_mean = _round(statistics.fmean(first))
    if close:
        f.close_hours_median = _round(statistics.median(close))
        f.close_hours_mean = _round(statistics.fmean(close))
    f.first_response_sla_compliance = _share(f.first_response_sla_met,
                                             f.first_response_sla_decided)
    f.resolution_sla_compliance = _share(f.resolution_sla_met, f.resolution_sla_decided)
    f.sla_compliance = _share(f.first_response_sla_met + f.resolution_sla_met,
                              f.first_response_sla_decided + f.resolution_sla_decided)
    f.recovery_rate = _share(f.recovered, f.followups_answered)
    return f


def compute(session: Session, org_id: str, *, start: datetime | None, end: datetime | None,
            now: datetime, team_id: str | None = None, owner_id: str | None = None,
            survey_id: str | None = None) -> dict[str, Any]:
    stmt = select(Ticket).where(Ticket.org_id == org_id)
    if start is not None:
        stmt = stmt.where(Ticket.created_at >= start)
    if end is not None:
        stmt = stmt.where(Ticket.created_at < end)
    if team_id:
        stmt = stmt.where(Ticket.team_id == team_id)
    if owner_id:
        stmt = stmt.where(Ticket.owner_id == owner_id)
    if survey_id:
        stmt = stmt.where(Ticket.survey_id == survey_id)
    tickets = list(session.scalars(stmt))
    by_team: dict[str | None, list[Ticket]] = defaultdict(list)
    by_owner: dict[str | None, list[Ticket]] = defaultdict(list)
    for t in tickets:
        by_team[t.team_id].append(t)
        by_owner[t.owner_id].append(t)
    teams = {t.id: t.name for t in session.scalars(select(Team).where(Team.org_id == org_id))}
    owner_ids = [o for o in by_owner if o]
    users = {u.id: (u.name or u.email) for u in session.scalars(
        select(User).where(User.id.in_(owner_ids or [""])))}
    return {
        "overall": summarise(tickets, now).as_dict(),
        "by_team": sorted(
            ({"team_id": key, "name": teams.get(key or "", ""),
              **summarise(rows, now).as_dict()} for key, rows in by_team.items()),
            key=lambda row: (-row["opened"], row["name"])),
        "by_owner": sorted(
            ({"owner_id": key, "name": users.get(key or "", ""),
              **summarise(rows, now).as_dict()} for key, rows in by_owner.items()),
            key=lambda row: (-row["opened"], row["name"])),
    }
