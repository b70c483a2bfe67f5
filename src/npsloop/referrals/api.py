"""JSON routes: conversions (called by the customer's systems), settings, analytics,
ask-promoter campaigns, and lifecycle views (mounted from api_lifecycle.py).

Conversions need `response:write` (an owner/admin/analyst API key); reading needs
`stats:read`; settings and campaigns need `survey:write`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import JSONResponse
from sqlalchemy import literal, select

from npsloop.accounts.deps import Principal, require
from npsloop.accounts.service import audit, get_organization
from npsloop.core.db import utcnow
from npsloop.core.deps import SessionDep, SettingsDep
from npsloop.core.timeutil import parse_bound
from npsloop.referrals import campaigns, codes, funnel, service
from npsloop.referrals.api_lifecycle import router as lifecycle_router
from npsloop.referrals.models import ReferralCode
from npsloop.referrals.schemas import (
    CampaignIn,
    CampaignOut,
    ConversionIn,
    ConversionOut,
    SettingsIn,
    SettingsOut,
)

router = APIRouter(tags=["referrals"])
Reader = Annotated[Principal, Depends(require("stats:read"))]
Writer = Annotated[Principal, Depends(require("survey:write"))]
Recorder = Annotated[Principal, Depends(require("response:write"))]
PREFIX = "/api/v1/referrals"


def unprocessable(field: str, message: str, where: str = "body") -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                         detail=[{"loc": [where, field], "msg": message, "type": "value_error"}])


def period(db: SessionDep, org_id: str, date_from: str | None,
           date_to: str | None) -> tuple[datetime | None, datetime | None, str]:
    """Parses from/to (local days or ISO datetimes) in the organisation's time zone."""
    org = get_organization(db, org_id)
    tz = org.timezone if org else "Asia/Shanghai"
    try:
        lo = parse_bound(date_from, tz, end=False, field="from")
        hi = parse_bound(date_to, tz, end=True, field="to")
    except ValueError as exc:
        field = str(exc).split(":", 1)[0]
        raise unprocessable(field, str(exc).split(": ", 1)[-1], "query") from exc
    if lo and hi and hi <= lo:
        raise unprocessable("to", "must be after from", "query")
    return lo, hi, tz


From = Annotated[str | None, Query(alias="from", max_length=40)]
To = Annotated[str | None, Query(alias="to", max_length=40)]


# -- conversions -------------------------------------------------------------------------


@router.post(f"{PREFIX}/conversions", status_code=status.HTTP_201_CREATED,
             response_model=ConversionOut)
def record_conversion(body: ConversionIn, db: SessionDep, principal: Recorder) -> Any:
    """Records that a new customer came through a referral code (once per customer)."""
    if codes.normalize(body.code) is None:
        raise unprocessable("code", f"is not a referral code ({codes.LENGTH} characters from "
                                    f"{codes.ALPHABET}, dashes and spaces ignored)")
    if body.converted_at is not None and body.converted_at > utcnow():
        raise unprocessable("converted_at", "is in the future")
    try:
        result = service.record_conversion(
            db, org_id=principal.org_id, raw_code=body.code,
            customer_external_id=body.customer_external_id, value=body.value,
            actor=principal.actor, converted_at=body.converted_at)
    except service.ReferralError as exc:
        db.rollback()
        if exc.status_code == 404:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=exc.message) from exc
        if exc.status_code == 409:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=[{
                "loc": ["body", exc.field], "msg": exc.message, "type": "conflict"}]) from exc
        raise unprocessable(exc.field, exc.message) from exc
    if result.created:
        audit(db, org_id=principal.org_id, actor=principal.actor, action="referral.convert",
              target=("referral_conversion", result.conversion.id),
              detail={"code_id": result.conversion.code_id})
    db.commit()
    out = ConversionOut.model_validate(result.conversion)
    out.code = codes.normalize(body.code) or ""
    out.created = result.created
    return JSONResponse(out.model_dump(mode="json"),
                        status_code=201 if result.created else 200)


# -- settings ----------------------------------------------------------------------------


@router.get(f"{PREFIX}/settings", response_model=SettingsOut)
def get_settings(db: SessionDep, principal: Reader) -> SettingsOut:
    return SettingsOut.model_validate(service.get_settings(db, principal.org_id))


@router.put(f"{PREFIX}/settings", response_model=SettingsOut)
def put_settings(body: SettingsIn, db: SessionDep, principal: Writer) -> SettingsOut:
    values = body.model_dump(exclude_unset=True)
    nulls = [k for k, v in values.items() if v is None]
    if nulls:
        raise unprocessable(nulls[0], "must not be null")
    row = service.save_settings(db, principal.org_id, values)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="referral.settings",
          detail={"fields": sorted(values)})
    db.commit()
    return SettingsOut.model_validate(row)


# -- codes and analytics -----------------------------------------------------------------


@router.get(f"{PREFIX}/codes/{{code}}")
def get_code(code: str, db: SessionDep, settings: SettingsDep,
             principal: Reader) -> dict[str, Any]:
    found = service.find_code(db, code, principal.org_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="referral code not found")
    counts = funnel.funnel_counts(db, _one(found))
    return {"code": found.code, "display": codes.display(found.code),
            "url": f"{settings.base_url.rstrip('/')}/r/{found.code}",
            "contact_id": found.contact_id, "response_id": found.response_id,
            "touchpoint": found.touchpoint, "lifecycle_stage": found.lifecycle_stage,
            "created_at": found.created_at.isoformat(), **counts}


def _one(code: ReferralCode) -> Any:
    """The code as a one-row SELECT of ids, the shape funnel_counts takes."""
    return select(literal(code.id))


@router.get(f"{PREFIX}/funnel")
def get_funnel(db: SessionDep, principal: Reader, date_from: From = None,
               date_to: To = None) -> dict[str, Any]:
    """Promoters asked in the period -> shared -> visits -> conversions (flagged visits
    excluded), and conversions per asked promoter."""
    lo, hi, _ = period(db, principal.org_id, date_from, date_to)
    return {"funnel": funnel.funnel(db, principal.org_id, lo, hi),
            "per_promoter": funnel.per_promoter(db, principal.org_id, lo, hi)}


@router.get(f"{PREFIX}/advocates")
def get_advocates(db: SessionDep, principal: Reader,
                  limit: Annotated[int, Query(ge=1, le=100)] = 10) -> dict[str, Any]:
    return {"items": funnel.top_advocates(db, principal.org_id, limit)}


@router.get(f"{PREFIX}/breakdown")
def get_breakdown(db: SessionDep, principal: Reader,
                  by: Literal["touchpoint", "lifecycle_stage", "segment"],
                  date_from: From = None, date_to: To = None) -> dict[str, Any]:
    lo, hi, _ = period(db, principal.org_id, date_from, date_to)
    return {"by": by, "items": funnel.breakdown(db, principal.org_id, by, lo, hi)}


@router.get(f"{PREFIX}/referred-nps")
def get_referred_nps(db: SessionDep, settings: SettingsDep, principal: Reader,
                     date_from: From = None, date_to: To = None) -> dict[str, Any]:
    """NPS of referred customers (after their conversion) versus everyone else."""
    lo, hi, _ = period(db, principal.org_id, date_from, date_to)
    return funnel.referred_vs_others(db, principal.org_id, lo, hi,
                                     settings.min_responses_for_stats)


# -- campaigns ---------------------------------------------------------------------------


@router.post(f"{PREFIX}/campaigns")
def create_campaign(body: CampaignIn, db: SessionDep, settings: SettingsDep,
                    principal: Writer) -> JSONResponse:
    """Asks recent promoters (score 9-10 in the last `lookback_days`, with an email address
    or phone number) to refer a friend or write a review; `dry_run` only counts them."""
    try:
        result = campaigns.run_campaign(
            db, org_id=principal.org_id, name=body.name, purpose=body.purpose,
            lookback_days=body.lookback_days, channel_ids=body.channel_ids,
            actor=principal.actor, base_url=settings.base_url, dry_run=body.dry_run)
    except service.ReferralError as exc:
        db.rollback()
        raise unprocessable(exc.field, exc.message) from exc
    if not body.dry_run:
        audit(db, org_id=principal.org_id, actor=principal.actor, action="referral.campaign",
              target=("referral_campaign", result["campaign_id"]),
              detail={"asked": result["asked"], "purpose": body.purpose})
        db.commit()
    return JSONResponse(result, status_code=200 if body.dry_run else 201)


@router.get(f"{PREFIX}/campaigns")
def list_campaigns(db: SessionDep, principal: Reader) -> dict[str, Any]:
    rows = campaigns.list_campaigns(db, principal.org_id)
    return {"items": [CampaignOut.model_validate(r).model_dump(mode="json") for r in rows]}


router.include_router(lifecycle_router)
