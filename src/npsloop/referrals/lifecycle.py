"""Lifecycle stages (acquisition, conversion, retention, referral): moves and views.

Moves: the contacts domain stores only a contact's current stage, so this module records
each change itself. An `after_flush` listener on every ORM session notices a Contact whose
`lifecycle_stage` changed (API, import, response ingest, a referral conversion) and writes a
LifecycleMove in the same transaction. Bulk Core writes (the demo seeder) bypass the ORM;
for those, `observe_moves_from_responses` reconstructs moves from the stage snapshot each
response keeps (source "observed", dated at the first response in the new stage).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, delete, event, func, insert, select
from sqlalchemy.orm import Session, attributes

from npsloop.analytics.filters import Filters, lifecycle_expr
from npsloop.analytics.service import nps_by, time_bucket
from npsloop.analytics.stats import summarize
from npsloop.contacts.models import Contact
from npsloop.core.db import new_id, utcnow
from npsloop.referrals.models import (
    EventKind,
    LifecycleMove,
    ReferralCode,
    ReferralConversion,
    ReferralEvent,
    ReferralVisit,
)
from npsloop.responses.models import Response
from npsloop.surveys.models import Survey

STAGES = ("acquisition", "conversion", "retention", "referral")


# -- recording moves ---------------------------------------------------------------------


def _stage_changes(session: Session) -> list[dict[str, Any]]:
    rows = []
    now = utcnow()
    source = session.info.get("lifecycle_source", "contact_write")
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, Contact):
            continue
        history = attributes.get_history(obj, "lifecycle_stage")
        if not history.added:
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0]
        if old == new or (old is None and new is None):
            continue
        rows.append({"id": new_id(), "org_id": obj.org_id, "contact_id": obj.id,
                     "from_stage": old, "to_stage": new, "source": source, "moved_at": now})
    return rows


def _after_flush(session: Session, _context: object) -> None:
    rows = _stage_changes(session)
    if rows:
        # Core insert on the flush's own connection: same transaction, no nested flush.
        session.connection().execute(insert(LifecycleMove.__table__), rows)


def install_listener() -> None:
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)


def observe_moves_from_responses(session: Session, org_id: str) -> int:
    """Rebuilds the "observed" moves of an organisation from response snapshots; returns how
    many. Idempotent: earlier observed moves are replaced, recorded ones are kept."""
    session.execute(delete(LifecycleMove).where(LifecycleMove.org_id == org_id,
                                                LifecycleMove.source == "observed"))
    stage = Response.contact_attributes["lifecycle_stage"].as_string()
    query = (select(Response.contact_id, Response.submitted_at, stage.label("stage"))
             .where(Response.org_id == org_id, Response.contact_id.is_not(None))
             .order_by(Response.contact_id, Response.submitted_at))
    rows: list[dict[str, Any]] = []
    previous: dict[str, str] = {}
    for contact_id, submitted_at, current in session.execute(query):
        if not current or current not in STAGES:
            continue
        before = previous.get(contact_id)
        if before is not None and before != current:
            rows.append({"id": new_id(), "org_id": org_id, "contact_id": contact_id,
                         "from_stage": before, "to_stage": current, "source": "observed",
                         "moved_at": submitted_at})
        previous[contact_id] = current
    for start in range(0, len(rows), 2000):
        session.execute(insert(LifecycleMove.__table__), rows[start:start + 2000])
    session.flush()
    return len(rows)


# -- views -------------------------------------------------------------------------------


def nps_by_stage(session: Session, org_id: str, date_from: datetime | None,
                 date_to: datetime | None, tz: str, min_n: int) -> dict[str, dict[str, Any]]:
    filters = Filters(date_from=date_from, date_to=date_to)
    found = {key: summary for key, summary in nps_by(session, org_id=org_id, filters=filters,
                                                     group_by="lifecycle_stage", tz=tz,
                                                     min_n=min_n)}
    out = {}
    for stage in (*STAGES, None):
        summary = found.get(stage) or summarize(0, 0, 0, min_n)
        data = summary.as_dict()
        data.pop("variance", None)
        out[stage or "unknown"] = data
    return out


def stage_trend(session: Session, org_id: str, date_from: datetime | None,
                date_to: datetime | None, tz: str) -> list[dict[str, Any]]:
    """Monthly NPS and volume per stage (for the chart)."""
    month = time_bucket(session, "month", tz).label("month")
    stage = lifecycle_expr().label("stage")
    query = select(month, stage, func.count().label("n"),
                   func.sum(case((Response.score >= 9, 1), else_=0)).label("p"),
                   func.sum(case((Response.score <= 6, 1), else_=0)).label("d"),
                   ).where(Response.org_id == org_id)
    if date_from:
        query = query.where(Response.submitted_at >= date_from)
    if date_to:
        query = query.where(Response.submitted_at < date_to)
    rows = session.execute(query.group_by(month, stage).order_by(month))
    return [{"month": r.month, "stage": r.stage or "unknown", "n": int(r.n),
             "nps": round((int(r.p or 0) - int(r.d or 0)) / r.n * 100, 1) if r.n else None}
            for r in rows]


def referral_activity_by_stage(session: Session, org_id: str, date_from: datetime | None,
                               date_to: datetime | None) -> dict[str, dict[str, int]]:
    """Promoters asked, unflagged visits and conversions per the referrer's stage (the
    snapshot on the code), counted by when each happened."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"asked": 0, "visits": 0,
                                                          "conversions": 0})
    stage = ReferralCode.lifecycle_stage

    def window(query: Any, column: Any) -> Any:
        if date_from:
            query = query.where(column >= date_from)
        if date_to:
            query = query.where(column < date_to)
        return query

    asked = window(select(stage, func.count(func.distinct(ReferralEvent.code_id)))
                   .select_from(ReferralEvent)
                   .join(ReferralCode, ReferralCode.id == ReferralEvent.code_id)
                   .where(ReferralEvent.org_id == org_id,
                          ReferralEvent.kind == EventKind.asked.value),
                   ReferralEvent.occurred_at).group_by(stage)
    visits = window(select(stage, func.count()).select_from(ReferralVisit)
                    .join(ReferralCode, ReferralCode.id == ReferralVisit.code_id)
                    .where(ReferralVisit.org_id == org_id, ReferralVisit.flagged.is_(False)),
                    ReferralVisit.visited_at).group_by(stage)
    conversions = window(select(stage, func.count()).select_from(ReferralConversion)
                         .join(ReferralCode, ReferralCode.id == ReferralConversion.code_id)
                         .where(ReferralConversion.org_id == org_id),
                         ReferralConversion.converted_at).group_by(stage)
    for name, query in (("asked", asked), ("visits", visits), ("conversions", conversions)):
        for key, count in session.execute(query):
            out[key if key in STAGES else "unknown"][name] += int(count)
    return {key: dict(out[key]) for key in (*STAGES, "unknown")}


def stage_moves(session: Session, org_id: str, date_from: datetime | None,
                date_to: datetime | None, tz: str) -> dict[str, Any]:
    """Moves per month and the from -> to matrix over the period."""
    query = select(LifecycleMove.from_stage, LifecycleMove.to_stage, LifecycleMove.moved_at,
                   LifecycleMove.source).where(LifecycleMove.org_id == org_id)
    if date_from:
        query = query.where(LifecycleMove.moved_at >= date_from)
    if date_to:
        query = query.where(LifecycleMove.moved_at < date_to)
    zone = ZoneInfo(tz)
    months: dict[str, dict[str, int]] = defaultdict(lambda: {s: 0 for s in STAGES})
    matrix: dict[str, dict[str, int]] = {s: {t: 0 for t in STAGES} for s in (*STAGES, "new")}
    sources: dict[str, int] = defaultdict(int)
    total = 0
    for from_stage, to_stage, moved_at, source in session.execute(query):
        if to_stage not in STAGES:
            continue
        total += 1
        sources[source] += 1
        months[moved_at.astimezone(zone).strftime("%Y-%m")][to_stage] += 1
        matrix[from_stage if from_stage in STAGES else "new"][to_stage] += 1
    return {"total": total, "by_month": [{"month": m, **months[m]} for m in sorted(months)],
            "matrix": matrix, "sources": dict(sources)}


def survey_triggers(session: Session, org_id: str, date_from: datetime | None,
                    date_to: datetime | None) -> dict[str, list[dict[str, Any]]]:
    """The surveys triggered at each journey stage, with their answers in the period."""
    counted = select(Response.survey_id, func.count().label("n")).where(
        Response.org_id == org_id)
    if date_from:
        counted = counted.where(Response.submitted_at >= date_from)
    if date_to:
        counted = counted.where(Response.submitted_at < date_to)
    counts = {sid: int(n) for sid, n in session.execute(counted.group_by(Response.survey_id))}
    grouped: dict[str, list[dict[str, Any]]] = {s: [] for s in STAGES}
    grouped["other"] = []
    for survey in session.scalars(select(Survey).where(Survey.org_id == org_id)
                                  .order_by(Survey.name)):
        key = survey.journey_stage if survey.journey_stage in STAGES else "other"
        grouped[key].append({"id": survey.id, "name": survey.name, "status": survey.status,
                             "nps_type": survey.nps_type, "touchpoint": survey.touchpoint,
                             "journey_stage": survey.journey_stage,
                             "responses": counts.get(survey.id, 0)})
    return grouped


def current_stage_counts(session: Session, org_id: str) -> dict[str, int]:
    rows = session.execute(select(Contact.lifecycle_stage, func.count())
                           .where(Contact.org_id == org_id).group_by(Contact.lifecycle_stage))
    found = {key: 0 for key in (*STAGES, "unknown")}
    for key, count in rows:
        found[key if key in STAGES else "unknown"] += int(count)
    return found
