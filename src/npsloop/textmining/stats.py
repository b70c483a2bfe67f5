"""Per-topic statistics, the comment explorer and selection keywords, in SQL.

NPS impact of a topic: if every detractor who mentioned the topic became a passive, the
selection's NPS would rise by (topic detractors / all responses in the selection) x 100
points: detractors fall by that many, promoters and the total stay the same. The
denominator is every response in the selection, with or without a comment, because that is
the NPS being improved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from npsloop.analytics.filters import Filters, apply_filters
from npsloop.analytics.service import time_bucket
from npsloop.analytics.stats import summarize
from npsloop.responses.models import Response
from npsloop.textmining import text
from npsloop.textmining.language import HAN
from npsloop.textmining.models import ResponseTextAnalysis, ResponseTextTopic, TextTopic
from npsloop.textmining.service import corpus, list_topics

SELECTION_CAP = 5000  # selection keywords read at most this many (latest) comments
SENTIMENT_LABELS = ("positive", "neutral", "negative")
CATEGORIES = ("promoter", "passive", "detractor")


def _counts() -> list[Any]:
    return [
        func.count().label("n"),
        func.sum(case((Response.score >= 9, 1), else_=0)).label("promoters"),
        func.sum(case((Response.score.between(7, 8), 1), else_=0)).label("passives"),
        func.sum(case((Response.score <= 6, 1), else_=0)).label("detractors"),
    ]


def nps_impact(topic_detractors: int, selection_total: int) -> float:
    """Points of NPS gained if the topic's detractors became passives."""
    if selection_total <= 0:
        return 0.0
    return round(100.0 * topic_detractors / selection_total, 2)


def _topic_query(columns: list[Any], org_id: str, filters: Filters) -> Select[Any]:
    query = (
        select(*columns)
        .select_from(ResponseTextTopic)
        .join(Response, Response.id == ResponseTextTopic.response_id)
        .outerjoin(ResponseTextAnalysis,
                   ResponseTextAnalysis.response_id == ResponseTextTopic.response_id)
        .where(ResponseTextTopic.org_id == org_id)
    )
    return apply_filters(query, org_id, filters)


@dataclass
class TopicStats:
    topic: TextTopic
    n: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None
    detractor_share: float | None
    avg_sentiment: float | None
    nps_impact: float
    trend: list[dict[str, Any]]


def topic_stats(session: Session, *, org_id: str, filters: Filters, tz: str,
                bucket: str = "month", min_n: int = 30) -> dict[str, Any]:
    total_row = session.execute(apply_filters(select(*_counts()), org_id, filters)).one()
    total = int(total_row.n or 0)
    overall = summarize(total_row.promoters or 0, total_row.passives or 0,
                        total_row.detractors or 0, min_n)
    avg = func.avg(ResponseTextAnalysis.sentiment_score).label("avg_sentiment")
    rows = {
        r.topic_id: r for r in session.execute(
            _topic_query([ResponseTextTopic.topic_id, *_counts(), avg], org_id, filters)
            .group_by(ResponseTextTopic.topic_id)
        )
    }
    period = time_bucket(session, bucket, tz).label("period")
    trends: dict[str, list[dict[str, Any]]] = {}
    for r in session.execute(
        _topic_query([ResponseTextTopic.topic_id, period, *_counts(), avg], org_id, filters)
        .group_by(ResponseTextTopic.topic_id, period).order_by(period)
    ):
        summary = summarize(r.promoters or 0, r.passives or 0, r.detractors or 0, min_n)
        trends.setdefault(r.topic_id, []).append({
            "period": r.period, "n": r.n, "nps": summary.nps,
            "avg_sentiment": _round(r.avg_sentiment),
        })
    out = []
    for topic in list_topics(session, org_id):
        r = rows.get(topic.id)
        n = int(r.n) if r else 0
        det = int(r.detractors or 0) if r else 0
        summary = summarize(int(r.promoters or 0), int(r.passives or 0), det, min_n) if r \
            else summarize(0, 0, 0, min_n)
        out.append(TopicStats(
            topic=topic, n=n, promoters=summary.promoters, passives=summary.passives,
            detractors=det, nps=summary.nps, detractor_share=summary.detractor_share,
            avg_sentiment=_round(r.avg_sentiment) if r else None,
            nps_impact=nps_impact(det, total), trend=trends.get(topic.id, []),
        ))
    out.sort(key=lambda s: (-s.nps_impact, -s.n, s.topic.key))
    return {"total": total, "nps": overall.nps, "topics": out}


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


@dataclass
class ExplorerQuery:
    topic_id: str | None = None
    sentiment: str | None = None
    keyword: str | None = None
    category: str | None = None


def _explorer_select(columns: list[Any], org_id: str, filters: Filters,
                     q: ExplorerQuery) -> Select[Any]:
    query = (
        select(*columns).select_from(Response)
        .join(ResponseTextAnalysis, ResponseTextAnalysis.response_id == Response.id)
    )
    query = apply_filters(query, org_id, filters)
    if q.topic_id:
        query = query.where(Response.id.in_(
            select(ResponseTextTopic.response_id).where(
                ResponseTextTopic.org_id == org_id, ResponseTextTopic.topic_id == q.topic_id)
        ))
    if q.sentiment:
        query = query.where(ResponseTextAnalysis.sentiment_label == q.sentiment)
    if q.category:
        query = query.where(Response.category == q.category)
    if q.keyword:
        escaped = q.keyword.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(func.lower(Response.comment).like(f"%{escaped}%", escape="\\"))
    return query


def search_comments(session: Session, *, org_id: str, filters: Filters, q: ExplorerQuery,
                    limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    total = session.scalar(_explorer_select([func.count()], org_id, filters, q)) or 0
    rows = session.execute(
        _explorer_select([Response, ResponseTextAnalysis], org_id, filters, q)
        .order_by(Response.submitted_at.desc(), Response.id).limit(limit).offset(offset)
    ).all()
    out = []
    for response, analysis in rows:
        marks = [k for hits in (analysis.topic_hits or {}).values() for k in hits]
        if q.keyword:
            marks.append(q.keyword.lower())
        out.append({
            "response_id": response.id, "survey_id": response.survey_id,
            "score": response.score, "category": response.category,
            "comment": response.comment, "submitted_at": response.submitted_at,
            "language": analysis.language, "sentiment_score": analysis.sentiment_score,
            "sentiment_label": analysis.sentiment_label, "keywords": analysis.keywords,
            "topics": sorted((analysis.topic_hits or {}).keys()),
            "highlights": highlight_spans(response.comment, marks),
        })
    return out, int(total)


def highlight_spans(comment: str, marks: list[str]) -> list[list[int]]:
    """[start, end) character ranges of the marks in the comment, merged, case-insensitive."""
    lowered = comment.lower()
    spans: list[list[int]] = []
    for mark in {m for m in marks if m}:
        # English marks match whole words (with an inflection), as topic rules do, so that
        # "app" is not marked inside "disappointing"; Chinese marks match anywhere.
        pattern = re.escape(mark) if HAN.search(mark) else \
            r"(?<![a-z0-9])" + re.escape(mark) + r"(?:s|es|ed|d|ing)?(?![a-z0-9])"
        spans.extend([m.start(), m.end()] for m in re.finditer(pattern, lowered))
    spans.sort()
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def selection_keywords(session: Session, *, org_id: str, filters: Filters, q: ExplorerQuery,
                       limit: int = 50, cap: int = SELECTION_CAP) -> dict[str, Any]:
    """Top terms of the selection's latest `cap` comments, weighted by the org corpus IDF."""
    query = _explorer_select([ResponseTextAnalysis.terms], org_id, filters, q).order_by(
        Response.submitted_at.desc()).limit(cap)
    result = session.execute(query.execution_options(yield_per=500))
    counted = [0]

    def stream():  # type: ignore[no-untyped-def]
        for (found,) in result:
            counted[0] += 1
            yield found or []

    ranked = text.selection_keywords(stream(), corpus(session, org_id), limit)
    return {"documents": counted[0], "capped": counted[0] >= cap, "keywords": ranked}


def sentiment_breakdown(session: Session, *, org_id: str, filters: Filters) -> dict[str, int]:
    query = _explorer_select([ResponseTextAnalysis.sentiment_label, func.count()], org_id,
                             filters, ExplorerQuery()).group_by(
        ResponseTextAnalysis.sentiment_label)
    counts = {label: 0 for label in SENTIMENT_LABELS}
    for label, count in session.execute(query):
        counts[label or "none"] = int(count)
    return counts

