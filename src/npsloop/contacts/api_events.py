"""JSON routes for behaviour events (rules in contacts/events.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from pydantic import ValidationError

from npsloop.contacts import events, service
from npsloop.contacts.api_common import Reader, Writer, not_found, unprocessable
from npsloop.contacts.schemas import EventBatch, EventIn, EventOut, EventResultOut, EventSingle
from npsloop.core.deps import SessionDep

router = APIRouter(tags=["events"])

EVENT_DOC = (
    "Records what a contact did. Send one event, or {\"events\": [...]} (up to 1,000). "
    "An unknown contact_external_id creates the contact (unknown_contact=\"create\", the "
    "default) or rejects the request (\"reject\"). An event_id already stored is skipped and "
    "counted as a duplicate. A batch is all-or-nothing."
)


def _record(db: SessionDep, org_id: str, items: list[EventIn], unknown: str,
            prefix: str) -> EventResultOut:
    inputs = [events.EventInput(contact_external_id=i.contact_external_id, name=i.name,
                                properties=i.properties, timestamp=i.timestamp,
                                event_id=i.event_id) for i in items]
    try:
        result = events.record_events(db, org_id=org_id, items=inputs, unknown_contact=unknown,
                                      error_prefix=prefix)
    except service.ContactError as exc:
        db.rollback()
        raise unprocessable(exc.errors) from exc
    db.commit()
    return EventResultOut(accepted=result.accepted, duplicates=result.duplicates,
                          contacts_created=result.contacts_created, event_ids=result.event_ids)


def _parse(model: type[EventSingle] | type[EventBatch], body: Any) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise unprocessable([(".".join(str(p) for p in e["loc"]), e["msg"])
                             for e in exc.errors()]) from exc


@router.post("/events", response_model=EventResultOut, description=EVENT_DOC)
def record(db: SessionDep, principal: Writer,
           body: Annotated[dict[str, Any], Body(examples=[{
               "contact_external_id": "C-1001", "name": "order_paid",
               "properties": {"amount": 99}, "timestamp": "2026-11-20T10:00:00+08:00",
               "event_id": "order-55231"}])]) -> EventResultOut:
    if "events" in body:
        batch = _parse(EventBatch, body)
        return _record(db, principal.org_id, batch.events, batch.unknown_contact, "events.")
    single = _parse(EventSingle, body)
    return _record(db, principal.org_id, [single], single.unknown_contact, "")


@router.post("/events/batch", response_model=EventResultOut, description=EVENT_DOC)
def record_batch(body: EventBatch, db: SessionDep, principal: Writer) -> EventResultOut:
    return _record(db, principal.org_id, body.events, body.unknown_contact, "events.")


@router.get("/events", response_model=list[EventOut])
def list_events(
    db: SessionDep, principal: Reader, contact_external_id: str,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[EventOut]:
    contact = service.get_by_external_id(db, org_id=principal.org_id,
                                         external_id=contact_external_id)
    if contact is None:
        raise not_found("contact", contact_external_id)
    rows = events.recent_events(db, org_id=principal.org_id, contact_id=contact.id, limit=limit)
    return [EventOut.model_validate(e) for e in rows]
