"""Profiling routes: over-indexing features among detractors versus promoters, and churned
versus retained contacts. Mounted by analytics.api on the statistics router."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from npsloop.accounts.deps import Principal, require
from npsloop.analytics import profiling
from npsloop.analytics.params import documented_filters, int_param, query_error, resolve_filters
from npsloop.analytics.schemas import CellOut, ChangeOut
from npsloop.core.deps import SessionDep, SettingsDep

router = APIRouter(prefix="/api/v1/stats", tags=["stats"],
                   dependencies=[Depends(documented_filters)])
Reader = Annotated[Principal, Depends(require("stats:read"))]


class FeatureOut(BaseModel):
    kind: str
    name: str
    value: str
    detractors_with: int
    promoters_with: int
    detractor_share: float
    promoter_share: float
    lift: float | None
    z: float | None
    p_value: float | None
    q_value: float | None
    significant: bool
    leans: str


class ProfileOut(BaseModel):
    method: str = "two_proportion_z_test_benjamini_hochberg"
    detractors: int
    promoters: int
    tested: int
    min_count: int
    features: list[FeatureOut]
    filters: dict[str, object]
    share_query: str


class HistoryPointOut(CellOut):
    key: str


class ChurnGroupOut(CellOut):
    contacts: int
    history: list[HistoryPointOut]


class ChurnOut(BaseModel):
    definition: dict[str, str]
    bucket: str
    churned: ChurnGroupOut
    retained: ChurnGroupOut
    difference: ChangeOut
    filters: dict[str, object]
    share_query: str


@router.get("/profile", response_model=ProfileOut)
def profile_stats(
    request: Request, db: SessionDep, principal: Reader,
) -> ProfileOut:
    """Attributes, tags, channels, languages, lifecycle stages and contact events that are
    more common among detractors than promoters (or the reverse), with lift and q-value."""
    context = resolve_filters(request, db, principal, allowed=("min_count", "limit"))
    min_count = int_param(request, "min_count", profiling.DEFAULT_MIN_COUNT, 1, 10_000)
    limit = int_param(request, "limit", profiling.MAX_FEATURES, 1, 500)
    result = profiling.over_index(db, org_id=context.org_id, filters=context.filters,
                                  min_count=min_count, limit=limit)
    return ProfileOut(
        detractors=result.detractors, promoters=result.promoters, tested=result.tested,
        min_count=result.min_count, features=[FeatureOut(**vars(f)) for f in result.features],
        filters=context.filters.as_dict(), share_query=context.filters.query_string(),
    )


def _group_out(group: profiling.ChurnGroup) -> ChurnGroupOut:
    return ChurnGroupOut(
        contacts=group.contacts, **CellOut.of(group.summary).model_dump(),
        history=[HistoryPointOut(key=key, **CellOut.of(s).model_dump())
                 for key, s in group.history],
    )


@router.get("/churn", response_model=ChurnOut)
def churn_stats(
    request: Request, db: SessionDep, settings: SettingsDep, principal: Reader,
    event: str | None = None, attribute: str | None = None, value: str | None = None,
    bucket: str = "month",
) -> ChurnOut:
    """NPS of churned versus retained contacts (churn = the named event, or the attribute
    at the value) with the z-test of the difference and each group's NPS history."""
    context = resolve_filters(request, db, principal,
                              allowed=("event", "attribute", "value", "bucket"))
    if attribute and value is None:
        raise query_error("value", "give the attribute value that means churned")
    try:
        result = profiling.churn(db, org_id=context.org_id, filters=context.filters,
                                 tz=context.tz, event=event, attribute=attribute, value=value,
                                 bucket=bucket, min_n=settings.min_responses_for_stats)
    except profiling.ProfileError as exc:
        raise query_error(exc.field, exc.message) from exc
    return ChurnOut(
        definition=result.definition, bucket=bucket, churned=_group_out(result.churned),
        retained=_group_out(result.retained), difference=ChangeOut.of(result.difference),
        filters=context.filters.as_dict(), share_query=context.filters.query_string(),
    )
