"""Customer journey map: stage -> touchpoint, each with NPS, n, margin, a trend sparkline and
its top pain points (the text-mining topics most often raised by its detractors).

Stages come from the surveys' `journey_stage` (surveys without one are not on the map).
Their order is the caller's `order` when given, else a conventional journey order (known
English and Chinese stage names), then any other stage alphabetically. Three GROUP BY
queries build the whole map: counts per (stage, touchpoint), counts per (stage, touchpoint,
bucket) for the sparklines, and detractor topic counts per (stage, touchpoint).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from npsloop.analytics import rollup, service
from npsloop.analytics.filters import Filters, apply_filters
from npsloop.analytics.stats import NpsCounts, NpsSummary
from npsloop.analytics.trends import bucket_group, bucket_keys, key_text
from npsloop.responses.models import Response
from npsloop.surveys.models import Survey

CONVENTIONAL_ORDER = (
    "awareness", "认知", "acquisition", "获取", "获客", "consideration", "考虑",
    "conversion", "转化", "purchase", "购买", "下单", "checkout", "结算", "payment", "支付",
    "onboarding", "开通", "激活", "fulfilment", "fulfillment", "履约", "delivery", "配送",
    "交付", "usage", "使用", "support", "客服", "service", "服务", "售后", "retention",
    "留存", "renewal", "续费", "复购", "loyalty", "忠诚", "referral", "推荐", "advocacy",
)
# Colour bands, the same as the dashboard's headline: below 0 poor, 30 and up good.
NPS_GOOD, NPS_FAIR = 30.0, 0.0
PAIN_POINTS = 3
SPARKLINE_BUCKETS = 12


def tone(summary: NpsSummary) -> str:
    if summary.nps is None:
        return "none"
    if summary.nps >= NPS_GOOD:
        return "good"
    return "fair" if summary.nps >= NPS_FAIR else "poor"


@dataclass(frozen=True)
class PainPoint:
    topic: str
    name: str
    detractors: int
    share: float  # of the touchpoint's detractors


@dataclass
class TouchpointNode:
    name: str
    counts: NpsCounts = field(default_factory=NpsCounts)
    sparkline: dict[str, NpsCounts] = field(default_factory=dict)
    pain_points: list[PainPoint] = field(default_factory=list)


@dataclass
class StageNode:
    name: str
    touchpoints: dict[str, TouchpointNode] = field(default_factory=dict)

    @property
    def counts(self) -> NpsCounts:
        total = NpsCounts()
        for node in self.touchpoints.values():
            total = total + node.counts
        return total


@dataclass(frozen=True)
class JourneyMap:
    stages: list[StageNode]
    bucket: str
    bucket_keys: list[str]
    text_topics: bool


def stage_order(names: list[str], order: list[str] | None) -> list[str]:
    explicit = {name: i for i, name in enumerate(order or [])}
    conventional = {name: i for i, name in enumerate(CONVENTIONAL_ORDER)}

    def rank(name: str) -> tuple[int, int, str]:
        if name in explicit:
            return (0, explicit[name], name)
        lowered = name.lower()
        if lowered in conventional:
            return (1, conventional[lowered], name)
        return (2, 0, name)

    return sorted(names, key=rank)


def _pain_points(session: Session, org_id: str, filters: Filters,
                 nodes: dict[tuple[str, str], TouchpointNode], lang: str) -> bool:
    try:
        from npsloop.textmining.models import ResponseTextTopic, TextTopic
    except ImportError:
        return False
    name_column = TextTopic.name_zh if lang == "zh-CN" else TextTopic.name_en
    query = apply_filters(
        select(Survey.journey_stage, Survey.touchpoint, TextTopic.key, name_column,
               func.count().label("n"))
        .select_from(Response)
        .join(Survey, Survey.id == Response.survey_id)
        .join(ResponseTextTopic, ResponseTextTopic.response_id == Response.id)
        .join(TextTopic, TextTopic.id == ResponseTextTopic.topic_id)
        .where(Survey.journey_stage != "", Response.category == "detractor"),
        org_id, filters,
    ).group_by(Survey.journey_stage, Survey.touchpoint, TextTopic.key, name_column)
    found: dict[tuple[str, str], list[tuple[int, str, str]]] = {}
    for stage, touchpoint, key, name, n in session.execute(query):
        found.setdefault((stage, touchpoint or ""), []).append((int(n), key, name or key))
    for slot, topics in found.items():
        node = nodes.get(slot)
        if node is None or not node.counts.detractors:
            continue
        topics.sort(key=lambda t: (-t[0], t[1]))
        node.pain_points = [
            PainPoint(key, name, n, round(n / node.counts.detractors, 4))
            for n, key, name in topics[:PAIN_POINTS]
        ]
    return True


def _stage_counts(session: Session, org_id: str, filters: Filters, tz: str,
                  bucket: str | None) -> list[Any]:
    """Counts per (stage, touchpoint[, bucket `k`]) of surveys with a stage: from the daily
    rollup when it can answer (analytics.rollup), else one GROUP BY over the responses."""
    names = ["journey_stage", "touchpoint", *([bucket] if bucket else [])]
    counted = rollup.counts_query(session, org_id=org_id, filters=filters, names=names, tz=tz)
    if counted is not None:
        return [
            SimpleNamespace(journey_stage=row.k0, touchpoint=row.k1,
                            k=row.k2 if bucket else None, promoters=row.promoters,
                            passives=row.passives, detractors=row.detractors)
            for row in session.execute(counted) if row.k0 not in ("", None)
        ]
    keys = [Survey.journey_stage, Survey.touchpoint]
    if bucket:
        keys.append(bucket_group(session, bucket, tz).label("k"))
    query = apply_filters(
        select(*keys, *service._counts())
        .where(Survey.id == Response.survey_id, Survey.journey_stage != ""),
        org_id, filters,
    ).group_by(*keys)
    return list(session.execute(query))


def journey_map(
    session: Session, *, org_id: str, filters: Filters, tz: str, bucket: str = "month",
    order: list[str] | None = None, lang: str = "en",
) -> JourneyMap:
    stages: dict[str, StageNode] = {}
    nodes: dict[tuple[str, str], TouchpointNode] = {}
    for row in _stage_counts(session, org_id, filters, tz, None):
        touchpoint = row.touchpoint or ""
        stage = stages.setdefault(row.journey_stage, StageNode(row.journey_stage))
        node = stage.touchpoints.setdefault(touchpoint, TouchpointNode(touchpoint))
        node.counts = NpsCounts(int(row.promoters or 0), int(row.passives or 0),
                                int(row.detractors or 0))
        nodes[(row.journey_stage, touchpoint)] = node
    seen: set[str] = set()
    for row in _stage_counts(session, org_id, filters, tz, bucket):
        node = nodes.get((row.journey_stage, row.touchpoint or ""))
        if node is None:
            continue
        bucket_key = str(key_text(row.k))
        seen.add(bucket_key)
        node.sparkline[bucket_key] = NpsCounts(int(row.promoters or 0), int(row.passives or 0),
                                               int(row.detractors or 0))
    keys: list[str] = []
    if seen:
        ordered = sorted(seen)
        keys = bucket_keys(date.fromisoformat(ordered[0]), date.fromisoformat(ordered[-1]),
                           bucket)[-SPARKLINE_BUCKETS:]
    has_topics = _pain_points(session, org_id, filters, nodes, lang)
    ordered_stages = [stages[name] for name in stage_order(list(stages), order)]
    for stage in ordered_stages:
        stage.touchpoints = dict(sorted(stage.touchpoints.items(),
                                        key=lambda item: (-item[1].counts.n, item[0])))
    return JourneyMap(ordered_stages, bucket, keys, has_topics)


def as_dict(result: JourneyMap, min_n: int) -> dict[str, Any]:
    """The map as plain data for the API and a page script."""

    def cell(counts: NpsCounts) -> dict[str, Any]:
        summary = counts.summary(min_n)
        return {"n": summary.n, "nps": summary.nps, "margin": summary.margin_of_error,
                "too_few": summary.too_few, "tone": tone(summary)}

    stages = []
    for stage in result.stages:
        touchpoints = []
        for node in stage.touchpoints.values():
            touchpoints.append({
                "name": node.name, **cell(node.counts),
                "sparkline": [{"key": k, **cell(node.sparkline.get(k, NpsCounts()))}
                              for k in result.bucket_keys],
                "pain_points": [vars(p) for p in node.pain_points],
            })
        stages.append({"name": stage.name, **cell(stage.counts), "touchpoints": touchpoints})
    return {"bucket": result.bucket, "bucket_keys": result.bucket_keys,
            "text_topics": result.text_topics, "stages": stages}
