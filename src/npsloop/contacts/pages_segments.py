"""Segment pages: the list (counts filled in by the page script) and the rule builder with its
live preview. The builder (static/js/segments.js) saves through /api/v1/segments."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from npsloop.accounts.deps import Principal, require
from npsloop.contacts import attributes, events, segments, service
from npsloop.contacts.models import LifecycleStage
from npsloop.contacts.page_helpers import local_time, script_strings
from npsloop.contacts.segment_rules import ATTRIBUTE_OPERATORS, FIELD_OPERATORS
from npsloop.core.deps import SessionDep, request_language
from npsloop.core.i18n import LANGUAGES
from npsloop.responses.models import Response as SurveyResponse
from npsloop.surveys.models import Survey
from npsloop.web.templating import render

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require("response:read", page=True))]
Writer = Annotated[Principal, Depends(require("response:write", page=True))]
DEFAULT_CHANNELS = ("link", "qr", "email", "sms", "widget", "api")


@router.get("/contacts/segments", response_class=HTMLResponse)
def segment_list(request: Request, db: SessionDep, principal: Reader) -> HTMLResponse:
    request.state.principal = principal
    return render(request, "contacts/segments.html", {
        "segments": segments.list_segments(db, org_id=principal.org_id),
        "can_write": principal.can("response:write"),
        "local": local_time(db, principal.org_id),
        "saved": request.query_params.get("saved", ""),
    })


def builder_data(db: SessionDep, principal: Principal, lang: str,
                 segment: dict[str, Any] | None) -> dict[str, Any]:
    """Everything the builder offers: attributes with their types, known tags, event names,
    surveys, channels, the operators each type allows, and its translations."""
    org_id = principal.org_id
    channels = set(db.scalars(select(SurveyResponse.channel).where(
        SurveyResponse.org_id == org_id).distinct()))
    surveys = db.execute(select(Survey.id, Survey.name).where(Survey.org_id == org_id)
                         .order_by(Survey.name)).all()
    return {
        "segment": segment,
        "attributes": [{"key": d.key, "label": d.label, "type": d.type}
                       for d in attributes.list_definitions(db, org_id=org_id)],
        "tags": [name for name, _ in service.tag_counts(db, org_id=org_id, limit=200)],
        "events": [name for name, _ in events.event_names(db, org_id=org_id)],
        "surveys": [{"id": i, "name": n} for i, n in surveys],
        "channels": sorted(channels | set(DEFAULT_CHANNELS)),
        "stages": [s.value for s in LifecycleStage],
        "languages": list(LANGUAGES),
        "attributeOperators": {k: list(v) for k, v in ATTRIBUTE_OPERATORS.items()},
        "fieldOperators": {k: list(v) for k, v in FIELD_OPERATORS.items()},
        "everyone": service.list_contacts(db, org_id=org_id, filters=service.ContactFilter(),
                                          limit=1)[1],
        "csrf": principal.csrf_token or "",
        "strings": script_strings(lang, ("segments.", "contacts.stage.", "contacts.type.",
                                         "contacts.language.", "contacts.category.")),
    }


def _builder(request: Request, db: SessionDep, principal: Principal,
             segment: dict[str, Any] | None) -> HTMLResponse:
    request.state.principal = principal
    return render(request, "contacts/segment_builder.html", {
        "segment": segment,
        "builder": builder_data(db, principal, request_language(request), segment),
    })


@router.get("/contacts/segments/new", response_class=HTMLResponse)
def new_segment(request: Request, db: SessionDep, principal: Writer) -> HTMLResponse:
    return _builder(request, db, principal, None)


@router.get("/contacts/segments/{segment_id}", response_class=HTMLResponse)
def edit_segment(segment_id: str, request: Request, db: SessionDep,
                 principal: Writer) -> HTMLResponse:
    segment = segments.get_segment(db, org_id=principal.org_id, segment_id=segment_id)
    if segment is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="segment not found")
    return _builder(request, db, principal, {
        "id": segment.id, "name": segment.name, "description": segment.description,
        "rules": segment.rules})
