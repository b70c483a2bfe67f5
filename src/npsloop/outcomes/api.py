"""JSON routes of /api/v1/outcomes: settings, outcome rates by category, the propensity
models (fit and read), contact scores, and win-back campaigns with their measured effect.

Reading needs `stats:read`; settings, fitting and campaigns need `survey:write`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy import select

from npsloop.accounts.deps import Principal, require
from npsloop.accounts.service import audit
from npsloop.analytics.params import documented_filters, int_param, query_error, resolve_filters
from npsloop.core.deps import SessionDep
from npsloop.outcomes import model, rates, service, winback
from npsloop.outcomes.models import ContactScore, Outcome
from npsloop.outcomes.schemas import FitIn, SettingsIn, WinbackIn

router = APIRouter(tags=["outcomes"])
Reader = Annotated[Principal, Depends(require("stats:read"))]
Writer = Annotated[Principal, Depends(require("survey:write"))]
PREFIX = "/api/v1/outcomes"


def failed(exc: service.OutcomeError, where: str = "body") -> HTTPException:
    if exc.status_code == 404:
        return HTTPException(status.HTTP_404_NOT_FOUND, detail=exc.message)
    return HTTPException(exc.status_code, detail=[
        {"loc": [where, exc.field], "msg": exc.message, "type": "value_error"}])


def settings_out(row: Any) -> dict[str, Any]:
    return {"repurchase_event": row.repurchase_event, "churn_event": row.churn_event,
            "churn_mode": "event" if row.churn_event else "inactive",
            "window_days": row.window_days}


@router.get(f"{PREFIX}/settings")
def get_settings(db: SessionDep, principal: Reader) -> dict[str, Any]:
    return settings_out(service.get_settings(db, principal.org_id))


@router.put(f"{PREFIX}/settings")
def put_settings(body: SettingsIn, db: SessionDep, principal: Writer) -> dict[str, Any]:
    values = body.model_dump(exclude_unset=True)
    if values.get("repurchase_event", "") is None or values.get("window_days", 0) is None:
        raise failed(service.OutcomeError(
            "repurchase_event" if "repurchase_event" in values else "window_days",
            "must not be null"))
    try:
        row = service.save_settings(db, principal.org_id, values)
    except service.OutcomeError as exc:
        db.rollback()
        raise failed(exc) from exc
    audit(db, org_id=principal.org_id, actor=principal.actor, action="outcomes.settings",
          detail={"fields": sorted(values)})
    db.commit()
    return settings_out(row)


@router.get(f"{PREFIX}/rates", dependencies=[Depends(documented_filters)])
def get_rates(request: Request, db: SessionDep, principal: Reader,
              outcome: Annotated[str, Query(description="repurchase | churn")] = "repurchase",
              window_days: Annotated[str | None, Query(
                  description="N days after each answer (default: the settings')")] = None,
              ) -> dict[str, Any]:
    """Per NPS category, the share of respondents (latest answer in the filtered range whose
    window is over) who repurchased / churned within N days, with Wilson 95% intervals, and
    promoters minus detractors with its interval and a two-proportion z-test."""
    context = resolve_filters(request, db, principal, allowed=("outcome", "window_days"))
    try:
        kind = service.check_outcome(outcome)
    except service.OutcomeError as exc:
        raise failed(exc, "query") from exc
    default = service.get_settings(db, principal.org_id).window_days
    days = int_param(request, "window_days", default, 1, service.MAX_WINDOW_DAYS)
    return rates.outcome_rates(db, principal.org_id, context.filters, outcome=kind,
                               window_days=days)


@router.post(f"{PREFIX}/model/fit")
def fit(db: SessionDep, principal: Writer, body: FitIn | None = None) -> dict[str, Any]:
    """Fits the churn and repurchase models (time-based holdout validation) and re-scores
    every contact; 409 when there is too little data."""
    try:
        result = model.fit_org(db, principal.org_id, actor=principal.actor,
                               window_days=body.window_days if body else None)
    except service.OutcomeError as exc:
        db.rollback()
        raise failed(exc) from exc
    audit(db, org_id=principal.org_id, actor=principal.actor, action="outcomes.fit",
          detail={k: v["holdout_auc"] for k, v in result["models"].items()})
    db.commit()
    return result


@router.get(f"{PREFIX}/model")
def get_models(db: SessionDep, principal: Reader) -> dict[str, Any]:
    """The models in use: holdout AUC, Brier score, calibration and top coefficients."""
    cards = {}
    for outcome in Outcome:
        found = model.latest_model(db, principal.org_id, outcome)
        cards[outcome.value] = model.model_card(found) if found else None
    return {"models": cards}


@router.get(f"{PREFIX}/scores")
def get_scores(request: Request, db: SessionDep, principal: Reader,
               category: Annotated[str | None, Query(
                   description="promoter | passive | detractor")] = None,
               min_risk: Annotated[float | None, Query(ge=0, le=1)] = None,
               ) -> dict[str, Any]:
    """Contacts by churn risk, highest first."""
    limit = int_param(request, "limit", 50, 1, 500)
    if category is not None and category not in rates.CATEGORIES:
        raise query_error("category", "must be promoter, passive or detractor")
    query = select(ContactScore).where(ContactScore.org_id == principal.org_id)
    if category:
        query = query.where(ContactScore.category == category)
    if min_risk is not None:
        query = query.where(ContactScore.churn_risk >= min_risk)
    rows = db.scalars(query.order_by(ContactScore.churn_risk.desc(), ContactScore.contact_id)
                      .limit(limit))
    return {"items": [{"contact_id": r.contact_id, "response_id": r.response_id,
                       "score": r.score, "category": r.category, "churn_risk": r.churn_risk,
                       "repurchase_propensity": r.repurchase_propensity,
                       "scored_at": r.scored_at.isoformat()} for r in rows]}


@router.post(f"{PREFIX}/winback")
def create_winback(body: WinbackIn, db: SessionDep, principal: Writer) -> JSONResponse:
    """Sends the offer to at-risk detractors, keeping a random `holdout_share` back as the
    control group; `dry_run` only counts them."""
    try:
        result = winback.run(
            db, org_id=principal.org_id, name=body.name, min_risk=body.min_risk,
            segment_id=body.segment_id, holdout_share=body.holdout_share,
            window_days=body.window_days, offer_zh=body.offer_zh, offer_en=body.offer_en,
            channel_ids=body.channel_ids, actor=principal.actor, dry_run=body.dry_run)
    except service.OutcomeError as exc:
        db.rollback()
        raise failed(exc) from exc
    if not body.dry_run:
        audit(db, org_id=principal.org_id, actor=principal.actor, action="outcomes.winback",
              target=("winback_campaign", result["campaign_id"]),
              detail={"contacted": result["contacted"], "holdout": result["holdout"]})
        db.commit()
    return JSONResponse(result, status_code=200 if body.dry_run else 201)


def campaign_out(row: Any) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "min_risk": row.min_risk,
            "segment_id": row.segment_id, "holdout_share": row.holdout_share,
            "window_days": row.window_days, "offer_zh": row.offer_zh, "offer_en": row.offer_en,
            "contacted": row.contacted_count, "holdout": row.holdout_count,
            "skipped": row.skipped, "created_by": row.created_by,
            "created_at": row.created_at.isoformat()}


@router.get(f"{PREFIX}/winback")
def list_winback(db: SessionDep, principal: Reader) -> dict[str, Any]:
    return {"items": [campaign_out(r) for r in winback.list_campaigns(db, principal.org_id)]}


@router.get(f"{PREFIX}/winback/{{winback_id}}")
def get_winback(winback_id: str, db: SessionDep, principal: Reader) -> dict[str, Any]:
    """The campaign and its measured effect: contacted vs holdout, in the window after it."""
    row = winback.get_campaign(db, principal.org_id, winback_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="win-back campaign not found")
    return {**campaign_out(row), "effect": winback.effect(db, principal.org_id, row)}
