"""Ingest: validate against the survey, upsert the contact, save, emit. Idempotent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, lazyload

from npsloop.analytics.filters import Filters, apply_filters
from npsloop.analytics.stats import category_of
from npsloop.contacts import service as contacts
from npsloop.core.db import utcnow
from npsloop.core.i18n import normalize_language
from npsloop.core.outbox import emit
from npsloop.responses.models import Response, ResponseAnswer, ResponseStatus
from npsloop.responses.schemas import ResponseCreate
from npsloop.surveys.models import Survey


class IngestError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class IngestResult:
    response: Response
    created: bool


class QuestionShape(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def options(self) -> list[dict[str, Any]]: ...


class SurveyShape(Protocol):
    """What validation reads of a survey: a Survey row, or the fast ingest path's cached
    snapshot of one (responses/ingest_cache.SurveySnapshot), so both check alike."""

    @property
    def default_language(self) -> str: ...
    @property
    def languages(self) -> list[str]: ...
    @property
    def questions(self) -> Sequence[QuestionShape]: ...


def validate_response(survey: SurveyShape, data: ResponseCreate, allow_backdate: bool
                      ) -> dict[str, Any]:
    """Checks the answers against the survey; returns the language and submitted_at to
    store. Raises IngestError naming the field."""
    # Only drivers and choices need the questions (a query when they are loaded lazily).
    questions = {q.key: q for q in survey.questions} if data.drivers or data.choices else {}
    for driver in data.drivers:
        q = questions.get(driver)
        if q is None or q.kind != "driver_rating":
            known = ", ".join(k for k, v in questions.items() if v.kind == "driver_rating")
            raise IngestError(f"drivers.{driver}", f"unknown driver; this survey has: {known}")
    for key, values in data.choices.items():
        q = questions.get(key)
        if q is None or q.kind not in ("single_choice", "multiple_choice"):
            raise IngestError(f"choices.{key}", "unknown choice question")
        allowed = {str(o.get("key")) for o in q.options}
        bad = [v for v in values if v not in allowed]
        if bad:
            raise IngestError(f"choices.{key}", f"unknown option(s): {', '.join(bad)}")
        if q.kind == "single_choice" and len(values) > 1:
            raise IngestError(f"choices.{key}", "single choice takes one option")
    language = survey.default_language
    if data.language is not None:
        language = normalize_language(data.language) or ""
        if language not in survey.languages:
            raise IngestError("language", f"must be one of {', '.join(survey.languages)}")
    submitted_at = utcnow()
    if data.submitted_at is not None:
        if not allow_backdate:
            raise IngestError("submitted_at", "only API keys may set submitted_at")
        if data.submitted_at > utcnow() + timedelta(minutes=5):
            raise IngestError("submitted_at", "is in the future")
        submitted_at = data.submitted_at.astimezone(UTC)
    return {"language": language, "submitted_at": submitted_at}


def _answers(data: ResponseCreate, org_id: str) -> list[ResponseAnswer]:
    answers = [
        ResponseAnswer(org_id=org_id, question_key=key, kind="driver_rating", number_value=rating)
        for key, rating in data.drivers.items()
    ]
    answers += [
        ResponseAnswer(org_id=org_id, question_key=key, kind="choice", choice_values=list(values))
        for key, values in data.choices.items()
    ]
    return answers


def _find_by_key(session: Session, survey: Survey, key: str) -> Response | None:
    return session.scalar(
        select(Response).where(
            Response.org_id == survey.org_id,
            Response.survey_id == survey.id,
            Response.idempotency_key == key,
        )
    )


def _complete(
    session: Session, response: Response, data: ResponseCreate, language: str
) -> None:
    """A partial response (score only) is completed by the follow-up submit; the language
    is the one the customer finished in (they may switch between tap and submit)."""
    response.score = data.score
    if data.language is not None:
        response.language = language
    response.category = category_of(data.score)
    response.comment = data.comment or response.comment
    existing = {a.question_key: a for a in response.answers}
    for answer in _answers(data, response.org_id):
        if answer.question_key in existing:
            existing[answer.question_key].number_value = answer.number_value
            existing[answer.question_key].choice_values = answer.choice_values
        else:
            response.answers.append(answer)
    if data.status == ResponseStatus.complete.value:
        response.status = ResponseStatus.complete.value
        response.completed_at = utcnow()
        emit(session, org_id=response.org_id, topic="response.completed",
             payload={"response_id": response.id, "survey_id": response.survey_id})


def survey_for_ingest(session: Session, *, org_id: str, survey_id: str) -> Survey | None:
    """The survey of this organisation, without its questions: ingest reads them only when
    the body names drivers or choices, so a score-and-comment submit saves a query."""
    return session.scalar(
        select(Survey)
        .where(Survey.id == survey_id, Survey.org_id == org_id)
        .options(lazyload(Survey.questions))
    )


def ingest(
    session: Session,
    *,
    survey: Survey,
    data: ResponseCreate,
    allow_backdate: bool = False,
    channel: str | None = None,
) -> IngestResult:
    """Saves a response and its outbox event in one transaction; commits."""
    checked = validate_response(survey, data, allow_backdate)
    if data.idempotency_key:
        existing = _find_by_key(session, survey, data.idempotency_key)
        if existing is not None:
            if existing.status == ResponseStatus.partial.value:
                _complete(session, existing, data, checked["language"])
                session.commit()
            return IngestResult(existing, created=False)
    contact = None
    if data.contact is not None:
        try:
            contact = contacts.upsert_contact(
                session, org_id=survey.org_id, external_id=data.contact.external_id,
                attributes=dict(data.contact.attributes), email=data.contact.email,
                phone=data.contact.phone, lifecycle_stage=data.contact.lifecycle_stage,
            )
        except contacts.ContactError as exc:  # e.g. a value that does not fit its attribute
            raise IngestError(f"contact.{exc.field}", exc.message) from exc
    response = Response(
        org_id=survey.org_id,
        survey_id=survey.id,
        contact_id=contact.id if contact else None,
        score=data.score,
        category=category_of(data.score),
        comment=data.comment.strip(),
        language=checked["language"],
        channel=channel or data.channel,
        status=data.status,
        idempotency_key=data.idempotency_key,
        contact_attributes=dict(contact.attributes) if contact else {},
        submitted_at=checked["submitted_at"],
        completed_at=utcnow() if data.status == ResponseStatus.complete.value else None,
        answers=_answers(data, survey.org_id),
    )
    session.add(response)
    try:
        session.flush()
    except IntegrityError:
        # Two submits with one idempotency key raced: the other one won, so return it.
        session.rollback()
        existing = _find_by_key(session, survey, data.idempotency_key or "")
        if existing is None:
            raise
        return IngestResult(existing, created=False)
    payload = {"response_id": response.id, "survey_id": survey.id}
    emit(session, org_id=survey.org_id, topic="response.created", payload=payload)
    if response.status == ResponseStatus.complete.value:
        emit(session, org_id=survey.org_id, topic="response.completed", payload=payload)
    session.commit()
    return IngestResult(response, created=True)


@dataclass
class ResponseFilter:
    survey_id: str | None = None
    category: str | None = None
    channel: str | None = None
    language: str | None = None
    status: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    has_comment: bool | None = None


def list_responses(
    session: Session, *, org_id: str, filters: ResponseFilter, limit: int = 50, offset: int = 0
) -> tuple[list[Response], int]:
    # The shared analytics filters cover survey, channel, language, status and dates.
    shared = Filters(survey_id=filters.survey_id, channel=filters.channel,
                     language=filters.language, status=filters.status,
                     date_from=filters.date_from, date_to=filters.date_to)
    query = apply_filters(select(Response), org_id, shared)
    if filters.category:
        query = query.where(Response.category == filters.category)
    if filters.has_comment is True:
        query = query.where(Response.comment != "")
    elif filters.has_comment is False:
        query = query.where(Response.comment == "")
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Response.submitted_at.desc(), Response.id).limit(limit).offset(offset)
    )
    return list(rows), total


def get_survey_response(session: Session, *, survey: Survey, response_id: str) -> Response | None:
    """One response of one survey (the public thank-you page looks up its own response)."""
    if not response_id or len(response_id) > 64:
        return None
    return session.scalar(
        select(Response).where(
            Response.id == response_id,
            Response.org_id == survey.org_id,
            Response.survey_id == survey.id,
        )
    )
