"""Dashboard pages: the list, one dashboard's grid (each widget is an HTML fragment loaded by
reports.js, whose numbers come from reports.widgets), and the digest settings (digest_pages).

Viewing needs `stats:read`; creating a dashboard here needs the owner, admin or analyst
role. Editing the grid (add, move, resize, remove widgets, change the saved filters) is done
by reports.js through the JSON API, so the page and the API share one set of rules.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from npsloop.accounts.deps import Principal, require
from npsloop.accounts.service import get_organization
from npsloop.analytics import movers as movers_module
from npsloop.analytics import trends
from npsloop.core.deps import LangDep, SessionDep, SettingsDep
from npsloop.reports import api as reports_api
from npsloop.reports import digest_pages, service, widgets
from npsloop.reports.models import Dashboard
from npsloop.surveys import service as surveys
from npsloop.web.templating import render

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require("stats:read", page=True))]
# Owners, admins and analysts build dashboards and digests (declared on the route, so the
# role matrix and the OpenAPI spec see it).
Editor = Annotated[Principal, Depends(require("survey:write", page=True))]
FILTER_FIELDS = ("survey_id", "channel", "language", "touchpoint", "journey_stage",
                 "nps_type", "lifecycle_stage")


async def posted_form(request: Request) -> FormData:
    return await request.form()


FormDep = Annotated[FormData, Depends(posted_form)]


def _tz(db: SessionDep, org_id: str) -> str:
    org = get_organization(db, org_id)
    return org.timezone if org else "Asia/Shanghai"


def _load(db: SessionDep, principal: Principal, dashboard_id: str) -> Dashboard:
    dashboard = service.get_dashboard(db, reports_api.viewer_of(principal), dashboard_id)
    if dashboard is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="dashboard not found")
    return dashboard


def catalogue() -> dict[str, Any]:
    """What the add-widget form offers: kinds and the choices of their options."""
    return {
        "kinds": list(widgets.CATALOGUE),
        "groupable": list(widgets.GROUPABLE),
        "buckets": list(trends.BUCKETS),
        "mover_dimensions": list(movers_module.MOVER_DIMENSIONS),
        "widths": list(widgets.WIDTHS),
    }


@router.get("/dashboards", response_class=HTMLResponse)
def dashboard_list(request: Request, db: SessionDep, principal: Reader) -> HTMLResponse:
    request.state.principal = principal
    rows = service.list_dashboards(db, reports_api.viewer_of(principal))
    return render(request, "reports_dashboards.html", {
        "dashboards": rows, "can_edit": service.can_edit(principal.role),
        "periods": service.PERIODS, "errors": {}, "values": {},
    })


@router.post("/dashboards", response_class=HTMLResponse)
def create_dashboard(request: Request, db: SessionDep, principal: Editor,
                     form: FormDep) -> Any:
    request.state.principal = principal
    values = {k: str(form.get(k, "")) for k in ("name", "description", "period")}
    body: dict[str, Any] = {
        "name": values["name"], "description": values["description"],
        "shared": form.get("shared") == "on",
        "filters": {"period": values["period"]} if values["period"] else {},
        # A new dashboard starts with the overview widgets; the user edits from there.
        "widgets": [{"kind": "scorecard"}, {"kind": "trend", "options": {"bucket": "week"}},
                    {"kind": "nps_by", "options": {"group_by": "touchpoint"}},
                    {"kind": "movers"}],
    }
    try:
        dashboard = service.save_dashboard(db, reports_api.viewer_of(principal),
                                           _tz(db, principal.org_id), body)
    except service.ReportError as exc:
        rows = service.list_dashboards(db, reports_api.viewer_of(principal))
        return render(request, "reports_dashboards.html", {
            "dashboards": rows, "can_edit": True, "periods": service.PERIODS,
            "errors": {exc.field.split(".")[0]: exc.message}, "values": values,
        }, status_code=422)
    db.commit()
    return RedirectResponse(f"/dashboards/{dashboard.id}?edit=1", status_code=303)


@router.get("/dashboards/{dashboard_id}", response_class=HTMLResponse)
def dashboard_view(dashboard_id: str, request: Request, db: SessionDep, principal: Reader,
                   edit: int = 0) -> HTMLResponse:
    request.state.principal = principal
    dashboard = _load(db, principal, dashboard_id)
    can_edit = service.can_edit(principal.role)
    survey_rows, _ = surveys.list_surveys(db, org_id=principal.org_id, limit=500)
    return render(request, "reports_dashboard.html", {
        "dashboard": dashboard, "saved": service.as_object(dashboard.filters),
        "can_edit": can_edit, "editing": bool(edit) and can_edit,
        "catalogue": catalogue(), "periods": service.PERIODS,
        "surveys": sorted(survey_rows, key=lambda s: s.name),
        "filter_fields": FILTER_FIELDS,
        # Filters in the page URL narrow every widget (a shareable view); not these two.
        "widget_query": urlencode([(k, v) for k, v in request.query_params.multi_items()
                            if k not in ("edit", "lang")]),
        "survey_names": {s.id: s.name for s in survey_rows},
    })


@router.get("/dashboards/{dashboard_id}/widgets/{widget_id}", response_class=HTMLResponse)
def widget_fragment(dashboard_id: str, widget_id: str, request: Request, db: SessionDep,
                    settings: SettingsDep, lang: LangDep, principal: Reader) -> HTMLResponse:
    """One widget's body as HTML (tables) with its chart data as JSON for reports.js."""
    request.state.principal = principal
    dashboard = _load(db, principal, dashboard_id)
    widget = service.find_widget(dashboard, widget_id)
    if widget is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="widget not found")
    try:
        payload = reports_api.widget_payload(request, db, settings, lang, principal,
                                             dashboard, widget)
        error = None
    except HTTPException as exc:
        if exc.status_code != 422:
            raise
        payload, error = None, exc.detail
    return render(request, "reports_widget.html", {
        "widget": widget, "payload": payload, "error": error,
        "min_n": settings.min_responses_for_stats,
        "fmt": lambda v, d=1: "—" if v is None else f"{v:.{d}f}",
        "signed": lambda v: "—" if v is None else f"{v:+.1f}",
        "tone": lambda v: "none" if v is None else (
            "good" if v >= 30 else ("fair" if v >= 0 else "poor")),
        "survey_names": {s.id: s.name for s in surveys.list_surveys(
            db, org_id=principal.org_id, limit=500)[0]} if widget.kind == "nps_by" else {},
    })


router.include_router(digest_pages.router)
