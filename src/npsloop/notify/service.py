"""Notification logic without HTTP: channels and their secrets, and the enqueue interface.

What other domains call (inside their own transaction; nothing here commits):
  - `notify(session, org_id=, channel_ids=, template=, params=, link=, ordering_key=...)`
    renders a zh/en template per channel and enqueues one message per channel;
  - `enqueue(session, org_id=, channel_id=, message=Notice(...), dedupe_key=...)` for a
    ready-made notice (or `endpoint_id=` with a `WebhookEvent` for an outgoing webhook);
  - `enqueue_many(session, org_id=, channel_id=, items=[(Notice, recipients, dedupe_key,
    ordering_key), ...])` for thousands of notices to one channel (a campaign): the same
    rows as `enqueue` one by one, with one dedupe query and one INSERT per batch;
  - `webhooks.publish_event(...)` fans an event out to subscribed endpoints.
A message with an `ordering_key` (e.g. "ticket:<id>") is sent only after every earlier
message with that key to the same destination is delivered or dead; a `dedupe_key` makes
enqueue idempotent per destination (a retried caller does not notify twice).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import EllipsisType
from typing import Any

from pydantic import ValidationError
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from npsloop.accounts.models import Organization
from npsloop.core.config import Settings, get_settings
from npsloop.core.db import new_id, utcnow
from npsloop.notify import receipts
from npsloop.notify.base import Notice, Notifier
from npsloop.notify.crypto import SecretBox, is_mask, mask
from npsloop.notify.models import MessageStatus, NotifyChannel, NotifyMessage, WebhookEndpoint
from npsloop.notify.notices import render_notice
from npsloop.notify.registry import notifier_class, notifiers

LANGUAGES = ("zh-CN", "en")


class NotifyError(ValueError):
    """Bad input, reported as a 422 naming the field."""

    def __init__(self, field: str, message: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.field = field
        self.message = message
        self.errors = errors or [{"loc": [field], "msg": message, "type": "value_error"}]


@dataclass(frozen=True)
class WebhookEvent:
    type: str
    data: dict[str, Any] = field(default_factory=dict)


def secret_box(settings: Settings | None = None) -> SecretBox:
    return SecretBox.from_settings(settings or get_settings())


# -- channels -------------------------------------------------------------------------------

def _config_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": ["config", *err.get("loc", ())], "msg": err.get("msg", ""),
         "type": err.get("type", "value_error")}
        for err in exc.errors()
    ]


def _validate(cls: type[Notifier], data: dict[str, Any]) -> tuple[dict, dict]:
    """Validates a full config; returns (public part, secret part)."""
    try:
        parsed = cls.parse_config(data)
    except ValidationError as exc:
        errors = _config_errors(exc)
        raise NotifyError(".".join(map(str, errors[0]["loc"])), errors[0]["msg"], errors) from exc
    dumped = parsed.model_dump(mode="json")
    secret_names = cls.secret_fields()
    public = {k: v for k, v in dumped.items() if k not in secret_names}
    secrets = {k: v for k, v in dumped.items() if k in secret_names and v not in ("", None)}
    return public, secrets


def _kind(kind: str) -> type[Notifier]:
    cls = notifier_class(kind)
    if cls is None:
        raise NotifyError("kind", f"unknown channel kind {kind!r}; one of "
                          f"{', '.join(sorted(notifiers()))}")
    return cls


def _language(language: str | None) -> str | None:
    if language is not None and language not in LANGUAGES:
        raise NotifyError("language", f"must be one of {', '.join(LANGUAGES)} or null")
    return language


def _unique_name(session: Session, org_id: str, name: str, exclude_id: str | None = None) -> str:
    name = name.strip()
    if not name:
        raise NotifyError("name", "must not be empty")
    query = select(NotifyChannel.id).where(NotifyChannel.org_id == org_id,
                                           NotifyChannel.name == name)
    if exclude_id:
        query = query.where(NotifyChannel.id != exclude_id)
    if session.scalar(query):
        raise NotifyError("name", "another channel already has this name")
    return name


def create_channel(
    session: Session, *, org_id: str, kind: str, name: str, config: dict[str, Any],
    language: str | None = None, enabled: bool = True, box: SecretBox,
) -> NotifyChannel:
    cls = _kind(kind)
    public, secrets = _validate(cls, config)
    channel = NotifyChannel(
        org_id=org_id, kind=kind, name=_unique_name(session, org_id, name), enabled=enabled,
        language=_language(language), config=public, secrets_encrypted=box.encrypt(secrets),
    )
    session.add(channel)
    session.flush()  # the id first: the receipt URL names it
    if receipts.supports_receipts(kind):
        receipts.rotate_token(channel, box)
        session.flush()
    return channel


def full_config(channel: NotifyChannel, box: SecretBox) -> dict[str, Any]:
    return {**channel.config, **box.decrypt(channel.secrets_encrypted)}


def update_channel(
    session: Session, channel: NotifyChannel, *, box: SecretBox, name: str | None = None,
    config: dict[str, Any] | None = None, language: str | None | EllipsisType = ...,
    enabled: bool | None = None,
) -> NotifyChannel:
    """Partial update (`language=...` leaves it as is; None means the org's default). In
    `config`, a secret left out or sent back masked keeps its value."""
    if name is not None:
        channel.name = _unique_name(session, channel.org_id, name, exclude_id=channel.id)
    if language is not ...:
        channel.language = _language(language)
    if enabled is not None:
        channel.enabled = enabled
    if config is not None:
        cls = _kind(channel.kind)
        incoming = {k: v for k, v in config.items()
                    if not (k in cls.secret_fields() and is_mask(v))}
        public, secrets = _validate(cls, {**full_config(channel, box), **incoming})
        channel.config = public
        channel.secrets_encrypted = box.encrypt(secrets)
    channel.updated_at = utcnow()
    session.flush()
    return channel


def masked_config(channel: NotifyChannel, box: SecretBox) -> dict[str, Any]:
    cls = notifier_class(channel.kind)
    secrets = box.decrypt(channel.secrets_encrypted)
    names = cls.secret_fields() if cls else frozenset(secrets)
    return {**channel.config, **{name: mask(str(secrets.get(name, ""))) for name in names}}


def build_notifier(channel: NotifyChannel, box: SecretBox) -> Notifier:
    cls = _kind(channel.kind)
    return cls(cls.parse_config(full_config(channel, box)))


def get_channel(session: Session, org_id: str, channel_id: str) -> NotifyChannel | None:
    channel = session.get(NotifyChannel, channel_id)
    return channel if channel is not None and channel.org_id == org_id else None


# -- enqueue --------------------------------------------------------------------------------

_clock_lock = threading.Lock()
_last_stamp: datetime | None = None


def _stamp() -> datetime:
    """A creation time that strictly increases within this process, so two messages
    enqueued in one transaction keep their order (created_at decides ordering)."""
    global _last_stamp
    with _clock_lock:
        now = utcnow()
        if _last_stamp is not None and now <= _last_stamp:
            now = _last_stamp + timedelta(microseconds=1)
        _last_stamp = now
        return now


def enqueue(
    session: Session,
    *,
    org_id: str,
    message: Notice | WebhookEvent,
    channel_id: str | None = None,
    endpoint_id: str | None = None,
    recipients: Iterable[str] = (),
    ordering_key: str | None = None,
    dedupe_key: str | None = None,
    kind: str | None = None,
) -> NotifyMessage:
    """Adds one message to the queue in the caller's transaction (no commit)."""
    if (channel_id is None) == (endpoint_id is None):
        raise NotifyError("channel_id", "give exactly one of channel_id and endpoint_id")
    if channel_id is not None:
        if get_channel(session, org_id, channel_id) is None:
            raise NotifyError("channel_id", "no such channel in this organisation")
        target = f"channel:{channel_id}"
    else:
        endpoint = session.get(WebhookEndpoint, endpoint_id)
        if endpoint is None or endpoint.org_id != org_id:
            raise NotifyError("endpoint_id", "no such webhook endpoint in this organisation")
        target = f"endpoint:{endpoint_id}"
    if dedupe_key:
        existing = session.scalar(select(NotifyMessage).where(
            NotifyMessage.target == target, NotifyMessage.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
    row = NotifyMessage(**_row_values(org_id=org_id, channel_id=channel_id,
                                      endpoint_id=endpoint_id, target=target, message=message,
                                      recipients=recipients, ordering_key=ordering_key,
                                      dedupe_key=dedupe_key, kind=kind))
    session.add(row)
    session.flush()
    return row


def _row_values(*, org_id: str, channel_id: str | None, endpoint_id: str | None, target: str,
                message: Notice | WebhookEvent, recipients: Iterable[str],
                ordering_key: str | None, dedupe_key: str | None, kind: str | None,
                ) -> dict[str, Any]:
    """The column values of one queued message; `enqueue` and `enqueue_many` share it so the
    worker sees exactly the same rows whichever path queued them."""
    if isinstance(message, Notice):
        body, event_type, default_kind = message.to_dict(), None, "notice"
    else:
        body, event_type, default_kind = dict(message.data), message.type, "event"
    now = _stamp()
    return {
        "id": new_id(), "org_id": org_id, "channel_id": channel_id, "endpoint_id": endpoint_id,
        "target": target, "kind": kind or default_kind, "event_type": event_type, "body": body,
        "recipients": [r.strip() for r in recipients if r and r.strip()],
        "ordering_key": ordering_key, "dedupe_key": dedupe_key,
        "status": MessageStatus.pending.value, "attempts": 0, "next_attempt_at": now,
        "created_at": now, "updated_at": now, "last_error": "",
    }


BatchItem = tuple[Notice, Iterable[str], str | None, str | None]
DEDUPE_QUERY_CHUNK = 1000  # keys per IN (...): well under every driver's parameter limit


def enqueue_many(
    session: Session, *, org_id: str, channel_id: str, items: Sequence[BatchItem],
) -> list[str]:
    """Queues many notices to one channel in the caller's transaction (no commit): item i is
    (notice, recipients, dedupe_key, ordering_key). Returns one message id per item, in
    order: the queued message's, or for a dedupe key already queued to this channel (or
    earlier in `items`) that message's, exactly as `enqueue` would one item at a time."""
    if get_channel(session, org_id, channel_id) is None:
        raise NotifyError("channel_id", "no such channel in this organisation")
    target = f"channel:{channel_id}"
    keys = list(dict.fromkeys(key for _, _, key, _ in items if key))
    known: dict[str, str] = {}
    for start in range(0, len(keys), DEDUPE_QUERY_CHUNK):
        chunk = keys[start:start + DEDUPE_QUERY_CHUNK]
        found = session.execute(select(NotifyMessage.dedupe_key, NotifyMessage.id).where(
            NotifyMessage.target == target, NotifyMessage.dedupe_key.in_(chunk)))
        known.update((key, message_id) for key, message_id in found)
    rows: list[dict[str, Any]] = []
    ids: list[str] = []
    for notice, recipients, dedupe_key, ordering_key in items:
        if dedupe_key and dedupe_key in known:
            ids.append(known[dedupe_key])
            continue
        values = _row_values(org_id=org_id, channel_id=channel_id, endpoint_id=None,
                             target=target, message=notice, recipients=recipients,
                             ordering_key=ordering_key, dedupe_key=dedupe_key, kind=None)
        if dedupe_key:
            known[dedupe_key] = values["id"]
        rows.append(values)
        ids.append(values["id"])
    if rows:
        # Flush first so pending ORM objects keep their place before these rows.
        session.flush()
        session.execute(insert(NotifyMessage), rows)
    return ids


def org_language(session: Session, org_id: str) -> str:
    org = session.get(Organization, org_id)
    return org.default_language if org is not None else "zh-CN"


def notify(
    session: Session,
    *,
    org_id: str,
    channel_ids: Iterable[str],
    template: str,
    params: dict[str, Any] | None = None,
    quote: str = "",
    link: str = "",
    recipients: Iterable[str] = (),
    ordering_key: str | None = None,
    dedupe_key: str | None = None,
    base_url: str | None = None,
) -> list[NotifyMessage]:
    """Renders `template` in each channel's language and enqueues it; disabled channels are
    skipped. `dedupe_key` is per channel (the same key may go to several channels)."""
    base = get_settings().base_url if base_url is None else base_url
    default_lang = org_language(session, org_id)
    recipients = list(recipients)
    messages = []
    for channel_id in dict.fromkeys(channel_ids):
        channel = get_channel(session, org_id, channel_id)
        if channel is None:
            raise NotifyError("channel_ids", f"no such channel: {channel_id}")
        if not channel.enabled:
            continue
        notice = render_notice(template, channel.language or default_lang, params,
                               quote=quote, link=link, base_url=base)
        messages.append(enqueue(session, org_id=org_id, channel_id=channel.id, message=notice,
                                recipients=recipients, ordering_key=ordering_key,
                                dedupe_key=dedupe_key))
    return messages


# -- the delivery log -----------------------------------------------------------------------

def get_message(session: Session, org_id: str, message_id: str) -> NotifyMessage | None:
    message = session.get(NotifyMessage, message_id)
    return message if message is not None and message.org_id == org_id else None


def retry_message(session: Session, message: NotifyMessage) -> NotifyMessage:
    """An admin's retry: a dead message gets a fresh set of attempts; a pending one is made
    due now. A delivered message is not sent again."""
    if message.status == MessageStatus.delivered.value:
        raise NotifyError("status", "the message was already delivered")
    now = utcnow()
    if message.status == MessageStatus.dead.value:
        message.attempts = 0
        message.dead_at = None
    message.status = MessageStatus.pending.value
    message.next_attempt_at = now
    message.locked_by = None
    message.locked_until = None
    message.updated_at = now
    session.flush()
    return message


def rotate_secrets(session: Session, box: SecretBox) -> int:
    """Re-encrypts every stored secret with the current key; returns how many rows."""
    count = 0
    for channel in session.scalars(select(NotifyChannel)):
        if channel.secrets_encrypted:
            channel.secrets_encrypted = box.rotate(channel.secrets_encrypted)
            count += 1
        if channel.receipt_token_encrypted:
            channel.receipt_token_encrypted = box.rotate(channel.receipt_token_encrypted)
            count += 1
    for endpoint in session.scalars(select(WebhookEndpoint)):
        if endpoint.secret_encrypted:
            endpoint.secret_encrypted = box.rotate(endpoint.secret_encrypted)
            count += 1
    session.flush()
    return count
