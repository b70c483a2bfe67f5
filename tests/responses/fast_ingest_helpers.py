"""Shared pieces of the fast-ingest tests: the survey they post to, the rows they compare."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from npsloop.analytics.models import ResponseDaily
from npsloop.core.db import new_id, utcnow
from npsloop.core.outbox import OutboxEvent
from npsloop.responses import fast_ingest
from npsloop.responses.ingest_sql import NewResponse
from npsloop.responses.models import Response, ResponseAnswer

SURVEY = {
    "name": "Fast ingest", "status": "live",
    "questions": [
        {"kind": "nps", "key": "nps"},
        {"kind": "driver_rating", "key": "price"},
        {"kind": "driver_rating", "key": "delivery"},
        {"kind": "single_choice", "key": "plan", "options": [{"key": "free"}, {"key": "pro"}]},
        {"kind": "multiple_choice", "key": "why",
         "options": [{"key": "speed"}, {"key": "price"}]},
    ],
}
# What differs between two posts of the same body: ids, the survey, the clock.
VOLATILE = {"id", "survey_id", "submitted_at", "completed_at"}


def answered(app: Any) -> int:
    """How many posts the app's fast path answered itself."""
    middleware = fast_ingest.find(app)
    return middleware.answered if middleware is not None else 0


def stored_rows(db: Session, survey_id: str) -> dict[str, Any]:
    """Everything ingest stored for a survey, without ids, the survey id and clocks."""
    db.expire_all()
    responses = db.scalars(select(Response).where(Response.survey_id == survey_id)).all()
    ids = [r.id for r in responses]
    skip = {"id", "survey_id", "submitted_at", "completed_at", "created_at", "response_id"}

    def plain(obj: Any) -> dict[str, Any]:
        return {c.key: getattr(obj, c.key) for c in obj.__table__.c if c.key not in skip}

    answers = db.scalars(select(ResponseAnswer).where(ResponseAnswer.response_id.in_(ids)))
    events = db.scalars(select(OutboxEvent).where(
        OutboxEvent.payload["response_id"].as_string().in_(ids)))
    daily = db.scalars(select(ResponseDaily).where(ResponseDaily.survey_id == survey_id))
    by_key = {r.id: r.idempotency_key or str(r.score) for r in responses}
    return {
        "responses": sorted((plain(r) for r in responses), key=repr),
        "answers": sorted((plain(a) for a in answers), key=repr),
        "events": sorted(((e.topic, by_key[e.payload["response_id"]], sorted(e.payload),
                           e.status, e.attempts, e.last_error, e.locked_by) for e in events),
                         key=repr),
        "daily": sorted((plain(d) for d in daily), key=repr),
    }


def fast_response(org_id: str, survey_id: str, score: int, key: str | None = None
                  ) -> NewResponse:
    now = utcnow()
    return NewResponse(
        id=new_id(), org_id=org_id, survey_id=survey_id, score=score,
        category="detractor", comment="", language="zh-CN", channel="api",
        status="complete", idempotency_key=key, submitted_at=now, completed_at=now,
        event_ids=[new_id(), new_id()])
