"""JSON routes: channel settings, "send test message", the delivery log, retries.

Managing channels and reading the log needs `member:manage` (owners and admins). Every
lookup is scoped to the caller's organisation: another organisation's id is a 404.
The router's lifespan runs the in-process delivery worker next to the outbox worker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, status
from sqlalchemy import func, select

from npsloop.accounts.deps import Principal, require
from npsloop.accounts.service import audit
from npsloop.core.db import new_id, utcnow
from npsloop.core.deps import SessionDep, SettingsDep
from npsloop.notify import delivery, receipts, service
from npsloop.notify.models import DeliveryAttempt, NotifyChannel, NotifyMessage, SmsReceipt
from npsloop.notify.notices import render_notice
from npsloop.notify.receipts_api import hooks as receipts_hooks
from npsloop.notify.registry import notifiers
from npsloop.notify.schemas import (
    AttemptOut,
    ChannelCreate,
    ChannelList,
    ChannelOut,
    ChannelUpdate,
    KindOut,
    MessageList,
    MessageOut,
    ReceiptOut,
    TestRequest,
    TestResult,
)
from npsloop.notify.webhooks_api import router as webhooks_router

MANAGE = "member:manage"
Manager = Annotated[Principal, Depends(require(MANAGE))]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = app.state.settings
    run = getattr(app.state, "run_worker", settings.inprocess_worker)
    worker = None
    if run:
        worker = delivery.DeliveryWorker(app.state.session_factory, service.secret_box(settings))
        worker.start()
    yield
    if worker is not None:
        worker.stop()


router = APIRouter(lifespan=lifespan)
channels = APIRouter(prefix="/api/v1/notify", tags=["notify"])


def unprocessable(exc: service.NotifyError) -> HTTPException:
    if exc.field == "status":
        return HTTPException(status.HTTP_409_CONFLICT, detail=exc.message)
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[
        {"loc": ["body", *err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors
    ])


def channel_out(channel: NotifyChannel, settings: SettingsDep) -> ChannelOut:
    box = service.secret_box(settings)
    cls = notifiers().get(channel.kind)
    return ChannelOut(
        id=channel.id, kind=channel.kind, name=channel.name, enabled=channel.enabled,
        language=channel.language, config=service.masked_config(channel, box),
        secret_fields=sorted(cls.secret_fields()) if cls else [],
        created_at=channel.created_at, updated_at=channel.updated_at,
        receipt_url=receipts.receipt_url(channel, box, settings.base_url),
    )


def load_channel(db: SessionDep, principal: Principal, channel_id: str) -> NotifyChannel:
    channel = service.get_channel(db, principal.org_id, channel_id)
    if channel is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"channel '{channel_id}' not found")
    return channel


@channels.get("/kinds", response_model=list[KindOut])
def list_kinds(_: Manager) -> list[KindOut]:
    return [
        KindOut(kind=kind, label=cls.label, secret_fields=sorted(cls.secret_fields()),
                needs_recipients=cls.needs_recipients,
                rate_limits=[{"count": r.count, "per_seconds": r.per_seconds}
                             for r in cls.rate_limits],
                config_schema=cls.Config.model_json_schema())
        for kind, cls in sorted(notifiers().items())
    ]


@channels.get("/channels", response_model=ChannelList)
def list_channels(db: SessionDep, settings: SettingsDep, principal: Manager) -> ChannelList:
    rows = db.scalars(select(NotifyChannel).where(NotifyChannel.org_id == principal.org_id)
                      .order_by(NotifyChannel.name))
    return ChannelList(items=[channel_out(c, settings) for c in rows])


@channels.post("/channels", status_code=status.HTTP_201_CREATED, response_model=ChannelOut)
def create_channel(body: ChannelCreate, db: SessionDep, settings: SettingsDep,
                   principal: Manager) -> ChannelOut:
    try:
        channel = service.create_channel(
            db, org_id=principal.org_id, kind=body.kind, name=body.name, config=body.config,
            language=body.language, enabled=body.enabled, box=service.secret_box(settings))
    except service.NotifyError as exc:
        raise unprocessable(exc) from exc
    audit(db, org_id=principal.org_id, actor=principal.actor, action="notify.channel.create",
          target=("notify_channel", channel.id), detail={"kind": channel.kind})
    db.commit()
    return channel_out(channel, settings)


@channels.get("/channels/{channel_id}", response_model=ChannelOut)
def get_channel(channel_id: str, db: SessionDep, settings: SettingsDep,
                principal: Manager) -> ChannelOut:
    return channel_out(load_channel(db, principal, channel_id), settings)


@channels.patch("/channels/{channel_id}", response_model=ChannelOut)
def update_channel(channel_id: str, body: ChannelUpdate, db: SessionDep, settings: SettingsDep,
                   principal: Manager) -> ChannelOut:
    channel = load_channel(db, principal, channel_id)
    language = body.language if "language" in body.model_fields_set else ...
    try:
        service.update_channel(db, channel, box=service.secret_box(settings), name=body.name,
                               config=body.config, language=language, enabled=body.enabled)
    except service.NotifyError as exc:
        raise unprocessable(exc) from exc
    audit(db, org_id=principal.org_id, actor=principal.actor, action="notify.channel.update",
          target=("notify_channel", channel.id))
    db.commit()
    return channel_out(channel, settings)


@channels.delete("/channels/{channel_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_channel(channel_id: str, db: SessionDep, principal: Manager) -> None:
    channel = load_channel(db, principal, channel_id)
    db.delete(channel)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="notify.channel.delete",
          target=("notify_channel", channel_id))
    db.commit()


@channels.post("/channels/{channel_id}/test", response_model=TestResult)
def send_test(channel_id: str, request: Request, db: SessionDep, settings: SettingsDep,
              principal: Manager, body: TestRequest | None = None) -> TestResult:
    """Sends the test template now (one attempt, logged like any other message)."""
    channel = load_channel(db, principal, channel_id)
    if not channel.enabled:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[{
            "loc": ["path", "channel_id"], "msg": "the channel is disabled; enable it first",
            "type": "value_error"}])
    lang = channel.language or service.org_language(db, principal.org_id)
    notice = render_notice("test", lang, {"channel": channel.name}, link="/notify",
                           base_url=settings.base_url)
    worker_id = f"api-test-{new_id()[:8]}"
    message = service.enqueue(db, org_id=principal.org_id, channel_id=channel.id,
                              message=notice, recipients=(body.recipients if body else []),
                              kind="test")
    message.locked_by = worker_id  # leased to this request: the worker leaves it alone
    message.locked_until = utcnow() + timedelta(minutes=5)
    db.commit()
    outcome = delivery.deliver(request.app.state.session_factory, message.id, worker_id,
                               delivery.DeliveryPolicy(max_attempts=1),
                               service.secret_box(settings))
    db.expire_all()
    attempt = db.scalars(select(DeliveryAttempt).where(DeliveryAttempt.message_id == message.id)
                         .order_by(DeliveryAttempt.attempt_no.desc())).first()
    return TestResult(
        message_id=message.id, outcome=outcome,
        status_code=attempt.status_code if attempt else None,
        vendor_code=attempt.vendor_code if attempt else None,
        error=attempt.error if attempt else "",
    )


def message_out(message: NotifyMessage, log: list[DeliveryAttempt] | None = None,
                sms: list[SmsReceipt] | None = None) -> MessageOut:
    title = message.event_type or str((message.body or {}).get("title", ""))
    return MessageOut(
        id=message.id, channel_id=message.channel_id, endpoint_id=message.endpoint_id,
        kind=message.kind, event_type=message.event_type, title=title, status=message.status,
        attempts=message.attempts, ordering_key=message.ordering_key,
        dedupe_key=message.dedupe_key,
        next_attempt_at=message.next_attempt_at if message.status == "pending" else None,
        last_error=message.last_error, created_at=message.created_at,
        delivered_at=message.delivered_at, dead_at=message.dead_at,
        delivery_id=f"msg_{message.id}",
        log=[AttemptOut.model_validate(a) for a in log] if log is not None else None,
        receipt_status=message.receipt_status, receipt_error=message.receipt_error,
        receipts=[ReceiptOut.model_validate(r) for r in sms] if sms is not None else None,
    )


@channels.get("/messages", response_model=MessageList)
def list_messages(
    db: SessionDep,
    principal: Manager,
    status_filter: Annotated[Literal["pending", "delivered", "dead"] | None,
                             Query(alias="status")] = None,
    channel_id: str | None = None,
    endpoint_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> MessageList:
    query = select(NotifyMessage).where(NotifyMessage.org_id == principal.org_id)
    if status_filter:
        query = query.where(NotifyMessage.status == status_filter)
    if channel_id:
        query = query.where(NotifyMessage.channel_id == channel_id)
    if endpoint_id:
        query = query.where(NotifyMessage.endpoint_id == endpoint_id)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(query.order_by(NotifyMessage.created_at.desc(), NotifyMessage.id)
                      .limit(limit).offset(offset))
    return MessageList(items=[message_out(m) for m in rows], total=total)


def load_message(db: SessionDep, principal: Principal, message_id: str) -> NotifyMessage:
    message = service.get_message(db, principal.org_id, message_id)
    if message is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"message '{message_id}' not found")
    return message


def attempts_of(db: SessionDep, message_id: str) -> list[DeliveryAttempt]:
    return list(db.scalars(select(DeliveryAttempt).where(DeliveryAttempt.message_id == message_id)
                           .order_by(DeliveryAttempt.attempt_no)))


@channels.get("/messages/{message_id}", response_model=MessageOut)
def get_message(message_id: str, db: SessionDep, principal: Manager) -> MessageOut:
    message = load_message(db, principal, message_id)
    sms = receipts.receipts_of(db, [message.id]).get(message.id, [])
    return message_out(message, attempts_of(db, message.id), sms)


@channels.post("/messages/{message_id}/retry", response_model=MessageOut)
def retry_message(message_id: str, db: SessionDep, principal: Manager) -> MessageOut:
    message = load_message(db, principal, message_id)
    try:
        service.retry_message(db, message)
    except service.NotifyError as exc:
        raise unprocessable(exc) from exc
    audit(db, org_id=principal.org_id, actor=principal.actor, action="notify.message.retry",
          target=("notify_message", message.id))
    db.commit()
    return message_out(message, attempts_of(db, message.id))


router.include_router(channels)
router.include_router(webhooks_router)
router.include_router(receipts_hooks)
