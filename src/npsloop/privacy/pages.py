"""The privacy settings page: retention limits, a data subject's export or erasure, and the
audit log. Owners and admins only (`privacy:manage`); forms carry the CSRF token."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select

from npsloop.accounts.deps import Principal, require
from npsloop.accounts.models import AuditLog
from npsloop.accounts.service import audit
from npsloop.contacts import service as contacts
from npsloop.core.deps import SessionDep, request_language
from npsloop.core.i18n import translate
from npsloop.privacy import retention
from npsloop.privacy import service as privacy
from npsloop.web.templating import render

router = APIRouter(include_in_schema=False)
Manager = Annotated[Principal, Depends(require("privacy:manage", page=True))]
PAGE_SIZE = 50


def _page(request: Request, db: SessionDep, principal: Principal, *, action: str = "",
          page: int = 1, errors: dict[str, str] | None = None,
          notice: str | None = None, status_code: int = 200,
          values: dict[str, Any] | None = None) -> HTMLResponse:
    request.state.principal = principal  # base.html's sidebar and the forms' CSRF token
    policy = retention.get_policy(db, org_id=principal.org_id)
    query = select(AuditLog).where(AuditLog.org_id == principal.org_id)
    if action:
        query = query.where(AuditLog.action.startswith(action))
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    entries = list(db.scalars(query.order_by(AuditLog.created_at.desc(), AuditLog.id)
                              .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)))
    actions = [a for (a,) in db.execute(
        select(AuditLog.action).where(AuditLog.org_id == principal.org_id).distinct()
        .order_by(AuditLog.action))]
    shown = values or {name: getattr(policy, name) for name in retention.FIELDS}
    return render(request, "privacy/settings.html", {
        "policy": policy, "values": shown, "fields": retention.FIELDS, "entries": entries,
        "total": total, "page": page, "pages": max(1, -(-total // PAGE_SIZE)),
        "action": action, "actions": actions, "errors": errors or {}, "notice": notice,
        "detail_json": lambda d: json.dumps(d, ensure_ascii=False)[:300],
    }, status_code=status_code)


@router.get("/settings/privacy", response_class=HTMLResponse)
def privacy_page(request: Request, db: SessionDep, principal: Manager,
                 action: Annotated[str, Query(max_length=100)] = "",
                 page: Annotated[int, Query(ge=1, le=100000)] = 1) -> HTMLResponse:
    return _page(request, db, principal, action=action, page=page,
                 notice=request.query_params.get("done"))


@router.post("/settings/privacy/retention", response_class=HTMLResponse)
async def save_retention(request: Request, db: SessionDep, principal: Manager) -> Response:
    form = await request.form()
    lang = request_language(request)
    values: dict[str, int | None] = {}
    errors: dict[str, str] = {}
    for name in retention.FIELDS:
        raw = str(form.get(name) or "").strip()
        if not raw:
            values[name] = None
        elif raw.isdigit() and retention.MIN_DAYS <= int(raw) <= retention.MAX_DAYS:
            values[name] = int(raw)
        else:
            errors[name] = translate("privacy.error.days", lang, min=retention.MIN_DAYS,
                                     max=retention.MAX_DAYS)
    if errors:
        shown = {name: form.get(name) for name in retention.FIELDS}
        return _page(request, db, principal, errors=errors, status_code=422, values=shown)
    retention.save_policy(db, org_id=principal.org_id, values=values)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="privacy.retention",
          target=("organization", principal.org_id), detail=values)
    db.commit()
    return RedirectResponse("/settings/privacy?done=saved", status_code=303)


@router.post("/settings/privacy/apply")
async def apply_now(request: Request, db: SessionDep, principal: Manager) -> Response:
    result = retention.apply_retention(db, org_id=principal.org_id)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="privacy.retention.apply",
          target=("organization", principal.org_id), detail=result.__dict__)
    db.commit()
    return RedirectResponse("/settings/privacy?done=applied", status_code=303)


@router.post("/settings/privacy/subject", response_class=HTMLResponse)
async def data_subject(request: Request, db: SessionDep, principal: Manager) -> Response:
    """Export or erase one contact, named by external id (erasure asks for it twice)."""
    form = await request.form()
    lang = request_language(request)
    external_id = str(form.get("external_id") or "").strip()
    what = str(form.get("what") or "")
    contact = contacts.get_by_external_id(db, org_id=principal.org_id,
                                          external_id=external_id) if external_id else None
    if contact is None:
        return _page(request, db, principal, status_code=422, errors={
            "external_id": translate("privacy.error.no_contact", lang, id=external_id)})
    if what == "export":
        document = privacy.export_contact(db, org_id=principal.org_id, actor=principal.actor,
                                          contact=contact)
        db.commit()
        return privacy.export_download(document, contact.id)
    if what != "erase" or str(form.get("confirm") or "").strip() != external_id:
        return _page(request, db, principal, status_code=422, errors={
            "confirm": translate("privacy.error.confirm", lang)})
    privacy.erase_contact(db, org_id=principal.org_id, actor=principal.actor, contact=contact)
    db.commit()
    return RedirectResponse("/settings/privacy?done=erased", status_code=303)
