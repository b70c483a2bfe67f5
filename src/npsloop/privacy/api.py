"""JSON routes for personal data: export or erase one contact, retention, the audit log.

All need `privacy:manage` (owner, admin): a subject access or erasure request is a legal
act on the organisation's behalf, and each one is written to the audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from npsloop.accounts.deps import Principal, require
from npsloop.accounts.models import AuditLog
from npsloop.accounts.service import audit, get_organization
from npsloop.contacts import service as contacts
from npsloop.contacts.models import Contact
from npsloop.core.deps import SessionDep
from npsloop.core.timeutil import parse_bound
from npsloop.privacy import retention, service

router = APIRouter()
api = APIRouter(prefix="/api/v1", tags=["privacy"])
Manager = Annotated[Principal, Depends(require("privacy:manage"))]


class RetentionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    anonymise_responses_after_days: int | None = Field(default=None, ge=1, le=36500)
    delete_events_after_days: int | None = Field(default=None, ge=1, le=36500)
    delete_messages_after_days: int | None = Field(default=None, ge=1, le=36500)
    delete_audit_after_days: int | None = Field(default=None, ge=1, le=36500)


class RetentionOut(RetentionIn):
    model_config = ConfigDict(from_attributes=True)
    last_applied_at: datetime | None = None


class RetentionRun(BaseModel):
    responses_anonymised: int
    events_deleted: int
    messages_deleted: int
    audit_deleted: int


class ErasureOut(BaseModel):
    erased: bool
    erasure_token: str
    rows: dict[str, int]


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    actor: str
    action: str
    target_type: str
    target_id: str
    detail: dict[str, Any]
    created_at: datetime


class AuditPage(BaseModel):
    items: list[AuditOut]
    total: int


def _contact(db: SessionDep, org_id: str, external_id: str) -> Contact:
    contact = contacts.get_by_external_id(db, org_id=org_id, external_id=external_id)
    if contact is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            detail=f"contact '{external_id}' not found")
    return contact


@api.get("/contacts/{external_id}/export")
def export_contact(external_id: str, db: SessionDep, principal: Manager) -> Response:
    """Everything held on the contact, as one JSON document (a download)."""
    contact = _contact(db, principal.org_id, external_id)
    document = service.export_contact(db, org_id=principal.org_id, actor=principal.actor,
                                      contact=contact)
    db.commit()
    return service.export_download(document, contact.id)


@api.post("/contacts/{external_id}/erase", response_model=ErasureOut)
def erase_contact(external_id: str, db: SessionDep, principal: Manager) -> ErasureOut:
    """Deletes the contact and its personal data; its responses stay, anonymised."""
    contact = _contact(db, principal.org_id, external_id)
    token, rows = service.erase_contact(db, org_id=principal.org_id, actor=principal.actor,
                                        contact=contact)
    db.commit()
    return ErasureOut(erased=True, erasure_token=token, rows=rows)


@api.get("/privacy/retention", response_model=RetentionOut)
def get_retention(db: SessionDep, principal: Manager) -> RetentionOut:
    return RetentionOut.model_validate(retention.get_policy(db, org_id=principal.org_id))


@api.put("/privacy/retention", response_model=RetentionOut)
def put_retention(body: RetentionIn, db: SessionDep, principal: Manager) -> RetentionOut:
    policy = retention.save_policy(db, org_id=principal.org_id, values=body.model_dump())
    audit(db, org_id=principal.org_id, actor=principal.actor, action="privacy.retention",
          target=("organization", principal.org_id), detail=body.model_dump())
    db.commit()
    return RetentionOut.model_validate(policy)


@api.post("/privacy/retention/apply", response_model=RetentionRun)
def apply_retention(db: SessionDep, principal: Manager) -> RetentionRun:
    """Applies the policy now (the worker also does, daily)."""
    result = retention.apply_retention(db, org_id=principal.org_id)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="privacy.retention.apply",
          target=("organization", principal.org_id), detail=result.__dict__)
    db.commit()
    return RetentionRun(**result.__dict__)


@api.get("/audit-log", response_model=AuditPage)
def audit_log(
    db: SessionDep,
    principal: Manager,
    action: Annotated[str | None, Query(max_length=100)] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    date_from: Annotated[str | None, Query(alias="from")] = None,
    date_to: Annotated[str | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> AuditPage:
    """Who did what, newest first."""
    query = select(AuditLog).where(AuditLog.org_id == principal.org_id)
    if action:
        query = query.where(AuditLog.action.startswith(action))
    if actor:
        query = query.where(AuditLog.actor == actor)
    org = get_organization(db, principal.org_id)
    tz = org.timezone if org else "UTC"
    bounds: list[datetime | None] = []
    for field, value, is_end in (("from", date_from, False), ("to", date_to, True)):
        try:
            bounds.append(parse_bound(value, tz, end=is_end, field=field))
        except ValueError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[{
                "loc": ["query", field], "msg": str(exc), "type": "value_error"}]) from exc
    start, end = bounds
    if start:
        query = query.where(AuditLog.created_at >= start)
    if end:
        query = query.where(AuditLog.created_at < end)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(query.order_by(AuditLog.created_at.desc(), AuditLog.id)
                      .limit(limit).offset(offset))
    return AuditPage(items=[AuditOut.model_validate(r) for r in rows], total=int(total))


router.include_router(api)
