"""Text-mining API under /api/v1/text: topics, per-topic stats, comment explorer, keywords.

Reading needs `stats:read`; editing topics and vocabulary needs `survey:write`. Every query
is scoped to the caller's organisation: another organisation's topic is a 404. Statistics
routes take the shared filters (survey_id, from, to, channel, ... see analytics.filters).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from npsloop.accounts.deps import Principal, require
from npsloop.analytics.params import int_param, query_error, resolve_filters
from npsloop.core.deps import SessionDep
from npsloop.textmining import discover, service, stats
from npsloop.textmining.analyzer import analyse_text
from npsloop.textmining.models import TextTopic

router = APIRouter(prefix="/api/v1/text", tags=["text"])
Reader = Annotated[Principal, Depends(require("stats:read"))]
Writer = Annotated[Principal, Depends(require("survey:write"))]
BUCKETS = ("day", "week", "month", "quarter")


class TopicIn(BaseModel):
    key: str | None = Field(None, max_length=64)
    name_zh: str | None = Field(None, max_length=100)
    name_en: str | None = Field(None, max_length=100)
    parent_id: str | None = Field(None, description="'' to make it a top-level topic")
    keywords: dict[str, list[str]] | None = Field(None, description='{"zh": [...], "en": [...]}')
    synonyms: dict[str, list[str]] | None = Field(None, description="keyword -> variants")
    active: bool | None = None
    discovered: bool = Field(False, description="adopted from /topics/discover")


class TopicOut(BaseModel):
    id: str
    key: str
    name_zh: str
    name_en: str
    parent_id: str | None
    keywords: dict[str, list[str]]
    synonyms: dict[str, list[str]]
    source: str
    active: bool

    @classmethod
    def of(cls, topic: TextTopic) -> TopicOut:
        return cls(id=topic.id, key=topic.key, name_zh=topic.name_zh, name_en=topic.name_en,
                   parent_id=topic.parent_id, keywords=topic.keywords or {},
                   synonyms=topic.synonyms or {}, source=topic.source, active=topic.active)


class VocabularyIn(BaseModel):
    custom_words: list[str] | None = None
    stop_words: list[str] | None = None


class VocabularyOut(BaseModel):
    custom_words: list[str]
    stop_words: list[str]


class AnalyseIn(BaseModel):
    text: str = Field(..., min_length=1, max_length=5000)


def _error(exc: service.TextError) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"loc": ["body", *exc.field.split(".")], "msg": exc.message,
                 "type": "value_error"}],
    )


def _topic_or_404(db: SessionDep, principal: Principal, topic_id: str) -> TextTopic:
    topic = service.get_topic(db, principal.org_id, topic_id)
    if topic is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"topic '{topic_id}' not found")
    return topic


@router.get("/topics", response_model=list[TopicOut])
def list_topics(db: SessionDep, principal: Reader) -> list[TopicOut]:
    service.ensure_taxonomy(db, principal.org_id)
    db.commit()
    return [TopicOut.of(t) for t in service.list_topics(db, principal.org_id)]


@router.post("/topics", response_model=TopicOut, status_code=status.HTTP_201_CREATED)
def create_topic(body: TopicIn, db: SessionDep, principal: Writer) -> TopicOut:
    service.ensure_taxonomy(db, principal.org_id)
    try:
        topic = service.save_topic(
            db, principal.org_id, service.TopicInput(**body.model_dump(exclude={"discovered"})),
            source="discovered" if body.discovered else "manual")
    except service.TextError as exc:
        db.rollback()
        raise _error(exc) from exc
    db.commit()
    return TopicOut.of(topic)


@router.get("/topics/stats")
def topics_stats(request: Request, db: SessionDep, principal: Reader) -> dict[str, Any]:
    ctx = resolve_filters(request, db, principal, allowed=["bucket"])
    bucket = request.query_params.get("bucket", "month")
    if bucket not in BUCKETS:
        raise query_error("bucket", f"must be one of {', '.join(BUCKETS)}")
    service.ensure_taxonomy(db, principal.org_id)
    db.commit()
    result = stats.topic_stats(db, org_id=principal.org_id, filters=ctx.filters, tz=ctx.tz,
                               bucket=bucket, min_n=request.app.state.settings
                               .min_responses_for_stats)
    return {
        "filters": ctx.filters.as_dict(), "bucket": bucket, "total": result["total"],
        "nps": result["nps"],
        "topics": [{
            "topic": TopicOut.of(s.topic).model_dump(), "n": s.n, "promoters": s.promoters,
            "passives": s.passives, "detractors": s.detractors, "nps": s.nps,
            "detractor_share": s.detractor_share, "avg_sentiment": s.avg_sentiment,
            "nps_impact": s.nps_impact, "trend": s.trend,
        } for s in result["topics"]],
    }


@router.post("/topics/discover")
def discover_topics(request: Request, db: SessionDep, principal: Writer) -> dict[str, Any]:
    """Clusters recent comments that match no topic; each cluster is a topic suggestion."""
    ctx = resolve_filters(request, db, principal)
    return discover.discover(db, org_id=principal.org_id, filters=ctx.filters)


@router.get("/topics/{topic_id}", response_model=TopicOut)
def get_topic(topic_id: str, db: SessionDep, principal: Reader) -> TopicOut:
    return TopicOut.of(_topic_or_404(db, principal, topic_id))


@router.patch("/topics/{topic_id}", response_model=TopicOut)
def update_topic(topic_id: str, body: TopicIn, db: SessionDep, principal: Writer) -> TopicOut:
    topic = _topic_or_404(db, principal, topic_id)
    if body.key is not None and body.key != topic.key:
        raise _error(service.TextError("key", "cannot be changed; create a new topic"))
    try:
        service.save_topic(db, principal.org_id, service.TopicInput(
            **body.model_dump(exclude={"key", "discovered"})), topic=topic)
    except service.TextError as exc:
        db.rollback()
        raise _error(exc) from exc
    db.commit()
    return TopicOut.of(topic)


@router.delete("/topics/{topic_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_topic(topic_id: str, db: SessionDep, principal: Writer) -> Response:
    db.delete(_topic_or_404(db, principal, topic_id))
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _explorer(request: Request, db: SessionDep, principal: Principal) -> tuple[Any, Any]:
    extra = ["topic_id", "sentiment", "keyword", "category", "limit", "offset"]
    ctx = resolve_filters(request, db, principal, allowed=extra)
    params = request.query_params
    q = stats.ExplorerQuery(
        topic_id=params.get("topic_id") or None, sentiment=params.get("sentiment") or None,
        keyword=(params.get("keyword") or "").strip() or None,
        category=params.get("category") or None,
    )
    if q.sentiment and q.sentiment not in stats.SENTIMENT_LABELS:
        raise query_error("sentiment", f"must be one of {', '.join(stats.SENTIMENT_LABELS)}")
    if q.category and q.category not in stats.CATEGORIES:
        raise query_error("category", f"must be one of {', '.join(stats.CATEGORIES)}")
    if q.keyword and len(q.keyword) > 100:
        raise query_error("keyword", "at most 100 characters")
    if q.topic_id:
        _topic_or_404(db, principal, q.topic_id)
    return ctx, q


class CommentOut(BaseModel):
    response_id: str
    survey_id: str
    score: int
    category: str
    comment: str
    submitted_at: datetime
    language: str
    sentiment_score: float | None
    sentiment_label: str | None
    keywords: list[str]
    topics: list[str]
    highlights: list[list[int]]


class CommentPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[CommentOut]


@router.get("/comments", response_model=CommentPage)
def search_comments(request: Request, db: SessionDep, principal: Reader) -> CommentPage:
    """Comments with their analysis; filter by topic_id, sentiment, keyword, category."""
    ctx, q = _explorer(request, db, principal)
    limit = int_param(request, "limit", 50, 1, 200)
    offset = int_param(request, "offset", 0, 0, 1_000_000)
    items, total = stats.search_comments(db, org_id=principal.org_id, filters=ctx.filters,
                                         q=q, limit=limit, offset=offset)
    return CommentPage(total=total, limit=limit, offset=offset,
                       items=[CommentOut(**i) for i in items])


@router.get("/keywords")
def keywords(request: Request, db: SessionDep, principal: Reader) -> dict[str, Any]:
    """Keywords and key phrases of the selection (TF-IDF against the org's corpus)."""
    ctx, q = _explorer(request, db, principal)
    limit = int_param(request, "limit", 50, 1, 200)
    result = stats.selection_keywords(db, org_id=principal.org_id, filters=ctx.filters, q=q,
                                      limit=limit)
    result["sentiment"] = stats.sentiment_breakdown(db, org_id=principal.org_id,
                                                    filters=ctx.filters)
    return result


@router.get("/vocabulary", response_model=VocabularyOut)
def get_vocabulary(db: SessionDep, principal: Reader) -> VocabularyOut:
    row = service.settings_row(db, principal.org_id)
    db.commit()
    return VocabularyOut(custom_words=row.custom_words, stop_words=row.stop_words)


@router.put("/vocabulary", response_model=VocabularyOut)
def put_vocabulary(body: VocabularyIn, db: SessionDep, principal: Writer) -> VocabularyOut:
    try:
        row = service.update_vocabulary(db, principal.org_id, custom_words=body.custom_words,
                                        stop_words=body.stop_words)
    except service.TextError as exc:
        db.rollback()
        raise _error(exc) from exc
    db.commit()
    return VocabularyOut(custom_words=row.custom_words, stop_words=row.stop_words)


@router.post("/analyse")
def analyse(body: AnalyseIn, db: SessionDep, principal: Reader) -> dict[str, Any]:
    """Analyses a text with the organisation's vocabulary and topics; stores nothing."""
    ctx = service.analysis_context(db, principal.org_id)
    db.commit()
    result = analyse_text(body.text, vocabulary=ctx["vocabulary"], rules=ctx["rules"],
                          corpus=ctx["corpus"])
    keys = ctx["topic_keys"]
    return {
        "language": result.language, "sentiment_score": result.sentiment_score,
        "sentiment_label": result.sentiment_label, "keywords": result.keywords,
        "topics": {keys[tid]: hits for tid, hits in result.topic_hits.items()},
    }
