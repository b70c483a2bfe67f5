"""Statistics API: NPS with its margin of error, trends, cross-tabs, category
distributions, key drivers, and streamed response exports.

Every route takes the same filters (analytics.filters; `attr.<name>=` for attributes), so a
filtered view is shareable as a URL; each answer echoes the active filters and their query
string. Bad parameters are a 422 naming the parameter; another organisation's survey a 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response as HttpResponse
from fastapi.responses import StreamingResponse

from npsloop.accounts.deps import Principal, require
from npsloop.analytics import crosstab as xtab
from npsloop.analytics import drivers as kda
from npsloop.analytics import exports, insights_pages, journey_api, profile_api, service, trends
from npsloop.analytics.params import (
    FilterContext,
    documented_filters,
    int_param,
    query_error,
    resolve_filters,
)
from npsloop.analytics.schemas import (
    CellOut,
    ChangeOut,
    ChiSquareOut,
    CrosstabCellOut,
    CrosstabOut,
    DistributionGroupOut,
    DistributionOut,
    DriverOut,
    DriversOut,
    NpsGroupOut,
    NpsOut,
    NpsStatsOut,
    PeriodOut,
    ShareOut,
    TrendBucketOut,
    TrendOut,
)
from npsloop.core.deps import LangDep, SessionDep, SettingsDep

stats_router = APIRouter(prefix="/api/v1/stats", tags=["stats"],
                         dependencies=[Depends(documented_filters)])
exports_router = APIRouter(prefix="/api/v1/exports", tags=["exports"],
                           dependencies=[Depends(documented_filters)])
Reader = Annotated[Principal, Depends(require("stats:read"))]
ResponseReader = Annotated[Principal, Depends(require("response:read"))]
FORMATS = ("json", "csv", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _echo(context: FilterContext) -> dict[str, Any]:
    return {"filters": context.filters.as_dict(), "share_query": context.filters.query_string()}


def _format(request: Request, allowed: tuple[str, ...]) -> str:
    value = request.query_params.get("format", allowed[0])
    if value not in allowed:
        raise query_error("format", f"must be one of {', '.join(allowed)}")
    return value


@stats_router.get("/nps", response_model=NpsStatsOut)
def nps_stats(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    principal: Reader,
    group_by: str | None = None,
) -> NpsStatsOut:
    # Not strict about unknown parameters: this route predates the shared filter model
    # and its callers may send more than filters.
    context = resolve_filters(request, db, principal, allowed=("group_by",), strict=False)
    min_n = settings.min_responses_for_stats
    overall = service.nps(db, org_id=context.org_id, filters=context.filters, min_n=min_n)
    out = NpsStatsOut(**NpsOut.of(overall).model_dump(), group_by=group_by)
    if group_by:
        try:
            rows = service.nps_by(db, org_id=context.org_id, filters=context.filters,
                                  group_by=group_by, tz=context.tz, min_n=min_n)
        except ValueError as exc:
            raise query_error("group_by", str(exc).split(": ", 1)[-1]) from exc
        out.groups = [
            NpsGroupOut(key=key, **NpsOut.of(summary).model_dump()) for key, summary in rows
        ]
    return out


@stats_router.get("/trend", response_model=TrendOut)
def trend_stats(
    request: Request, db: SessionDep, settings: SettingsDep, principal: Reader,
    bucket: str = "week", rolling: int | None = None,
) -> TrendOut:
    """NPS per local calendar bucket, optional rolling window (in buckets, pooled counts),
    change against the previous bucket and, with from and to, against the previous period."""
    context = resolve_filters(request, db, principal, allowed=("bucket", "rolling"))
    try:
        result = trends.trend(db, org_id=context.org_id, filters=context.filters, bucket=bucket,
                              tz=context.tz, min_n=settings.min_responses_for_stats,
                              rolling_window=rolling)
    except trends.TrendError as exc:
        raise query_error(exc.field, exc.message) from exc
    period = None
    if result.period is not None:
        period = PeriodOut(
            current=CellOut.of(result.period.current), previous=CellOut.of(result.period.previous),
            previous_from=result.period.previous_from, previous_to=result.period.previous_to,
            change=ChangeOut.of(result.period.change),
        )
    buckets = [
        TrendBucketOut(
            key=point.key, promoters=point.counts.promoters, passives=point.counts.passives,
            detractors=point.counts.detractors, **CellOut.of(point.summary).model_dump(),
            change=ChangeOut.of(point.change) if point.change else None,
            rolling=CellOut.of(point.rolling) if point.rolling else None,
        )
        for point in result.points
    ]
    return TrendOut(bucket=bucket, rolling=rolling, time_zone=context.tz, buckets=buckets,
                    period=period, **_echo(context))


def _cells(cells: dict[Any, Any], axis: str = "cell") -> list[CrosstabCellOut]:
    """Cells keyed by (row, col), or totals keyed by a row key or a column key."""
    out = []
    for key, summary in cells.items():
        row, col = key if axis == "cell" else ((key, None) if axis == "row" else (None, key))
        out.append(CrosstabCellOut(row=row, col=col, **CellOut.of(summary).model_dump()))
    return out


@stats_router.get("/crosstab", response_model=CrosstabOut)
def crosstab_stats(
    request: Request, db: SessionDep, settings: SettingsDep, principal: Reader,
    rows: str, cols: str,
) -> Any:
    """Any dimension by any dimension: each cell's NPS, n and margin; row and column totals;
    chi-square of the category mix by the row dimension. format=csv|xlsx downloads it."""
    context = resolve_filters(request, db, principal,
                              allowed=("rows", "cols", "format", "limit"))
    output = _format(request, FORMATS)
    limit = int_param(request, "limit", xtab.DEFAULT_LIMIT, 1, xtab.MAX_LIMIT)
    try:
        result = xtab.crosstab(db, org_id=context.org_id, filters=context.filters, rows=rows,
                               cols=cols, tz=context.tz, min_n=settings.min_responses_for_stats,
                               limit=limit)
    except xtab.CrosstabError as exc:
        raise query_error(exc.field, exc.message) from exc
    if output != "json":
        table = xtab.table_rows(result)
        name = f"crosstab-{rows}-by-{cols}".replace(":", "_")
        if output == "csv":
            body, media = exports.table_csv(table), "text/csv; charset=utf-8"
        else:
            body, media = exports.table_xlsx(table, sheet="crosstab"), XLSX_TYPE
        return HttpResponse(body, media_type=media, headers={
            "Content-Disposition": f'attachment; filename="{name}.{output}"'})
    return CrosstabOut(
        rows=rows, cols=cols, row_keys=result.row_keys, col_keys=result.col_keys,
        cells=_cells(result.cells), row_totals=_cells(result.row_totals, "row"),
        col_totals=_cells(result.col_totals, "col"), total=CellOut.of(result.total),
        row_test=ChiSquareOut.of(result.row_test), truncated=result.truncated, **_echo(context),
    )


@stats_router.get("/distribution", response_model=DistributionOut)
def distribution_stats(
    request: Request, db: SessionDep, settings: SettingsDep, principal: Reader, by: str,
) -> DistributionOut:
    """Promoter / passive / detractor shares (Wilson 95% intervals) per value of `by`, and a
    chi-square test of independence between the category and `by`."""
    context = resolve_filters(request, db, principal, allowed=("by", "limit"))
    limit = int_param(request, "limit", xtab.DEFAULT_LIMIT, 1, xtab.MAX_LIMIT)
    try:
        result = xtab.distribution(db, org_id=context.org_id, filters=context.filters, by=by,
                                   tz=context.tz, min_n=settings.min_responses_for_stats,
                                   limit=limit)
    except xtab.CrosstabError as exc:
        raise query_error(exc.field, exc.message) from exc
    groups = []
    for group in result.groups:
        s = group.summary
        shares = {"promoter": s.promoter_share, "passive": s.passive_share,
                  "detractor": s.detractor_share}
        bounds = {c: group.intervals[c] or (None, None) for c in shares}
        groups.append(DistributionGroupOut(
            key=group.key, n=s.n, nps=s.nps, margin=s.margin_of_error, promoters=s.promoters,
            passives=s.passives, detractors=s.detractors,
            **{c: ShareOut(share=shares[c], ci_low=bounds[c][0], ci_high=bounds[c][1])
               for c in shares},
        ))
    return DistributionOut(by=by, groups=groups, test=ChiSquareOut.of(result.test),
                           truncated=result.truncated, **_echo(context))


@stats_router.get("/drivers", response_model=DriversOut)
def driver_stats(
    request: Request, db: SessionDep, settings: SettingsDep, principal: Reader, lang: LangDep,
) -> DriversOut:
    """Johnson's relative weights of the driver ratings on the 0-10 score (sum to R^2),
    bootstrap 95% intervals, mean rating, and the importance x performance quadrant."""
    context = resolve_filters(request, db, principal,
                              allowed=("resamples", "sample_size", "seed"))
    resamples = int_param(request, "resamples", kda.DEFAULT_RESAMPLES, 0, 2000)
    sample_size = int_param(request, "sample_size", kda.DEFAULT_SAMPLE_SIZE, 100, 200_000)
    seed = int_param(request, "seed", kda.DEFAULT_SEED, 0, 2**31 - 1)
    try:
        result = kda.key_drivers(db, org_id=context.org_id, filters=context.filters, lang=lang,
                                 min_n=settings.min_responses_for_stats,
                                 sample_size=sample_size, resamples=resamples, seed=seed)
    except kda.DriverError as exc:
        raise query_error(exc.field, exc.message) from exc
    return DriversOut(
        method=result.method, missing=result.missing, r2=result.r2, n=result.n,
        n_responses=result.n_responses, sampled=result.sampled, sample_size=result.sample_size,
        resamples=result.resamples, seed=result.seed, too_few=result.too_few,
        mean_importance=result.mean_importance, mean_performance=result.mean_performance,
        drivers=[DriverOut(**vars(d)) for d in result.drivers], excluded=result.excluded,
        **_echo(context),
    )


@exports_router.get("/responses", response_class=StreamingResponse, responses={200: {
    "description": "CSV (UTF-8 with BOM) or XLSX, by `format`",
    "content": {"text/csv": {}, XLSX_TYPE: {}}}})
def export_responses(request: Request, db: SessionDep, principal: ResponseReader) -> Any:
    """Every matching response with its answers, attribute snapshot and contributed fields,
    streamed as CSV (UTF-8 with BOM) or XLSX."""
    context = resolve_filters(request, db, principal, allowed=("format",))
    output = _format(request, ("csv", "xlsx"))
    plan = exports.layout(db, org_id=context.org_id, filters=context.filters)
    factory = request.app.state.session_factory

    def rows() -> Any:
        # The request's session closes when the route returns; the stream reads with its own.
        with factory() as session:
            yield from exports.iter_rows(session, org_id=context.org_id,
                                         filters=context.filters, tz=context.tz, plan=plan)

    if output == "csv":
        body, media = exports.csv_chunks(rows()), "text/csv; charset=utf-8"
    else:
        body, media = exports.xlsx_chunks(rows()), XLSX_TYPE
    return StreamingResponse(body, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="responses.{output}"'})


router = APIRouter()
router.include_router(stats_router)
router.include_router(profile_api.router)
router.include_router(journey_api.router)
router.include_router(insights_pages.router)  # HTML pages of these analyses
router.include_router(exports_router)
