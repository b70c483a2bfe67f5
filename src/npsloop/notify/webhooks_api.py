"""JSON routes for outgoing webhook endpoints (`/api/v1/webhooks`), owners and admins only.

The signing secret is returned in clear only by the create call and by a rotation; every
other reply shows it masked.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from sqlalchemy import select

from npsloop.accounts.deps import Principal, require
from npsloop.accounts.service import audit
from npsloop.core.deps import SessionDep, SettingsDep
from npsloop.notify import service, webhooks
from npsloop.notify.models import WebhookEndpoint
from npsloop.notify.schemas import WebhookCreate, WebhookList, WebhookOut, WebhookUpdate

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])
Manager = Annotated[Principal, Depends(require("member:manage"))]


def _unprocessable(exc: service.NotifyError) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[
        {"loc": ["body", *err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors
    ])


def endpoint_out(endpoint: WebhookEndpoint, settings: SettingsDep,
                 plain_secret: str | None = None) -> WebhookOut:
    box = service.secret_box(settings)
    return WebhookOut(
        id=endpoint.id, url=endpoint.url, description=endpoint.description,
        event_types=list(endpoint.event_types or []), enabled=endpoint.enabled,
        disabled_reason=endpoint.disabled_reason, disabled_at=endpoint.disabled_at,
        secret=plain_secret or webhooks.masked_secret(endpoint, box),
        created_at=endpoint.created_at, updated_at=endpoint.updated_at,
    )


def load_endpoint(db: SessionDep, principal: Principal, endpoint_id: str) -> WebhookEndpoint:
    endpoint = webhooks.get_endpoint(db, principal.org_id, endpoint_id)
    if endpoint is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            detail=f"webhook endpoint '{endpoint_id}' not found")
    return endpoint


@router.get("", response_model=WebhookList)
def list_endpoints(db: SessionDep, settings: SettingsDep, principal: Manager) -> WebhookList:
    rows = db.scalars(select(WebhookEndpoint).where(WebhookEndpoint.org_id == principal.org_id)
                      .order_by(WebhookEndpoint.created_at))
    return WebhookList(items=[endpoint_out(e, settings) for e in rows],
                       event_types=list(webhooks.EVENT_TYPES))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WebhookOut)
def create_endpoint(body: WebhookCreate, db: SessionDep, settings: SettingsDep,
                    principal: Manager) -> WebhookOut:
    try:
        endpoint, plain = webhooks.create_endpoint(
            db, org_id=principal.org_id, url=body.url, event_types=body.event_types,
            description=body.description, secret=body.secret, enabled=body.enabled,
            box=service.secret_box(settings))
    except service.NotifyError as exc:
        raise _unprocessable(exc) from exc
    audit(db, org_id=principal.org_id, actor=principal.actor, action="webhook.create",
          target=("webhook_endpoint", endpoint.id))
    db.commit()
    return endpoint_out(endpoint, settings, plain_secret=plain)


@router.get("/{endpoint_id}", response_model=WebhookOut)
def get_endpoint(endpoint_id: str, db: SessionDep, settings: SettingsDep,
                 principal: Manager) -> WebhookOut:
    return endpoint_out(load_endpoint(db, principal, endpoint_id), settings)


@router.patch("/{endpoint_id}", response_model=WebhookOut)
def update_endpoint(endpoint_id: str, body: WebhookUpdate, db: SessionDep,
                    settings: SettingsDep, principal: Manager) -> WebhookOut:
    endpoint = load_endpoint(db, principal, endpoint_id)
    try:
        plain = webhooks.update_endpoint(
            db, endpoint, box=service.secret_box(settings), url=body.url,
            event_types=body.event_types, description=body.description, enabled=body.enabled,
            rotate_secret=body.rotate_secret)
    except service.NotifyError as exc:
        raise _unprocessable(exc) from exc
    audit(db, org_id=principal.org_id, actor=principal.actor, action="webhook.update",
          target=("webhook_endpoint", endpoint.id))
    db.commit()
    return endpoint_out(endpoint, settings, plain_secret=plain)


@router.delete("/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_endpoint(endpoint_id: str, db: SessionDep, principal: Manager) -> None:
    endpoint = load_endpoint(db, principal, endpoint_id)
    db.delete(endpoint)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="webhook.delete",
          target=("webhook_endpoint", endpoint_id))
    db.commit()
