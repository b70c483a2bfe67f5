"""Dashboards without HTTP: saved filters, widgets, who sees and who edits.

Every function takes the organisation and filters by it: another organisation's dashboard
is simply not found. Saved filters are validated with analytics.filters.parse_filters (the
same rules as every statistics URL) plus one extra key, `period` (30d | 90d | 12m), a range
relative to today that keeps a dashboard current without editing its dates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from npsloop.accounts.models import Role
from npsloop.analytics.filters import FilterError, Filters, check_references, parse_filters
from npsloop.core.errors import InputError
from npsloop.core.timeutil import parse_bound
from npsloop.reports import widgets
from npsloop.reports.models import Dashboard, DashboardWidget

PERIODS = ("7d", "30d", "90d", "12m")
PERIOD_PARAM = "period"
EDITOR_ROLES = frozenset({Role.owner.value, Role.admin.value, Role.analyst.value})
MAX_WIDGETS = 24


class ReportError(InputError):
    """Bad input, reported as a 422 naming the field."""


def can_edit(role: str) -> bool:
    return role in EDITOR_ROLES


# --- saved filters ----------------------------------------------------------------------

def filter_params(raw: Any, field: str = "filters") -> dict[str, list[str]]:
    """A filters object ({"channel": "app", "tag": ["a", "b"]}) as query parameters."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ReportError(field, "must be an object of filter parameters")
    params: dict[str, list[str]] = {}
    for key, value in raw.items():
        values = value if isinstance(value, list) else [value]
        if any(not isinstance(v, str | int | float) or isinstance(v, bool) for v in values):
            raise ReportError(f"{field}.{key}", "must be a string or a list of strings")
        params[str(key)] = [str(v) for v in values]
    return params


def period_range(period: str, today: date) -> tuple[date, date]:
    if period.endswith("d"):
        return today - timedelta(days=int(period[:-1]) - 1), today
    try:
        year_ago = today.replace(year=today.year - 1)
    except ValueError:  # 29 February
        year_ago = today.replace(year=today.year - 1, day=28)
    return year_ago + timedelta(days=1), today


def validate_filters(session: Session, org_id: str, tz: str, raw: Any,
                     field: str = "filters") -> list[list[str]]:
    """The saved form: [[name, value], ...] as parse_filters normalised them."""
    params = filter_params(raw, field)
    period = params.pop(PERIOD_PARAM, [None])[-1]
    if period is not None and period not in PERIODS:
        raise ReportError(f"{field}.{PERIOD_PARAM}", f"must be one of {', '.join(PERIODS)}")
    if period and (params.get("from") or params.get("to")):
        raise ReportError(f"{field}.{PERIOD_PARAM}", "give either a period or from/to")
    try:
        parsed = parse_filters(params, tz)
        check_references(session, org_id, parsed)
    except FilterError as exc:
        raise ReportError(f"{field}.{exc.field}", exc.message) from exc
    except LookupError as exc:
        raise ReportError(field, str(exc)) from exc
    pairs = [[k, v] for k, v in parsed.query]
    if period:
        pairs.append([PERIOD_PARAM, period])
    return pairs


def as_object(pairs: list[list[str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key == "tag":
            out.setdefault("tag", []).append(value)
        else:
            out[key] = value
    return out


def effective_filters(session: Session, org_id: str, tz: str, pairs: list[list[str]],
                      overrides: Mapping[str, list[str]] | None = None,
                      now: datetime | None = None) -> Filters:
    """Saved filters (re-validated: a segment may have been deleted since) with a relative
    period turned into local days, and any request overrides on top."""
    params: dict[str, list[str]] = {}
    for key, value in pairs:
        params.setdefault(key, []).append(value)
    for key, values in (overrides or {}).items():
        params[key] = list(values)
    period = params.pop(PERIOD_PARAM, [None])[-1]
    if period and not (params.get("from") or params.get("to")):
        today = (now or datetime.now(ZoneInfo(tz))).astimezone(ZoneInfo(tz)).date()
        start, end = period_range(period, today)
        params["from"], params["to"] = [start.isoformat()], [end.isoformat()]
    try:
        filters = parse_filters(params, tz)
        check_references(session, org_id, filters)
    except FilterError as exc:
        raise ReportError(f"filters.{exc.field}", exc.message) from exc
    except LookupError as exc:
        raise ReportError("filters", str(exc)) from exc
    return filters


def shift_to(filters: Filters, start: datetime, end: datetime) -> Filters:
    return replace(filters, date_from=start, date_to=end)


def local_bound(day: date, tz: str, *, end: bool) -> datetime:
    bound = parse_bound(day.isoformat(), tz, end=end, field="to" if end else "from")
    assert bound is not None
    return bound


# --- dashboards -------------------------------------------------------------------------

@dataclass(frozen=True)
class Viewer:
    org_id: str
    role: str
    user_id: str | None
    label: str


def visible(viewer: Viewer) -> Any:
    """Shared dashboards, and private ones of this user (an API key sees all of its org)."""
    if viewer.user_id is None:
        return Dashboard.org_id == viewer.org_id
    return (Dashboard.org_id == viewer.org_id) & or_(
        Dashboard.shared.is_(True), Dashboard.owner_id == viewer.user_id)


def list_dashboards(session: Session, viewer: Viewer) -> list[Dashboard]:
    return list(session.scalars(select(Dashboard).where(visible(viewer))
                                .order_by(Dashboard.name, Dashboard.id)))


def get_dashboard(session: Session, viewer: Viewer, dashboard_id: str) -> Dashboard | None:
    return session.scalars(select(Dashboard).where(
        visible(viewer), Dashboard.id == dashboard_id)).first()


def _name(value: Any, field: str, *, max_length: int = 120, required: bool = True) -> str:
    if not isinstance(value, str):
        raise ReportError(field, "must be a string")
    value = value.strip()
    if required and not value:
        raise ReportError(field, "must not be empty")
    if len(value) > max_length:
        raise ReportError(field, f"longer than {max_length} characters")
    return value


def _widget(raw: Any, index: int, org_id: str, prefix: str | None = None) -> DashboardWidget:
    """One widget from its JSON; errors name `<prefix>.<field>` (default widgets.<index>)."""
    field = f"widgets.{index}" if prefix is None else prefix
    if not isinstance(raw, Mapping):
        raise ReportError(field or "body", "must be an object")
    kind = raw.get("kind")
    try:
        options = widgets.check(str(kind), raw.get("options"))
    except widgets.WidgetError as exc:
        raise ReportError(f"{field}.{exc.field}".lstrip("."), exc.message) from exc
    width = raw.get("width", widgets.CATALOGUE[str(kind)].default_width)
    if width not in widgets.WIDTHS:
        raise ReportError(f"{field}.width".lstrip("."), f"must be one of {widgets.WIDTHS}")
    title = _name(raw.get("title", ""), f"{field}.title".lstrip("."), required=False)
    return DashboardWidget(org_id=org_id, kind=str(kind), title=title, width=width,
                           options=options, position=index)


def save_dashboard(session: Session, viewer: Viewer, tz: str, body: Mapping[str, Any],
                   dashboard: Dashboard | None = None) -> Dashboard:
    """Creates (dashboard None) or replaces a dashboard. A given `widgets` list is the new
    grid in order: items with the id of an existing widget keep it (and are updated), the
    others are new, and widgets left out are removed."""
    creating = dashboard is None
    if creating and "name" not in body:
        raise ReportError("name", "is required")
    name = _name(body["name"], "name") if "name" in body else dashboard.name  # type: ignore[union-attr]
    description = (_name(body["description"], "description", max_length=500, required=False)
                   if "description" in body else (dashboard.description if dashboard else ""))
    shared = body.get("shared", dashboard.shared if dashboard else True)
    if not isinstance(shared, bool):
        raise ReportError("shared", "must be true or false")
    pairs = (validate_filters(session, viewer.org_id, tz, body.get("filters"))
             if "filters" in body or creating else dashboard.filters)  # type: ignore[union-attr]
    raw_widgets = body.get("widgets")
    if raw_widgets is not None and (not isinstance(raw_widgets, list)
                                    or len(raw_widgets) > MAX_WIDGETS):
        raise ReportError("widgets", f"must be a list of at most {MAX_WIDGETS} widgets")
    new_widgets = [_widget(w, i, viewer.org_id) for i, w in enumerate(raw_widgets or [])]
    if dashboard is None:
        dashboard = Dashboard(org_id=viewer.org_id, owner_id=viewer.user_id,
                              owner_label=viewer.label)
        session.add(dashboard)
    dashboard.name, dashboard.description, dashboard.shared = name, description, shared
    dashboard.filters = pairs
    if raw_widgets is not None:
        existing = {w.id: w for w in dashboard.widgets}
        grid = []
        for raw, fresh in zip(raw_widgets, new_widgets, strict=True):
            kept = existing.get(str(raw.get("id", "")))
            if kept is not None:
                kept.kind, kept.title, kept.width = fresh.kind, fresh.title, fresh.width
                kept.options, kept.position = fresh.options, fresh.position
                grid.append(kept)
            else:
                grid.append(fresh)
        dashboard.widgets = grid
    session.flush()
    return dashboard


def add_widget(session: Session, dashboard: Dashboard, body: Mapping[str, Any]
               ) -> DashboardWidget:
    if len(dashboard.widgets) >= MAX_WIDGETS:
        raise ReportError("widgets", f"a dashboard holds at most {MAX_WIDGETS} widgets")
    widget = _widget(body, len(dashboard.widgets), dashboard.org_id, prefix="")
    dashboard.widgets.append(widget)
    session.flush()
    return widget


def remove_widget(session: Session, dashboard: Dashboard, widget_id: str) -> bool:
    kept = [w for w in dashboard.widgets if w.id != widget_id]
    if len(kept) == len(dashboard.widgets):
        return False
    dashboard.widgets = kept
    for position, widget in enumerate(kept):
        widget.position = position
    session.flush()
    return True


def find_widget(dashboard: Dashboard, widget_id: str) -> DashboardWidget | None:
    return next((w for w in dashboard.widgets if w.id == widget_id), None)
