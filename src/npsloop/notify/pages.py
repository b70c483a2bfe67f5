"""HTML pages: channel settings with "send test message", the delivery log with retries,
and outgoing webhook endpoints. Plain forms (POST + redirect), no page script needed."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import func, select

from npsloop.accounts.deps import Principal, require
from npsloop.accounts.service import audit
from npsloop.core.db import new_id, utcnow
from npsloop.core.deps import SessionDep, SettingsDep
from npsloop.notify import delivery, receipts, service, webhooks
from npsloop.notify.base import Notice
from npsloop.notify.forms import display_value, form_fields, parse_form
from npsloop.notify.models import DeliveryAttempt, NotifyChannel, NotifyMessage, WebhookEndpoint
from npsloop.notify.notices import render_notice
from npsloop.notify.registry import notifier_class, notifiers
from npsloop.web.templating import render

router = APIRouter(include_in_schema=False)
Manager = Annotated[Principal, Depends(require("member:manage", page=True))]
STATUSES = ("pending", "delivered", "dead")
RECEIPT_STATES = ("delivered", "failed", "awaiting")


def _page(request: Request, principal: Principal, name: str, context: dict[str, Any],
          status_code: int = 200) -> HTMLResponse:
    request.state.principal = principal
    return render(request, f"notify/{name}", context, status_code=status_code)


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)


def _channel(db: SessionDep, principal: Principal, channel_id: str) -> NotifyChannel:
    channel = service.get_channel(db, principal.org_id, channel_id)
    if channel is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="channel not found")
    return channel


def _counts(db: SessionDep, org_id: str) -> dict[str, int]:
    rows = db.execute(select(NotifyMessage.status, func.count())
                      .where(NotifyMessage.org_id == org_id).group_by(NotifyMessage.status))
    return {row[0]: row[1] for row in rows}


@router.get("/notify", response_class=HTMLResponse)
def channels_page(request: Request, db: SessionDep, principal: Manager,
                  test: str | None = None) -> HTMLResponse:
    channels = list(db.scalars(select(NotifyChannel).where(
        NotifyChannel.org_id == principal.org_id).order_by(NotifyChannel.name)))
    test_result = None
    if test:
        message = service.get_message(db, principal.org_id, test)
        if message is not None:
            attempt = db.scalars(select(DeliveryAttempt).where(
                DeliveryAttempt.message_id == message.id)
                .order_by(DeliveryAttempt.attempt_no.desc())).first()
            test_result = {"message": message, "attempt": attempt}
    return _page(request, principal, "channels.html", {
        "channels": channels, "kinds": notifiers(), "counts": _counts(db, principal.org_id),
        "test_result": test_result,
    })


def _form_page(request: Request, principal: Principal, kind: str,
               channel: NotifyChannel | None, values: dict[str, Any],
               errors: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    cls = notifier_class(kind)
    if cls is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="unknown channel kind")
    fields = form_fields(cls)
    shown = {f.name: display_value(f, values.get("config", {})) for f in fields}
    return _page(request, principal, "channel_form.html", {
        "kind": kind, "kind_label": cls.label, "channel": channel, "fields": fields,
        "shown": shown, "values": values, "errors": errors or {},
        "secret_set": values.get("secret_set", set()),
        "receipts_supported": receipts.supports_receipts(kind),
        "receipt_url": values.get("receipt_url"),
    }, status_code=status_code)


@router.get("/notify/channels/new", response_class=HTMLResponse)
def new_channel_page(request: Request, principal: Manager, kind: str = "dingtalk"
                     ) -> HTMLResponse:
    return _form_page(request, principal, kind, None,
                      {"name": "", "language": "", "enabled": True, "config": {}})


@router.get("/notify/channels/{channel_id}", response_class=HTMLResponse)
def edit_channel_page(request: Request, channel_id: str, db: SessionDep,
                      settings: SettingsDep, principal: Manager) -> HTMLResponse:
    channel = _channel(db, principal, channel_id)
    box = service.secret_box(settings)
    secret_set = set(box.decrypt(channel.secrets_encrypted))
    return _form_page(request, principal, channel.kind, channel, {
        "name": channel.name, "language": channel.language or "", "enabled": channel.enabled,
        "config": channel.config, "secret_set": secret_set,
        "receipt_url": receipts.receipt_url(channel, box, settings.base_url)})


@router.post("/notify/channels/{channel_id}/receipt-token")
def rotate_receipt_token_submit(channel_id: str, db: SessionDep, settings: SettingsDep,
                                principal: Manager):
    channel = _channel(db, principal, channel_id)
    if not receipts.supports_receipts(channel.kind):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no delivery receipts here")
    receipts.rotate_token(channel, service.secret_box(settings))
    audit(db, org_id=principal.org_id, actor=principal.actor,
          action="notify.channel.receipt_token", target=("notify_channel", channel.id))
    db.commit()
    return _redirect(f"/notify/channels/{channel.id}#receipts")


def _errors(exc: service.NotifyError) -> dict[str, str]:
    found = {}
    for err in exc.errors:
        loc = [str(part) for part in err["loc"]]
        key = loc[1] if loc[0] == "config" and len(loc) > 1 else loc[0]
        found.setdefault(key, err["msg"])
    return found


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


@router.post("/notify/channels/new", response_class=HTMLResponse)
async def create_channel_submit(request: Request, db: SessionDep, settings: SettingsDep,
                                principal: Manager, kind: str = "dingtalk"):
    form = await _form(request)
    cls = notifier_class(kind)
    if cls is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="unknown channel kind")
    config = parse_form(cls, form, editing=False)
    values = {"name": form.get("name", ""), "language": form.get("language", ""),
              "enabled": "enabled" in form, "config": config}
    try:
        channel = service.create_channel(
            db, org_id=principal.org_id, kind=kind, name=values["name"], config=config,
            language=values["language"] or None, enabled=values["enabled"],
            box=service.secret_box(settings))
    except service.NotifyError as exc:
        db.rollback()
        return _form_page(request, principal, kind, None, values, _errors(exc), 422)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="notify.channel.create",
          target=("notify_channel", channel.id), detail={"kind": kind})
    db.commit()
    return _redirect("/notify")


@router.post("/notify/channels/{channel_id}", response_class=HTMLResponse)
async def update_channel_submit(request: Request, channel_id: str, db: SessionDep,
                                settings: SettingsDep, principal: Manager):
    channel = _channel(db, principal, channel_id)
    cls = notifier_class(channel.kind)
    form = await _form(request)
    config = parse_form(cls, form, editing=True) if cls else {}
    values = {"name": form.get("name", ""), "language": form.get("language", ""),
              "enabled": "enabled" in form, "config": {**channel.config, **config}}
    try:
        service.update_channel(db, channel, box=service.secret_box(settings),
                               name=values["name"], config=config,
                               language=values["language"] or None, enabled=values["enabled"])
    except service.NotifyError as exc:
        db.rollback()
        return _form_page(request, principal, channel.kind, channel, values, _errors(exc), 422)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="notify.channel.update",
          target=("notify_channel", channel.id))
    db.commit()
    return _redirect("/notify")


@router.post("/notify/channels/{channel_id}/delete")
def delete_channel_submit(channel_id: str, db: SessionDep, principal: Manager):
    channel = _channel(db, principal, channel_id)
    db.delete(channel)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="notify.channel.delete",
          target=("notify_channel", channel_id))
    db.commit()
    return _redirect("/notify")


@router.post("/notify/channels/{channel_id}/test")
def test_channel_submit(request: Request, channel_id: str, db: SessionDep,
                        settings: SettingsDep, principal: Manager):
    channel = _channel(db, principal, channel_id)
    lang = channel.language or service.org_language(db, principal.org_id)
    notice = render_notice("test", lang, {"channel": channel.name}, link="/notify",
                           base_url=settings.base_url)
    worker_id = f"page-test-{new_id()[:8]}"
    message = service.enqueue(db, org_id=principal.org_id, channel_id=channel.id,
                              message=notice, kind="test")
    message.locked_by = worker_id
    message.locked_until = utcnow() + timedelta(minutes=5)
    db.commit()
    delivery.deliver(request.app.state.session_factory, message.id, worker_id,
                     delivery.DeliveryPolicy(max_attempts=1), service.secret_box(settings))
    return _redirect(f"/notify?test={message.id}")


@router.get("/notify/messages", response_class=HTMLResponse)
def messages_page(request: Request, db: SessionDep, principal: Manager, page: int = 1,
                  channel: str | None = None, endpoint: str | None = None) -> HTMLResponse:
    status_filter = request.query_params.get("status")
    if status_filter not in STATUSES:
        status_filter = None
    page = max(page, 1)
    query = select(NotifyMessage).where(NotifyMessage.org_id == principal.org_id)
    if status_filter:
        query = query.where(NotifyMessage.status == status_filter)
    if channel:
        query = query.where(NotifyMessage.channel_id == channel)
    if endpoint:
        query = query.where(NotifyMessage.endpoint_id == endpoint)
    rows = list(db.scalars(query.order_by(NotifyMessage.created_at.desc())
                           .limit(51).offset((page - 1) * 50)))
    names = dict(db.execute(select(NotifyChannel.id, NotifyChannel.name)
                            .where(NotifyChannel.org_id == principal.org_id)).all())
    urls = dict(db.execute(select(WebhookEndpoint.id, WebhookEndpoint.url)
                           .where(WebhookEndpoint.org_id == principal.org_id)).all())
    sms = receipts.receipts_of(db, [m.id for m in rows[:50]])
    tallies = {mid: {s: sum(r.status == s for r in found) for s in RECEIPT_STATES}
               for mid, found in sms.items()}
    return _page(request, principal, "messages.html", {
        "messages": rows[:50], "has_more": len(rows) > 50, "page": page,
        "receipts": tallies, "receipt_states": RECEIPT_STATES,
        "status_filter": status_filter, "statuses": STATUSES,
        "counts": _counts(db, principal.org_id), "channel_names": names,
        "endpoint_urls": urls, "channel_filter": channel,
    })


@router.get("/notify/messages/{message_id}", response_class=HTMLResponse)
def message_page(request: Request, message_id: str, db: SessionDep,
                 principal: Manager) -> HTMLResponse:
    message = service.get_message(db, principal.org_id, message_id)
    if message is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="message not found")
    attempts = list(db.scalars(select(DeliveryAttempt).where(
        DeliveryAttempt.message_id == message.id).order_by(DeliveryAttempt.attempt_no)))
    channel = db.get(NotifyChannel, message.channel_id) if message.channel_id else None
    endpoint = db.get(WebhookEndpoint, message.endpoint_id) if message.endpoint_id else None
    preview = "" if message.event_type else Notice.from_dict(message.body).plain_text()
    return _page(request, principal, "message.html", {
        "message": message, "attempts": attempts, "channel": channel, "endpoint": endpoint,
        "preview": preview, "receipts": receipts.receipts_of(db, [message.id]).get(message.id)})


@router.post("/notify/messages/{message_id}/retry")
def retry_submit(message_id: str, db: SessionDep, principal: Manager):
    message = service.get_message(db, principal.org_id, message_id)
    if message is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="message not found")
    try:
        service.retry_message(db, message)
    except service.NotifyError:
        return _redirect(f"/notify/messages/{message_id}")
    audit(db, org_id=principal.org_id, actor=principal.actor, action="notify.message.retry",
          target=("notify_message", message.id))
    db.commit()
    return _redirect(f"/notify/messages/{message_id}")


def _webhooks_page(request: Request, db: SessionDep, principal: Principal, *,
                   created: tuple[WebhookEndpoint, str] | None = None,
                   errors: dict[str, str] | None = None, values: dict[str, Any] | None = None,
                   status_code: int = 200) -> HTMLResponse:
    endpoints = list(db.scalars(select(WebhookEndpoint).where(
        WebhookEndpoint.org_id == principal.org_id).order_by(WebhookEndpoint.created_at)))
    return _page(request, principal, "webhooks.html", {
        "endpoints": endpoints, "event_types": webhooks.EVENT_TYPES, "created": created,
        "errors": errors or {}, "values": values or {"event_types": ["response.created"]},
    }, status_code=status_code)


@router.get("/notify/webhooks", response_class=HTMLResponse)
def webhooks_page(request: Request, db: SessionDep, principal: Manager) -> HTMLResponse:
    return _webhooks_page(request, db, principal)


@router.post("/notify/webhooks", response_class=HTMLResponse)
async def create_webhook_submit(request: Request, db: SessionDep, settings: SettingsDep,
                                principal: Manager):
    form = await request.form()
    values = {"url": str(form.get("url", "")), "description": str(form.get("description", "")),
              "event_types": [str(v) for v in form.getlist("event_types")]}
    try:
        endpoint, plain = webhooks.create_endpoint(
            db, org_id=principal.org_id, url=values["url"], event_types=values["event_types"],
            description=values["description"], box=service.secret_box(settings))
    except service.NotifyError as exc:
        db.rollback()
        return _webhooks_page(request, db, principal, errors=_errors(exc), values=values,
                              status_code=422)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="webhook.create",
          target=("webhook_endpoint", endpoint.id))
    db.commit()
    # The only time the signing secret is shown: the page answers the POST directly.
    return _webhooks_page(request, db, principal, created=(endpoint, plain))


@router.post("/notify/webhooks/{endpoint_id}/{action}")
def webhook_action_submit(endpoint_id: str, action: str, db: SessionDep,
                          settings: SettingsDep, principal: Manager):
    endpoint = webhooks.get_endpoint(db, principal.org_id, endpoint_id)
    if endpoint is None or action not in ("enable", "disable", "delete"):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="webhook endpoint not found")
    if action == "delete":
        db.delete(endpoint)
    elif action == "disable":
        webhooks.disable(endpoint, "disabled by an admin")
    else:
        webhooks.update_endpoint(db, endpoint, box=service.secret_box(settings),
                                 enabled=True)
    audit(db, org_id=principal.org_id, actor=principal.actor, action=f"webhook.{action}",
          target=("webhook_endpoint", endpoint_id))
    db.commit()
    return _redirect("/notify/webhooks")
