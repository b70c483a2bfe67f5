"""JSON routes for contacts and attribute definitions; events, imports and segments are in
their own modules and mounted on this router."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from npsloop.accounts.service import get_organization
from npsloop.contacts import attributes, events, segments, service
from npsloop.contacts.api_common import Reader, Writer, not_found, unprocessable
from npsloop.contacts.api_events import router as events_router
from npsloop.contacts.api_import import router as import_router
from npsloop.contacts.api_segments import router as segments_router
from npsloop.contacts.attributes import AttributeRegistry
from npsloop.contacts.models import Contact
from npsloop.contacts.schemas import (
    AttributeCreate,
    AttributeOut,
    AttributeUpdate,
    BatchItem,
    BatchResult,
    ContactBatch,
    ContactFields,
    ContactList,
    ContactOut,
    ContactUpsert,
    EventOut,
)
from npsloop.core.deps import SessionDep
from npsloop.privacy import service as privacy

router = APIRouter(prefix="/api/v1", tags=["contacts"])


def _phone_country(db: SessionDep, org_id: str) -> str:
    org = get_organization(db, org_id)
    return service.country_code(org.timezone if org else None)


def _load(db: SessionDep, org_id: str, external_id: str) -> Contact:
    contact = service.get_by_external_id(db, org_id=org_id, external_id=external_id)
    if contact is None:
        raise not_found("contact", external_id)
    return contact


@router.post("/contacts", response_model=ContactOut, status_code=status.HTTP_201_CREATED,
             responses={200: {"description": "an existing contact was updated"}})
def upsert_contact(body: ContactUpsert, db: SessionDep, principal: Writer,
                   http_response: Response) -> ContactOut:
    """Creates the contact, or updates the one with this external_id."""
    registry = AttributeRegistry(db, principal.org_id)
    try:
        change = service.check_change(registry, body.model_dump(exclude_unset=True),
                                      phone_country=_phone_country(db, principal.org_id))
    except service.ContactError as exc:
        raise unprocessable(exc.errors) from exc
    contact, created = service.apply_changes(
        db, org_id=principal.org_id, changes=[change], registry=registry)[0]
    db.commit()
    if not created:
        http_response.status_code = status.HTTP_200_OK
    return ContactOut.model_validate(contact)


@router.post("/contacts/batch", response_model=BatchResult)
def upsert_batch(body: ContactBatch, db: SessionDep, principal: Writer) -> BatchResult:
    """Up to 1,000 upserts at once, all or nothing: any bad contact is a 422 that lists
    every problem (contacts.<index>.<field>)."""
    registry = AttributeRegistry(db, principal.org_id)
    country = _phone_country(db, principal.org_id)
    changes, errors = [], []
    for index, item in enumerate(body.contacts):
        try:
            changes.append(service.check_change(
                registry, item.model_dump(exclude_unset=True), phone_country=country,
                prefix=f"contacts.{index}."))
        except service.ContactError as exc:
            errors += exc.errors
    if errors:
        raise unprocessable(errors)
    results = service.apply_changes(db, org_id=principal.org_id, changes=changes,
                                    registry=registry)
    db.commit()
    items = [BatchItem(external_id=c.external_id, id=c.id, created=new) for c, new in results]
    created = len({i.external_id for i in items if i.created})
    return BatchResult(created=created, updated=len({i.external_id for i in items}) - created,
                       items=items)


@router.get("/contacts", response_model=ContactList)
def list_contacts(
    db: SessionDep,
    principal: Reader,
    q: Annotated[str, Query(max_length=200, description="external id, name, email or phone")]
    = "",
    tag: Annotated[str, Query(max_length=64)] = "",
    lifecycle_stage: str = "",
    language: str = "",
    segment_id: str = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> ContactList:
    filters = service.ContactFilter(q=q, tag=tag, lifecycle_stage=lifecycle_stage,
                                    language=language)
    if segment_id:
        segment = segments.get_segment(db, org_id=principal.org_id, segment_id=segment_id)
        if segment is None:
            raise not_found("segment", segment_id)
        filters.segment_rules = segment.rules
    try:
        rows, total = service.list_contacts(db, org_id=principal.org_id, filters=filters,
                                            limit=limit, offset=offset)
    except segments.RuleError as exc:
        raise unprocessable(exc.problems, where="segment") from exc
    return ContactList(items=[ContactOut.model_validate(c) for c in rows], total=total)


@router.get("/contacts/{external_id}", response_model=ContactOut)
def get_contact(external_id: str, db: SessionDep, principal: Reader) -> ContactOut:
    return ContactOut.model_validate(_load(db, principal.org_id, external_id))


@router.patch("/contacts/{external_id}", response_model=ContactOut)
def patch_contact(external_id: str, body: ContactFields, db: SessionDep,
                  principal: Writer) -> ContactOut:
    contact = _load(db, principal.org_id, external_id)
    registry = AttributeRegistry(db, principal.org_id)
    data = {"external_id": external_id, **body.model_dump(exclude_unset=True)}
    try:
        change = service.check_change(registry, data,
                                      phone_country=_phone_country(db, principal.org_id))
    except service.ContactError as exc:
        raise unprocessable(exc.errors) from exc
    registry.flush_new()
    service.apply_change(contact, change)
    db.commit()
    return ContactOut.model_validate(contact)


@router.delete("/contacts/{external_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_contact(external_id: str, db: SessionDep, principal: Writer) -> Response:
    # A deletion is an erasure: responses stay for the aggregates but lose the person
    # (link, attribute snapshot, comment); see privacy.personal_data.
    contact = _load(db, principal.org_id, external_id)
    privacy.erase_contact(db, org_id=principal.org_id, actor=principal.actor, contact=contact,
                          action="contact.delete")
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/contacts/{external_id}/events", response_model=list[EventOut])
def contact_events(external_id: str, db: SessionDep, principal: Reader,
                   limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[EventOut]:
    contact = _load(db, principal.org_id, external_id)
    rows = events.recent_events(db, org_id=principal.org_id, contact_id=contact.id, limit=limit)
    return [EventOut.model_validate(e) for e in rows]


@router.get("/contact-attributes", response_model=list[AttributeOut], tags=["contacts"])
def list_attributes(db: SessionDep, principal: Reader) -> list[AttributeOut]:
    rows = attributes.list_definitions(db, org_id=principal.org_id)
    return [AttributeOut.model_validate(d) for d in rows]


@router.post("/contact-attributes", response_model=AttributeOut,
             status_code=status.HTTP_201_CREATED)
def create_attribute(body: AttributeCreate, db: SessionDep, principal: Writer) -> AttributeOut:
    try:
        definition = attributes.define(db, org_id=principal.org_id, key=body.key,
                                       kind=body.type, label=body.label,
                                       show_in_list=body.show_in_list)
    except attributes.AttributeError_ as exc:
        raise unprocessable([(exc.field, exc.message)]) from exc
    db.commit()
    return AttributeOut.model_validate(definition)


@router.patch("/contact-attributes/{key}", response_model=AttributeOut)
def update_attribute(key: str, body: AttributeUpdate, db: SessionDep,
                     principal: Writer) -> AttributeOut:
    definition = attributes.get_definition(db, org_id=principal.org_id, key=key)
    if definition is None:
        raise not_found("attribute", key)
    try:
        attributes.update_definition(db, definition=definition, label=body.label,
                                     show_in_list=body.show_in_list, kind=body.type)
    except attributes.AttributeError_ as exc:
        db.rollback()
        raise unprocessable([(exc.field, exc.message)]) from exc
    db.commit()
    return AttributeOut.model_validate(definition)


router.include_router(events_router)
router.include_router(import_router)
router.include_router(segments_router)
