"""REST API: /api/v1/campaigns, /api/v1/schedules and /api/v1/stats/funnel.

Everything is scoped to the caller's organisation; bad input is a 422 naming the field.
The distribution job itself is declared in jobs.py (run by serve and worker).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from npsloop.accounts.deps import Principal, require
from npsloop.accounts.service import audit, get_organization
from npsloop.core.deps import SessionDep
from npsloop.core.timeutil import parse_bound
from npsloop.distribution import campaigns, schedules, service
from npsloop.distribution.models import Campaign, Invitation, Schedule
from npsloop.distribution.schemas import (
    CampaignDetail,
    CampaignIn,
    CampaignOut,
    FunnelOut,
    FunnelRowOut,
    ScheduleIn,
    ScheduleOut,
    ScheduleUpdate,
    SendResult,
)

SEND_BUDGET_SECONDS = 5.0  # planning done inside the request; the worker does the rest
router = APIRouter()
api = APIRouter(prefix="/api/v1", tags=["distribution"])
Reader = Annotated[Principal, Depends(require("stats:read"))]
Writer = Annotated[Principal, Depends(require("survey:write"))]


def unprocessable(field: str, message: str, where: str = "body") -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                         detail=[{"loc": [where, *field.split(".")], "msg": message,
                                  "type": "value_error"}])


def _load(db: Session, principal: Principal, campaign_id: str) -> Campaign:
    campaign = campaigns.get_campaign(db, principal.org_id, campaign_id)
    if campaign is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"campaign '{campaign_id}' not found")
    return campaign


def campaign_detail(db: Session, campaign: Campaign) -> CampaignDetail:
    out = CampaignDetail.model_validate(campaign)
    rows = service.funnel(db, org_id=campaign.org_id, campaign_id=campaign.id)
    out.funnel = FunnelRowOut(**rows[0].as_dict()) if rows else None
    out.failed = db.scalar(select(func.count()).select_from(Invitation).where(
        Invitation.campaign_id == campaign.id, Invitation.status == "failed")) or 0
    out.bounced = (out.funnel.bounced or 0) if out.funnel else 0
    return out


@api.post("/campaigns", response_model=CampaignDetail, status_code=201)
def create_campaign(body: CampaignIn, db: SessionDep, principal: Writer) -> CampaignDetail:
    try:
        campaign = campaigns.create_campaign(
            db, org_id=principal.org_id, name=body.name, survey_id=body.survey_id,
            segment_id=body.segment_id, channel=body.channel,
            notify_channel_id=body.notify_channel_id,
            messages={k: v.model_dump() for k, v in body.messages.items()},
            send_at=None if body.send_now else body.send_at, expires_days=body.expires_days,
            actor=principal.actor)
        audit(db, org_id=principal.org_id, actor=principal.actor, action="campaign.create",
              target=("campaign", campaign.id), detail={"send_now": body.send_now})
        if body.send_now:
            campaigns.start_send(db, campaign)
    except service.DistributionError as exc:
        db.rollback()
        raise unprocessable(exc.field, exc.message) from exc
    db.commit()
    if body.send_now:
        campaigns.plan_for(db, campaign, budget_seconds=SEND_BUDGET_SECONDS)
    return campaign_detail(db, campaign)


@api.get("/campaigns", response_model=list[CampaignOut])
def list_campaigns(db: SessionDep, principal: Reader,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[Campaign]:
    return campaigns.list_campaigns(db, principal.org_id, limit)


@api.get("/campaigns/{campaign_id}", response_model=CampaignDetail)
def get_campaign(campaign_id: str, db: SessionDep, principal: Reader) -> CampaignDetail:
    return campaign_detail(db, _load(db, principal, campaign_id))


@api.post("/campaigns/{campaign_id}/send", response_model=SendResult)
def send_campaign(campaign_id: str, db: SessionDep, principal: Writer) -> dict:
    campaign = _load(db, principal, campaign_id)
    try:
        campaigns.start_send(db, campaign)
    except service.DistributionError as exc:
        db.rollback()
        if exc.field == "status":
            raise HTTPException(status.HTTP_409_CONFLICT, detail=exc.message) from exc
        raise unprocessable(exc.field, exc.message) from exc
    audit(db, org_id=principal.org_id, actor=principal.actor, action="campaign.send",
          target=("campaign", campaign.id), detail={})
    db.commit()
    campaigns.plan_for(db, campaign, budget_seconds=SEND_BUDGET_SECONDS)
    return campaigns.result_of(campaign)


@api.get("/schedules", response_model=list[ScheduleOut])
def list_schedules(db: SessionDep, principal: Reader) -> list:
    return schedules.list_schedules(db, principal.org_id)


@api.post("/schedules", response_model=ScheduleOut, status_code=201)
def create_schedule(body: ScheduleIn, db: SessionDep, principal: Writer) -> object:
    org = get_organization(db, principal.org_id)
    try:
        schedule = schedules.create_schedule(
            db, org_id=principal.org_id, name=body.name, survey_id=body.survey_id,
            segment_id=body.segment_id, channel=body.channel,
            notify_channel_id=body.notify_channel_id, every_unit=body.every_unit,
            every_count=body.every_count, cron=body.cron, starts_at=body.starts_at,
            timezone=body.timezone or (org.timezone if org else "Asia/Shanghai"),
            messages={k: v.model_dump() for k, v in body.messages.items()},
            expires_days=body.expires_days, actor=principal.actor)
    except service.DistributionError as exc:
        db.rollback()
        raise unprocessable(exc.field, exc.message) from exc
    audit(db, org_id=principal.org_id, actor=principal.actor, action="schedule.create",
          target=("schedule", schedule.id), detail={"every": body.every_unit})
    db.commit()
    return schedule


def _schedule(db: Session, principal: Principal, schedule_id: str) -> Schedule:
    schedule = schedules.get_schedule(db, principal.org_id, schedule_id)
    if schedule is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"schedule '{schedule_id}' not found")
    return schedule


@api.get("/schedules/{schedule_id}", response_model=ScheduleOut)
def get_schedule(schedule_id: str, db: SessionDep, principal: Reader) -> object:
    return _schedule(db, principal, schedule_id)


@api.patch("/schedules/{schedule_id}", response_model=ScheduleOut)
def update_schedule(schedule_id: str, body: ScheduleUpdate, db: SessionDep,
                    principal: Writer) -> object:
    schedule = _schedule(db, principal, schedule_id)
    changes = {key: getattr(body, key) for key in body.model_fields_set}
    if isinstance(changes.get("messages"), dict):
        changes["messages"] = {k: v.model_dump() for k, v in changes["messages"].items()}
    was_enabled = schedule.enabled
    try:
        changed = schedules.update_schedule(db, schedule, changes)
    except service.DistributionError as exc:
        db.rollback()
        raise unprocessable(exc.field, exc.message) from exc
    if changed:
        action = ("schedule.pause" if was_enabled and not schedule.enabled else
                  "schedule.resume" if schedule.enabled and not was_enabled else
                  "schedule.update")
        audit(db, org_id=principal.org_id, actor=principal.actor, action=action,
              target=("schedule", schedule.id), detail={"changed": changed})
    db.commit()
    return schedule


@api.delete("/schedules/{schedule_id}", status_code=204)
def delete_schedule(schedule_id: str, db: SessionDep, principal: Writer) -> Response:
    schedule = _schedule(db, principal, schedule_id)
    name = schedule.name
    kept = schedules.delete_schedule(db, schedule)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="schedule.delete",
          target=("schedule", schedule_id), detail={"name": name, "campaigns_kept": kept})
    db.commit()
    return Response(status_code=204)


@api.get("/stats/funnel", response_model=FunnelOut)
def funnel_stats(
    db: SessionDep, principal: Reader,
    survey_id: Annotated[str | None, Query(max_length=32)] = None,
    channel: Annotated[str | None, Query(max_length=16)] = None,
    date_from: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    date_to: Annotated[str | None, Query(alias="to", max_length=40)] = None,
) -> FunnelOut:
    org = get_organization(db, principal.org_id)
    tz = org.timezone if org else "Asia/Shanghai"
    try:
        lo = parse_bound(date_from, tz, end=False, field="from")
        hi = parse_bound(date_to, tz, end=True, field="to")
    except ValueError as exc:
        field = str(exc).split(":", 1)[0]
        raise unprocessable(field, str(exc).split(": ", 1)[-1], "query") from exc
    if lo and hi and hi <= lo:
        raise unprocessable("to", "must be after from", "query")
    rows = service.funnel(db, org_id=principal.org_id, survey_id=survey_id, channel=channel,
                          date_from=lo, date_to=hi)
    return FunnelOut(rows=[FunnelRowOut(**r.as_dict()) for r in rows])


router.include_router(api)
