"""Dashboards API under /api/v1/dashboards and digest settings under /api/v1/digests
(digest_api.py); the digest job itself is declared in jobs.py (run by serve and worker).

Everyone in the organisation reads shared dashboards (and their own private ones); owners,
admins and analysts create and edit them. Another organisation's dashboard is a 404, a
private dashboard of someone else too.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request, status
from fastapi.responses import Response as HttpResponse

from npsloop.accounts.deps import Principal, require
from npsloop.accounts.service import get_organization
from npsloop.core.deps import LangDep, SessionDep, SettingsDep
from npsloop.reports import digest_api, service, widgets
from npsloop.reports.models import Dashboard, DashboardWidget

router = APIRouter()
api = APIRouter(prefix="/api/v1/dashboards", tags=["dashboards"])
Reader = Annotated[Principal, Depends(require("stats:read"))]
# Owners, admins and analysts build dashboards and digests (declared on the route, so the
# role matrix and the OpenAPI spec see it).
Editor = Annotated[Principal, Depends(require("survey:write"))]


def unprocessable(field: str, message: str, where: str = "body") -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                         detail=[{"loc": [where, *field.split(".")], "msg": message,
                                  "type": "value_error"}])


def viewer_of(principal: Principal) -> service.Viewer:
    return service.Viewer(principal.org_id, principal.role, principal.user_id, principal.actor)


def org_tz(db: SessionDep, org_id: str) -> str:
    org = get_organization(db, org_id)
    return org.timezone if org else "UTC"


def load(db: SessionDep, principal: Principal, dashboard_id: str) -> Dashboard:
    dashboard = service.get_dashboard(db, viewer_of(principal), dashboard_id)
    if dashboard is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            detail=f"dashboard '{dashboard_id}' not found")
    return dashboard


def widget_out(widget: DashboardWidget) -> dict[str, Any]:
    return {"id": widget.id, "kind": widget.kind, "title": widget.title,
            "position": widget.position, "width": widget.width, "options": widget.options}


def dashboard_out(dashboard: Dashboard, *, full: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": dashboard.id, "name": dashboard.name, "description": dashboard.description,
        "owner": dashboard.owner_label, "owner_id": dashboard.owner_id,
        "shared": dashboard.shared, "filters": service.as_object(dashboard.filters),
        "created_at": dashboard.created_at.isoformat(),
        "updated_at": dashboard.updated_at.isoformat() if dashboard.updated_at else None,
    }
    if full:
        out["widgets"] = [widget_out(w) for w in dashboard.widgets]
    else:
        out["widget_count"] = len(dashboard.widgets)
    return out


@api.get("")
def list_dashboards(db: SessionDep, principal: Reader) -> dict[str, Any]:
    rows = service.list_dashboards(db, viewer_of(principal))
    return {"items": [dashboard_out(d, full=False) for d in rows],
            "can_edit": service.can_edit(principal.role),
            "catalogue": [{"kind": k.name, "default_width": k.default_width}
                          for k in widgets.CATALOGUE.values()]}


@api.post("", status_code=status.HTTP_201_CREATED)
def create_dashboard(db: SessionDep, principal: Editor,
                     body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    try:
        dashboard = service.save_dashboard(db, viewer_of(principal),
                                           org_tz(db, principal.org_id), body)
    except service.ReportError as exc:
        raise unprocessable(exc.field, exc.message) from exc
    db.commit()
    return dashboard_out(dashboard)


@api.get("/{dashboard_id}")
def get_dashboard(dashboard_id: str, db: SessionDep, principal: Reader) -> dict[str, Any]:
    return dashboard_out(load(db, principal, dashboard_id))


@api.put("/{dashboard_id}")
def update_dashboard(dashboard_id: str, db: SessionDep, principal: Editor,
                     body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    dashboard = load(db, principal, dashboard_id)
    try:
        service.save_dashboard(db, viewer_of(principal), org_tz(db, principal.org_id), body,
                               dashboard)
    except service.ReportError as exc:
        raise unprocessable(exc.field, exc.message) from exc
    db.commit()
    return dashboard_out(dashboard)


@api.delete("/{dashboard_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_dashboard(dashboard_id: str, db: SessionDep, principal: Editor) -> HttpResponse:
    dashboard = load(db, principal, dashboard_id)
    db.delete(dashboard)
    db.commit()
    return HttpResponse(status_code=status.HTTP_204_NO_CONTENT)


@api.post("/{dashboard_id}/widgets", status_code=status.HTTP_201_CREATED)
def add_widget(dashboard_id: str, db: SessionDep, principal: Editor,
               body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    dashboard = load(db, principal, dashboard_id)
    try:
        widget = service.add_widget(db, dashboard, body)
    except service.ReportError as exc:
        raise unprocessable(exc.field, exc.message) from exc
    db.commit()
    return widget_out(widget)


@api.delete("/{dashboard_id}/widgets/{widget_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_widget(dashboard_id: str, widget_id: str, db: SessionDep,
                  principal: Editor) -> HttpResponse:
    dashboard = load(db, principal, dashboard_id)
    if not service.remove_widget(db, dashboard, widget_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"widget '{widget_id}' not found")
    db.commit()
    return HttpResponse(status_code=status.HTTP_204_NO_CONTENT)


def widget_payload(request: Request, db: SessionDep, settings: SettingsDep, lang: str,
                   principal: Principal, dashboard: Dashboard, widget: DashboardWidget
                   ) -> dict[str, Any]:
    """The widget's data under the dashboard's saved filters; filter parameters in the
    query string override the saved ones (so a view can be narrowed and shared)."""
    tz = org_tz(db, principal.org_id)
    overrides: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        if key != "lang":
            overrides.setdefault(key, []).append(value)
    try:
        filters = service.effective_filters(db, principal.org_id, tz, dashboard.filters,
                                            overrides)
    except service.ReportError as exc:
        raise unprocessable(exc.field.removeprefix("filters."), exc.message, "query") from exc
    ctx = widgets.Context(db, principal.org_id, filters, tz,
                          settings.min_responses_for_stats, lang)
    try:
        data = widgets.widget_data(ctx, widget.kind, widget.options)
    except widgets.WidgetError as exc:
        raise unprocessable(exc.field, exc.message, "widget") from exc
    return {"widget": widget_out(widget), "filters": filters.as_dict(),
            "share_query": filters.query_string(), "time_zone": tz, "data": data}


@api.get("/{dashboard_id}/widgets/{widget_id}/data")
def widget_data(dashboard_id: str, widget_id: str, request: Request, db: SessionDep,
                settings: SettingsDep, lang: LangDep, principal: Reader) -> dict[str, Any]:
    dashboard = load(db, principal, dashboard_id)
    widget = service.find_widget(dashboard, widget_id)
    if widget is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"widget '{widget_id}' not found")
    return widget_payload(request, db, settings, lang, principal, dashboard, widget)


router.include_router(api)
router.include_router(digest_api.api)
