"""NPS aggregations in SQL (SQLite and PostgreSQL), never by loading rows into Python."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from npsloop.analytics import rollup

# Filters lives in analytics.filters (one model for every route); imported here for callers.
from npsloop.analytics.filters import Filters, apply_filters, attribute_expr, lifecycle_expr
from npsloop.analytics.models import sqlite_offset_minutes
from npsloop.analytics.stats import NpsSummary, summarize
from npsloop.responses.models import Response
from npsloop.surveys.models import Survey

SURVEY_DIMENSIONS = {
    "survey": Survey.name,
    "nps_type": Survey.nps_type,
    "touchpoint": Survey.touchpoint,
    "journey_stage": Survey.journey_stage,
}
RESPONSE_DIMENSIONS = {
    "channel": Response.channel,
    "language": Response.language,
    "category": Response.category,
    "status": Response.status,
}
TIME_BUCKETS = ("day", "week", "month", "quarter")


def group_by_names() -> list[str]:
    return [*SURVEY_DIMENSIONS, *RESPONSE_DIMENSIONS, "lifecycle_stage", *TIME_BUCKETS,
            "attribute:<name>"]


def _counts() -> list[ColumnElement[Any]]:
    return [
        func.count().label("n"),
        func.sum(case((Response.score >= 9, 1), else_=0)).label("promoters"),
        func.sum(case((Response.score.between(7, 8), 1), else_=0)).label("passives"),
        func.sum(case((Response.score <= 6, 1), else_=0)).label("detractors"),
    ]


def bucket_of(dialect: str, bucket: str, column: ColumnElement[Any], tz: str | None
              ) -> ColumnElement[Any]:
    """The calendar bucket of `column` as 'YYYY-MM-DD' (its first day), local to `tz`
    (None: `column` already holds local times or days, as the daily rollup does)."""
    if dialect == "postgresql":
        local = func.timezone(tz, column) if tz else column
        return func.to_char(func.date_trunc(bucket, local), "YYYY-MM-DD")
    # SQLite has no time zones: shift by the zone's current offset (exact for zones
    # without daylight saving, such as Asia/Shanghai).
    minutes = sqlite_offset_minutes(tz) if tz else 0
    shift = f"{minutes:+d} minutes"
    if bucket == "day":
        return func.date(column, shift)
    if bucket == "week":
        return func.date(column, shift, "weekday 0", "-6 days")
    if bucket == "month":
        return func.strftime("%Y-%m-01", column, shift)
    month = func.strftime("%m", column, shift)
    quarter_month = case(
        (month <= "03", "01"), (month <= "06", "04"), (month <= "09", "07"), else_="10"
    )
    return func.strftime("%Y-", column, shift).concat(quarter_month).concat("-01")


def time_bucket(session: Session, bucket: str, tz: str) -> ColumnElement[Any]:
    """The local calendar bucket of submitted_at as 'YYYY-MM-DD' (its first day)."""
    return bucket_of(session.get_bind().dialect.name, bucket, Response.submitted_at, tz)


def dimension(session: Session, name: str, tz: str) -> tuple[ColumnElement[Any], bool]:
    """Returns the SQL expression for a group-by name and whether it needs the survey join."""
    if name in SURVEY_DIMENSIONS:
        return SURVEY_DIMENSIONS[name], True
    if name in RESPONSE_DIMENSIONS:
        return RESPONSE_DIMENSIONS[name], False
    if name in TIME_BUCKETS:
        return time_bucket(session, name, tz), False
    if name == "lifecycle_stage":
        return lifecycle_expr(), False
    if name.startswith("attribute:") and len(name) > len("attribute:"):
        return attribute_expr(name.split(":", 1)[1]), False
    raise ValueError(f"group_by: '{name}' is not one of {', '.join(group_by_names())}")


def nps(session: Session, *, org_id: str, filters: Filters, min_n: int = 30) -> NpsSummary:
    query = rollup.counts_query(session, org_id=org_id, filters=filters, names=[], tz=None)
    if query is None:
        query = apply_filters(select(*_counts()), org_id, filters)
    row = session.execute(query).one()
    return summarize(row.promoters or 0, row.passives or 0, row.detractors or 0, min_n)


def nps_by(
    session: Session, *, org_id: str, filters: Filters, group_by: str, tz: str, min_n: int = 30
) -> list[tuple[str | None, NpsSummary]]:
    expr, needs_survey = dimension(session, group_by, tz)
    query = rollup.counts_query(session, org_id=org_id, filters=filters, names=[group_by],
                                tz=tz)
    if query is None:
        key = expr.label("k0")
        query = select(key, *_counts())
        if needs_survey:
            query = query.where(Survey.id == Response.survey_id)
        query = apply_filters(query, org_id, filters).group_by(key).order_by(key)
    return [
        (row.k0, summarize(row.promoters or 0, row.passives or 0, row.detractors or 0,
                                  min_n))
        for row in session.execute(query)
    ]


def histogram(session: Session, *, org_id: str, filters: Filters) -> list[int]:
    query = apply_filters(select(Response.score, func.count()), org_id, filters)
    query = query.group_by(Response.score)
    counts = [0] * 11
    for score, count in session.execute(query):
        counts[int(score)] = int(count)
    return counts


def latest_comments(
    session: Session, *, org_id: str, filters: Filters, limit: int = 20
) -> list[Response]:
    query = apply_filters(select(Response), org_id, filters).where(Response.comment != "")
    return list(session.scalars(query.order_by(Response.submitted_at.desc()).limit(limit)))


@dataclass(frozen=True)
class SurveyNps:
    """One survey's NPS with what the dashboard table shows beside it."""

    survey_id: str
    name: str
    nps_type: str
    touchpoint: str
    summary: NpsSummary


def nps_by_survey(
    session: Session, *, org_id: str, filters: Filters, min_n: int = 30
) -> list[SurveyNps]:
    """NPS per survey, grouped by id (two surveys may share a name), most answered first."""
    counted = rollup.counts_query(session, org_id=org_id, filters=filters, names=["survey_id"],
                                  tz=None)
    if counted is not None:
        found = {row.k0: row for row in session.execute(counted)}
        surveys = session.execute(select(Survey.id, Survey.name, Survey.nps_type,
                                         Survey.touchpoint).where(Survey.id.in_(found)))
        rows = [
            SurveyNps(survey_id=survey.id, name=survey.name, nps_type=survey.nps_type,
                      touchpoint=survey.touchpoint,
                      summary=summarize(found[survey.id].promoters, found[survey.id].passives,
                                        found[survey.id].detractors, min_n))
            for survey in surveys
        ]
        return sorted(rows, key=lambda item: (-item.summary.n, item.name))
    query = select(Survey.id, Survey.name, Survey.nps_type, Survey.touchpoint, *_counts()).where(
        Survey.id == Response.survey_id
    )
    query = apply_filters(query, org_id, filters).group_by(
        Survey.id, Survey.name, Survey.nps_type, Survey.touchpoint
    )
    rows = [
        SurveyNps(
            survey_id=row.id, name=row.name, nps_type=row.nps_type, touchpoint=row.touchpoint,
            summary=summarize(row.promoters or 0, row.passives or 0, row.detractors or 0, min_n),
        )
        for row in session.execute(query)
    ]
    return sorted(rows, key=lambda item: (-item.summary.n, item.name))
