"""Outcome pages: rates by category with their intervals, the model cards, the at-risk
list and the outcome settings (/outcomes), and win-back campaigns with their measured
effect (/outcomes/winback).

Reading needs `stats:read`; settings, fitting and campaigns need `survey:write`.
Bars are drawn server-side (widths in percent), so the page needs no script.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.datastructures import FormData

from npsloop.accounts.deps import Principal, require
from npsloop.accounts.service import audit, get_organization
from npsloop.analytics.filters import FilterError, Filters, check_references, parse_filters
from npsloop.contacts.models import Contact
from npsloop.core.deps import SessionDep, request_language
from npsloop.outcomes import model, rates, service, winback
from npsloop.outcomes.models import ContactScore, Outcome
from npsloop.referrals.campaigns import reachable_channels
from npsloop.web.templating import render

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require("stats:read", page=True))]
Writer = Annotated[Principal, Depends(require("survey:write", page=True))]
WINDOWS = (7, 14, 30, 60, 90)
AT_RISK_ROWS = 15


async def posted_form(request: Request) -> FormData:
    return await request.form()


FormDep = Annotated[FormData, Depends(posted_form)]


def _page(request: Request, principal: Principal, name: str, context: dict[str, Any],
          status_code: int = 200) -> HTMLResponse:
    request.state.principal = principal
    base = {"can_write": principal.can("survey:write"), "pct": pct, "signed_pct": signed_pct,
            "fmt_p": fmt_p}
    return render(request, name, {**base, **context}, status_code=status_code)


def pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def signed_pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:+.1f}"


def fmt_p(value: float | None) -> str:
    if value is None:
        return "—"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _filters(request: Request, db: SessionDep, org_id: str) -> tuple[Filters, dict[str, str]]:
    """The page's filters (survey, from, to); a bad one is reported and left out."""
    org = get_organization(db, org_id)
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        if key in ("from", "to", "survey_id") and value:
            params.setdefault(key, []).append(value)
    try:
        filters = parse_filters(params, org.timezone if org else "UTC", strict=False)
        check_references(db, org_id, filters)
    except FilterError as exc:
        return Filters(), {exc.field: exc.message}
    except LookupError as exc:
        return Filters(), {"survey_id": str(exc)}
    return filters, {}


def _window(request: Request, default: int) -> int:
    raw = request.query_params.get("window_days", "")
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= service.MAX_WINDOW_DAYS else default


def _at_risk(db: SessionDep, org_id: str) -> list[Any]:
    return list(db.execute(
        select(ContactScore, Contact.external_id, Contact.email)
        .join(Contact, Contact.id == ContactScore.contact_id)
        .where(ContactScore.org_id == org_id, Contact.org_id == org_id,
               ContactScore.category == "detractor")
        .order_by(ContactScore.churn_risk.desc(), ContactScore.contact_id)
        .limit(AT_RISK_ROWS)).all())


def _outcomes_context(request: Request, db: SessionDep, org_id: str) -> dict[str, Any]:
    settings = service.get_settings(db, org_id)
    window = _window(request, settings.window_days)
    filters, errors = _filters(request, db, org_id)
    from npsloop.surveys.models import Survey

    surveys = db.execute(select(Survey.id, Survey.name).where(Survey.org_id == org_id)
                         .order_by(Survey.created_at)).all()
    cards = {}
    for outcome in Outcome:
        found = model.latest_model(db, org_id, outcome)
        cards[outcome.value] = model.model_card(found) if found else None
    from npsloop.textmining.models import TextTopic

    zh = request_language(request) == "zh-CN"
    topic_names = {key: name_zh if zh else name_en for key, name_zh, name_en in db.execute(
        select(TextTopic.key, TextTopic.name_zh, TextTopic.name_en)
        .where(TextTopic.org_id == org_id))}
    return {
        "topic_names": topic_names,
        "settings": settings, "window": window, "windows": sorted({*WINDOWS, window}),
        "filters": filters, "surveys": surveys,
        "rates": {o.value: rates.outcome_rates(db, org_id, filters, outcome=o,
                                               window_days=window) for o in Outcome},
        "cards": cards, "at_risk": _at_risk(db, org_id), "errors": errors, "notice": "",
    }


@router.get("/outcomes", response_class=HTMLResponse)
def outcomes_page(request: Request, db: SessionDep, principal: Reader) -> HTMLResponse:
    context = _outcomes_context(request, db, principal.org_id)
    context["notice"] = request.query_params.get("done", "")[:16]
    return _page(request, principal, "outcomes/outcomes.html", context)


@router.post("/outcomes/settings", response_class=HTMLResponse)
def save_settings(request: Request, db: SessionDep, principal: Writer,
                  form: FormDep) -> Response:
    values = {"repurchase_event": str(form.get("repurchase_event") or ""),
              "churn_event": str(form.get("churn_event") or "")
              if form.get("churn_mode") != "inactive" else "",
              "window_days": str(form.get("window_days") or "")}
    try:
        service.save_settings(db, principal.org_id, values)
    except service.OutcomeError as exc:
        db.rollback()
        context = _outcomes_context(request, db, principal.org_id)
        context["errors"] = {exc.field: exc.message}
        return _page(request, principal, "outcomes/outcomes.html", context, status_code=422)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="outcomes.settings",
          detail={"fields": sorted(values)})
    db.commit()
    return RedirectResponse("/outcomes?done=saved", status_code=303)


@router.post("/outcomes/fit", response_class=HTMLResponse)
def fit(request: Request, db: SessionDep, principal: Writer) -> Response:
    try:
        result = model.fit_org(db, principal.org_id, actor=principal.actor)
    except service.OutcomeError as exc:
        db.rollback()
        context = _outcomes_context(request, db, principal.org_id)
        context["errors"] = {exc.field: exc.message}
        return _page(request, principal, "outcomes/outcomes.html", context, status_code=409)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="outcomes.fit",
          detail={k: v["holdout_auc"] for k, v in result["models"].items()})
    db.commit()
    return RedirectResponse("/outcomes?done=fitted", status_code=303)


# -- win-back ----------------------------------------------------------------------------


def _winback_context(db: SessionDep, org_id: str) -> dict[str, Any]:
    from npsloop.contacts.segments import list_segments

    return {"channels": reachable_channels(db, org_id),
            "campaigns": winback.list_campaigns(db, org_id),
            "segments": list_segments(db, org_id=org_id),
            "has_scores": db.scalar(select(ContactScore.contact_id).where(
                ContactScore.org_id == org_id).limit(1)) is not None}


DEFAULT_VALUES = {"name": "", "min_risk": "0.15", "segment_id": "", "holdout_share": "0.15",
                  "window_days": "", "offer_zh": "", "offer_en": ""}


@router.get("/outcomes/winback", response_class=HTMLResponse)
def winback_page(request: Request, db: SessionDep, principal: Reader) -> HTMLResponse:
    return _page(request, principal, "outcomes/winback.html", {
        **_winback_context(db, principal.org_id), "values": dict(DEFAULT_VALUES),
        "errors": {}, "result": None})


def _number(raw: str, field: str) -> float | None:
    if not raw.strip():
        return None
    try:
        return float(raw)
    except ValueError as exc:
        raise service.OutcomeError(field, f"'{raw}' is not a number") from exc


@router.post("/outcomes/winback", response_class=HTMLResponse)
def run_winback(request: Request, db: SessionDep, principal: Writer,
                form: FormDep) -> Response:
    values = {k: str(form.get(k) or "").strip() for k in DEFAULT_VALUES}
    values["name"] = values["name"][:200]
    channel_ids = [str(v) for v in form.getlist("channel_ids")]
    dry_run = form.get("action") != "send"
    result, errors = None, {}
    try:
        window = values["window_days"]
        result = winback.run(
            db, org_id=principal.org_id, name=values["name"],
            min_risk=_number(values["min_risk"], "min_risk"),
            segment_id=values["segment_id"] or None,
            holdout_share=_number(values["holdout_share"], "holdout_share") or 0.0,
            window_days=service.check_window(window) if window else None,
            offer_zh=values["offer_zh"][:500], offer_en=values["offer_en"][:500],
            channel_ids=channel_ids, actor=principal.actor, dry_run=dry_run)
    except service.OutcomeError as exc:
        db.rollback()
        errors[exc.field] = exc.message
    if result and not dry_run:
        audit(db, org_id=principal.org_id, actor=principal.actor, action="outcomes.winback",
              target=("winback_campaign", result["campaign_id"]),
              detail={"contacted": result["contacted"], "holdout": result["holdout"]})
        db.commit()
        return RedirectResponse(f"/outcomes/winback/{result['campaign_id']}", status_code=303)
    return _page(request, principal, "outcomes/winback.html", {
        **_winback_context(db, principal.org_id), "values": {**values,
                                                             "channel_ids": channel_ids},
        "errors": errors, "result": result}, status_code=422 if errors else 200)


@router.get("/outcomes/winback/{winback_id}", response_class=HTMLResponse)
def winback_detail(winback_id: str, request: Request, db: SessionDep,
                   principal: Reader) -> HTMLResponse:
    campaign = winback.get_campaign(db, principal.org_id, winback_id)
    if campaign is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="win-back campaign not found")
    return _page(request, principal, "outcomes/winback_detail.html", {
        "campaign": campaign, "effect": winback.effect(db, principal.org_id, campaign)})
