"""The daily rollup: the dashboard's counts read from `response_daily` (counts per
organisation, local day, survey, channel, language and status) instead of every response.

Why: overview, trend and cross-tab are one GROUP BY over the matching responses, and at
ten million responses scanning them takes seconds whatever the query looks like. A day of
an organisation has a few dozen rollup rows, so two years are tens of thousands of rows.

When it is used (`counts_query` returns None otherwise and callers run the raw query):
  - the filters live only in `responses` and `surveys`: survey, nps_type, touchpoint,
    journey_stage, channel, language, status and the date range (no attribute, tag,
    segment or lifecycle filter: those depend on contact rows);
  - every grouping is one the rollup keeps: survey, nps_type, touchpoint, journey_stage,
    channel, language, status, survey_id, or a day / week / month / quarter bucket;
  - the organisation's rollup is built; with a time bucket, built in the time zone asked
    for (on SQLite also with the UTC offset the raw SQLite query would shift by);
  - the range covers at least one whole local day. Whole days come from the rollup; the
    partial days at the range's edges come from raw rows (an indexed range scan of less
    than two days), added in the same SQL statement (UNION ALL, then GROUP BY), so a
    rollup answer is the raw answer, number for number.

How it is kept exact: database triggers (analytics.rollup_sql) on `responses`, not
write-time code. The responses table is written by ingest, completing a partial
response, bulk import, privacy erasure and anonymisation, retention, survey and
organisation deletion (cascades), backup restore and demo seeding, in several domains
and partly through bulk SQL; a trigger sees every one of them, including the ones added
later, where code in one place would have to be called from all of them. The price is a
few statements per write (on PostgreSQL one per statement, not per row). What bypasses
triggers (TRUNCATE, PostgreSQL's session_replication_role = replica, used by the
benchmarks' bulk loads) must be followed by `rebuild`.

Time zone: rollup days are local days of the time zone recorded in the organisation's
state row. When the organisation's time zone changes (or, on SQLite, the zone's UTC
offset changes with daylight saving), time-bucketed reads fall back to raw rows until
`rebuild` re-keys the rollup: the `rollup` job does it within minutes, and
`npsloop analytics rebuild-rollup` does it at once. Totals and groupings without a time
bucket do not depend on the zone and keep using the rollup meanwhile.

Concurrency: see analytics.rollup_sql (increments by UPSERT; the state row serialises
an organisation's writers and its rebuild).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import BigInteger, DateTime, cast, func, select, text, union_all
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from npsloop.accounts.models import Organization
from npsloop.analytics.filters import Filters
from npsloop.analytics.models import ResponseDaily, RollupState, sqlite_offset_minutes
from npsloop.core.db import utcnow
from npsloop.responses.models import Response
from npsloop.surveys.models import Survey

TIME_BUCKETS = ("day", "week", "month", "quarter")
SURVEY_COLUMNS = {"survey": Survey.name, "nps_type": Survey.nps_type,
                  "touchpoint": Survey.touchpoint, "journey_stage": Survey.journey_stage}
ROLLUP_COLUMNS = {"channel": ResponseDaily.channel, "language": ResponseDaily.language,
                  "status": ResponseDaily.status, "survey_id": ResponseDaily.survey_id}
GROUPINGS = frozenset({*SURVEY_COLUMNS, *ROLLUP_COLUMNS, *TIME_BUCKETS})
COUNTS = ("n", "promoters", "passives", "detractors")


_raw_only = threading.local()


@contextmanager
def raw_rows_only() -> Iterator[None]:
    """Within the block (this thread only) every count is computed from raw rows: what
    the equality tests and the benchmark compare the rollup against."""
    before = getattr(_raw_only, "on", False)
    _raw_only.on = True
    try:
        yield
    finally:
        _raw_only.on = before


@dataclass(frozen=True)
class State:
    timezone: str | None
    utc_offset_minutes: int | None
    data_version: int


def read_state(session: Session, org_id: str) -> State | None:
    row = session.execute(
        select(RollupState.timezone, RollupState.utc_offset_minutes, RollupState.data_version)
        .where(RollupState.org_id == org_id)).first()
    return State(row[0], row[1], int(row[2] or 0)) if row else None


def data_version(session: Session, org_id: str) -> int | None:
    """The organisation's data version (None when it has no state row): every committed
    write to its responses, their answers or its surveys changes it."""
    state = read_state(session, org_id)
    return state.data_version if state else None


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def built(session: Session, state: State | None) -> bool:
    if state is None or state.timezone is None:
        return False
    return _postgres(session) or state.utc_offset_minutes is not None


def keyed_in(session: Session, state: State | None, tz: str) -> bool:
    """Whether the rollup's days are the local days the raw query would bucket by."""
    if not built(session, state) or state is None or state.timezone != tz:
        return False
    return _postgres(session) or state.utc_offset_minutes == sqlite_offset_minutes(tz)


def usable(filters: Filters) -> bool:
    return not (filters.attributes or filters.tags or filters.segment_id
                or filters.segment_clause is not None or filters.lifecycle_stage)


# --- Which days come from the rollup ----------------------------------------------------


@dataclass(frozen=True)
class Plan:
    first_day: date | None  # inclusive; None: from the first response
    end_day: date | None  # exclusive; None: to the last response
    edges: list[Filters]  # raw-row parts: the partial days at the range's edges


def _day_start(session: Session, state: State, day: date) -> datetime:
    if _postgres(session):
        return datetime.combine(day, time.min, tzinfo=ZoneInfo(str(state.timezone))) \
            .astimezone(UTC)
    offset = timedelta(minutes=state.utc_offset_minutes or 0)
    return datetime.combine(day, time.min, tzinfo=UTC) - offset


def _local_day(session: Session, state: State, moment: datetime) -> date:
    if _postgres(session):
        return moment.astimezone(ZoneInfo(str(state.timezone))).date()
    offset = timedelta(minutes=state.utc_offset_minutes or 0)
    return (moment.astimezone(UTC) + offset).date()


def make_plan(session: Session, *, org_id: str, filters: Filters, names: list[str],
              tz: str | None) -> Plan | None:
    if getattr(_raw_only, "on", False) or not usable(filters) \
            or any(name not in GROUPINGS for name in names):
        return None
    state = read_state(session, org_id)
    if not built(session, state) or state is None:
        return None
    if any(name in TIME_BUCKETS for name in names) and not (
            tz is not None and keyed_in(session, state, tz)):
        return None
    if _postgres(session):
        try:
            ZoneInfo(str(state.timezone))
        except (ZoneInfoNotFoundError, ValueError):
            return None  # a zone PostgreSQL knows and Python does not: days unplaceable
    first_day = end_day = None
    edges: list[Filters] = []
    if filters.date_from is not None:
        first_day = _local_day(session, state, filters.date_from)
        if _day_start(session, state, first_day) < filters.date_from:
            first_day += timedelta(days=1)
    if filters.date_to is not None:
        end_day = _local_day(session, state, filters.date_to)
    if first_day is not None and end_day is not None and first_day >= end_day:
        return None  # not one whole day: the raw rows are few
    if first_day is not None:
        start = _day_start(session, state, first_day)
        if filters.date_from is not None and filters.date_from < start:
            edges.append(replace(filters, date_to=start))
    if end_day is not None:
        end = _day_start(session, state, end_day)
        if filters.date_to is not None and end < filters.date_to:
            edges.append(replace(filters, date_from=end))
    return Plan(first_day, end_day, edges)


# --- Queries ----------------------------------------------------------------------------


def _rollup_key(session: Session, name: str) -> tuple[ColumnElement[Any], bool]:
    from npsloop.analytics.service import bucket_of

    if name in SURVEY_COLUMNS:
        return SURVEY_COLUMNS[name], True
    if name in ROLLUP_COLUMNS:
        return ROLLUP_COLUMNS[name], False
    day = cast(ResponseDaily.day, DateTime) if _postgres(session) else ResponseDaily.day
    return bucket_of(session.get_bind().dialect.name, name, day, None), False


def _rollup_part(session: Session, org_id: str, filters: Filters, plan: Plan,
                 names: list[str]) -> Any:
    keys, joins = [], False
    for index, name in enumerate(names):
        expr, needs_survey = _rollup_key(session, name)
        joins = joins or needs_survey
        keys.append(expr.label(f"k{index}"))
    query = select(*keys, *(func.sum(getattr(ResponseDaily, c)).label(c) for c in COUNTS))
    query = query.where(ResponseDaily.org_id == org_id)
    if joins or filters.nps_type or filters.touchpoint or filters.journey_stage:
        query = query.where(Survey.id == ResponseDaily.survey_id)
        for column, value in ((Survey.nps_type, filters.nps_type),
                              (Survey.touchpoint, filters.touchpoint),
                              (Survey.journey_stage, filters.journey_stage)):
            if value:
                query = query.where(column == value)
    for column, value in ((ResponseDaily.survey_id, filters.survey_id),
                          (ResponseDaily.channel, filters.channel),
                          (ResponseDaily.language, filters.language),
                          (ResponseDaily.status, filters.status)):
        if value:
            query = query.where(column == value)
    if plan.first_day is not None:
        query = query.where(ResponseDaily.day >= plan.first_day)
    if plan.end_day is not None:
        query = query.where(ResponseDaily.day < plan.end_day)
    return query.group_by(*keys) if keys else query


def _raw_part(session: Session, org_id: str, filters: Filters, names: list[str],
              tz: str | None) -> Any:
    from npsloop.analytics import service
    from npsloop.analytics.filters import apply_filters

    keys, joins = [], False
    for index, name in enumerate(names):
        if name == "survey_id":
            expr, needs_survey = Response.survey_id, False
        else:
            expr, needs_survey = service.dimension(session, name, tz or "UTC")
        joins = joins or needs_survey
        keys.append(expr.label(f"k{index}"))
    query = select(*keys, *service._counts())
    if joins:
        query = query.where(Survey.id == Response.survey_id)
    query = apply_filters(query, org_id, filters)
    return query.group_by(*keys) if keys else query


def counts_query(session: Session, *, org_id: str, filters: Filters, names: list[str],
                 tz: str | None) -> Any | None:
    """One SELECT of (k0 .. kN, n, promoters, passives, detractors) grouped and ordered by
    the keys, from the rollup plus the raw edge days; None when the rollup cannot answer
    (see the module docstring). Time-bucket keys are 'YYYY-MM-DD' text, as the raw
    analytics.service.time_bucket gives them."""
    plan = make_plan(session, org_id=org_id, filters=filters, names=names, tz=tz)
    if plan is None:
        return None
    parts = [_rollup_part(session, org_id, filters, plan, names)]
    parts += [_raw_part(session, org_id, edge, names, tz) for edge in plan.edges]
    combined = union_all(*parts).subquery("counted")
    keys = [combined.c[f"k{i}"] for i in range(len(names))]
    totals = [cast(func.coalesce(func.sum(combined.c[c]), 0), BigInteger).label(c)
              for c in COUNTS]
    query = select(*(key.label(f"k{i}") for i, key in enumerate(keys)), *totals)
    if keys:
        query = query.group_by(*keys).having(func.sum(combined.c.n) > 0).order_by(*keys)
    return query


# --- Building -----------------------------------------------------------------------------


def _ensure_state(session: Session, org_id: str) -> None:
    if _postgres(session):
        session.execute(text(
            "INSERT INTO analytics_rollup_state (org_id, data_version) VALUES (:org, 0) "
            "ON CONFLICT (org_id) DO NOTHING"), {"org": org_id})
    else:
        session.execute(text(
            "INSERT OR IGNORE INTO analytics_rollup_state (org_id, data_version) "
            "VALUES (:org, 0)"), {"org": org_id})


def rebuild(session: Session, *, org_id: str, tz: str | None = None) -> int:
    """Re-keys the organisation's rollup to `tz` (default: the organisation's time zone)
    and recomputes it from its responses, in the caller's transaction (never commits).
    Returns the number of rollup rows written. ValueError for an unknown time zone."""
    if tz is None:
        tz = session.scalar(select(Organization.timezone).where(Organization.id == org_id))
        if tz is None:
            raise LookupError(f"organisation '{org_id}' not found")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"timezone: '{tz}' is not a known time zone") from exc
    postgres = _postgres(session)
    offset = None if postgres else sqlite_offset_minutes(tz)
    _ensure_state(session, org_id)
    # First: on PostgreSQL this locks the state row, which every writer of the
    # organisation's responses updates first, so none can slip between DELETE and INSERT.
    session.execute(text(
        "UPDATE analytics_rollup_state SET timezone = :tz, utc_offset_minutes = :offset, "
        "built_at = :now, data_version = data_version + 1 WHERE org_id = :org"),
        {"tz": tz, "offset": offset, "now": utcnow(), "org": org_id})
    session.execute(text("DELETE FROM response_daily WHERE org_id = :org"), {"org": org_id})
    day = ("(timezone(:tz, submitted_at))::date" if postgres
           else "date(submitted_at, :shift)")
    result = session.execute(text(
        f"""INSERT INTO response_daily (org_id, day, survey_id, channel, language, status,
               n, promoters, passives, detractors, score_sum)
            SELECT org_id, {day}, survey_id, channel, language, status, count(*),
                   sum(CASE WHEN score >= 9 THEN 1 ELSE 0 END),
                   sum(CASE WHEN score BETWEEN 7 AND 8 THEN 1 ELSE 0 END),
                   sum(CASE WHEN score <= 6 THEN 1 ELSE 0 END), sum(score)
            FROM responses WHERE org_id = :org GROUP BY 1, 2, 3, 4, 5, 6"""),
        {"tz": tz, "shift": f"{offset or 0:+d} minutes", "org": org_id})
    session.flush()
    return int(getattr(result, "rowcount", 0) or 0)


def stale_organizations(session: Session) -> list[tuple[str, str]]:
    """(org id, time zone) of every organisation whose rollup is missing or keyed in
    another time zone (or, on SQLite, another UTC offset) than the organisation's."""
    rows = session.execute(
        select(Organization.id, Organization.timezone, RollupState.timezone,
               RollupState.utc_offset_minutes)
        .outerjoin(RollupState, RollupState.org_id == Organization.id)).all()
    stale = []
    for org_id, zone, keyed_zone, offset in rows:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            continue  # nothing to key by; reads use raw rows
        state = State(keyed_zone, offset, 0)
        if not keyed_in(session, state, zone):
            stale.append((org_id, zone))
    return stale


def rebuild_stale(factory: sessionmaker[Session]) -> int:
    """The `rollup` job: rebuilds each stale organisation in its own transaction."""
    with factory() as session:
        stale = stale_organizations(session)
    for org_id, zone in stale:
        with factory() as session:
            rebuild(session, org_id=org_id, tz=zone)
            session.commit()
    return len(stale)
