"""The URL SMS vendors push delivery receipts to, and the channel's receipt-URL rotation.

`POST /hooks/sms/{channel_id}/{receipt_token}` needs no login (the vendor cannot sign in):
the random token in the path is the credential, checked in constant time against the
channel's; a wrong token or channel is a 404 either way. Requests are rate-limited per
address before anything is looked up, and the body is capped. A report for an id we do
not know is answered as received (so the vendor stops retrying) and logged.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from npsloop.accounts.deps import Principal, require
from npsloop.accounts.service import audit
from npsloop.accounts.throttle import enforce, per_minute
from npsloop.core.deps import SessionDep, SettingsDep
from npsloop.notify import receipts, service
from npsloop.notify.models import NotifyChannel
from npsloop.notify.schemas import ReceiptUrlOut

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1_000_000  # Aliyun pushes up to a few hundred reports per request
Manager = Annotated[Principal, Depends(require("member:manage"))]

hooks = APIRouter(tags=["notify"])


def _not_found() -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail="no such receipt URL")


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                            detail=f"body larger than {MAX_BODY_BYTES} bytes")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BODY_BYTES:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                                detail=f"body larger than {MAX_BODY_BYTES} bytes")
    return bytes(data)


def _channel(db: SessionDep, settings: SettingsDep, channel_id: str, token: str
             ) -> NotifyChannel:
    channel = db.get(NotifyChannel, channel_id[:32])
    if channel is None or not receipts.supports_receipts(channel.kind) or \
            not receipts.token_matches(channel, service.secret_box(settings), token):
        raise _not_found()
    return channel


def _apply(db: SessionDep, channel: NotifyChannel, reports: list[receipts.Report]
           ) -> receipts.Applied:
    applied = receipts.apply_reports(db, channel, reports)
    db.commit()
    return applied


@hooks.post("/hooks/sms/{channel_id}/{receipt_token}", include_in_schema=False)
async def sms_receipts(channel_id: str, receipt_token: str, request: Request, db: SessionDep,
                       settings: SettingsDep) -> JSONResponse:
    # Async only to stream the capped body; the database work runs in the thread pool so
    # a large push does not hold up the event loop.
    await run_in_threadpool(enforce, request, db, "sms-receipts",
                            per_address=per_minute(settings.sms_receipts_per_minute))
    channel = await run_in_threadpool(_channel, db, settings, channel_id, receipt_token)
    raw = await _body(request)
    try:
        reports = receipts.parse(channel.kind, json.loads(raw or b"null"))
    except (ValueError, receipts.ReceiptFormatError) as exc:
        problem = (str(exc) if isinstance(exc, receipts.ReceiptFormatError)
                   else "the body is not JSON")
        return JSONResponse(status_code=status.HTTP_400_BAD_REQUEST, content={
            "detail": problem, **receipts.acknowledgement(channel.kind, problem)})
    applied = await run_in_threadpool(_apply, db, channel, reports)
    if applied.unknown:
        log.warning("sms receipts on channel %s: %s", channel.id, applied.as_dict())
    return JSONResponse(receipts.acknowledgement(channel.kind))


@hooks.post("/api/v1/notify/channels/{channel_id}/receipt-token",
            response_model=ReceiptUrlOut)
def rotate_receipt_token(channel_id: str, db: SessionDep, settings: SettingsDep,
                         principal: Manager) -> ReceiptUrlOut:
    """A new receipt URL for an SMS channel (the old one stops working): paste it into the
    vendor console again."""
    channel = service.get_channel(db, principal.org_id, channel_id)
    if channel is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"channel '{channel_id}' not found")
    if not receipts.supports_receipts(channel.kind):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[{
            "loc": ["path", "channel_id"], "msg": "only SMS channels have delivery receipts",
            "type": "value_error"}])
    box = service.secret_box(settings)
    receipts.rotate_token(channel, box)
    audit(db, org_id=principal.org_id, actor=principal.actor,
          action="notify.channel.receipt_token", target=("notify_channel", channel.id))
    db.commit()
    return ReceiptUrlOut(channel_id=channel.id,
                         receipt_url=receipts.receipt_url(channel, box, settings.base_url))
