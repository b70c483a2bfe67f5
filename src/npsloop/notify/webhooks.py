"""Outgoing webhook endpoints and the events they subscribe to.

`publish_event(session, org_id=, event_type=, data=, dedupe_key=)` enqueues one signed
message per enabled endpoint subscribed to the event, in the caller's transaction. The
signing secret is stored encrypted; the API shows it in clear once, when it is created.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from npsloop.core.db import utcnow
from npsloop.notify.base import ChannelConfig
from npsloop.notify.channels.webhook import (
    WebhookConfig,
    WebhookNotifier,
    new_signing_secret,
    validate_signing_secret,
)
from npsloop.notify.crypto import SecretBox, mask
from npsloop.notify.models import NotifyMessage, WebhookEndpoint
from npsloop.notify.service import NotifyError, WebhookEvent, enqueue

EVENT_TYPES = ("response.created", "ticket.created", "ticket.updated")


def _event_types(values: list[str]) -> list[str]:
    if not values:
        raise NotifyError("event_types", "subscribe to at least one event type")
    unknown = sorted(set(values) - set(EVENT_TYPES))
    if unknown:
        raise NotifyError("event_types", f"unknown event type(s) {', '.join(unknown)}; "
                          f"one of {', '.join(EVENT_TYPES)}")
    return sorted(set(values))


def _url(value: str) -> str:
    value = value.strip()
    if not value.lower().startswith(("https://", "http://")) or len(value) > 2000:
        raise NotifyError("url", "must be an http(s) URL of at most 2000 characters")
    return value


def _secret(value: str) -> str:
    try:
        return validate_signing_secret(value)
    except ValueError as exc:
        raise NotifyError("secret", str(exc)) from exc


def create_endpoint(
    session: Session, *, org_id: str, url: str, event_types: list[str], box: SecretBox,
    description: str = "", secret: str | None = None, enabled: bool = True,
) -> tuple[WebhookEndpoint, str]:
    """Returns the endpoint and its signing secret in clear (to show once)."""
    plain = _secret(secret) if secret else new_signing_secret()
    endpoint = WebhookEndpoint(
        org_id=org_id, url=_url(url), event_types=_event_types(event_types),
        description=description.strip()[:500], enabled=enabled,
        secret_encrypted=box.encrypt({"signing_secret": plain}), disabled_reason="",
    )
    session.add(endpoint)
    session.flush()
    return endpoint, plain


def update_endpoint(
    session: Session, endpoint: WebhookEndpoint, *, box: SecretBox, url: str | None = None,
    event_types: list[str] | None = None, description: str | None = None,
    enabled: bool | None = None, rotate_secret: bool = False,
) -> str | None:
    """Applies a partial update; returns the new secret when it was rotated."""
    if url is not None:
        endpoint.url = _url(url)
    if event_types is not None:
        endpoint.event_types = _event_types(event_types)
    if description is not None:
        endpoint.description = description.strip()[:500]
    if enabled is not None:
        endpoint.enabled = enabled
        if enabled:
            endpoint.disabled_reason = ""
            endpoint.disabled_at = None
    plain = None
    if rotate_secret:
        plain = new_signing_secret()
        endpoint.secret_encrypted = box.encrypt({"signing_secret": plain})
    endpoint.updated_at = utcnow()
    session.flush()
    return plain


def endpoint_secret(endpoint: WebhookEndpoint, box: SecretBox) -> str:
    return str(box.decrypt(endpoint.secret_encrypted).get("signing_secret", ""))


def masked_secret(endpoint: WebhookEndpoint, box: SecretBox) -> str:
    return mask(endpoint_secret(endpoint, box))


def build_notifier(endpoint: WebhookEndpoint, box: SecretBox) -> WebhookNotifier:
    config: ChannelConfig = WebhookConfig(url=endpoint.url,
                                          signing_secret=endpoint_secret(endpoint, box))
    return WebhookNotifier(config)


def disable(endpoint: WebhookEndpoint, reason: str) -> None:
    endpoint.enabled = False
    endpoint.disabled_reason = reason[:500]
    endpoint.disabled_at = utcnow()


def get_endpoint(session: Session, org_id: str, endpoint_id: str) -> WebhookEndpoint | None:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    return endpoint if endpoint is not None and endpoint.org_id == org_id else None


def publish_event(
    session: Session, *, org_id: str, event_type: str, data: dict[str, Any],
    dedupe_key: str | None = None, ordering_key: str | None = None,
) -> list[NotifyMessage]:
    """Enqueues `event_type` to every enabled endpoint of the org subscribed to it."""
    if event_type not in EVENT_TYPES:
        raise NotifyError("event_type", f"unknown event type {event_type!r}")
    endpoints = session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.org_id == org_id,
                                      WebhookEndpoint.enabled.is_(True))
    )
    return [
        enqueue(session, org_id=org_id, endpoint_id=endpoint.id,
                message=WebhookEvent(event_type, data), dedupe_key=dedupe_key,
                ordering_key=ordering_key)
        for endpoint in endpoints
        if event_type in (endpoint.event_types or [])
    ]
