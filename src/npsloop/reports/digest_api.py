"""Digest report settings under /api/v1/digests, a preview (HTML) and the PDF of the last
complete period, and "send now".

Reading needs `stats:read`; creating, editing and sending need the owner, admin or analyst
role (as dashboards). Another organisation's digest is a 404.
"""

from __future__ import annotations

import smtplib
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, status
from fastapi.responses import HTMLResponse
from fastapi.responses import Response as HttpResponse

from npsloop.accounts.deps import Principal, require
from npsloop.core.db import utcnow
from npsloop.core.deps import SessionDep, SettingsDep
from npsloop.notify.base import Outcome
from npsloop.notify.service import secret_box
from npsloop.reports import digests, mailer, service
from npsloop.reports.models import Digest
from npsloop.reports.schedule import Period, due_period

api = APIRouter(prefix="/api/v1/digests", tags=["digests"])
Reader = Annotated[Principal, Depends(require("stats:read"))]
# Owners, admins and analysts build dashboards and digests (declared on the route, so the
# role matrix and the OpenAPI spec see it).
Editor = Annotated[Principal, Depends(require("survey:write"))]


def _unprocessable(field: str, message: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                         detail=[{"loc": ["body", *field.split(".")], "msg": message,
                                  "type": "value_error"}])


def _load(db: SessionDep, principal: Principal, digest_id: str) -> Digest:
    digest = digests.get_digest(db, principal.org_id, digest_id)
    if digest is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"digest '{digest_id}' not found")
    return digest


def latest_period(digest: Digest, tz: str, now: datetime | None = None) -> Period:
    """The last complete period (as if it were due at its very start): what a preview or a
    send-now reports."""
    return due_period(frequency=digest.frequency, weekday=0, day_of_month=1, hour=0, tz=tz,
                      now=now or utcnow())


def _out(db: SessionDep, digest: Digest) -> dict[str, Any]:
    return digests.digest_out(digest, tz=digests.org_tz(db, digest.org_id))


@api.get("")
def list_digests(db: SessionDep, principal: Reader) -> dict[str, Any]:
    return {"items": [_out(db, d) for d in digests.list_digests(db, principal.org_id)]}


@api.post("", status_code=status.HTTP_201_CREATED)
def create_digest(db: SessionDep, principal: Editor,
                  body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    try:
        digest = digests.save_digest(db, principal.org_id, body)
    except service.ReportError as exc:
        raise _unprocessable(exc.field, exc.message) from exc
    db.commit()
    return _out(db, digest)


@api.get("/{digest_id}")
def get_digest(digest_id: str, db: SessionDep, principal: Reader) -> dict[str, Any]:
    return _out(db, _load(db, principal, digest_id))


@api.put("/{digest_id}")
def update_digest(digest_id: str, db: SessionDep, principal: Editor,
                  body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    digest = _load(db, principal, digest_id)
    try:
        digests.save_digest(db, principal.org_id, body, digest)
    except service.ReportError as exc:
        raise _unprocessable(exc.field, exc.message) from exc
    db.commit()
    return _out(db, digest)


@api.delete("/{digest_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_digest(digest_id: str, db: SessionDep, principal: Editor) -> HttpResponse:
    digest = _load(db, principal, digest_id)
    db.delete(digest)
    db.commit()
    return HttpResponse(status_code=status.HTTP_204_NO_CONTENT)


def _render(db: SessionDep, settings: SettingsDep, digest: Digest) -> Any:
    period = latest_period(digest, digests.org_tz(db, digest.org_id))
    try:
        return digests.render(db, digest, period, min_n=settings.min_responses_for_stats)
    except service.ReportError as exc:
        raise _unprocessable(exc.field, exc.message) from exc


@api.get("/{digest_id}/preview", response_class=HTMLResponse)
def preview(digest_id: str, db: SessionDep, settings: SettingsDep,
            principal: Reader) -> HTMLResponse:
    """The email of the last complete period, as it would be sent."""
    _, mail = _render(db, settings, _load(db, principal, digest_id))
    # The preview is a whole HTML document with inline styles only; no script may run.
    return HTMLResponse(mail.html, headers={"Content-Security-Policy": "default-src 'none'; "
                                            "style-src 'unsafe-inline'; img-src data:"})


@api.get("/{digest_id}/pdf", response_class=HttpResponse,
         responses={200: {"content": {"application/pdf": {}}, "description": "the PDF"}})
def download_pdf(digest_id: str, db: SessionDep, settings: SettingsDep,
                 principal: Reader) -> HttpResponse:
    _, mail = _render(db, settings, _load(db, principal, digest_id))
    return HttpResponse(mail.pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{mail.pdf_name}"'})


@api.post("/{digest_id}/send", responses={
    502: {"description": "the mail server could not be reached or refused the mail"}})
def send_now(digest_id: str, db: SessionDep, settings: SettingsDep,
             principal: Editor) -> dict[str, Any]:
    """Sends the last complete period's report now, outside the schedule (it does not count
    as the period's scheduled run)."""
    digest = _load(db, principal, digest_id)
    return send_latest(db, digest, settings.min_responses_for_stats)


def send_latest(db: SessionDep, digest: Digest, min_n: int) -> dict[str, Any]:
    period = latest_period(digest, digests.org_tz(db, digest.org_id))
    try:
        sender = mailer.channel_mailer(db, digest.org_id, digest.channel_id, secret_box())
        _, mail = digests.render(db, digest, period, min_n=min_n)
    except (mailer.DigestMailError, service.ReportError) as exc:
        raise _unprocessable(exc.field, exc.message) from exc
    try:
        result = mailer.send(sender, mail, message_id=f"manual-{digest.id}-{period.key}-"
                             f"{int(utcnow().timestamp())}", recipients=digest.recipients)
    except (OSError, smtplib.SMTPException) as exc:  # unreachable or refusing mail server
        raise HTTPException(status.HTTP_502_BAD_GATEWAY,
                            detail=f"the mail server could not be reached: {exc}") from exc
    if result.outcome != Outcome.delivered:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY,
                            detail=f"the mail server did not accept it: {result.error}")
    return {"sent": True, "period": period.key, "recipients": digest.recipients}
