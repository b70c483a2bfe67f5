"""Referral analytics: the funnel, referrals per promoter, top advocates, breakdowns and the
later NPS of referred customers.

The funnel is a cohort: promoters (codes) first asked within the period, followed to today.
  asked      codes with an "asked" event in the period
  shared     of those, codes with a "shared" event or at least one unflagged visit
  visits     unflagged visits of those codes (visitors' opens of the link)
  conversions conversions through those codes
Visits flagged as a burst are kept in the table but never counted here (reported apart).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from npsloop.analytics.stats import compare, summarize
from npsloop.contacts.models import Contact, Segment
from npsloop.referrals.models import (
    EventKind,
    ReferralCode,
    ReferralConversion,
    ReferralEvent,
    ReferralVisit,
)
from npsloop.responses.models import Response


def _asked_codes(org_id: str, date_from: datetime | None, date_to: datetime | None
                 ) -> Select[Any]:
    query = select(ReferralEvent.code_id).where(ReferralEvent.org_id == org_id,
                                                ReferralEvent.kind == EventKind.asked.value)
    if date_from:
        query = query.where(ReferralEvent.occurred_at >= date_from)
    if date_to:
        query = query.where(ReferralEvent.occurred_at < date_to)
    return query.distinct()


def _visits_of(code_ids: Select[Any]) -> Select[Any]:
    return (select(ReferralVisit.code_id, func.count().label("visits"))
            .where(ReferralVisit.code_id.in_(code_ids), ReferralVisit.flagged.is_(False))
            .group_by(ReferralVisit.code_id))


def _conversions_of(code_ids: Select[Any]) -> Select[Any]:
    return (select(ReferralConversion.code_id, func.count().label("conversions"),
                   func.coalesce(func.sum(ReferralConversion.value), 0).label("value"))
            .where(ReferralConversion.code_id.in_(code_ids))
            .group_by(ReferralConversion.code_id))


def _shared_codes(code_ids: Select[Any]) -> Select[Any]:
    shared = select(ReferralEvent.code_id).where(ReferralEvent.code_id.in_(code_ids),
                                                 ReferralEvent.kind == EventKind.shared.value)
    visited = select(ReferralVisit.code_id).where(ReferralVisit.code_id.in_(code_ids),
                                                  ReferralVisit.flagged.is_(False))
    return shared.union(visited)


def funnel_counts(session: Session, code_ids: Select[Any]) -> dict[str, Any]:
    """The four steps for a set of (asked) codes given as a SELECT of ids."""
    asked = session.scalar(select(func.count()).select_from(code_ids.subquery())) or 0
    shared = session.scalar(select(func.count()).select_from(
        _shared_codes(code_ids).subquery())) or 0
    visit_rows = session.execute(_visits_of(code_ids)).all()
    conversion_rows = session.execute(_conversions_of(code_ids)).all()
    flagged = session.scalar(select(func.count()).select_from(ReferralVisit).where(
        ReferralVisit.code_id.in_(code_ids), ReferralVisit.flagged.is_(True))) or 0
    visits = sum(int(r.visits) for r in visit_rows)
    conversions = sum(int(r.conversions) for r in conversion_rows)
    return {
        "asked": int(asked), "shared": int(shared), "visits": visits,
        "conversions": conversions, "visited_promoters": len(visit_rows),
        "converting_promoters": len(conversion_rows),
        "value": round(sum(float(r.value or 0) for r in conversion_rows), 2),
        "flagged_visits": int(flagged),
        "share_rate": _rate(shared, asked), "conversion_rate": _rate(conversions, visits),
        "conversions_per_asked": _rate(conversions, asked),
    }


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def funnel(session: Session, org_id: str, date_from: datetime | None,
           date_to: datetime | None) -> dict[str, Any]:
    return funnel_counts(session, _asked_codes(org_id, date_from, date_to))


def per_promoter(session: Session, org_id: str, date_from: datetime | None,
                 date_to: datetime | None) -> dict[str, Any]:
    """How many conversions each asked promoter brought: 0, 1, 2, 3 or more."""
    code_ids = _asked_codes(org_id, date_from, date_to)
    asked = session.scalar(select(func.count()).select_from(code_ids.subquery())) or 0
    buckets = {"0": 0, "1": 0, "2": 0, "3+": 0}
    total = 0
    for row in session.execute(_conversions_of(code_ids)):
        count = int(row.conversions)
        total += count
        buckets["3+" if count >= 3 else str(count)] += 1
    buckets["0"] = int(asked) - sum(v for k, v in buckets.items() if k != "0")
    return {"asked": int(asked), "buckets": buckets,
            "mean": round(total / asked, 3) if asked else None}


def top_advocates(session: Session, org_id: str, limit: int = 10) -> list[dict[str, Any]]:
    visits = (select(ReferralVisit.code_id, func.count().label("visits"))
              .where(ReferralVisit.org_id == org_id, ReferralVisit.flagged.is_(False))
              .group_by(ReferralVisit.code_id).subquery())
    conversions = (select(ReferralConversion.code_id, func.count().label("conversions"),
                          func.coalesce(func.sum(ReferralConversion.value), 0).label("value"))
                   .where(ReferralConversion.org_id == org_id)
                   .group_by(ReferralConversion.code_id).subquery())
    n_conv = func.coalesce(conversions.c.conversions, 0)
    n_visits = func.coalesce(visits.c.visits, 0)
    query = (select(ReferralCode, Contact.external_id, Contact.name, n_visits.label("visits"),
                    n_conv.label("conversions"),
                    func.coalesce(conversions.c.value, 0).label("value"))
             .outerjoin(visits, visits.c.code_id == ReferralCode.id)
             .outerjoin(conversions, conversions.c.code_id == ReferralCode.id)
             .outerjoin(Contact, Contact.id == ReferralCode.contact_id)
             .where(ReferralCode.org_id == org_id, or_(n_conv > 0, n_visits > 0))
             .order_by(n_conv.desc(), n_visits.desc(), ReferralCode.created_at)
             .limit(limit))
    return [{"code": code.code, "contact_external_id": external_id, "contact_name": name,
             "touchpoint": code.touchpoint, "lifecycle_stage": code.lifecycle_stage,
             "score": code.score, "visits": int(n_v), "conversions": int(n_c),
             "value": round(float(value or 0), 2), "since": code.created_at.isoformat()}
            for code, external_id, name, n_v, n_c, value in session.execute(query)]


def breakdown(session: Session, org_id: str, by: str, date_from: datetime | None,
              date_to: datetime | None) -> list[dict[str, Any]]:
    """The funnel per touchpoint, lifecycle stage (snapshots on the code) or saved segment."""
    asked = _asked_codes(org_id, date_from, date_to)
    rows: list[dict[str, Any]] = []
    if by in ("touchpoint", "lifecycle_stage"):
        column = getattr(ReferralCode, by)
        keys = session.scalars(select(func.coalesce(column, "")).where(
            ReferralCode.id.in_(asked)).distinct())
        for key in sorted(keys):
            condition = column == key if key else or_(column.is_(None), column == "")
            ids = select(ReferralCode.id).where(ReferralCode.id.in_(asked), condition)
            rows.append({"key": key, **funnel_counts(session, ids)})
    elif by == "segment":
        from npsloop.contacts.segments import segment_contact_ids

        for segment in session.scalars(select(Segment).where(Segment.org_id == org_id)
                                       .order_by(Segment.name)):
            members = segment_contact_ids(session, org_id, segment.id)
            ids = select(ReferralCode.id).where(ReferralCode.id.in_(asked),
                                                ReferralCode.contact_id.in_(members))
            rows.append({"key": segment.id, "label": segment.name,
                         **funnel_counts(session, ids)})
    else:
        raise ValueError(f"by: '{by}' is not one of touchpoint, lifecycle_stage, segment")
    return sorted(rows, key=lambda r: (-r["asked"], r["key"]))


def referred_vs_others(session: Session, org_id: str, date_from: datetime | None,
                       date_to: datetime | None, min_n: int) -> dict[str, Any]:
    """NPS of referred customers' responses given after their conversion, versus the
    responses of every other contact, in the period; with the z-test of the difference."""
    referred = (select(Contact.id, ReferralConversion.converted_at)
                .join(ReferralConversion, and_(
                    ReferralConversion.org_id == Contact.org_id,
                    ReferralConversion.customer_external_id == Contact.external_id))
                .where(Contact.org_id == org_id).subquery())

    def counts(query: Select[Any]) -> Any:
        query = query.where(Response.org_id == org_id)
        if date_from:
            query = query.where(Response.submitted_at >= date_from)
        if date_to:
            query = query.where(Response.submitted_at < date_to)
        return session.execute(query).one()

    columns = [func.count(), func.sum(_when(Response.score >= 9)),
               func.sum(_when(Response.score.between(7, 8))),
               func.sum(_when(Response.score <= 6))]
    mine = counts(select(*columns).join(referred, referred.c.id == Response.contact_id)
                  .where(Response.submitted_at >= referred.c.converted_at))
    others = counts(select(*columns).where(or_(Response.contact_id.is_(None),
                                               Response.contact_id.not_in(
                                                   select(referred.c.id)))))
    a = summarize(int(others[1] or 0), int(others[2] or 0), int(others[3] or 0), min_n)
    b = summarize(int(mine[1] or 0), int(mine[2] or 0), int(mine[3] or 0), min_n)
    change = compare(a, b)
    customers = session.scalar(select(func.count()).select_from(referred)) or 0
    return {"referred": _public(b), "others": _public(a), "referred_customers": int(customers),
            "difference": change.difference, "z": change.z, "p_value": change.p_value,
            "significant": change.significant}


def _when(condition: Any) -> Any:
    return case((condition, 1), else_=0)


def _public(summary: Any) -> dict[str, Any]:
    data = summary.as_dict()
    data.pop("variance", None)
    return data


def weekly_activity(session: Session, org_id: str, date_from: datetime | None,
                    date_to: datetime | None, tz: str) -> list[dict[str, Any]]:
    """Asked, unflagged visits and conversions per local week (for the chart)."""
    zone = ZoneInfo(tz)
    weeks: dict[str, dict[str, int]] = {}

    def add(rows: Any, name: str) -> None:
        for (moment,) in rows:
            local = moment.astimezone(zone).date()
            monday = local.fromordinal(local.toordinal() - local.weekday()).isoformat()
            weeks.setdefault(monday, {"asked": 0, "visits": 0, "conversions": 0})[name] += 1

    def window(query: Any, column: Any) -> Any:
        if date_from:
            query = query.where(column >= date_from)
        if date_to:
            query = query.where(column < date_to)
        return query

    add(session.execute(window(select(ReferralEvent.occurred_at).where(
        ReferralEvent.org_id == org_id, ReferralEvent.kind == EventKind.asked.value),
        ReferralEvent.occurred_at)), "asked")
    add(session.execute(window(select(ReferralVisit.visited_at).where(
        ReferralVisit.org_id == org_id, ReferralVisit.flagged.is_(False)),
        ReferralVisit.visited_at)), "visits")
    add(session.execute(window(select(ReferralConversion.converted_at).where(
        ReferralConversion.org_id == org_id), ReferralConversion.converted_at)), "conversions")
    return [{"week": week, **weeks[week]} for week in sorted(weeks)]
