"""Digest settings page: one form per digest (schedule, language, recipients, email channel,
survey / filters), a preview and a PDF download of the last complete period, "send now",
and the log of what was sent per period. Forms post back here with the CSRF token."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from starlette.datastructures import FormData

from npsloop.accounts.deps import Principal, require
from npsloop.core.db import utcnow
from npsloop.core.deps import SessionDep, SettingsDep
from npsloop.notify.models import NotifyChannel
from npsloop.reports import digest_api, digests, jobs, service
from npsloop.reports.models import Digest, DigestRun
from npsloop.reports.schedule import next_send
from npsloop.surveys import service as surveys
from npsloop.web.templating import render

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require("stats:read", page=True))]
# Owners, admins and analysts build dashboards and digests (declared on the route, so the
# role matrix and the OpenAPI spec see it).
Editor = Annotated[Principal, Depends(require("survey:write", page=True))]
RUNS_SHOWN = 8


async def posted_form(request: Request) -> FormData:
    return await request.form()


FormDep = Annotated[FormData, Depends(posted_form)]


def _body(form: FormData) -> dict[str, Any]:
    """The form as the API's body (same validation and the same field names)."""
    filters: dict[str, Any] = {}
    for name in ("survey_id", "channel", "touchpoint", "nps_type"):
        value = str(form.get(f"filter_{name}", "")).strip()
        if value:
            filters[name] = value
    return {
        "name": str(form.get("name", "")), "frequency": str(form.get("frequency", "")),
        "weekday": str(form.get("weekday", "0")),
        "day_of_month": str(form.get("day_of_month", "1")),
        "hour": str(form.get("hour", "9")), "language": str(form.get("language", "")),
        "recipients": str(form.get("recipients", "")),
        "channel_id": str(form.get("channel_id", "")) or None,
        "enabled": form.get("enabled") == "on", "filters": filters,
    }


def _context(db: SessionDep, principal: Principal, **extra: Any) -> dict[str, Any]:
    tz = digests.org_tz(db, principal.org_id)
    rows = digests.list_digests(db, principal.org_id)
    channels = list(db.scalars(select(NotifyChannel).where(
        NotifyChannel.org_id == principal.org_id, NotifyChannel.kind == "email")))
    runs: dict[str, list[DigestRun]] = {}
    for run in db.scalars(select(DigestRun).where(DigestRun.org_id == principal.org_id)
                          .order_by(DigestRun.period_from.desc())):
        runs.setdefault(run.digest_id, [])
        if len(runs[run.digest_id]) < RUNS_SHOWN:
            runs[run.digest_id].append(run)
    survey_rows, _ = surveys.list_surveys(db, org_id=principal.org_id, limit=500)
    now = utcnow()
    return {
        "digests": rows, "channels": channels, "runs": runs, "tz": tz,
        "surveys": sorted(survey_rows, key=lambda s: s.name),
        "next_send": {d.id: next_send(frequency=d.frequency, weekday=d.weekday,
                                      day_of_month=d.day_of_month, hour=d.hour, tz=tz,
                                      now=now).astimezone(ZoneInfo(tz)).strftime(
                                          "%Y-%m-%d %H:%M") for d in rows},
        "latest": {d.id: digest_api.latest_period(d, tz, now).key for d in rows},
        "saved": {d.id: service.as_object(d.filters) for d in rows},
        "can_edit": service.can_edit(principal.role), "errors": {}, "values": None,
        "error_for": None, "notice": None, **extra,
    }


@router.get("/reports/digests", response_class=HTMLResponse)
def digest_settings(request: Request, db: SessionDep, principal: Reader,
                    sent: str | None = None) -> HTMLResponse:
    request.state.principal = principal
    return render(request, "reports_digests.html", _context(db, principal, notice=sent))


@router.post("/reports/digests", response_class=HTMLResponse)
def save_digest(request: Request, db: SessionDep, principal: Editor, form: FormDep) -> Any:
    """Creates a digest, or updates the one named by the form's `digest_id`."""
    request.state.principal = principal
    digest_id = str(form.get("digest_id", ""))
    digest: Digest | None = None
    if digest_id:
        digest = digests.get_digest(db, principal.org_id, digest_id)
        if digest is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="digest not found")
    body = _body(form)
    try:
        digests.save_digest(db, principal.org_id, body, digest)
    except service.ReportError as exc:
        db.rollback()
        return render(request, "reports_digests.html", _context(
            db, principal, errors={exc.field.split(".")[0]: exc.message}, values=body,
            error_for=digest_id or "new"), status_code=422)
    db.commit()
    return RedirectResponse("/reports/digests", status_code=303)


@router.post("/reports/digests/{digest_id}/delete")
def delete_digest(digest_id: str, db: SessionDep, principal: Editor) -> RedirectResponse:
    digest = digests.get_digest(db, principal.org_id, digest_id)
    if digest is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="digest not found")
    db.delete(digest)
    db.commit()
    return RedirectResponse("/reports/digests", status_code=303)


@router.post("/reports/digests/{digest_id}/send", response_class=HTMLResponse)
def send_now(digest_id: str, request: Request, db: SessionDep, settings: SettingsDep,
             principal: Editor) -> Any:
    request.state.principal = principal
    digest = digests.get_digest(db, principal.org_id, digest_id)
    if digest is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="digest not found")
    try:
        digest_api.send_latest(db, digest, settings.min_responses_for_stats)
    except HTTPException as exc:
        detail = exc.detail[0]["msg"] if isinstance(exc.detail, list) else str(exc.detail)
        return render(request, "reports_digests.html", _context(
            db, principal, errors={"send": detail}, error_for=digest_id),
            status_code=exc.status_code)
    return RedirectResponse(f"/reports/digests?sent={digest_id}", status_code=303)


@router.post("/reports/digests/runs/{run_id}/retry")
def retry(run_id: str, db: SessionDep, principal: Editor) -> RedirectResponse:
    run = db.get(DigestRun, run_id)
    if run is None or run.org_id != principal.org_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="run not found")
    jobs.retry_run(db, run)
    db.commit()
    return RedirectResponse("/reports/digests", status_code=303)
