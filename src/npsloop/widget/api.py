"""Site-key management for the web widget (owners and admins, like API keys).

GET  /api/v1/widget/site-keys               the organisation's keys with their embed snippet
POST /api/v1/widget/site-keys               {name, allowed_origins, verify_identity?} -> 201
PATCH /api/v1/widget/site-keys/{id}         {name?, allowed_origins?, verify_identity?}
POST /api/v1/widget/site-keys/{id}/revoke   the widget stops working with it at once
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status

from npsloop.accounts.deps import Principal, require
from npsloop.accounts.service import audit
from npsloop.core.deps import SessionDep, SettingsDep
from npsloop.widget import sitekeys
from npsloop.widget.models import SiteKey
from npsloop.widget.schemas import SiteKeyIn, SiteKeyList, SiteKeyOut, SiteKeyUpdate

router = APIRouter(prefix="/api/v1/widget", tags=["widget"])
Manager = Annotated[Principal, Depends(require("apikey:manage"))]


def _out(site_key: SiteKey, base_url: str) -> SiteKeyOut:
    out = SiteKeyOut.model_validate(site_key)
    out.snippet = sitekeys.snippet(base_url, site_key)
    return out


def _unprocessable(exc: sitekeys.SiteKeyError) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[
        {"loc": ["body", exc.field], "msg": exc.message, "type": "value_error"}])


def _load(db: SessionDep, principal: Principal, site_key_id: str) -> SiteKey:
    found = sitekeys.get_site_key(db, org_id=principal.org_id, key_id=site_key_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"site key '{site_key_id}' not found")
    return found


@router.get("/site-keys", response_model=SiteKeyList)
def list_keys(db: SessionDep, settings: SettingsDep, principal: Manager) -> SiteKeyList:
    keys = sitekeys.list_site_keys(db, org_id=principal.org_id)
    return SiteKeyList(items=[_out(k, settings.base_url) for k in keys])


@router.post("/site-keys", response_model=SiteKeyOut, status_code=201)
def create_key(body: SiteKeyIn, db: SessionDep, settings: SettingsDep,
               principal: Manager) -> SiteKeyOut:
    try:
        created = sitekeys.create_site_key(db, org_id=principal.org_id, name=body.name,
                                           allowed_origins=body.allowed_origins,
                                           created_by=principal.actor,
                                           verify_identity=body.verify_identity)
    except sitekeys.SiteKeyError as exc:
        raise _unprocessable(exc) from exc
    audit(db, org_id=principal.org_id, actor=principal.actor, action="widget.site_key.create",
          target=("widget_site_key", created.id), detail={"origins": created.allowed_origins})
    db.commit()
    return _out(created, settings.base_url)


@router.patch("/site-keys/{site_key_id}", response_model=SiteKeyOut)
def update_key(site_key_id: str, body: SiteKeyUpdate, db: SessionDep, settings: SettingsDep,
               principal: Manager) -> SiteKeyOut:
    found = _load(db, principal, site_key_id)
    try:
        sitekeys.update_site_key(db, site_key=found, name=body.name,
                                 allowed_origins=body.allowed_origins,
                                 verify_identity=body.verify_identity)
    except sitekeys.SiteKeyError as exc:
        raise _unprocessable(exc) from exc
    audit(db, org_id=principal.org_id, actor=principal.actor, action="widget.site_key.update",
          target=("widget_site_key", found.id), detail={"origins": found.allowed_origins})
    db.commit()
    return _out(found, settings.base_url)


@router.post("/site-keys/{site_key_id}/revoke", response_model=SiteKeyOut)
def revoke_key(site_key_id: str, db: SessionDep, settings: SettingsDep,
               principal: Manager) -> SiteKeyOut:
    found = _load(db, principal, site_key_id)
    sitekeys.revoke_site_key(db, site_key=found)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="widget.site_key.revoke",
          target=("widget_site_key", found.id))
    db.commit()
    return _out(found, settings.base_url)
