"""The widget catalogue: what a dashboard can show, each widget's options, and its data.

Every widget's data is the answer of an existing statistics function (analytics.service,
trends, crosstab, drivers, journey, movers) under the dashboard's saved filters, shaped as
JSON: a widget never computes an NPS itself, so it shows the same number as the insights
pages and the statistics API for the same filters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from npsloop.analytics import crosstab as xtab
from npsloop.analytics import drivers as kda
from npsloop.analytics import journey, movers, service, trends
from npsloop.analytics.filters import Filters
from npsloop.analytics.stats import NpsSummary
from npsloop.core.errors import InputError

WIDTHS = (4, 6, 8, 12)
GROUPABLE = tuple(n for n in service.group_by_names() if n != "attribute:<name>")


class WidgetError(InputError):
    """Bad widget input; `field` names it (e.g. "options.group_by")."""


@dataclass(frozen=True)
class Context:
    session: Session
    org_id: str
    filters: Filters
    tz: str
    min_n: int
    lang: str
    now: datetime | None = None


def cell(summary: NpsSummary) -> dict[str, Any]:
    """One NPS as JSON, exactly the stats.summarize fields the API shows (no variance)."""
    return trends.summary_dict(summary)


def _choice(options: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = options.get(name, default)
    if not isinstance(value, str) or (value not in allowed and not (
            allowed is GROUPABLE and value.startswith("attribute:") and len(value) > 10)):
        raise WidgetError(f"options.{name}", f"must be one of {', '.join(allowed)}")
    return value


def _int(options: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = options.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise WidgetError(f"options.{name}", f"must be a whole number from {low} to {high}")
    return value


# --- option checks (return the normalised options) --------------------------------------

def _no_options(options: dict[str, Any]) -> dict[str, Any]:
    return {}


def _trend_options(options: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"bucket": _choice(options, "bucket", trends.BUCKETS, "week")}
    if options.get("rolling") is not None:
        out["rolling"] = _int(options, "rolling", 4, 1, trends.MAX_ROLLING)
    return out


def _group_options(options: dict[str, Any]) -> dict[str, Any]:
    return {"group_by": _choice(options, "group_by", GROUPABLE, "touchpoint")}


def _crosstab_options(options: dict[str, Any]) -> dict[str, Any]:
    rows = _choice(options, "rows", GROUPABLE, "touchpoint")
    cols = _choice(options, "cols", GROUPABLE, "channel")
    if rows == cols:
        raise WidgetError("options.cols", "must differ from rows")
    return {"rows": rows, "cols": cols}


def _distribution_options(options: dict[str, Any]) -> dict[str, Any]:
    return {"by": _choice(options, "by", GROUPABLE, "channel")}


def _comments_options(options: dict[str, Any]) -> dict[str, Any]:
    return {"limit": _int(options, "limit", 6, 1, 20)}


def _movers_options(options: dict[str, Any]) -> dict[str, Any]:
    value = options.get("dimensions", list(movers.DEFAULT_DIMENSIONS))
    if not isinstance(value, list) or not value or any(
            v not in movers.MOVER_DIMENSIONS for v in value):
        raise WidgetError("options.dimensions",
                          f"a non-empty list of {', '.join(movers.MOVER_DIMENSIONS)}")
    return {"dimensions": list(dict.fromkeys(value))}


# --- data -------------------------------------------------------------------------------

def scorecard_data(ctx: Context, options: dict[str, Any]) -> dict[str, Any]:
    overall = service.nps(ctx.session, org_id=ctx.org_id, filters=ctx.filters, min_n=ctx.min_n)
    data: dict[str, Any] = {"nps": cell(overall), "change": None}
    period = trends.period_change(ctx.session, org_id=ctx.org_id, filters=ctx.filters,
                                  min_n=ctx.min_n)
    if period is not None:
        data["change"] = {"previous": cell(period.previous),
                          "difference": period.change.difference, "z": period.change.z,
                          "p_value": period.change.p_value,
                          "significant": period.change.significant}
    return data


def trend_data(ctx: Context, options: dict[str, Any]) -> dict[str, Any]:
    result = trends.trend(ctx.session, org_id=ctx.org_id, filters=ctx.filters,
                          bucket=options["bucket"], tz=ctx.tz, min_n=ctx.min_n,
                          rolling_window=options.get("rolling"))
    return {"bucket": result.bucket, "points": [
        {"key": p.key, **cell(p.summary),
         "significant_change": bool(p.change and p.change.significant),
         "rolling": cell(p.rolling) if p.rolling else None}
        for p in result.points
    ]}


def nps_by_data(ctx: Context, options: dict[str, Any]) -> dict[str, Any]:
    rows = service.nps_by(ctx.session, org_id=ctx.org_id, filters=ctx.filters,
                          group_by=options["group_by"], tz=ctx.tz, min_n=ctx.min_n)
    rows = sorted(rows, key=lambda r: (-r[1].n, str(r[0])))
    return {"group_by": options["group_by"],
            "groups": [{"key": key, **cell(summary)} for key, summary in rows]}


def crosstab_data(ctx: Context, options: dict[str, Any]) -> dict[str, Any]:
    result = xtab.crosstab(ctx.session, org_id=ctx.org_id, filters=ctx.filters,
                           rows=options["rows"], cols=options["cols"], tz=ctx.tz,
                           min_n=ctx.min_n, limit=12)
    return {
        "rows": result.rows, "cols": result.cols,
        "row_keys": result.row_keys, "col_keys": result.col_keys,
        "cells": [{"row": r, "col": c, **cell(s)} for (r, c), s in result.cells.items()],
        "row_totals": [{"key": k, **cell(s)} for k, s in result.row_totals.items()],
        "total": cell(result.total), "truncated": result.truncated,
    }


def drivers_data(ctx: Context, options: dict[str, Any]) -> dict[str, Any]:
    result = kda.key_drivers(ctx.session, org_id=ctx.org_id, filters=ctx.filters,
                             lang=ctx.lang, min_n=ctx.min_n)
    return {
        "n": result.n, "r2": result.r2, "too_few": result.too_few,
        "mean_importance": result.mean_importance,
        "mean_performance": result.mean_performance,
        "drivers": [{"key": d.key, "label": d.label, "share": d.share, "weight": d.weight,
                     "mean": d.mean, "quadrant": d.quadrant} for d in result.drivers],
    }


def distribution_data(ctx: Context, options: dict[str, Any]) -> dict[str, Any]:
    result = xtab.distribution(ctx.session, org_id=ctx.org_id, filters=ctx.filters,
                               by=options["by"], tz=ctx.tz, min_n=ctx.min_n, limit=12)
    return {"by": result.by, "significant": result.test.significant,
            "p_value": result.test.p_value,
            "groups": [{"key": g.key, **cell(g.summary)} for g in result.groups]}


def comments_data(ctx: Context, options: dict[str, Any]) -> dict[str, Any]:
    zone = ZoneInfo(ctx.tz)
    rows = service.latest_comments(ctx.session, org_id=ctx.org_id, filters=ctx.filters,
                                   limit=options["limit"])
    topics = movers.group_summaries(ctx.session, org_id=ctx.org_id, filters=ctx.filters,
                                    dimension="topic", tz=ctx.tz, min_n=ctx.min_n,
                                    lang=ctx.lang)
    ranked = sorted(topics.items(), key=lambda item: (-item[1][1].n, item[0]))[:8]
    return {
        "comments": [{"score": r.score, "category": r.category, "comment": r.comment,
                      "when": r.submitted_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")}
                     for r in rows],
        "topics": [{"key": key, "label": label, **cell(summary)}
                   for key, (label, summary) in ranked],
    }


def journey_data(ctx: Context, options: dict[str, Any]) -> dict[str, Any]:
    result = journey.journey_map(ctx.session, org_id=ctx.org_id, filters=ctx.filters,
                                 tz=ctx.tz, lang=ctx.lang)
    return journey.as_dict(result, ctx.min_n)


def movers_data(ctx: Context, options: dict[str, Any]) -> dict[str, Any]:
    report = movers.movers(ctx.session, org_id=ctx.org_id, filters=ctx.filters, tz=ctx.tz,
                           min_n=ctx.min_n, dimensions=options["dimensions"], lang=ctx.lang,
                           now=ctx.now)
    return movers.report_dict(report)


@dataclass(frozen=True)
class WidgetKind:
    name: str
    default_width: int
    check: Callable[[dict[str, Any]], dict[str, Any]]
    data: Callable[[Context, dict[str, Any]], dict[str, Any]]


CATALOGUE: dict[str, WidgetKind] = {k.name: k for k in (
    WidgetKind("scorecard", 4, _no_options, scorecard_data),
    WidgetKind("trend", 8, _trend_options, trend_data),
    WidgetKind("nps_by", 6, _group_options, nps_by_data),
    WidgetKind("crosstab", 12, _crosstab_options, crosstab_data),
    WidgetKind("drivers", 6, _no_options, drivers_data),
    WidgetKind("distribution", 6, _distribution_options, distribution_data),
    WidgetKind("comments", 6, _comments_options, comments_data),
    WidgetKind("journey", 12, _no_options, journey_data),
    WidgetKind("movers", 6, _movers_options, movers_data),
)}


def check(kind: str, options: dict[str, Any] | None) -> dict[str, Any]:
    if kind not in CATALOGUE:
        raise WidgetError("kind", f"must be one of {', '.join(CATALOGUE)}")
    if options is not None and not isinstance(options, dict):
        raise WidgetError("options", "must be an object")
    return CATALOGUE[kind].check(options or {})


def widget_data(ctx: Context, kind: str, options: dict[str, Any]) -> dict[str, Any]:
    """The widget's data; statistics input errors become WidgetError naming the option."""
    try:
        return CATALOGUE[kind].data(ctx, check(kind, options))
    except (trends.TrendError, xtab.CrosstabError, kda.DriverError,
            movers.MoverError) as exc:
        raise WidgetError(f"options.{exc.field}", exc.message) from exc
    except ValueError as exc:  # service.dimension: an unknown group_by
        raise WidgetError("options", str(exc)) from exc
