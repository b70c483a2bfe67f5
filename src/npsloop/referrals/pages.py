"""Referral and lifecycle pages: the referral funnel and advocates, the programme settings,
ask-promoter campaigns, and the lifecycle-stage view.

Reading needs `stats:read`; settings and campaigns need `survey:write`. Numbers come from
referrals.funnel / referrals.lifecycle; charts get them as embedded JSON (no inline scripts).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from npsloop.accounts.deps import Principal, require
from npsloop.accounts.service import audit, get_organization
from npsloop.core.deps import SessionDep, SettingsDep, request_language
from npsloop.core.i18n import translate
from npsloop.core.timeutil import parse_bound
from npsloop.referrals import campaigns, codes, funnel, lifecycle, service
from npsloop.referrals.api_lifecycle import lifecycle_view
from npsloop.referrals.schemas import SettingsIn
from npsloop.web.templating import render

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require("stats:read", page=True))]
Writer = Annotated[Principal, Depends(require("survey:write", page=True))]
PRESETS = {"30d": 30, "90d": 90, "12m": 365}
DEFAULT_PRESET = "90d"
SETTINGS_FIELDS = ("landing_url", "code_param", "review_url", "share_text_zh", "share_text_en",
                   "incentive_zh", "incentive_en", "burst_max_visits", "burst_window_minutes")


async def posted_form(request: Request) -> FormData:
    return await request.form()


FormDep = Annotated[FormData, Depends(posted_form)]


def _page(request: Request, principal: Principal, name: str, context: dict[str, Any],
          status_code: int = 200) -> HTMLResponse:
    request.state.principal = principal
    base = {"can_write": principal.can("survey:write"), "fmt_pct": fmt_pct, "fmt": fmt,
            "display_code": codes.display}
    return render(request, name, {**base, **context}, status_code=status_code)


def fmt_pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def fmt(value: float | None, digits: int = 1, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _range(db: SessionDep, org_id: str, preset: str) -> tuple[Any, Any, str, str, str]:
    org = get_organization(db, org_id)
    tz = org.timezone if org else "Asia/Shanghai"
    preset = preset if preset in PRESETS else DEFAULT_PRESET
    today = date.today() if org is None else _local_today(tz)
    start = today - timedelta(days=PRESETS[preset] - 1)
    lo = parse_bound(start.isoformat(), tz, end=False, field="from")
    hi = parse_bound(today.isoformat(), tz, end=True, field="to")
    return lo, hi, tz, preset, start.isoformat()


def _local_today(tz: str) -> date:
    return datetime.now(ZoneInfo(tz)).date()


@router.get("/referrals", response_class=HTMLResponse)
def referrals_page(request: Request, db: SessionDep, settings: SettingsDep, principal: Reader,
                   preset: Annotated[str, Query(max_length=8)] = DEFAULT_PRESET) -> HTMLResponse:
    lang = request_language(request)
    lo, hi, tz, preset, start = _range(db, principal.org_id, preset)
    org_id = principal.org_id
    steps = funnel.funnel(db, org_id, lo, hi)
    data = {
        "funnel": [{"label": translate(f"referrals.funnel.{key}", lang), "value": steps[key]}
                   for key in ("asked", "shared", "visits", "conversions")],
        "weekly": funnel.weekly_activity(db, org_id, lo, hi, tz),
        "labels": {k: translate(f"referrals.funnel.{k}", lang)
                   for k in ("asked", "visits", "conversions")},
    }
    return _page(request, principal, "referrals/dashboard.html", {
        "preset": preset, "presets": list(PRESETS), "start": start,
        "steps": steps, "per_promoter": funnel.per_promoter(db, org_id, lo, hi),
        "advocates": funnel.top_advocates(db, org_id, 10),
        "by_touchpoint": funnel.breakdown(db, org_id, "touchpoint", lo, hi),
        "by_stage": funnel.breakdown(db, org_id, "lifecycle_stage", lo, hi),
        "by_segment": funnel.breakdown(db, org_id, "segment", lo, hi),
        "referred": funnel.referred_vs_others(db, org_id, lo, hi,
                                              settings.min_responses_for_stats),
        "programme": service.get_settings(db, org_id),
        "chart_data": data,
    })


# -- settings ----------------------------------------------------------------------------


def _settings_values(row: Any) -> dict[str, Any]:
    return {name: getattr(row, name) for name in (*SETTINGS_FIELDS, "enabled")}


@router.get("/referrals/settings", response_class=HTMLResponse)
def settings_page(request: Request, db: SessionDep, principal: Writer,
                  saved: Annotated[str, Query(max_length=2)] = "") -> HTMLResponse:
    row = service.get_settings(db, principal.org_id)
    return _page(request, principal, "referrals/settings.html", {
        "values": _settings_values(row), "errors": {}, "saved": bool(saved)})


@router.post("/referrals/settings", response_class=HTMLResponse)
def save_settings(request: Request, db: SessionDep, principal: Writer,
                  form: FormDep) -> Response:
    data: dict[str, Any] = {name: str(form.get(name) or "").strip() for name in SETTINGS_FIELDS}
    data["enabled"] = form.get("enabled") == "on"
    for name in ("burst_max_visits", "burst_window_minutes"):
        data[name] = data[name] or None
    data["code_param"] = data["code_param"] or "ref"
    try:
        body = SettingsIn.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        errors = {str(e["loc"][0]): e["msg"] for e in exc.errors() if e.get("loc")}
        return _page(request, principal, "referrals/settings.html",
                     {"values": data, "errors": errors, "saved": False}, status_code=422)
    values = body.model_dump(exclude_unset=True)
    service.save_settings(db, principal.org_id, values)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="referral.settings",
          detail={"fields": sorted(values)})
    db.commit()
    return RedirectResponse("/referrals/settings?saved=1", status_code=303)


# -- campaigns ---------------------------------------------------------------------------


def _campaign_context(db: SessionDep, org_id: str) -> dict[str, Any]:
    return {"channels": campaigns.reachable_channels(db, org_id),
            "campaigns": campaigns.list_campaigns(db, org_id),
            "programme": service.get_settings(db, org_id)}


@router.get("/referrals/campaigns", response_class=HTMLResponse)
def campaigns_page(request: Request, db: SessionDep, principal: Reader) -> HTMLResponse:
    context = _campaign_context(db, principal.org_id)
    return _page(request, principal, "referrals/campaigns.html", {
        **context, "values": {"purpose": "refer", "lookback_days": 30, "name": ""},
        "errors": {}, "result": None})


@router.post("/referrals/campaigns", response_class=HTMLResponse)
def run_campaign(request: Request, db: SessionDep, settings: SettingsDep, principal: Writer,
                 form: FormDep) -> HTMLResponse:
    values = {"name": str(form.get("name") or "").strip()[:200],
              "purpose": str(form.get("purpose") or "refer"),
              "lookback_days": str(form.get("lookback_days") or "30"),
              "channel_ids": [str(v) for v in form.getlist("channel_ids")]}
    dry_run = form.get("action") != "send"
    errors: dict[str, str] = {}
    result = None
    days = values["lookback_days"]
    if not days.isdigit() or not 1 <= int(days) <= 365:
        errors["lookback_days"] = translate("referrals.campaigns.days_error",
                                            request_language(request))
    else:
        try:
            result = campaigns.run_campaign(
                db, org_id=principal.org_id, name=values["name"], purpose=values["purpose"],
                lookback_days=int(days), channel_ids=values["channel_ids"],
                actor=principal.actor, base_url=settings.base_url, dry_run=dry_run)
        except service.ReferralError as exc:
            db.rollback()
            errors[exc.field] = exc.message
        else:
            if not dry_run:
                audit(db, org_id=principal.org_id, actor=principal.actor,
                      action="referral.campaign",
                      target=("referral_campaign", result["campaign_id"]),
                      detail={"asked": result["asked"], "purpose": values["purpose"]})
                db.commit()
    context = _campaign_context(db, principal.org_id)
    return _page(request, principal, "referrals/campaigns.html", {
        **context, "values": values, "errors": errors, "result": result},
        status_code=422 if errors else 200)


# -- lifecycle ---------------------------------------------------------------------------


@router.get("/lifecycle", response_class=HTMLResponse)
def lifecycle_page(request: Request, db: SessionDep, settings: SettingsDep, principal: Reader,
                   preset: Annotated[str, Query(max_length=8)] = "12m") -> HTMLResponse:
    lang = request_language(request)
    lo, hi, tz, preset, start = _range(db, principal.org_id, preset)
    view = lifecycle_view(db, principal.org_id, start, None, settings.min_responses_for_stats)
    chart = {"trend": view["trend"], "moves": view["moves"]["by_month"],
             "stages": list(lifecycle.STAGES),
             "labels": {s: translate(f"referrals.stage.{s}", lang)
                        for s in (*lifecycle.STAGES, "unknown")}}
    return _page(request, principal, "referrals/lifecycle.html", {
        "view": view, "preset": preset, "presets": list(PRESETS), "chart_data": chart,
        "matrix_peak": max([1, *(n for row in view["moves"]["matrix"].values()
                                  for n in row.values())])})
