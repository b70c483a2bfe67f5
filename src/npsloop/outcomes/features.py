"""The propensity model's features, computed in SQL per (contact, answer) anchor.

Training anchors are every contact answer whose outcome window is over; each gets the
answer itself (score, category, driver ratings, comment sentiment and topics) and the
contact's behaviour before the answer (orders and spend in the 90 days before, days since
the last order, an earlier cancellation), plus both labels (repurchased / churned in the
window after it). Scoring anchors are each contact's latest answer with behaviour measured
up to now. One row per anchor comes back; the pivots and counts run in the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Select,
    case,
    exists,
    false,
    func,
    literal,
    select,
)
from sqlalchemy.orm import Session

from npsloop.contacts.models import Event
from npsloop.core.db import UTCDateTime
from npsloop.outcomes.models import Outcome, OutcomeSettings
from npsloop.outcomes.service import ShiftDays, outcome_condition
from npsloop.responses.models import Response, ResponseAnswer
from npsloop.textmining.models import ResponseTextAnalysis, ResponseTextTopic, TextTopic

LOOKBACK_DAYS = 90
MAX_DRIVERS = 10
MAX_TOPICS = 12
MAX_TRAINING_ROWS = 60000
NO_ORDER_RECENCY = 365.0


@dataclass
class FeatureSpec:
    """Which driver keys and topic keys become columns (fixed at fit time)."""

    drivers: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)  # topic keys

    def names(self) -> list[str]:
        return (["score", "promoter", "detractor"] + [f"driver:{k}" for k in self.drivers]
                + ["sentiment", "has_comment"] + [f"topic:{k}" for k in self.topics]
                + ["orders_90d", "log_spend_90d", "days_since_order", "cancelled_before"])


@dataclass
class FeatureRows:
    names: list[str]
    values: list[list[float | None]]  # None: missing (a driver not rated)
    times: list[datetime]
    contact_ids: list[str]
    response_ids: list[str]
    scores: list[int]
    categories: list[str]
    labels: dict[str, list[int]] = field(default_factory=dict)


def choose_spec(session: Session, org_id: str) -> FeatureSpec:
    """The organisation's most-answered driver questions and most frequent topics."""
    drivers = session.scalars(
        select(ResponseAnswer.question_key).where(
            ResponseAnswer.org_id == org_id, ResponseAnswer.kind == "driver_rating")
        .group_by(ResponseAnswer.question_key)
        .order_by(func.count().desc(), ResponseAnswer.question_key).limit(MAX_DRIVERS)).all()
    topics = session.scalars(
        select(TextTopic.key).join(ResponseTextTopic, ResponseTextTopic.topic_id == TextTopic.id)
        .where(ResponseTextTopic.org_id == org_id, TextTopic.org_id == org_id)
        .group_by(TextTopic.key).order_by(func.count().desc(), TextTopic.key)
        .limit(MAX_TOPICS)).all()
    return FeatureSpec(drivers=sorted(drivers), topics=sorted(topics))


def _anchors(org_id: str, *, latest: bool, until: datetime) -> Any:
    base = select(Response.id.label("response_id"), Response.contact_id.label("contact_id"),
                  Response.score.label("score"), Response.category.label("category"),
                  Response.submitted_at.label("submitted_at")).where(
        Response.org_id == org_id, Response.contact_id.is_not(None),
        Response.category.is_not(None), Response.submitted_at <= until)
    if latest:
        base = base.add_columns(func.row_number().over(
            partition_by=Response.contact_id,
            order_by=(Response.submitted_at.desc(), Response.id.desc())).label("rn"))
    else:
        base = base.order_by(Response.submitted_at.desc()).limit(MAX_TRAINING_ROWS)
    return base.subquery("anchor")


def _query(org_id: str, settings: OutcomeSettings, spec: FeatureSpec, *, latest: bool,
           until: datetime, window_days: int, now: datetime,
           topic_ids: dict[str, str]) -> Select[Any]:
    anchor = _anchors(org_id, latest=latest, until=until)
    # Behaviour is measured up to the answer (training) or up to now (scoring).
    as_of = literal(now, UTCDateTime()) if latest else anchor.c.submitted_at
    # No Event.org_id term: the anchors are the org's contacts (see service.event_within).
    orders = (Event.contact_id == anchor.c.contact_id,
              Event.name == settings.repurchase_event, Event.occurred_at <= as_of)
    recent = (*orders, Event.occurred_at > ShiftDays(as_of, -LOOKBACK_DAYS))
    columns: list[Any] = [
        anchor.c.response_id, anchor.c.contact_id, anchor.c.score, anchor.c.category,
        anchor.c.submitted_at,
        select(func.count(Event.id)).where(*recent).scalar_subquery().label("orders"),
        select(func.coalesce(func.sum(Event.properties["amount"].as_float()), 0.0))
        .where(*recent).scalar_subquery().label("spend"),
        select(func.max(Event.occurred_at)).where(*orders).scalar_subquery().label("last"),
        (exists(select(Event.id).where(
            Event.contact_id == anchor.c.contact_id,
            Event.name == settings.churn_event, Event.occurred_at <= as_of))
         if settings.churn_event else false()).label("cancelled"),
        select(ResponseTextAnalysis.sentiment_score).where(
            ResponseTextAnalysis.response_id == anchor.c.response_id)
        .scalar_subquery().label("sentiment"),
    ]
    # Correlated probes (index / primary-key lookups per answer): on SQLite a grouped
    # pivot joined by response id is far slower, as the join gets no index.
    for index, key in enumerate(spec.drivers):
        columns.append(select(func.max(ResponseAnswer.number_value)).where(
            ResponseAnswer.response_id == anchor.c.response_id,
            ResponseAnswer.question_key == key, ResponseAnswer.kind == "driver_rating")
            .scalar_subquery().label(f"d{index}"))
    for index, key in enumerate(spec.topics):
        columns.append(exists(select(ResponseTextTopic.topic_id).where(
            ResponseTextTopic.response_id == anchor.c.response_id,
            ResponseTextTopic.topic_id == topic_ids.get(key, ""))).label(f"t{index}"))
    if not latest:
        for outcome in Outcome:
            columns.append(case((outcome_condition(
                settings, outcome, org_id, anchor.c.contact_id, anchor.c.submitted_at,
                window_days), 1), else_=0).label(f"y_{outcome.value}"))
    query = select(*columns)
    if latest:
        query = query.where(anchor.c.rn == 1)
    return query.order_by(anchor.c.submitted_at, anchor.c.response_id)


def load(session: Session, org_id: str, settings: OutcomeSettings, spec: FeatureSpec, *,
         training: bool, window_days: int, now: datetime) -> FeatureRows:
    """Training rows (answers whose window is over, with labels) or scoring rows."""
    until = now - timedelta(days=window_days) if training else now
    topic_ids = dict(session.execute(select(TextTopic.key, TextTopic.id).where(
        TextTopic.org_id == org_id, TextTopic.key.in_(spec.topics))).all())
    query = _query(org_id, settings, spec, latest=not training, until=until,
                   window_days=window_days, now=now, topic_ids=topic_ids)
    out = FeatureRows(spec.names(), [], [], [], [], [], [])
    if training:
        out.labels = {o.value: [] for o in Outcome}
    for row in session.execute(query).mappings():
        reference = now if not training else row["submitted_at"]
        last = row["last"]
        recency = NO_ORDER_RECENCY if last is None else min(
            NO_ORDER_RECENCY, max(0.0, (reference - last).total_seconds() / 86400))
        sentiment = row["sentiment"]
        values: list[float | None] = [
            float(row["score"]), float(row["category"] == "promoter"),
            float(row["category"] == "detractor")]
        values += [None if row[f"d{i}"] is None else float(row[f"d{i}"])
                   for i in range(len(spec.drivers))]
        values += [float(sentiment or 0.0), float(sentiment is not None)]
        values += [float(bool(row[f"t{i}"])) for i in range(len(spec.topics))]
        values += [float(row["orders"] or 0), _log1p(float(row["spend"] or 0.0)), recency,
                   float(bool(row["cancelled"]))]
        out.values.append(values)
        out.times.append(row["submitted_at"])
        out.contact_ids.append(row["contact_id"])
        out.response_ids.append(row["response_id"])
        out.scores.append(int(row["score"]))
        out.categories.append(row["category"])
        if training:
            for outcome in Outcome:
                out.labels[outcome.value].append(int(row[f"y_{outcome.value}"]))
    return out


def _log1p(value: float) -> float:
    import math

    return math.log1p(max(0.0, value))
