"""JSON routes for the caller, users and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from npsloop.accounts import org_settings, service
from npsloop.accounts.deps import Principal, PrincipalDep, require
from npsloop.accounts.key_cache import api_key_cache
from npsloop.accounts.models import ApiKey, Role
from npsloop.core.db import utcnow
from npsloop.core.deps import SessionDep

router = APIRouter(prefix="/api/v1", tags=["accounts"])
Manager = Annotated[Principal, Depends(require("member:manage"))]
KeyManager = Annotated[Principal, Depends(require("apikey:manage"))]


class MeOut(BaseModel):
    org_id: str
    role: str
    actor: str
    permissions: list[str]


class UserCreate(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=8, max_length=200)
    role: Role
    name: str = ""
    language: str | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    email: str
    name: str
    role: str
    language: str | None
    is_active: bool


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: Role = Role.admin


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    prefix: str
    role: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    api_key: str


def _rank(role: str) -> int:
    return [r.value for r in Role].index(role)


def _no_escalation(principal: Principal, role: Role) -> None:
    # Nobody hands out a role above their own (an admin cannot mint an owner).
    if _rank(role.value) < _rank(principal.role):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"cannot grant role '{role.value}'")


@router.get("/me", response_model=MeOut)
def me(principal: PrincipalDep) -> MeOut:
    allowed = [p for p in service.PERMISSIONS if principal.can(p)]
    return MeOut(org_id=principal.org_id, role=principal.role, actor=principal.actor,
                 permissions=allowed)


@router.get("/users", response_model=list[UserOut])
def list_users(db: SessionDep, principal: Manager) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in service.list_users(db, org_id=principal.org_id)]


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, db: SessionDep, principal: Manager) -> UserOut:
    _no_escalation(principal, body.role)
    try:
        user = service.create_user(db, org_id=principal.org_id, email=body.email,
                                   password=body.password, role=body.role, name=body.name,
                                   language=body.language)
    except service.AccountError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[{"loc": ["body", exc.field], "msg": exc.message, "type": "value_error"}],
        ) from exc
    service.audit(db, org_id=principal.org_id, actor=principal.actor, action="user.create",
                  target=("user", user.id), detail={"role": user.role})
    db.commit()
    return UserOut.model_validate(user)


@router.get("/api-keys", response_model=list[ApiKeyOut])
def list_keys(db: SessionDep, principal: KeyManager) -> list[ApiKeyOut]:
    keys = db.scalars(select(ApiKey).where(ApiKey.org_id == principal.org_id)
                      .order_by(ApiKey.created_at))
    return [ApiKeyOut.model_validate(k) for k in keys]


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
def create_key(body: ApiKeyCreate, db: SessionDep, principal: KeyManager) -> ApiKeyCreated:
    _no_escalation(principal, body.role)
    key, plain = service.create_api_key(db, org_id=principal.org_id, name=body.name,
                                        role=body.role)
    service.audit(db, org_id=principal.org_id, actor=principal.actor, action="api_key.create",
                  target=("api_key", key.id))
    db.commit()
    return ApiKeyCreated(**ApiKeyOut.model_validate(key).model_dump(), api_key=plain)


@router.delete("/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_key(key_id: str, db: SessionDep, principal: KeyManager) -> None:
    key = db.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.org_id == principal.org_id))
    if key is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"API key '{key_id}' not found")
    key.revoked_at = key.revoked_at or utcnow()
    service.audit(db, org_id=principal.org_id, actor=principal.actor, action="api_key.revoke",
                  target=("api_key", key.id))
    db.commit()
    # After the commit, so a concurrent request cannot re-read the row as still valid;
    # other processes forget the key within key_cache.TTL_SECONDS.
    api_key_cache.discard(key.key_hash)


# -- the organisation's settings -----------------------------------------------------------

OrgManager = Annotated[Principal, Depends(require("org:manage"))]


class OrgSettingsOut(BaseModel):
    id: str
    name: str
    timezone: str
    default_language: str
    embed_origins: list[str]


class OrgSettingsPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    default_language: str | None = Field(default=None, max_length=8)
    embed_origins: list[Annotated[str, Field(max_length=300)]] | None = Field(
        default=None, max_length=org_settings.MAX_EMBED_ORIGINS)


def _org_out(db: SessionDep, org_id: str) -> OrgSettingsOut:
    org = service.get_organization(db, org_id)
    if org is None:  # the caller's own organisation was deleted under them
        raise HTTPException(status.HTTP_404_NOT_FOUND, "organisation not found")
    return OrgSettingsOut(id=org.id, **org_settings.read(org).__dict__)


@router.get("/org", response_model=OrgSettingsOut)
def get_org(db: SessionDep, principal: PrincipalDep) -> OrgSettingsOut:
    return _org_out(db, principal.org_id)


@router.patch("/org", response_model=OrgSettingsOut)
def patch_org(body: OrgSettingsPatch, db: SessionDep, principal: OrgManager) -> OrgSettingsOut:
    """Changes the given settings only; the owner's. A time zone change moves where every
    report's days begin."""
    org = service.get_organization(db, principal.org_id)
    if org is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "organisation not found")
    changes = body.model_dump(exclude_unset=True)
    if any(value is None for value in changes.values()):
        field = next(name for name, value in changes.items() if value is None)
        raise org_settings.OrgSettingsError(field, "may not be null")
    org_settings.update(db, org, changes, actor=principal.actor)
    return _org_out(db, principal.org_id)
