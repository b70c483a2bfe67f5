"""Generic outgoing webhook, signed per Standard Webhooks 1.0.

Headers: `webhook-id` (the message's stable id: receivers dedupe on it across retries),
`webhook-timestamp` (Unix seconds) and `webhook-signature` = "v1,<base64 HMAC-SHA256 of
'{id}.{timestamp}.{body}'>" keyed with the base64-decoded part of the `whsec_…` secret.
Any 2xx is success; 410 Gone disables the endpoint; everything else is retried.
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import datetime
from typing import Any

from pydantic import field_validator
from standardwebhooks import Webhook

from npsloop.core.db import utcnow
from npsloop.notify.base import (
    ChannelConfig,
    Notifier,
    Outcome,
    Outgoing,
    SendResult,
    retry_after_seconds,
    secret_field,
)

SECRET_PREFIX = "whsec_"


def new_signing_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def validate_signing_secret(value: str) -> str:
    if not value.startswith(SECRET_PREFIX):
        raise ValueError("must start with 'whsec_' followed by base64")
    try:
        key = base64.b64decode(value[len(SECRET_PREFIX):], validate=True)
    except ValueError as exc:
        raise ValueError("must be 'whsec_' followed by valid base64") from exc
    if not 24 <= len(key) <= 64:
        raise ValueError("the decoded key must be 24 to 64 bytes")
    return value


def signed_headers(secret: str, msg_id: str, timestamp: datetime, body: str) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, timestamp, body),
        "content-type": "application/json",
    }


def event_body(message: Outgoing) -> dict[str, Any]:
    """Standard Webhooks' recommended envelope: {type, timestamp, data}."""
    if message.event_type is not None:
        kind, data = message.event_type, message.data or {}
    elif message.notice is not None:
        kind, data = "notification", message.notice.to_dict()
    else:
        raise ValueError("nothing to send")
    return {"type": kind, "timestamp": message.created_at.isoformat(), "data": data}


class WebhookConfig(ChannelConfig):
    url: str
    signing_secret: str = secret_field(
        default_factory=new_signing_secret, description="whsec_… (generated when omitted)"
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.lower().startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value

    @field_validator("signing_secret")
    @classmethod
    def _secret(cls, value: str) -> str:
        return validate_signing_secret(value)


class WebhookNotifier(Notifier):
    kind = "webhook"
    label = "Webhook (Standard Webhooks)"
    Config = WebhookConfig

    config: WebhookConfig

    def request(self, message: Outgoing) -> tuple[str, dict[str, str]]:
        body = json.dumps(event_body(message), ensure_ascii=False, separators=(",", ":"))
        headers = signed_headers(self.config.signing_secret, f"msg_{message.id}", utcnow(), body)
        return body, headers

    def send(self, message: Outgoing) -> SendResult:
        body, headers = self.request(message)
        response = self.post(self.config.url, content=body.encode(), headers=headers)
        code = response.status_code
        if 200 <= code < 300:
            return SendResult.ok(code)
        error = f"HTTP {code}: {response.text[:300]}"
        if code == 410:
            return SendResult(Outcome.failed, code, None, error, disable_target=True)
        return SendResult(Outcome.retry, code, None, error,
                          retry_after=retry_after_seconds(response))
