"""GET /api/v1/lifecycle: NPS, volume and referral activity per lifecycle stage, stage moves
over time and the surveys triggered at each stage; POST .../observe rebuilds moves from
response snapshots (for history written before moves were recorded)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status

from npsloop.accounts.deps import Principal, require
from npsloop.accounts.service import get_organization
from npsloop.core.deps import SessionDep, SettingsDep
from npsloop.core.timeutil import parse_bound
from npsloop.referrals import lifecycle

router = APIRouter(prefix="/api/v1/lifecycle", tags=["lifecycle"])
Reader = Annotated[Principal, Depends(require("stats:read"))]
Writer = Annotated[Principal, Depends(require("survey:write"))]


def lifecycle_view(db: Any, org_id: str, date_from: str | None, date_to: str | None,
                   min_n: int) -> dict[str, Any]:
    """Everything the lifecycle page and API show; raises ValueError naming from/to."""
    org = get_organization(db, org_id)
    tz = org.timezone if org else "Asia/Shanghai"
    lo = parse_bound(date_from, tz, end=False, field="from")
    hi = parse_bound(date_to, tz, end=True, field="to")
    if lo and hi and hi <= lo:
        raise ValueError("to: must be after from")
    return {
        "stages": list(lifecycle.STAGES),
        "nps": lifecycle.nps_by_stage(db, org_id, lo, hi, tz, min_n),
        "contacts": lifecycle.current_stage_counts(db, org_id),
        "referrals": lifecycle.referral_activity_by_stage(db, org_id, lo, hi),
        "moves": lifecycle.stage_moves(db, org_id, lo, hi, tz),
        "trend": lifecycle.stage_trend(db, org_id, lo, hi, tz),
        "surveys": lifecycle.survey_triggers(db, org_id, lo, hi),
    }


@router.get("")
def get_lifecycle(
    db: SessionDep, settings: SettingsDep, principal: Reader,
    date_from: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    date_to: Annotated[str | None, Query(alias="to", max_length=40)] = None,
) -> dict[str, Any]:
    try:
        return lifecycle_view(db, principal.org_id, date_from, date_to,
                              settings.min_responses_for_stats)
    except ValueError as exc:
        field, _, message = str(exc).partition(": ")
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[
            {"loc": ["query", field], "msg": message, "type": "value_error"}]) from exc


@router.post("/observe")
def observe_moves(db: SessionDep, principal: Writer) -> dict[str, int]:
    """Rebuilds the "observed" stage moves from the stage snapshots of responses."""
    count = lifecycle.observe_moves_from_responses(db, principal.org_id)
    db.commit()
    return {"observed_moves": count}
