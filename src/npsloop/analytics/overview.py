"""The organisation overview: relationship NPS over time, touchpoint NPS by journey stage,
volume, response rate and significant movers, for the `/` dashboard and the digest report.

Every figure comes from the existing statistics functions (trends.trend, journey.journey_map,
service.nps, movers.movers): nothing here computes an NPS.

Response rate needs invitations. `response_rate()` asks, in order:
  1. a provider installed with `register_invitation_counter` (tests, other installations);
  2. the distribution domain's `funnel(session, org_id=, survey_id=, date_from=, date_to=)`
     when that domain is installed (rows with `invited` and `completed`);
  3. ticket follow-up surveys (invited after a resolved ticket, answered or not), which
     every installation with tickets has;
and reports `source = "none"` when no invitation was sent in the period.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from npsloop.analytics import journey, service, trends
from npsloop.analytics.filters import Filters
from npsloop.analytics.movers import MoverReport, movers
from npsloop.analytics.stats import NpsSummary
from npsloop.analytics.trends import Trend


@dataclass(frozen=True)
class ResponseRate:
    source: str  # "distribution" | "followups" | a registered provider's name | "none"
    invited: int
    responded: int

    @property
    def rate(self) -> float | None:
        return round(self.responded / self.invited, 4) if self.invited else None


# (session, org_id, filters) -> ResponseRate, or None when it has no data for the org.
InvitationCounter = Callable[[Session, str, Filters], ResponseRate | None]
_counter: InvitationCounter | None = None


def register_invitation_counter(counter: InvitationCounter | None) -> None:
    global _counter
    _counter = counter


def _from_distribution(session: Session, org_id: str, filters: Filters) -> ResponseRate | None:
    try:
        module = importlib.import_module("npsloop.distribution.service")
    except ImportError:
        return None
    funnel = getattr(module, "funnel", None)
    if funnel is None:
        return None
    rows = funnel(session, org_id=org_id, survey_id=filters.survey_id,
                  date_from=filters.date_from, date_to=filters.date_to)
    invited = sum(int(getattr(row, "invited", 0) or 0) for row in rows)
    if not invited:
        return None
    completed = sum(int(getattr(row, "completed", 0) or 0) for row in rows)
    return ResponseRate("distribution", invited, completed)


def _from_followups(session: Session, org_id: str, filters: Filters) -> ResponseRate | None:
    try:
        from npsloop.tickets.models import FollowUpStatus, TicketFollowUp
    except ImportError:
        return None
    answered = case((TicketFollowUp.status == FollowUpStatus.answered.value, 1), else_=0)
    query = select(func.count(), func.sum(answered)).where(
        TicketFollowUp.org_id == org_id, TicketFollowUp.invited_at.is_not(None))
    if filters.survey_id:
        query = query.where(TicketFollowUp.survey_id == filters.survey_id)
    if filters.date_from:
        query = query.where(TicketFollowUp.invited_at >= filters.date_from)
    if filters.date_to:
        query = query.where(TicketFollowUp.invited_at < filters.date_to)
    invited, answered = session.execute(query).one()
    if not invited:
        return None
    return ResponseRate("followups", int(invited), int(answered or 0))


def response_rate(session: Session, *, org_id: str, filters: Filters) -> ResponseRate:
    for source in (_counter, _from_distribution, _from_followups):
        if source is None:
            continue
        found = source(session, org_id, filters)
        if found is not None:
            return found
    return ResponseRate("none", 0, 0)


@dataclass(frozen=True)
class StageRow:
    stage: str
    touchpoint: str
    summary: NpsSummary


@dataclass(frozen=True)
class Overview:
    relationship: Trend
    relationship_total: NpsSummary | None
    stages: list[StageRow]
    volume: int
    response_rate: ResponseRate
    movers: MoverReport


def relationship_filters(filters: Filters) -> Filters:
    """The relationship surveys within the caller's filters (a survey filter for another
    type of survey then simply finds nothing)."""
    return replace(filters, nps_type="relationship")


FALLBACK_DAYS = 30


def relationship_trend(session: Session, *, org_id: str, filters: Filters, tz: str,
                       min_n: int = 30) -> Trend:
    """Relationship NPS by month, or by quarter when over a quarter of the months are empty
    (a quarterly programme): a line of isolated monthly dots says less than four quarters."""
    rel = relationship_filters(filters)
    monthly = trends.trend(session, org_id=org_id, filters=rel, bucket="month", tz=tz,
                           min_n=min_n)
    answered = [p for p in monthly.points if p.counts.n]
    if answered:
        first = monthly.points.index(answered[0])
        last = monthly.points.index(answered[-1])
        if len(answered) * 4 < (last - first + 1) * 3:  # more than a quarter empty
            return trends.trend(session, org_id=org_id, filters=rel, bucket="quarter", tz=tz,
                                min_n=min_n)
    return monthly


def recent_movers(session: Session, *, org_id: str, filters: Filters, tz: str, min_n: int,
                  lang: str, now: datetime | None) -> MoverReport:
    """Movers over the filtered range against the range before it; when nothing can be
    compared (no data before a long range), the range's last 30 days against the 30 days
    before them. The report carries the windows it used."""
    report = movers(session, org_id=org_id, filters=filters, tz=tz, min_n=min_n, lang=lang,
                    now=now)
    span = report.current_to - report.current_from
    if report.tested or span <= timedelta(days=FALLBACK_DAYS):
        return report
    recent = replace(filters, date_from=report.current_to - timedelta(days=FALLBACK_DAYS),
                     date_to=report.current_to)
    return movers(session, org_id=org_id, filters=recent, tz=tz, min_n=min_n, lang=lang,
                  now=now)


def overview(
    session: Session, *, org_id: str, filters: Filters, tz: str, min_n: int = 30,
    bucket: str = "month", lang: str = "en", now: datetime | None = None,
) -> Overview:
    relationship = relationship_trend(session, org_id=org_id, filters=filters, tz=tz,
                                      min_n=min_n)
    total = None
    if relationship.points:
        counts = relationship.points[0].counts
        for point in relationship.points[1:]:
            counts = counts + point.counts
        total = counts.summary(min_n)
    journey_map = journey.journey_map(session, org_id=org_id, filters=filters, tz=tz,
                                      bucket=bucket, lang=lang)
    stages = [
        StageRow(stage.name, node.name, node.counts.summary(min_n))
        for stage in journey_map.stages for node in stage.touchpoints.values()
    ]
    volume = service.nps(session, org_id=org_id, filters=filters, min_n=min_n).n
    return Overview(
        relationship=relationship,
        relationship_total=total,
        stages=stages,
        volume=volume,
        response_rate=response_rate(session, org_id=org_id, filters=filters),
        movers=recent_movers(session, org_id=org_id, filters=filters, tz=tz, min_n=min_n,
                             lang=lang, now=now),
    )
