"""NPS over time: calendar buckets in the organisation's time zone, rolling windows pooled
from bucket counts, and the change from one bucket (or period) to the previous one with its
z-test.

Buckets are computed in SQL (analytics.service.time_bucket): on PostgreSQL with
`timezone(org_tz, submitted_at)`, exact across daylight-saving changes; on SQLite, which has
no time zones, by shifting with the zone's current UTC offset, exact for zones without
daylight saving (Asia/Shanghai, the default) and off by an hour around a DST change
otherwise. Weeks start on Monday (ISO), quarters on 1 January / April / July / October.
Empty buckets inside the range are filled with zero counts so rolling windows and
period-over-period changes compare neighbouring calendar periods, not neighbouring rows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from npsloop.analytics import rollup, service
from npsloop.analytics.filters import Filters, apply_filters
from npsloop.analytics.stats import NpsCounts, NpsDifference, NpsSummary, compare, rolling_sums
from npsloop.responses.models import Response

BUCKETS = service.TIME_BUCKETS
MAX_BUCKETS = 1000
MAX_ROLLING = 52


class TrendError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def bucket_start(day: date, bucket: str) -> date:
    """The first local day of the bucket that contains `day`."""
    if bucket == "day":
        return day
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    if bucket == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    raise TrendError("bucket", f"must be one of {', '.join(BUCKETS)}")


def next_bucket(start: date, bucket: str) -> date:
    if bucket == "day":
        return start + timedelta(days=1)
    if bucket == "week":
        return start + timedelta(days=7)
    months = 1 if bucket == "month" else 3
    month_index = start.month - 1 + months
    return date(start.year + month_index // 12, month_index % 12 + 1, 1)


def bucket_keys(first: date, last: date, bucket: str) -> list[str]:
    """Every bucket from the one holding `first` to the one holding `last`, as ISO dates."""
    keys: list[str] = []
    current, end = bucket_start(first, bucket), bucket_start(last, bucket)
    while current <= end:
        keys.append(current.isoformat())
        if len(keys) > MAX_BUCKETS:
            raise TrendError(
                "bucket", f"the range spans more than {MAX_BUCKETS} {bucket}s; "
                "choose a larger bucket or a shorter range"
            )
        current = next_bucket(current, bucket)
    return keys


def _local_day(moment: datetime, tz: str) -> date:
    return moment.astimezone(ZoneInfo(tz)).date()


@dataclass(frozen=True)
class TrendPoint:
    key: str
    counts: NpsCounts
    summary: NpsSummary
    # Against the previous bucket; None for the first bucket.
    change: NpsDifference | None
    rolling: NpsSummary | None


@dataclass(frozen=True)
class PeriodChange:
    """The filtered range against the range of the same length just before it."""

    current: NpsSummary
    previous: NpsSummary
    previous_from: datetime
    previous_to: datetime
    change: NpsDifference


@dataclass(frozen=True)
class Trend:
    bucket: str
    rolling_window: int | None
    points: list[TrendPoint]
    period: PeriodChange | None


def bucket_group(session: Session, bucket: str, tz: str) -> ColumnElement[Any]:
    """The expression to GROUP BY for a local bucket. On PostgreSQL the bare date_trunc:
    formatting the few grouped values (key_text) is cheaper than to_char on every row."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date_trunc(bucket, func.timezone(tz, Response.submitted_at))
    return service.time_bucket(session, bucket, tz)


def key_text(value: Any) -> str | None:
    """A grouped key as text: bucket starts (datetimes from PostgreSQL) as 'YYYY-MM-DD'."""
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.strftime("%Y-%m-%d")
    return str(value)


def bucket_counts(
    session: Session, *, org_id: str, filters: Filters, bucket: str, tz: str
) -> dict[str, NpsCounts]:
    """One GROUP BY over the local bucket: counts per bucket key that has responses (from
    the daily rollup when it can answer, see analytics.rollup)."""
    query = rollup.counts_query(session, org_id=org_id, filters=filters, names=[bucket], tz=tz)
    if query is None:
        key = bucket_group(session, bucket, tz).label("k0")
        query = apply_filters(select(key, *service._counts()), org_id, filters).group_by(key)
    return {
        str(key_text(row.k0)): NpsCounts(
            int(row.promoters or 0), int(row.passives or 0), int(row.detractors or 0))
        for row in session.execute(query)
    }


def honest_change(before: NpsSummary, after: NpsSummary) -> NpsDifference:
    """The z-test of the change, counted significant only when both sides have enough
    responses: below the too-few threshold the normal approximation is not trusted."""
    diff = compare(before, after)
    if diff.significant and (before.too_few or after.too_few):
        return replace(diff, significant=False)
    return diff


def period_change(
    session: Session, *, org_id: str, filters: Filters, min_n: int,
    current_counts: NpsCounts | None = None,
) -> PeriodChange | None:
    """`current_counts`, when the caller already has them (the sum of a trend's buckets),
    saves one aggregate; the previous period always takes one."""
    if filters.date_from is None or filters.date_to is None:
        return None
    length = filters.date_to - filters.date_from
    previous_filters = replace(filters, date_from=filters.date_from - length,
                               date_to=filters.date_from)
    current = (current_counts.summary(min_n) if current_counts is not None
               else service.nps(session, org_id=org_id, filters=filters, min_n=min_n))
    previous = service.nps(session, org_id=org_id, filters=previous_filters, min_n=min_n)
    return PeriodChange(current, previous, filters.date_from - length, filters.date_from,
                        honest_change(previous, current))


def trend(
    session: Session,
    *,
    org_id: str,
    filters: Filters,
    bucket: str,
    tz: str,
    min_n: int = 30,
    rolling_window: int | None = None,
) -> Trend:
    if bucket not in BUCKETS:
        raise TrendError("bucket", f"must be one of {', '.join(BUCKETS)}")
    if rolling_window is not None and not 1 <= rolling_window <= MAX_ROLLING:
        raise TrendError("rolling", f"must be between 1 and {MAX_ROLLING}")
    counts = bucket_counts(session, org_id=org_id, filters=filters, bucket=bucket, tz=tz)
    if filters.date_from is not None and filters.date_to is not None:
        first = _local_day(filters.date_from, tz)
        last = _local_day(filters.date_to - timedelta(microseconds=1), tz)
    elif counts:
        days = sorted(date.fromisoformat(k) for k in counts)
        first = _local_day(filters.date_from, tz) if filters.date_from else days[0]
        last = (_local_day(filters.date_to - timedelta(microseconds=1), tz)
                if filters.date_to else days[-1])
    else:
        return Trend(bucket, rolling_window, [], None)
    keys = bucket_keys(first, last, bucket) if first <= last else []
    series = [counts.get(k, NpsCounts()) for k in keys]
    rolled = rolling_sums(series, rolling_window) if rolling_window else None
    points: list[TrendPoint] = []
    previous: NpsSummary | None = None
    for index, (key, item) in enumerate(zip(keys, series, strict=True)):
        summary = item.summary(min_n)
        points.append(TrendPoint(
            key=key,
            counts=item,
            summary=summary,
            change=honest_change(previous, summary) if previous is not None else None,
            rolling=rolled[index].summary(min_n) if rolled else None,
        ))
        previous = summary
    total = NpsCounts()
    for item in counts.values():
        total = total + item
    return Trend(bucket, rolling_window, points,
                 period_change(session, org_id=org_id, filters=filters, min_n=min_n,
                               current_counts=total))


def summary_dict(summary: NpsSummary) -> dict[str, Any]:
    data = summary.as_dict()
    data.pop("variance")
    return data
