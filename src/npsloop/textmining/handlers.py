"""Outbox subscribers: analyse a response's comment after it is saved.

Runs in the worker, never in the ingest request. A response is analysed on creation and
again on completion (the follow-up submit is usually what adds the comment); an unchanged
comment is skipped by its hash.

Handlers of one event run one after another, so a rule subscribed to "response.completed"
may run before the comment is analysed. Whoever needs the analysis (rules, alerts)
subscribes to "text.analysed" instead, emitted here in the same transaction whenever a
comment's analysis is new or changed. `npsloop text reprocess` does not emit it: re-running
history must not fire a year of stale alerts.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from npsloop.core.outbox import OutboxEvent, emit, prepare, subscribe
from npsloop.responses.models import Response
from npsloop.textmining import sentiment, service
from npsloop.textmining.analyzer import prefetch_sentiment
from npsloop.textmining.models import ResponseTextAnalysis

ANALYSED_TOPIC = "text.analysed"


@prepare("response.created")
@prepare("response.completed")
def prefetch_comments(session: Session, events: list[OutboxEvent]) -> None:
    """Scores the claimed batch's stale comments together, so that those the sentiment
    cascade routes to e5 are embedded in one call; `analyse_comment` then finds them cached."""
    if not any(sentiment.margin_for(lang) for lang in sentiment.LANGS):
        return  # the n-gram model alone: nothing to batch, no query
    wanted = {(e.payload or {}).get("response_id"): e.org_id for e in events}
    responses = [r for r in session.scalars(select(Response).where(Response.id.in_(
        [rid for rid in wanted if rid]))) if wanted.get(r.id) == r.org_id]
    if responses:
        list(session.scalars(select(ResponseTextAnalysis).where(
            ResponseTextAnalysis.response_id.in_([r.id for r in responses]))))
        prefetch_sentiment(service.stale_comments(session, responses))


@subscribe("response.created")
@subscribe("response.completed")
def analyse_comment(session: Session, event: OutboxEvent) -> None:
    response_id = (event.payload or {}).get("response_id")
    if not response_id:
        return
    # Locked: `response.created` and `response.completed` of one response may be handled by
    # two workers at once; the second waits and then sees the first one's analysis.
    response = session.get(Response, response_id, with_for_update=True)
    if response is None or response.org_id != event.org_id:
        return
    before = session.get(ResponseTextAnalysis, response.id)
    stamp = before.analysed_at if before is not None else None
    after = service.analyse_response(session, response)
    if after is None or after.analysed_at == stamp:
        return
    emit(session, org_id=response.org_id, topic=ANALYSED_TOPIC, payload={
        "response_id": response.id, "survey_id": response.survey_id,
        "language": after.language, "sentiment_label": after.sentiment_label,
        "sentiment_score": after.sentiment_score, "topics": sorted(after.topic_hits),
        "keywords": after.keywords,
    })
