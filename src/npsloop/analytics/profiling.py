"""Profiling: what sets detractors apart from promoters, and churned from retained contacts.

Over-indexing: for every attribute value (from the responses' attribute snapshots), contact
tag, channel, language, lifecycle stage and contact event name, the share of detractors
having it against the share of promoters having it; lift = detractor share / promoter share,
with a pooled two-proportion z-test. Many features are tested at once, so p-values are
adjusted with Benjamini-Hochberg and a feature is significant when its q-value < 0.05
(false discovery rate 5%). The unit is the response (a contact answering twice counts
twice), like every NPS figure. All counts come from GROUP BY queries; values held by fewer
than `min_count` promoters plus detractors are skipped as noise.

Churn: a contact is churned when it has an event the organisation names (e.g.
`subscription_cancelled`) or when its current attribute equals a value (e.g.
`status=churned`); the NPS of the two groups' responses is compared with the z-test, with
each group's NPS per month (or another bucket) as its history.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import distinct, func, select, true
from sqlalchemy.orm import Session

from npsloop.analytics import service
from npsloop.analytics.filters import Filters, apply_filters
from npsloop.analytics.stats import (
    NpsCounts,
    NpsDifference,
    NpsSummary,
    compare,
    compare_proportions,
)
from npsloop.analytics.trends import bucket_group, key_text
from npsloop.contacts.models import Contact, Event
from npsloop.responses.models import Response

DEFAULT_MIN_COUNT = 5
MAX_FEATURES = 60
ALPHA = 0.05
PLAIN_DIMENSIONS = ("channel", "language", "lifecycle_stage")


class ProfileError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def benjamini_hochberg(p_values: list[float]) -> list[float]:
    """Adjusted p-values (q-values) controlling the false discovery rate."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        index = order[rank - 1]
        running = min(running, p_values[index] * m / rank)
        adjusted[index] = running
    return adjusted


@dataclass(frozen=True)
class Feature:
    kind: str  # attribute | tag | channel | language | lifecycle_stage | event
    name: str  # the attribute key or dimension name
    value: str
    detractors_with: int
    promoters_with: int
    detractor_share: float
    promoter_share: float
    lift: float | None
    z: float | None
    p_value: float | None
    q_value: float | None
    significant: bool
    leans: str  # "detractor" or "promoter": where the feature is more common


@dataclass(frozen=True)
class Profile:
    detractors: int
    promoters: int
    features: list[Feature]
    tested: int
    min_count: int


Counts = dict[tuple[str, str, str], dict[str, int]]  # (kind, name, value) -> category counts


def _add(counts: Counts, kind: str, name: str, value: Any, category: str, n: int) -> None:
    if value is None or category not in ("promoter", "detractor"):
        return
    slot = counts.setdefault((kind, name, str(value)), {"promoter": 0, "detractor": 0})
    slot[category] += int(n)


def _attribute_counts(session: Session, org_id: str, filters: Filters, counts: Counts) -> None:
    """Every attribute key and value by category, in one query over the JSON snapshot."""
    if session.get_bind().dialect.name == "postgresql":
        pairs = func.json_each_text(Response.contact_attributes).table_valued("key", "value")
        guard = func.json_typeof(Response.contact_attributes) == "object"
    else:
        pairs = func.json_each(Response.contact_attributes).table_valued("key", "value")
        guard = true()
    query = apply_filters(
        select(pairs.c.key, pairs.c.value, Response.category, func.count())
        .select_from(Response).join(pairs, true()).where(guard),
        org_id, filters,
    ).group_by(pairs.c.key, pairs.c.value, Response.category)
    for key, value, category, n in session.execute(query):
        if key != "lifecycle_stage":  # profiled with the contact's stage below
            _add(counts, "attribute", str(key), value, category, n)


def _tag_counts(session: Session, org_id: str, filters: Filters, counts: Counts) -> None:
    if session.get_bind().dialect.name == "postgresql":
        tags = func.json_array_elements_text(Contact.tags).table_valued("value")
        guard = func.json_typeof(Contact.tags) == "array"
    else:
        tags = func.json_each(Contact.tags).table_valued("value")
        guard = true()
    query = apply_filters(
        select(tags.c.value, Response.category, func.count())
        .select_from(Response).join(Contact, Contact.id == Response.contact_id)
        .join(tags, true()).where(guard),
        org_id, filters,
    ).group_by(tags.c.value, Response.category)
    for value, category, n in session.execute(query):
        _add(counts, "tag", "tag", value, category, n)


def _event_counts(session: Session, org_id: str, filters: Filters, counts: Counts) -> None:
    """Responses whose contact has at least one event of each name."""
    query = apply_filters(
        select(Event.name, Response.category, func.count(distinct(Response.id)))
        .select_from(Response).join(Event, Event.contact_id == Response.contact_id)
        .where(Event.org_id == org_id),
        org_id, filters,
    ).group_by(Event.name, Response.category)
    for name, category, n in session.execute(query):
        _add(counts, "event", "event", name, category, n)


def _plain_counts(session: Session, org_id: str, filters: Filters, counts: Counts) -> None:
    for name in PLAIN_DIMENSIONS:
        expr, _ = service.dimension(session, name, "UTC")
        key = expr.label("value")
        query = apply_filters(select(key, Response.category, func.count()), org_id, filters)
        for value, category, n in session.execute(query.group_by(key, Response.category)):
            _add(counts, name, name, value, category, n)


def over_index(
    session: Session, *, org_id: str, filters: Filters, min_count: int = DEFAULT_MIN_COUNT,
    limit: int = MAX_FEATURES,
) -> Profile:
    totals = service.nps(session, org_id=org_id, filters=filters)
    counts: Counts = {}
    _attribute_counts(session, org_id, filters, counts)
    _tag_counts(session, org_id, filters, counts)
    _event_counts(session, org_id, filters, counts)
    _plain_counts(session, org_id, filters, counts)
    det_total, prom_total = totals.detractors, totals.promoters
    tested = []
    for (kind, name, value), slot in counts.items():
        if slot["detractor"] + slot["promoter"] < min_count or not det_total or not prom_total:
            continue
        tested.append((kind, name, value, slot,
                       compare_proportions(slot["detractor"], det_total, slot["promoter"],
                                           prom_total)))
    q_values = benjamini_hochberg([
        t[4].p_value if t[4].p_value is not None else 1.0 for t in tested])
    features = []
    for (kind, name, value, slot, test), q_value in zip(tested, q_values, strict=True):
        d_share = slot["detractor"] / det_total
        p_share = slot["promoter"] / prom_total
        features.append(Feature(
            kind=kind, name=name, value=value, detractors_with=slot["detractor"],
            promoters_with=slot["promoter"], detractor_share=round(d_share, 4),
            promoter_share=round(p_share, 4),
            lift=None if test.lift is None else round(test.lift, 4), z=test.z,
            p_value=test.p_value, q_value=q_value if test.p_value is not None else None,
            significant=test.p_value is not None and q_value < ALPHA,
            leans="detractor" if d_share >= p_share else "promoter",
        ))

    def strength(feature: Feature) -> float:
        if feature.lift is None:
            return math.inf
        return abs(math.log(feature.lift)) if feature.lift > 0 else math.inf

    features.sort(key=lambda f: (not f.significant, -strength(f), f.kind, f.value))
    return Profile(detractors=det_total, promoters=prom_total, features=features[:limit],
                   tested=len(tested), min_count=min_count)


# --- Churned versus retained ----------------------------------------------------------


@dataclass(frozen=True)
class ChurnGroup:
    contacts: int
    summary: NpsSummary
    history: list[tuple[str, NpsSummary]]


@dataclass(frozen=True)
class ChurnComparison:
    definition: dict[str, str]
    churned: ChurnGroup
    retained: ChurnGroup
    difference: NpsDifference  # churned - retained


def churn_condition(org_id: str, *, event: str | None, attribute: str | None,
                    value: str | None) -> Any:
    """Contacts flagged as churned: with the named event, or the attribute at the value."""
    if event:
        return Response.contact_id.in_(
            select(Event.contact_id).where(Event.org_id == org_id, Event.name == event))
    if attribute and value is not None:
        return Response.contact_id.in_(
            select(Contact.id).where(Contact.org_id == org_id,
                                     Contact.attributes[attribute].as_string() == value))
    raise ProfileError("event", "name a churn event, or an attribute and its value")


def _group(session: Session, org_id: str, filters: Filters, condition: Any, bucket: str,
           tz: str, min_n: int) -> ChurnGroup:
    base = apply_filters(select(*service._counts(), func.count(distinct(Response.contact_id))
                                .label("contacts")), org_id, filters)
    row = session.execute(base.where(Response.contact_id.is_not(None), condition)).one()
    key = bucket_group(session, bucket, tz).label("k")
    history_query = apply_filters(select(key, *service._counts()), org_id, filters).where(
        Response.contact_id.is_not(None), condition).group_by(key).order_by(key)
    history = [
        (str(key_text(r.k)), NpsCounts(int(r.promoters or 0), int(r.passives or 0),
                                       int(r.detractors or 0)).summary(min_n))
        for r in session.execute(history_query)
    ]
    counts = NpsCounts(int(row.promoters or 0), int(row.passives or 0), int(row.detractors or 0))
    return ChurnGroup(int(row.contacts or 0), counts.summary(min_n), history)


def churn(
    session: Session, *, org_id: str, filters: Filters, tz: str, event: str | None = None,
    attribute: str | None = None, value: str | None = None, bucket: str = "month",
    min_n: int = 30,
) -> ChurnComparison:
    if bucket not in service.TIME_BUCKETS:
        raise ProfileError("bucket", f"must be one of {', '.join(service.TIME_BUCKETS)}")
    condition = churn_condition(org_id, event=event, attribute=attribute, value=value)
    churned = _group(session, org_id, filters, condition, bucket, tz, min_n)
    retained = _group(session, org_id, filters, ~condition, bucket, tz, min_n)
    definition = {"event": event} if event else {"attribute": str(attribute),
                                                 "value": str(value)}
    return ChurnComparison(definition, churned, retained,
                           compare(retained.summary, churned.summary))

