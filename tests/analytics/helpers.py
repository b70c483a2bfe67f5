"""Fast test data: responses, answers and contacts written straight through the ORM (the
ingest API is covered by its own tests; statistics tests need hundreds of rows)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from npsloop.analytics.stats import category_of
from npsloop.contacts.models import Contact
from npsloop.responses.models import Response, ResponseAnswer


def add_contact(db: Session, org_id: str, *, tags: list[str] | None = None,
                lifecycle_stage: str | None = None,
                attributes: dict[str, Any] | None = None) -> Contact:
    contact = Contact(org_id=org_id, external_id=uuid.uuid4().hex[:12], tags=tags or [],
                      lifecycle_stage=lifecycle_stage, attributes=attributes or {})
    db.add(contact)
    db.flush()
    return contact


def add_response(
    db: Session, org_id: str, survey_id: str, score: int, *,
    at: datetime | None = None, channel: str = "api", language: str = "zh-CN",
    attributes: dict[str, Any] | None = None, contact: Contact | None = None,
    drivers: dict[str, float] | None = None, choices: dict[str, list[str]] | None = None,
    comment: str = "", status: str = "complete",
) -> Response:
    answers = [ResponseAnswer(org_id=org_id, question_key=k, kind="driver_rating",
                              number_value=v) for k, v in (drivers or {}).items()]
    answers += [ResponseAnswer(org_id=org_id, question_key=k, kind="choice", choice_values=v)
                for k, v in (choices or {}).items()]
    response = Response(
        org_id=org_id, survey_id=survey_id, score=score, category=category_of(score),
        comment=comment, language=language, channel=channel, status=status,
        contact_id=contact.id if contact else None,
        contact_attributes=attributes if attributes is not None else (
            dict(contact.attributes) if contact else {}),
        submitted_at=at or datetime(2026, 3, 2, 4, 0, tzinfo=UTC), answers=answers,
    )
    db.add(response)
    return response


def add_scores(db: Session, org_id: str, survey_id: str, scores: list[int], **kwargs: Any
               ) -> None:
    for score in scores:
        add_response(db, org_id, survey_id, score, **kwargs)
    db.commit()


def counts_scores(promoters: int, passives: int, detractors: int) -> list[int]:
    return [10] * promoters + [7] * passives + [3] * detractors
