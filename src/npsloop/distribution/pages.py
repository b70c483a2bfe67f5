"""Campaign pages: the list, create (send now, at a time, or as a schedule), a campaign's
funnel and skip counts, schedules, and the funnel per survey and channel.

Reading needs `stats:read`; creating and sending need `survey:write`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from starlette.datastructures import FormData

from npsloop.accounts.deps import Principal, require
from npsloop.accounts.service import audit, get_organization
from npsloop.contacts.segments import list_segments
from npsloop.core.db import utcnow
from npsloop.core.deps import SessionDep, request_language
from npsloop.core.i18n import LANGUAGES
from npsloop.core.timeutil import parse_bound
from npsloop.distribution import campaigns, schedules, service
from npsloop.distribution.models import Campaign, Invitation, Schedule
from npsloop.notify import service as notify
from npsloop.notify.models import NotifyChannel, NotifyMessage
from npsloop.surveys.models import Survey
from npsloop.web.templating import render

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require("stats:read", page=True))]
Writer = Annotated[Principal, Depends(require("survey:write", page=True))]
PRESETS = {"30d": 30, "90d": 90, "12m": 365}
STAGES = ("invited", "delivered", "opened", "started", "completed")
SEND_BUDGET_SECONDS = 5.0  # planning inside the request; the worker finishes the rest


async def posted_form(request: Request) -> FormData:
    return await request.form()


FormDep = Annotated[FormData, Depends(posted_form)]


def local(moment: datetime | None, tz: str) -> str:
    return "—" if moment is None else f"{moment.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M}"


def fmt_pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _page(request: Request, principal: Principal, name: str, context: dict[str, Any],
          status_code: int = 200) -> HTMLResponse:
    request.state.principal = principal
    base = {"can_write": principal.can("survey:write"), "fmt_pct": fmt_pct, "stages": STAGES,
            "local": local}
    return render(request, name, {**base, **context}, status_code=status_code)


def _names(db: SessionDep, org_id: str) -> dict[str, dict[str, str]]:
    surveys = db.execute(select(Survey.id, Survey.name).where(Survey.org_id == org_id))
    return {"surveys": dict(surveys.all()),
            "segments": {s.id: s.name for s in list_segments(db, org_id=org_id)}}


def _tz(db: SessionDep, org_id: str) -> str:
    org = get_organization(db, org_id)
    return org.timezone if org else "Asia/Shanghai"


# -- list and detail ----------------------------------------------------------------------


@router.get("/campaigns", response_class=HTMLResponse)
def campaigns_page(request: Request, db: SessionDep, principal: Reader) -> HTMLResponse:
    rows = campaigns.list_campaigns(db, principal.org_id)
    completed = dict(db.execute(
        select(Invitation.campaign_id, func.count(Invitation.completed_at))
        .where(Invitation.org_id == principal.org_id,
               Invitation.campaign_id.in_([c.id for c in rows]))
        .group_by(Invitation.campaign_id)).all())
    return _page(request, principal, "distribution/list.html", {
        "campaigns": rows, "completed": completed, "tz": _tz(db, principal.org_id),
        **_names(db, principal.org_id)})


def _load(db: SessionDep, principal: Principal, campaign_id: str) -> Campaign:
    campaign = campaigns.get_campaign(db, principal.org_id, campaign_id)
    if campaign is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="campaign not found")
    return campaign


@router.post("/campaigns/{campaign_id}/send")
def send_page(campaign_id: str, request: Request, db: SessionDep, principal: Writer,
              form: FormDep) -> RedirectResponse:
    campaign = _load(db, principal, campaign_id)
    try:
        campaigns.start_send(db, campaign)
    except service.DistributionError:
        db.rollback()  # already sent (a second click): the page shows its state
        return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="campaign.send",
          target=("campaign", campaign.id), detail={})
    db.commit()
    done = campaigns.plan_for(db, campaign, budget_seconds=SEND_BUDGET_SECONDS,
                              language=request_language(request))
    notice = "sent" if done else "planning"
    return RedirectResponse(f"/campaigns/{campaign_id}?notice={notice}", status_code=303)


# -- create ----------------------------------------------------------------------------------


def _form_context(db: SessionDep, org_id: str) -> dict[str, Any]:
    surveys = db.scalars(select(Survey).where(Survey.org_id == org_id,
                                              Survey.status == "live").order_by(Survey.name))
    return {"surveys": list(surveys), "segments": list_segments(db, org_id=org_id),
            "channels": campaigns.reachable_channels(db, org_id),
            "kinds": {c.id: campaigns.channel_kind(c) for c in
                      campaigns.reachable_channels(db, org_id)},
            "defaults": campaigns.default_messages(), "languages": LANGUAGES}


def _messages(form: FormData) -> dict[str, dict[str, str]]:
    return {lang: {"subject": str(form.get(f"subject_{lang}") or ""),
                   "body": str(form.get(f"body_{lang}") or "")} for lang in LANGUAGES}


def _values(form: FormData) -> dict[str, Any]:
    keys = ("name", "survey_id", "segment_id", "notify_channel_id", "when", "send_at",
            "expires_days", "every_unit", "every_count", "cron", "starts_at")
    values = {k: str(form.get(k) or "").strip() for k in keys}
    values["messages"] = _messages(form)
    return values


def _int(values: dict[str, Any], key: str, default: int) -> int:
    text = values.get(key) or ""
    if not text.lstrip("-").isdigit():
        if text:
            raise service.DistributionError(key, "must be a whole number")
        return default
    return int(text)


@router.get("/campaigns/new", response_class=HTMLResponse)
def new_page(request: Request, db: SessionDep, principal: Writer,
             survey_id: Annotated[str, Query(max_length=32)] = "") -> HTMLResponse:
    return _page(request, principal, "distribution/new.html", {
        **_form_context(db, principal.org_id), "errors": {},
        "values": {"survey_id": survey_id, "when": "now", "expires_days": "30",
                   "every_unit": "month", "every_count": "3", "messages": {}}})


@router.post("/campaigns/new", response_class=HTMLResponse)
def create_page(request: Request, db: SessionDep, principal: Writer,
                form: FormDep) -> Response:
    values = _values(form)
    tz = _tz(db, principal.org_id)
    lang = request_language(request)
    channel = notify.get_channel(db, principal.org_id, values["notify_channel_id"])
    kind = campaigns.channel_kind(channel) if channel else None
    try:
        if kind is None:
            raise service.DistributionError("notify_channel_id", "choose an email or SMS "
                                            "channel")
        common = {"org_id": principal.org_id, "name": values["name"],
                  "survey_id": values["survey_id"], "segment_id": values["segment_id"],
                  "channel": kind, "notify_channel_id": values["notify_channel_id"],
                  "messages": values["messages"], "actor": principal.actor,
                  "expires_days": _int(values, "expires_days", 30)}
        if values["when"] == "repeat":
            starts = _moment(values, "starts_at", tz)
            schedule = schedules.create_schedule(
                db, **common, every_unit=values["every_unit"] or "month",
                every_count=_int(values, "every_count", 1), cron=values["cron"],
                starts_at=starts, timezone=tz)
            audit(db, org_id=principal.org_id, actor=principal.actor, action="schedule.create",
                  target=("schedule", schedule.id), detail={})
            db.commit()
            return RedirectResponse("/campaigns/schedules?notice=created", status_code=303)
        send_at = _moment(values, "send_at", tz) if values["when"] == "later" else None
        if values["when"] == "later" and (send_at is None or send_at <= utcnow()):
            raise service.DistributionError("send_at", "choose a time in the future")
        campaign = campaigns.create_campaign(db, **common, send_at=send_at)
        if values["when"] == "now":
            campaigns.start_send(db, campaign)
    except service.DistributionError as exc:
        db.rollback()
        return _page(request, principal, "distribution/new.html", {
            **_form_context(db, principal.org_id), "values": values,
            "errors": {exc.field: exc.message}}, status_code=422)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="campaign.create",
          target=("campaign", campaign.id), detail={"when": values["when"]})
    db.commit()
    notice = "created"
    if values["when"] == "now":
        done = campaigns.plan_for(db, campaign, budget_seconds=SEND_BUDGET_SECONDS,
                                  language=lang)
        notice = "sent" if done else "planning"
    return RedirectResponse(f"/campaigns/{campaign.id}?notice={notice}", status_code=303)


def _moment(values: dict[str, Any], key: str, tz: str):  # noqa: ANN202 - datetime | None
    try:
        return parse_bound(values.get(key) or None, tz, end=False, field=key)
    except ValueError as exc:
        raise service.DistributionError(key, "not a valid date and time") from exc


# -- schedules and the funnel ------------------------------------------------------------------


@router.get("/campaigns/schedules", response_class=HTMLResponse)
def schedules_page(request: Request, db: SessionDep, principal: Reader) -> HTMLResponse:
    rows = schedules.list_schedules(db, principal.org_id)
    return _page(request, principal, "distribution/schedules.html", {
        "schedules": rows, "runs": {s.id: schedules.runs_of(db, s, 5) for s in rows},
        "tz": _tz(db, principal.org_id), "notice": request.query_params.get("notice", ""),
        "field": request.query_params.get("field", ""), **_names(db, principal.org_id)})


def _load_schedule(db: SessionDep, principal: Principal, schedule_id: str) -> Schedule:
    schedule = schedules.get_schedule(db, principal.org_id, schedule_id)
    if schedule is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="schedule not found")
    return schedule


def _schedule_values(schedule: Schedule, tz: str) -> dict[str, Any]:
    return {"name": schedule.name, "segment_id": schedule.segment_id,
            "notify_channel_id": schedule.notify_channel_id, "every_unit": schedule.every_unit,
            "every_count": str(schedule.every_count), "cron": schedule.cron,
            "starts_at": f"{schedule.starts_at.astimezone(ZoneInfo(tz)):%Y-%m-%dT%H:%M}",
            "expires_days": str(schedule.expires_days), "enabled": schedule.enabled,
            "messages": schedule.messages}


def _schedule_form(request: Request, db: SessionDep, principal: Principal, schedule: Schedule,
                   values: dict[str, Any], errors: dict[str, str],
                   status_code: int = 200) -> HTMLResponse:
    return _page(request, principal, "distribution/schedule_edit.html", {
        **_form_context(db, principal.org_id), "schedule": schedule, "values": values,
        "errors": errors, "survey_name": _names(db, principal.org_id)["surveys"].get(
            schedule.survey_id, "—")}, status_code=status_code)


@router.get("/campaigns/schedules/{schedule_id}/edit", response_class=HTMLResponse)
def schedule_edit_page(schedule_id: str, request: Request, db: SessionDep,
                       principal: Writer) -> HTMLResponse:
    schedule = _load_schedule(db, principal, schedule_id)
    return _schedule_form(request, db, principal, schedule,
                          _schedule_values(schedule, schedule.timezone), {})


@router.post("/campaigns/schedules/{schedule_id}/edit", response_class=HTMLResponse)
def schedule_save_page(schedule_id: str, request: Request, db: SessionDep, principal: Writer,
                       form: FormDep) -> Response:
    schedule = _load_schedule(db, principal, schedule_id)
    values = {**_values(form), "enabled": form.get("enabled") == "on"}
    channel = notify.get_channel(db, principal.org_id, values["notify_channel_id"])
    try:
        if channel is None:
            raise service.DistributionError("notify_channel_id", "choose an email or SMS "
                                            "channel")
        changes = {"name": values["name"], "segment_id": values["segment_id"],
                   "notify_channel_id": channel.id, "channel": campaigns.channel_kind(channel),
                   "every_unit": values["every_unit"],
                   # The field keeps its text when the unit is switched away from cron.
                   "cron": values["cron"] if values["every_unit"] == "cron" else "",
                   "every_count": _int(values, "every_count", schedule.every_count),
                   "expires_days": _int(values, "expires_days", schedule.expires_days),
                   "messages": values["messages"], "enabled": values["enabled"]}
        # The form shows minutes: an untouched field must not move the start by seconds.
        if values["starts_at"] != _schedule_values(schedule, schedule.timezone)["starts_at"]:
            starts = _moment(values, "starts_at", schedule.timezone)
            if starts is None:
                raise service.DistributionError("starts_at", "not a valid date and time")
            changes["starts_at"] = starts
        changed = schedules.update_schedule(db, schedule, changes)
    except service.DistributionError as exc:
        db.rollback()
        return _schedule_form(request, db, principal, schedule, values,
                              {exc.field: exc.message}, status_code=422)
    if changed:
        audit(db, org_id=principal.org_id, actor=principal.actor, action="schedule.update",
              target=("schedule", schedule.id), detail={"changed": changed})
    db.commit()
    return RedirectResponse("/campaigns/schedules?notice=saved", status_code=303)


@router.post("/campaigns/schedules/{schedule_id}/{action}")
def schedule_action_page(schedule_id: str, action: str, db: SessionDep, principal: Writer,
                         form: FormDep) -> RedirectResponse:
    """Pause, resume or delete from the list (each a small form with the CSRF token)."""
    if action not in ("pause", "resume", "delete"):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="unknown action")
    schedule = _load_schedule(db, principal, schedule_id)
    detail: dict[str, Any] = {}
    if action == "delete":
        detail = {"name": schedule.name,
                  "campaigns_kept": schedules.delete_schedule(db, schedule)}
    else:
        try:
            detail = {"changed": schedules.update_schedule(
                db, schedule, {"enabled": action == "resume"})}
        except service.DistributionError as exc:  # e.g. resuming while the survey is closed
            db.rollback()
            return RedirectResponse(f"/campaigns/schedules?notice=error&field={exc.field}",
                                    status_code=303)
    audit(db, org_id=principal.org_id, actor=principal.actor, action=f"schedule.{action}",
          target=("schedule", schedule_id), detail=detail)
    db.commit()
    notice = {"pause": "paused", "resume": "resumed", "delete": "deleted"}[action]
    return RedirectResponse(f"/campaigns/schedules?notice={notice}", status_code=303)


@router.get("/campaigns/funnel", response_class=HTMLResponse)
def funnel_page(request: Request, db: SessionDep, principal: Reader,
                survey_id: Annotated[str, Query(max_length=32)] = "",
                channel: Annotated[str, Query(max_length=16)] = "",
                preset: Annotated[str, Query(max_length=8)] = "90d") -> HTMLResponse:
    preset = preset if preset in PRESETS else "90d"
    since = utcnow() - timedelta(days=PRESETS[preset])
    rows = service.funnel(db, org_id=principal.org_id, survey_id=survey_id or None,
                          channel=channel or None, date_from=since)
    channels = sorted({*campaigns.SEND_CHANNELS, "widget", *service.OPEN_CHANNELS})
    return _page(request, principal, "distribution/funnel.html", {
        "rows": rows, "survey_id": survey_id, "channel": channel, "preset": preset,
        "presets": PRESETS, "channels": channels, **_names(db, principal.org_id)})


# Last: "/campaigns/new", "/campaigns/schedules" and "/campaigns/funnel" match first.
@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_page(campaign_id: str, request: Request, db: SessionDep,
                  principal: Reader) -> HTMLResponse:
    campaign = _load(db, principal, campaign_id)
    rows = service.funnel(db, org_id=principal.org_id, campaign_id=campaign.id)
    failed = db.scalar(select(func.count()).select_from(Invitation).where(
        Invitation.campaign_id == campaign.id, Invitation.status == "failed")) or 0
    channel = db.get(NotifyChannel, campaign.notify_channel_id)
    # Sent by SMS and accepted by the vendor, the carrier's delivery report not in yet.
    awaiting = db.scalar(select(func.count()).select_from(Invitation).join(
        NotifyMessage, NotifyMessage.id == Invitation.message_id).where(
        Invitation.campaign_id == campaign.id, Invitation.status == "sent",
        NotifyMessage.receipt_status == "awaiting")) or 0 if campaign.channel == "sms" else 0
    return _page(request, principal, "distribution/detail.html", {
        "campaign": campaign, "row": rows[0] if rows else None, "failed": failed,
        "awaiting": awaiting,
        "channel_name": channel.name if channel else "", "notice": request.query_params.get(
            "notice", ""), **_names(db, principal.org_id)})
