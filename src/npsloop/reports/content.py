"""What a digest says, computed once and rendered twice (HTML email and PDF).

The headline is trends.period_change over the reported period (the same z-test as the
dashboard), the charts come from analytics.overview (relationship NPS trend over the last
twelve buckets, touchpoint NPS by journey stage, volume, response rate) and the movers from
analytics.movers over the period against the one before it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from npsloop.accounts.service import get_organization
from npsloop.analytics import overview as org_overview
from npsloop.analytics import trends
from npsloop.analytics.filters import Filters
from npsloop.analytics.overview import Overview
from npsloop.analytics.trends import PeriodChange
from npsloop.core.i18n import Translator
from npsloop.reports.schedule import Period

TREND_BUCKETS = 12


@dataclass(frozen=True)
class DigestContent:
    org_name: str
    language: str
    frequency: str
    period: Period
    tz: str
    headline: PeriodChange
    overview: Overview
    trend_bucket: str
    generated_at: datetime

    def t(self) -> Translator:
        return Translator(self.language)

    @property
    def period_label(self) -> str:
        return f"{self.period.first_day.isoformat()} – {self.period.last_day.isoformat()}"


def trend_start(period: Period, bucket: str, tz: str) -> datetime:
    """The start of the trend window: twelve buckets ending with the reported period."""
    first: date = period.first_day
    for _ in range(TREND_BUCKETS - 1):
        first = trends.bucket_start(first - timedelta(days=1), bucket)
    return datetime.combine(first, datetime.min.time(), tzinfo=ZoneInfo(tz))


def build(session: Session, *, org_id: str, filters: Filters, period: Period, frequency: str,
          language: str, min_n: int, now: datetime) -> DigestContent:
    org = get_organization(session, org_id)
    tz = org.timezone if org else "UTC"
    in_period = replace(filters, date_from=period.start, date_to=period.end)
    headline = trends.period_change(session, org_id=org_id, filters=in_period, min_n=min_n)
    assert headline is not None  # both bounds are set
    view = org_overview.overview(session, org_id=org_id, filters=in_period, tz=tz,
                                 min_n=min_n, lang=language, now=now)
    # The relationship trend looks back over twelve months, not just the period (and by
    # quarter for a quarterly programme: overview.relationship_trend decides).
    window = replace(filters, date_from=trend_start(period, "month", tz), date_to=period.end)
    relationship = org_overview.relationship_trend(session, org_id=org_id, filters=window,
                                                   tz=tz, min_n=min_n)
    view = replace(view, relationship=relationship)
    bucket = relationship.bucket
    return DigestContent(
        org_name=org.name if org else "", language=language, frequency=frequency,
        period=period, tz=tz, headline=headline, overview=view, trend_bucket=bucket,
        generated_at=now,
    )
