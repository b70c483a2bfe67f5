"""Repurchase and churn rates in the N days after an NPS answer, by category.

Unit: the respondent. Each contact counts once, with their latest answer in the filtered
range whose N-day window is already over (answers of the last N days cannot show their
outcome yet and are reported as `pending`, not as "did not repurchase"). Anonymous answers
have no behaviour and are left out. Everything is aggregated in SQL: one row per category
comes back, never one per response.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from npsloop.analytics.filters import Filters, apply_filters
from npsloop.core.db import utcnow
from npsloop.outcomes import stats
from npsloop.outcomes.models import Outcome
from npsloop.outcomes.service import event_name_of, get_settings, outcome_condition
from npsloop.responses.models import Response

CATEGORIES = ("promoter", "passive", "detractor")


def _latest_answers(org_id: str, filters: Filters, cutoff: datetime) -> Any:
    ranked = apply_filters(select(
        Response.contact_id.label("contact_id"), Response.category.label("category"),
        Response.submitted_at.label("submitted_at"),
        func.row_number().over(partition_by=Response.contact_id,
                               order_by=(Response.submitted_at.desc(), Response.id.desc()))
        .label("rn"),
    ), org_id, filters).where(Response.contact_id.is_not(None),
                              Response.category.is_not(None),
                              Response.submitted_at <= cutoff)
    return ranked.subquery("latest")


def outcome_rates(session: Session, org_id: str, filters: Filters, *, outcome: Outcome,
                  window_days: int, now: datetime | None = None) -> dict[str, Any]:
    """Per category: respondents, how many had the outcome, the rate and its Wilson 95% CI;
    plus promoters minus detractors with Newcombe's CI and a two-proportion z-test."""
    settings = get_settings(session, org_id)
    now = now or utcnow()
    cutoff = now - timedelta(days=window_days)
    latest = _latest_answers(org_id, filters, cutoff)
    had = outcome_condition(settings, outcome, org_id, latest.c.contact_id,
                            latest.c.submitted_at, window_days)
    rows = session.execute(
        select(latest.c.category, func.count(), func.sum(case((had, 1), else_=0)))
        .where(latest.c.rn == 1).group_by(latest.c.category)).all()
    counts = {category: (int(n), int(events or 0)) for category, n, events in rows}
    by_category = {c: stats.rate(counts.get(c, (0, 0))[1], counts.get(c, (0, 0))[0])
                   for c in CATEGORIES}
    total_n = sum(n for n, _ in counts.values())
    total_events = sum(e for _, e in counts.values())
    pending = session.scalar(apply_filters(
        select(func.count(func.distinct(Response.contact_id))), org_id, filters).where(
        Response.contact_id.is_not(None), Response.category.is_not(None),
        Response.submitted_at > cutoff)) or 0
    return {
        "outcome": outcome.value,
        "event": event_name_of(settings, outcome),
        "window_days": window_days,
        "observed_until": cutoff.isoformat(),
        "overall": stats.rate(total_events, total_n).as_dict(),
        "categories": {c: r.as_dict() for c, r in by_category.items()},
        "promoters_vs_detractors": stats.difference(
            by_category["promoter"], by_category["detractor"]).as_dict(),
        "pending": int(pending),
        "filters": filters.as_dict(),
    }
