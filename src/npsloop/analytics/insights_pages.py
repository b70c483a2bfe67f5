"""Analysis pages: key drivers (with the priority matrix), cross-tabs and the journey map.

Every number comes from the same service functions as the API (drivers, crosstab,
journey), with the same filters parsed the same way, so a page and its API answer agree.
Charts are small server-drawn SVGs (no script needed; the CSP allows no inline script).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse

from npsloop.accounts.deps import Principal, require
from npsloop.analytics import crosstab as xtab
from npsloop.analytics import drivers as kda
from npsloop.analytics import journey, profiling
from npsloop.analytics.params import FilterContext, resolve_filters
from npsloop.core.deps import LangDep, SessionDep, SettingsDep
from npsloop.surveys.models import Survey
from npsloop.web.templating import render

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require("stats:read", page=True))]
PAGE_PARAMS = ("rows", "cols", "bucket", "order", "event", "attribute", "value")
CROSSTAB_DIMENSIONS = ("survey", "nps_type", "touchpoint", "journey_stage", "channel",
                       "language", "lifecycle_stage", "month", "quarter", "week")
QUADRANT_TONE = {"fix_first": "detractor", "keep_up": "promoter",
                 "lower_priority": "neutral", "possible_overkill": "passive"}


def _context(request: Request, db: SessionDep, principal: Principal) -> tuple[
    FilterContext | None, list[tuple[str, str]]
]:
    """The filters, or the problems to show instead of numbers (never a bare 4xx page)."""
    try:
        return resolve_filters(request, db, principal, allowed=PAGE_PARAMS), []
    except HTTPException as exc:
        if isinstance(exc.detail, list):
            return None, [(str(e["loc"][-1]), str(e["msg"])) for e in exc.detail]
        return None, [("survey_id", str(exc.detail))]


def _base(request: Request, db: SessionDep, principal: Principal) -> dict[str, Any]:
    request.state.principal = principal
    surveys = db.query(Survey.id, Survey.name).filter(Survey.org_id == principal.org_id) \
        .order_by(Survey.created_at).all()
    params = request.query_params
    return {"surveys": surveys, "survey_id": params.get("survey_id", ""),
            "date_from": params.get("from", ""), "date_to": params.get("to", ""),
            "query": str(params)}


# --- Priority matrix as SVG -----------------------------------------------------------

MATRIX_W, MATRIX_H, PAD = 560, 360, 44


def priority_matrix(result: kda.DriverAnalysis) -> dict[str, Any] | None:
    """Dot positions for importance (share of R^2, y) against performance (mean rating, x),
    with the split lines at the means."""
    points = [d for d in result.drivers if d.weight is not None and d.mean is not None]
    if not points or result.r2 is None or result.mean_importance is None:
        return None
    shares = [d.share or 0.0 for d in points]
    means = [d.mean or 0.0 for d in points]
    # Zoom on the ratings actually given (at least one point wide), within the 1-5 scale.
    centre = (min(means) + max(means)) / 2
    half = max((max(means) - min(means)) / 2 + 0.25, 0.5)
    x_low, x_high = max(1.0, centre - half), min(5.0, centre + half)
    y_high = max(max(shares) * 1.15, 0.05)

    def x(value: float) -> float:
        return PAD + (value - x_low) / (x_high - x_low) * (MATRIX_W - 2 * PAD)

    def y(value: float) -> float:
        return MATRIX_H - PAD - value / y_high * (MATRIX_H - 2 * PAD)

    split_y = result.mean_importance / result.r2 if result.r2 > 0 else 0.0
    return {
        "width": MATRIX_W, "height": MATRIX_H, "pad": PAD,
        "split_x": round(x(result.mean_performance or 0.0), 1),
        "split_y": round(y(split_y), 1),
        "x_ticks": [(round(x(x_low + (x_high - x_low) * k / 4), 1),
                     f"{x_low + (x_high - x_low) * k / 4:.1f}") for k in range(5)],
        "y_ticks": [(round(y(v), 1), f"{v * 100:.0f}%")
                    for v in (0.0, y_high / 2, y_high)],
        "dots": _spread_labels([
            {"x": round(x(d.mean or 0.0), 1), "y": round(y(d.share or 0.0), 1),
             "label": d.label, "tone": QUADRANT_TONE[d.quadrant or "lower_priority"]}
            for d in points]),
    }


def _spread_labels(dots: list[dict[str, Any]], gap: float = 15.0) -> list[dict[str, Any]]:
    """Label baselines pushed apart where two dots sit close, so names never overprint."""
    placed: list[dict[str, Any]] = []
    for dot in sorted(dots, key=lambda d: d["y"]):
        dot["label_y"] = dot["y"] + 4
        for other in placed:
            if abs(other["x"] - dot["x"]) < 140 and abs(other["label_y"] - dot["label_y"]) < gap:
                dot["label_y"] = other["label_y"] + gap
        placed.append(dot)
    return placed


@router.get("/insights/drivers", response_class=HTMLResponse)
def drivers_page(
    request: Request, db: SessionDep, settings: SettingsDep, principal: Reader, lang: LangDep,
) -> HTMLResponse:
    page = _base(request, db, principal)
    context, errors = _context(request, db, principal)
    result = None
    if context is not None:
        result = kda.key_drivers(db, org_id=context.org_id, filters=context.filters, lang=lang,
                                 min_n=settings.min_responses_for_stats)
    return render(request, "insights_drivers.html", {
        **page, "errors": errors, "result": result,
        "matrix": priority_matrix(result) if result else None,
        "quadrant_tone": QUADRANT_TONE,
    }, status_code=422 if errors else 200)


# --- Cross-tab ------------------------------------------------------------------------


def heat(nps: float | None) -> str:
    """Cell background: red below 0, green above, stronger with distance (CSS colour)."""
    if nps is None:
        return "transparent"
    strength = min(abs(nps) / 60.0, 1.0) * 0.55 + 0.08
    return (f"rgba(18, 168, 103, {strength:.2f})" if nps >= 0
            else f"rgba(239, 68, 68, {strength:.2f})")


@router.get("/insights/crosstab", response_class=HTMLResponse)
def crosstab_page(
    request: Request, db: SessionDep, settings: SettingsDep, principal: Reader,
) -> HTMLResponse:
    page = _base(request, db, principal)
    rows = request.query_params.get("rows") or "channel"
    cols = request.query_params.get("cols") or "month"
    context, errors = _context(request, db, principal)
    result = None
    if context is not None:
        try:
            result = xtab.crosstab(db, org_id=context.org_id, filters=context.filters,
                                   rows=rows, cols=cols, tz=context.tz,
                                   min_n=settings.min_responses_for_stats)
        except xtab.CrosstabError as exc:
            errors = [(exc.field, exc.message)]
    export = context.filters.query_string() if context else ""
    return render(request, "insights_crosstab.html", {
        **page, "errors": errors, "result": result, "rows": rows, "cols": cols,
        "dimensions": CROSSTAB_DIMENSIONS, "heat": heat,
        "export_query": f"rows={rows}&cols={cols}" + (f"&{export}" if export else ""),
    }, status_code=422 if errors else 200)


# --- Journey map ----------------------------------------------------------------------

SPARK_W, SPARK_H = 120, 28


def sparkline(points: list[dict[str, Any]]) -> str | None:
    """SVG polyline points of NPS across buckets, scaled to the line's own range (at least
    20 points tall, so noise stays flat); buckets without responses are skipped."""
    values = [(i, p["nps"]) for i, p in enumerate(points) if p["nps"] is not None]
    if len(values) < 2:
        return None
    low, high = min(v for _, v in values), max(v for _, v in values)
    middle, span = (low + high) / 2, max(high - low, 20.0)
    step = SPARK_W / max(len(points) - 1, 1)
    return " ".join(
        f"{i * step:.1f},{(0.5 - (v - middle) / span) * SPARK_H:.1f}" for i, v in values)


@router.get("/insights/journey", response_class=HTMLResponse)
def journey_page(
    request: Request, db: SessionDep, settings: SettingsDep, principal: Reader, lang: LangDep,
) -> HTMLResponse:
    page = _base(request, db, principal)
    context, errors = _context(request, db, principal)
    data = None
    if context is not None:
        order = [s for s in (request.query_params.get("order") or "").split(",") if s]
        result = journey.journey_map(db, org_id=context.org_id, filters=context.filters,
                                     tz=context.tz, order=order, lang=lang)
        data = journey.as_dict(result, settings.min_responses_for_stats)
    return render(request, "insights_journey.html", {
        **page, "errors": errors, "data": data, "sparkline": sparkline,
        "spark_w": SPARK_W, "spark_h": SPARK_H,
    }, status_code=422 if errors else 200)


# --- Profiling ------------------------------------------------------------------------


@router.get("/insights/profile", response_class=HTMLResponse)
def profile_page(
    request: Request, db: SessionDep, settings: SettingsDep, principal: Reader,
) -> HTMLResponse:
    page = _base(request, db, principal)
    context, errors = _context(request, db, principal)
    params = request.query_params
    event, attribute, value = (params.get("event") or "", params.get("attribute") or "",
                               params.get("value") or "")
    result = churn = None
    if context is not None:
        result = profiling.over_index(db, org_id=context.org_id, filters=context.filters)
        if event or (attribute and value):
            churn = profiling.churn(db, org_id=context.org_id, filters=context.filters,
                                    tz=context.tz, event=event or None,
                                    attribute=attribute or None, value=value or None,
                                    min_n=settings.min_responses_for_stats)
        elif attribute:
            errors = [("value", "give the attribute value that means churned")]
    history = None
    if churn is not None:
        history = {name: sparkline([{"nps": s.nps} for _, s in group.history])
                   for name, group in (("churned", churn.churned), ("retained", churn.retained))}
    return render(request, "insights_profile.html", {
        **page, "errors": errors, "result": result, "churn": churn, "history": history,
        "event": event, "attribute": attribute, "value": value,
        "spark_w": SPARK_W, "spark_h": SPARK_H,
    }, status_code=422 if errors else 200)
