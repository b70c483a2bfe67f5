"""Contact pages: the list (search, filters, attribute columns) and one contact's profile
(attributes, tags, events, responses). Import and segment pages are mounted from their own
modules; the logic lives in the service modules."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from npsloop.accounts.deps import Principal, require
from npsloop.contacts import attributes, events, segments, service, values
from npsloop.contacts.models import Contact, LifecycleStage
from npsloop.contacts.page_helpers import local_time
from npsloop.contacts.pages_import import router as import_router
from npsloop.contacts.pages_segments import router as segments_router
from npsloop.core.deps import SessionDep
from npsloop.responses.models import Response as SurveyResponse
from npsloop.surveys.models import Survey
from npsloop.web.templating import render

router = APIRouter(include_in_schema=False)
# Included first: /contacts/import and /contacts/segments are matched before /contacts/{id}.
router.include_router(import_router)
router.include_router(segments_router)
Reader = Annotated[Principal, Depends(require("response:read", page=True))]
Writer = Annotated[Principal, Depends(require("response:write", page=True))]
PAGE_SIZE = 50
LIST_COLUMNS = 4  # attribute columns shown in the list


def stages() -> list[str]:
    return [s.value for s in LifecycleStage]


@router.get("/contacts", response_class=HTMLResponse)
def contact_list(request: Request, db: SessionDep, principal: Reader) -> HTMLResponse:
    request.state.principal = principal
    params = request.query_params
    filters = service.ContactFilter(
        q=params.get("q", "")[:200], tag=params.get("tag", "")[:64],
        lifecycle_stage=params.get("stage", "") if params.get("stage") in stages() else "")
    segment_id = params.get("segment", "")
    all_segments = segments.list_segments(db, org_id=principal.org_id)
    chosen = next((s for s in all_segments if s.id == segment_id), None)
    if chosen is not None:
        filters.segment_rules = chosen.rules
    try:
        page = max(1, int(params.get("page", "1")))
    except ValueError:
        page = 1
    rule_error = ""
    try:
        rows, total = service.list_contacts(db, org_id=principal.org_id, filters=filters,
                                            limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    except segments.RuleError as exc:
        rows, total, rule_error = [], 0, str(exc)
    definitions = attributes.list_definitions(db, org_id=principal.org_id)
    columns = [d for d in definitions if d.show_in_list][:LIST_COLUMNS]
    everyone = service.list_contacts(db, org_id=principal.org_id,
                                     filters=service.ContactFilter(), limit=1)[1]
    return render(request, "contacts/list.html", {
        "contacts": rows, "total": total, "everyone": everyone, "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)), "filters": filters, "segment_id": segment_id,
        "segments": all_segments, "columns": columns, "stages": stages(),
        "tags": service.tag_counts(db, org_id=principal.org_id, limit=50),
        "rule_error": rule_error, "can_write": principal.can("response:write"),
        "local": local_time(db, principal.org_id),
        "query": {k: v for k, v in params.items() if k not in ("page", "lang")},
    })


def _load(db: SessionDep, principal: Principal, contact_id: str) -> Contact:
    contact = service.get_contact(db, org_id=principal.org_id, contact_id=contact_id)
    if contact is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="contact not found")
    return contact


def _responses(db: SessionDep, org_id: str, contact_id: str) -> list[dict[str, Any]]:
    rows = db.execute(
        select(SurveyResponse, Survey.name).join(Survey, Survey.id == SurveyResponse.survey_id)
        .where(SurveyResponse.org_id == org_id, SurveyResponse.contact_id == contact_id)
        .order_by(SurveyResponse.submitted_at.desc()).limit(50))
    return [{"response": r, "survey": name} for r, name in rows]


@router.get("/contacts/{contact_id}", response_class=HTMLResponse)
def contact_detail(contact_id: str, request: Request, db: SessionDep,
                   principal: Reader) -> HTMLResponse:
    request.state.principal = principal
    contact = _load(db, principal, contact_id)
    definitions = {d.key: d for d in attributes.list_definitions(db, org_id=principal.org_id)}
    attribute_rows = sorted(
        ({"key": k, "value": v, "definition": definitions.get(k)}
         for k, v in (contact.attributes or {}).items()), key=lambda row: row["key"])
    return render(request, "contacts/detail.html", {
        "contact": contact, "attributes": attribute_rows,
        "events": events.recent_events(db, org_id=principal.org_id, contact_id=contact.id),
        "responses": _responses(db, principal.org_id, contact.id),
        "can_write": principal.can("response:write"),
        "tag_error": request.query_params.get("tag_error", ""),
        "local": local_time(db, principal.org_id),
    })


@router.post("/contacts/{contact_id}/tags")
async def edit_tags(contact_id: str, request: Request, db: SessionDep,
                    principal: Writer) -> Response:
    """Adds the tags typed in `add` (comma separated) or removes the one named `remove`."""
    form = await request.form()
    contact = _load(db, principal, contact_id)
    add, remove = str(form.get("add") or ""), str(form.get("remove") or "")
    target = f"/contacts/{contact.id}#tags"
    try:
        change = service.ContactChange(
            external_id=contact.external_id, add_tags=values.normalize_tags(add),
            remove_tags=values.normalize_tags([remove]) if remove else [])
        if len(set(contact.tags or []) | set(change.add_tags)) > values.MAX_TAGS:
            raise ValueError(f"at most {values.MAX_TAGS} tags per contact")
    except ValueError:
        return RedirectResponse(f"/contacts/{contact.id}?tag_error=1#tags", status_code=303)
    service.apply_change(contact, change)
    db.commit()
    return RedirectResponse(target, status_code=303)

