"""Builds the `Facts` a rule sees from stored rows: the response and its answers, its survey,
its contact (tags, lifecycle) and the text analysis of its comment.

`facts_for_many` loads each related table once for a whole batch (the dry run reads 1,000
responses with five queries, not five thousand).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from npsloop.contacts.models import Contact
from npsloop.responses.models import Response
from npsloop.surveys.models import Survey
from npsloop.textmining.models import ResponseTextAnalysis
from npsloop.tickets.rules import Facts


def _facts(response: Response, survey: Survey | None, contact: Contact | None,
           analysis: ResponseTextAnalysis | None) -> Facts:
    attributes = dict(contact.attributes or {}) if contact is not None else {}
    # The snapshot taken with the response wins: it is what the customer was when answering.
    attributes.update(response.contact_attributes or {})
    drivers = {a.question_key: a.number_value for a in response.answers
               if a.kind == "driver_rating" and a.number_value is not None}
    facts = Facts(
        score=response.score, category=response.category, language=response.language,
        survey_id=response.survey_id, comment=response.comment or "", drivers=drivers,
        attributes=attributes,
        nps_type=survey.nps_type if survey else "", touchpoint=survey.touchpoint if survey else "",
        tags=set(contact.tags or []) if contact is not None else set(),
        lifecycle=contact.lifecycle_stage if contact is not None else None,
    )
    if analysis is not None:
        facts.analysed = True
        facts.sentiment_label = analysis.sentiment_label
        facts.sentiment_score = analysis.sentiment_score
        facts.topics = set((analysis.topic_hits or {}).keys())
        facts.keywords = set(analysis.keywords or [])
    return facts


def facts_for(session: Session, response: Response) -> Facts:
    survey = session.get(Survey, response.survey_id)
    contact = session.get(Contact, response.contact_id) if response.contact_id else None
    analysis = session.get(ResponseTextAnalysis, response.id)
    return _facts(response, survey, contact, analysis)


def _by_id(session: Session, model: type, ids: Iterable[str]) -> dict[str, object]:
    wanted = sorted({i for i in ids if i})
    found: dict[str, object] = {}
    for start in range(0, len(wanted), 500):  # stay under bind-parameter limits
        chunk = wanted[start:start + 500]
        key = model.response_id if model is ResponseTextAnalysis else model.id
        for row in session.scalars(select(model).where(key.in_(chunk))):
            found[row.response_id if model is ResponseTextAnalysis else row.id] = row
    return found


def facts_for_many(session: Session, responses: list[Response]) -> list[Facts]:
    surveys = _by_id(session, Survey, (r.survey_id for r in responses))
    contacts = _by_id(session, Contact, (r.contact_id or "" for r in responses))
    analyses = _by_id(session, ResponseTextAnalysis, (r.id for r in responses))
    return [
        _facts(r, surveys.get(r.survey_id), contacts.get(r.contact_id or ""),  # type: ignore[arg-type]
               analyses.get(r.id))  # type: ignore[arg-type]
        for r in responses
    ]
