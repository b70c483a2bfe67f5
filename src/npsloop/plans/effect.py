"""Did the plan move NPS? The linked scope's NPS before versus after the plan's start.

Windows: [start - before_days, start) and [start, start + after_days), both in the
organisation's time zone, the "after" window cut at now. The difference after - before is
tested with analytics.stats.compare (two-sided z-test of two independent NPS values). For a
driver link the driver's mean rating is compared too, with Welch's t-test (unequal
variances) computed by scipy from SQL aggregates (n, mean, sum of squares).

Verdicts: not_started (the start is in the future), too_little_data (a window has fewer
answers than the organisation's minimum), improved / worsened (significant at 5%),
no_change (not significant).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, case, exists, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from npsloop.analytics.filters import Filters, apply_filters, resolve_segment
from npsloop.analytics.service import time_bucket
from npsloop.analytics.stats import NpsSummary, compare, summarize
from npsloop.core.db import utcnow
from npsloop.core.errors import InputError
from npsloop.plans.models import ActionPlan, LinkKind
from npsloop.responses.models import Response, ResponseAnswer

MIN_WINDOW_DAYS, MAX_WINDOW_DAYS = 7, 730


class EffectError(InputError):
    """Bad input naming its field (see npsloop.core.errors.InputError)."""


@dataclass(frozen=True)
class Windows:
    before_start: datetime
    start: datetime
    after_end: datetime  # the planned end of the after window
    after_cut: datetime  # min(after_end, now): what has been observed so far
    before_days: int
    after_days: int

    @property
    def open(self) -> bool:
        return self.after_cut < self.after_end

    @property
    def observed_after_days(self) -> float:
        return max(0.0, (self.after_cut - self.start).total_seconds() / 86400)


def windows(start_day: date, before_days: int, after_days: int, tz: str,
            now: datetime | None = None) -> Windows:
    for name, value in (("before_days", before_days), ("after_days", after_days)):
        if not MIN_WINDOW_DAYS <= value <= MAX_WINDOW_DAYS:
            raise EffectError(name, f"must be between {MIN_WINDOW_DAYS} and {MAX_WINDOW_DAYS}")
    zone = ZoneInfo(tz)
    start = datetime.combine(start_day, time.min, tzinfo=zone)
    after_end = datetime.combine(start_day + timedelta(days=after_days), time.min, tzinfo=zone)
    now = now or utcnow()
    return Windows(
        before_start=datetime.combine(start_day - timedelta(days=before_days), time.min,
                                      tzinfo=zone),
        start=start, after_end=after_end, after_cut=max(start, min(after_end, now)),
        before_days=before_days, after_days=after_days,
    )


# -- the linked scope as SQL -------------------------------------------------------------


@dataclass
class Scope:
    filters: Filters
    conditions: list[ColumnElement[bool]] = field(default_factory=list)
    missing: bool = False  # the linked segment or topic no longer exists


def scope_of(session: Session, plan: ActionPlan) -> Scope:
    kind, value = plan.link_kind, plan.link_value
    if kind == LinkKind.survey.value:
        return Scope(Filters(survey_id=value))
    if kind == LinkKind.touchpoint.value:
        return Scope(Filters(touchpoint=value))
    if kind == LinkKind.segment.value:
        filters = Filters(segment_id=value)
        try:
            resolve_segment(session, plan.org_id, filters)
        except LookupError:
            return Scope(filters, missing=True)
        return Scope(filters)
    if kind == LinkKind.driver.value:
        rated = exists().where(ResponseAnswer.response_id == Response.id,
                               ResponseAnswer.question_key == value,
                               ResponseAnswer.kind == "driver_rating").correlate(Response)
        return Scope(Filters(), [rated])
    if kind == LinkKind.topic.value:
        from npsloop.textmining.models import ResponseTextTopic  # optional domain

        tagged = exists().where(ResponseTextTopic.response_id == Response.id,
                                ResponseTextTopic.topic_id == value).correlate(Response)
        return Scope(Filters(), [tagged])
    raise EffectError("link_kind", f"unknown link kind {kind!r}")


def _counts() -> list[Any]:
    return [
        func.count().label("n"),
        func.sum(case((Response.score >= 9, 1), else_=0)).label("promoters"),
        func.sum(case((Response.score.between(7, 8), 1), else_=0)).label("passives"),
        func.sum(case((Response.score <= 6, 1), else_=0)).label("detractors"),
    ]


def _scoped(query: Select[Any], org_id: str, scope: Scope, lo: datetime,
            hi: datetime) -> Select[Any]:
    query = apply_filters(query, org_id, scope.filters)
    if scope.filters.segment_clause is not None:
        query = query.where(scope.filters.segment_clause)
    for condition in scope.conditions:
        query = query.where(condition)
    return query.where(Response.submitted_at >= lo, Response.submitted_at < hi)


def window_summary(session: Session, org_id: str, scope: Scope, lo: datetime, hi: datetime,
                   min_n: int) -> NpsSummary:
    if hi <= lo:
        return summarize(0, 0, 0, min_n)
    row = session.execute(_scoped(select(*_counts()), org_id, scope, lo, hi)).one()
    return summarize(row.promoters or 0, row.passives or 0, row.detractors or 0, min_n)


def weekly_trend(session: Session, org_id: str, scope: Scope, w: Windows,
                 tz: str) -> list[dict[str, Any]]:
    bucket = time_bucket(session, "week", tz).label("week")
    query = _scoped(select(bucket, *_counts()), org_id, scope, w.before_start, w.after_cut)
    rows = session.execute(query.group_by(bucket).order_by(bucket))
    points = []
    for row in rows:
        summary = summarize(row.promoters or 0, row.passives or 0, row.detractors or 0, 1)
        points.append({"week": row.week, "n": summary.n, "nps": summary.nps})
    return points


# -- driver ratings ----------------------------------------------------------------------


@dataclass(frozen=True)
class RatingStats:
    n: int
    mean: float | None
    sd: float | None


def rating_stats(session: Session, org_id: str, driver: str, lo: datetime,
                 hi: datetime) -> RatingStats:
    value = ResponseAnswer.number_value
    query = (select(func.count(value), func.avg(value), func.sum(value * value))
             .join(Response, Response.id == ResponseAnswer.response_id)
             .where(ResponseAnswer.org_id == org_id, Response.org_id == org_id,
                    ResponseAnswer.question_key == driver,
                    ResponseAnswer.kind == "driver_rating", value.is_not(None),
                    Response.submitted_at >= lo, Response.submitted_at < hi))
    n, mean, sum_sq = session.execute(query).one() if hi > lo else (0, None, None)
    n = int(n or 0)
    if n == 0:
        return RatingStats(0, None, None)
    mean = float(mean)
    sd = None
    if n > 1:
        variance = max(0.0, (float(sum_sq) - n * mean * mean) / (n - 1))
        sd = math.sqrt(variance)
    return RatingStats(n, mean, sd)


def welch(before: RatingStats, after: RatingStats) -> dict[str, Any]:
    """Welch's t-test of after vs before from summary statistics."""
    out: dict[str, Any] = {"difference": None, "t": None, "df": None, "p_value": None,
                           "significant": False}
    if before.mean is None or after.mean is None:
        return out
    out["difference"] = round(after.mean - before.mean, 4)
    if before.sd is None or after.sd is None or (before.sd == 0 and after.sd == 0):
        return out
    from scipy.stats import ttest_ind_from_stats  # heavy: imported on first use

    result = ttest_ind_from_stats(after.mean, after.sd, after.n, before.mean, before.sd,
                                  before.n, equal_var=False)
    va, vb = after.sd ** 2 / after.n, before.sd ** 2 / before.n
    df = (va + vb) ** 2 / (va ** 2 / (after.n - 1) + vb ** 2 / (before.n - 1))
    out.update(t=round(float(result.statistic), 4), df=round(df, 2),
               p_value=float(result.pvalue), significant=bool(result.pvalue < 0.05))
    return out


# -- the effect --------------------------------------------------------------------------


def verdict(w: Windows, before: NpsSummary, after: NpsSummary, significant: bool,
            difference: float | None, now: datetime, min_n: int) -> str:
    if now < w.start:
        return "not_started"
    if before.n < min_n or after.n < min_n:
        return "too_little_data"
    if significant and difference is not None:
        return "improved" if difference > 0 else "worsened"
    return "no_change"


def _summary_dict(summary: NpsSummary) -> dict[str, Any]:
    data = summary.as_dict()
    data.pop("variance", None)
    return data


def plan_effect(session: Session, plan: ActionPlan, *, tz: str, min_n: int,
                before_days: int | None = None, after_days: int | None = None,
                detail: bool = True, now: datetime | None = None) -> dict[str, Any]:
    """The plan's effect; `detail` adds the weekly trend and, for a driver, its ratings (the
    plan list leaves both out)."""
    now = now or utcnow()
    w = windows(plan.start_date, before_days or plan.window_before_days,
                after_days or plan.window_after_days, tz, now)
    scope = scope_of(session, plan)
    effect: dict[str, Any] = {
        "plan_id": plan.id,
        "windows": {
            "before": {"from": w.before_start.isoformat(), "to": w.start.isoformat(),
                       "days": w.before_days},
            "after": {"from": w.start.isoformat(), "to": w.after_end.isoformat(),
                      "days": w.after_days, "observed_to": w.after_cut.isoformat(),
                      "observed_days": round(w.observed_after_days, 1), "open": w.open},
        },
        "min_n": min_n,
        "link_missing": scope.missing,
    }
    if scope.missing:
        empty = summarize(0, 0, 0, min_n)
        before = after = empty
    else:
        before = window_summary(session, plan.org_id, scope, w.before_start, w.start, min_n)
        after = window_summary(session, plan.org_id, scope, w.start, w.after_cut, min_n)
    change = compare(before, after)
    effect["before"] = _summary_dict(before)
    effect["after"] = _summary_dict(after)
    effect["difference"] = change.difference
    effect["z"] = change.z
    effect["p_value"] = change.p_value
    effect["significant"] = change.significant
    effect["verdict"] = verdict(w, before, after, change.significant, change.difference, now,
                                min_n)
    target = plan.target_nps
    effect["target_nps"] = target
    effect["target_reached"] = (None if target is None or after.nps is None or after.too_few
                                else after.nps >= target)
    if detail and plan.link_kind == LinkKind.driver.value:
        rb = rating_stats(session, plan.org_id, plan.link_value, w.before_start, w.start)
        ra = rating_stats(session, plan.org_id, plan.link_value, w.start, w.after_cut)
        effect["driver"] = {"key": plan.link_value, "before": asdict(rb), "after": asdict(ra),
                            "welch": welch(rb, ra)}
    if detail and not scope.missing:
        effect["trend"] = weekly_trend(session, plan.org_id, scope, w, tz)
        effect["start_week"] = _week_start(plan.start_date).isoformat()
    return effect


def _week_start(day: date) -> date:
    """The Monday of the day's week (the trend's buckets start on Mondays)."""
    return day - timedelta(days=day.weekday())
