"""Dashboard page: the organisation's NPS at a glance.

Every number on the page comes from analytics.service (SQL aggregates) or analytics.stats;
this module only parses the filters, asks the service, and shapes the answers for the
template and for the chart script (as JSON, because the CSP forbids inline scripts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import HTMLResponse

from npsloop.accounts.deps import Principal, require
from npsloop.accounts.service import get_organization
from npsloop.analytics import overview, service
from npsloop.analytics.stats import NpsSummary, compare, summarize
from npsloop.core.deps import LangDep, SessionDep, SettingsDep
from npsloop.core.i18n import Translator
from npsloop.core.timeutil import parse_bound
from npsloop.surveys import service as surveys
from npsloop.web.templating import render

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require("stats:read", page=True))]

# Quick ranges offered above the charts; each ends today (organisation time).
PRESETS = ("30d", "90d", "12m")
DEFAULT_PRESET = "12m"
COMMENT_LIMIT = 6
# NPS colour bands of the headline number: below 0 is poor, 30 and up is good.
NPS_GOOD, NPS_FAIR = 30.0, 0.0
LANGUAGE_BADGES = {"zh-CN": "中文", "en": "EN"}


def preset_range(preset: str, today: date) -> tuple[date, date]:
    """The inclusive [from, to] days of a quick range ending today."""
    if preset == "30d":
        return today - timedelta(days=29), today
    if preset == "90d":
        return today - timedelta(days=89), today
    try:
        year_ago = today.replace(year=today.year - 1)
    except ValueError:  # 29 February
        year_ago = today.replace(year=today.year - 1, day=28)
    return year_ago + timedelta(days=1), today


def nps_tone(value: float | None) -> str:
    if value is None:
        return "none"
    if value >= NPS_GOOD:
        return "good"
    return "fair" if value >= NPS_FAIR else "poor"


def scale_pos(value: float | None) -> float:
    """Where an NPS value (-100..100) sits on the headline card's scale, in percent."""
    if value is None:
        return 50.0
    return round((max(-100.0, min(100.0, value)) + 100) / 2, 2)


def fmt_nps(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def fmt_signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1f}"


def fmt_pct(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.1f}%"


def fmt_int(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


@dataclass
class DashboardFilters:
    """What the filter bar shows, the service filters, and any input problems."""

    survey_id: str = ""
    date_from: str = ""
    date_to: str = ""
    today: date = field(default_factory=date.today)
    errors: list[tuple[str, str]] = field(default_factory=list)
    not_found: bool = False
    service_filters: service.Filters = field(default_factory=service.Filters)

    def query(self, **changes: str) -> str:
        params = {"survey_id": self.survey_id, "from": self.date_from, "to": self.date_to}
        params.update(changes)
        return "?" + urlencode({k: v for k, v in params.items() if v})

    def active_preset(self) -> str | None:
        for preset in PRESETS:
            start, end = preset_range(preset, self.today)
            if (self.date_from, self.date_to) == (start.isoformat(), end.isoformat()):
                return preset
        return None

    def previous_period(self, tz: str) -> service.Filters | None:
        """The same number of days just before the chosen range (None if open-ended)."""
        if not (self.date_from and self.date_to) or self.errors:
            return None
        start, end = date.fromisoformat(self.date_from), date.fromisoformat(self.date_to)
        days = (end - start).days + 1
        prev_end = start - timedelta(days=1)
        prev_start = prev_end - timedelta(days=days - 1)
        return service.Filters(
            survey_id=self.service_filters.survey_id,
            date_from=parse_bound(prev_start.isoformat(), tz, end=False, field="from"),
            date_to=parse_bound(prev_end.isoformat(), tz, end=True, field="to"),
        )


def parse_filters(
    db: SessionDep, org_id: str, tz: str, survey_id: str | None, date_from: str | None,
    date_to: str | None, t: Translator,
) -> DashboardFilters:
    """Absent dates mean the default range; an empty date means open-ended on that side."""
    today = datetime.now(ZoneInfo(tz)).date()
    start, end = preset_range(DEFAULT_PRESET, today)
    result = DashboardFilters(
        survey_id=survey_id or "",
        date_from=start.isoformat() if date_from is None else date_from.strip(),
        date_to=end.isoformat() if date_to is None else date_to.strip(),
        today=today,
    )
    if result.survey_id and surveys.get_survey(
        db, org_id=org_id, survey_id=result.survey_id
    ) is None:
        result.errors.append(("survey_id", t("dashboard.error.survey")))
        result.not_found = True
    bounds: dict[str, datetime | None] = {}
    for name, value, is_end in (("from", result.date_from, False), ("to", result.date_to, True)):
        try:
            if value and len(value) != 10:
                raise ValueError(value)
            bounds[name] = parse_bound(value, tz, end=is_end, field=name)
        except ValueError:
            result.errors.append((name, t("dashboard.error.date", value=value)))
    if bounds.get("from") and bounds.get("to") and bounds["from"] >= bounds["to"]:  # type: ignore[operator]
        result.errors.append(("to", t("dashboard.error.order")))
    result.service_filters = service.Filters(
        survey_id=result.survey_id or None, date_from=bounds.get("from"),
        date_to=bounds.get("to"),
    )
    return result


def preset_links(filters: DashboardFilters) -> list[tuple[str, str]]:
    """(preset, URL) pairs that keep the chosen survey."""
    links = []
    for preset in PRESETS:
        start, end = preset_range(preset, filters.today)
        links.append((preset, filters.query(**{"from": start.isoformat(), "to": end.isoformat()})))
    return links


def _summary_json(summary: NpsSummary) -> dict[str, Any]:
    data = summary.as_dict()
    data.pop("variance")
    return data


def weekly_series(weekly: list[tuple[str | None, NpsSummary]]) -> list[dict[str, Any]]:
    """The weekly buckets with the weeks nobody answered in put back as gaps (n = 0), so the
    trend's axis keeps calendar time instead of silently closing the holes."""
    rows = {key: _summary_json(summary) for key, summary in weekly if key}
    if not rows:
        return []
    first, last = date.fromisoformat(min(rows)), date.fromisoformat(max(rows))
    empty = _summary_json(summarize(0, 0, 0))
    series = []
    week = first
    while week <= last:
        key = week.isoformat()
        series.append({"week": key, **rows.get(key, empty)})
        week += timedelta(days=7)
    return series


def chart_data(
    histogram: list[int], total: int, weekly: list[tuple[str | None, NpsSummary]], t: Translator
) -> dict[str, Any]:
    """What dashboard.js draws: histogram counts and shares, weekly NPS with its band."""
    return {
        "histogram": [
            {"score": score, "count": count, "share": round(count / total, 4) if total else 0}
            for score, count in enumerate(histogram)
        ],
        "weekly": weekly_series(weekly),
        "labels": {
            key: t(f"dashboard.chart.{key}")
            for key in (
                "nps", "responses", "margin", "week", "month", "score", "share", "too_few",
                "promoters", "passives", "detractors", "band",
            )
        },
    }


def _comments(
    db: SessionDep, org_id: str, filters: service.Filters, tz: str, names: dict[str, str]
) -> list[dict[str, Any]]:
    zone = ZoneInfo(tz)
    return [
        {
            "score": row.score,
            "category": row.category,
            "comment": row.comment,
            "survey": names.get(row.survey_id, "—"),
            "when": row.submitted_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            "language": LANGUAGE_BADGES.get(row.language, row.language),
        }
        for row in service.latest_comments(
            db, org_id=org_id, filters=filters, limit=COMMENT_LIMIT
        )
    ]


@router.get("/", response_class=HTMLResponse)
def dashboard(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    lang: LangDep,
    principal: Reader,
    survey_id: str | None = None,
    date_from: Annotated[str | None, Query(alias="from")] = None,
    date_to: Annotated[str | None, Query(alias="to")] = None,
) -> HTMLResponse:
    request.state.principal = principal
    t = Translator(lang)
    org = get_organization(db, principal.org_id)
    tz = org.timezone if org else "UTC"
    min_n = settings.min_responses_for_stats
    survey_rows, _ = surveys.list_surveys(db, org_id=principal.org_id, limit=500)
    names = {s.id: s.name for s in survey_rows}
    filters = parse_filters(db, principal.org_id, tz, survey_id, date_from, date_to, t)
    context: dict[str, Any] = {
        "org_name": org.name if org else "",
        "timezone": tz,
        "surveys": sorted(survey_rows, key=lambda s: s.name),
        "filters": filters,
        "presets": preset_links(filters),
        "fmt_nps": fmt_nps, "fmt_signed": fmt_signed, "fmt_pct": fmt_pct, "fmt_int": fmt_int,
        "nps_tone": nps_tone, "scale_pos": scale_pos,
        "min_n": min_n,
    }
    org_total = service.nps(db, org_id=principal.org_id, filters=service.Filters(), min_n=min_n)
    context["empty"] = org_total.n == 0
    if filters.errors:
        code = status.HTTP_404_NOT_FOUND if filters.not_found else 422
        return render(request, "dashboard.html", context, status_code=code)
    if context["empty"]:
        return render(request, "dashboard.html", context)

    current = filters.service_filters
    overall = service.nps(db, org_id=principal.org_id, filters=current, min_n=min_n)
    previous_filters = filters.previous_period(tz)
    if previous_filters is not None:
        previous = service.nps(db, org_id=principal.org_id, filters=previous_filters,
                               min_n=min_n)
        context["previous"] = previous
        context["change"] = compare(previous, overall)
    histogram = service.histogram(db, org_id=principal.org_id, filters=current)
    weekly = service.nps_by(db, org_id=principal.org_id, filters=current, group_by="week",
                            tz=tz, min_n=min_n)
    org_view = overview.overview(db, org_id=principal.org_id, filters=current, tz=tz,
                                 min_n=min_n, bucket="month", lang=lang)
    charts = chart_data(histogram, overall.n, weekly, t)
    charts["relationship"] = [{"week": p.key, **_summary_json(p.summary)}
                              for p in org_view.relationship.points]
    charts["relationship_unit"] = t(f"dashboard.chart.{org_view.relationship.bucket}")
    context.update(
        org_view=org_view, zone=ZoneInfo(tz), one_us=timedelta(microseconds=1),
        overall=overall,
        by_survey=service.nps_by_survey(db, org_id=principal.org_id, filters=current,
                                        min_n=min_n),
        comments=_comments(db, principal.org_id, current, tz, names),
        charts=charts,
        weeks=len(weekly),
    )
    return render(request, "dashboard.html", context)
