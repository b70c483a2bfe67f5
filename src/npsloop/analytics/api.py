"""Statistics API: NPS with its margin of error, overall and per group."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel

from npsloop.accounts.deps import Principal, require
from npsloop.accounts.service import get_organization
from npsloop.analytics import service
from npsloop.analytics.stats import NpsSummary
from npsloop.core.deps import SessionDep, SettingsDep
from npsloop.core.timeutil import parse_bound
from npsloop.surveys import service as surveys

router = APIRouter(prefix="/api/v1/stats", tags=["stats"])
Reader = Annotated[Principal, Depends(require("stats:read"))]


class NpsOut(BaseModel):
    n: int
    nps: float | None
    promoters: int
    passives: int
    detractors: int
    promoter_share: float | None
    passive_share: float | None
    detractor_share: float | None
    margin_of_error: float | None
    too_few: bool

    @classmethod
    def of(cls, summary: NpsSummary) -> NpsOut:
        data = summary.as_dict()
        data.pop("variance")
        return cls(**data)


class NpsGroupOut(NpsOut):
    key: str | None


class NpsStatsOut(NpsOut):
    group_by: str | None = None
    groups: list[NpsGroupOut] = []


def query_error(field: str, message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"loc": ["query", field], "msg": message, "type": "value_error"}],
    )


class FilterParams(BaseModel):
    survey_id: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    nps_type: str | None = None
    channel: str | None = None
    language: str | None = None
    touchpoint: str | None = None
    journey_stage: str | None = None


def filter_params(
    survey_id: str | None = None,
    date_from: Annotated[str | None, Query(alias="from")] = None,
    date_to: Annotated[str | None, Query(alias="to")] = None,
    nps_type: str | None = None,
    channel: str | None = None,
    language: str | None = None,
    touchpoint: str | None = None,
    journey_stage: str | None = None,
) -> FilterParams:
    return FilterParams(
        survey_id=survey_id, date_from=date_from, date_to=date_to, nps_type=nps_type,
        channel=channel, language=language, touchpoint=touchpoint, journey_stage=journey_stage,
    )


def build_filters(
    db: SessionDep, principal: Principal, params: FilterParams
) -> tuple[service.Filters, str]:
    """Validates the shared filters; 404 for a survey the caller's organisation lacks."""
    org = get_organization(db, principal.org_id)
    tz = org.timezone if org else "UTC"
    if params.survey_id and surveys.get_survey(
        db, org_id=principal.org_id, survey_id=params.survey_id
    ) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"survey '{params.survey_id}' not found")
    try:
        start = parse_bound(params.date_from, tz, end=False, field="from")
        end = parse_bound(params.date_to, tz, end=True, field="to")
    except ValueError as exc:
        raise query_error(str(exc).split(":")[0], str(exc)) from exc
    if start and end and start >= end:
        raise query_error("to", "must not be before 'from'")
    filters = service.Filters(
        survey_id=params.survey_id, date_from=start, date_to=end, nps_type=params.nps_type,
        channel=params.channel, language=params.language, touchpoint=params.touchpoint,
        journey_stage=params.journey_stage,
    )
    return filters, tz


FiltersDep = Annotated[FilterParams, Depends(filter_params)]


@router.get("/nps", response_model=NpsStatsOut)
def nps_stats(
    db: SessionDep,
    settings: SettingsDep,
    principal: Reader,
    params: FiltersDep,
    group_by: str | None = None,
) -> NpsStatsOut:
    filters, tz = build_filters(db, principal, params)
    min_n = settings.min_responses_for_stats
    overall = service.nps(db, org_id=principal.org_id, filters=filters, min_n=min_n)
    out = NpsStatsOut(**NpsOut.of(overall).model_dump(), group_by=group_by)
    if group_by:
        try:
            rows = service.nps_by(db, org_id=principal.org_id, filters=filters,
                                  group_by=group_by, tz=tz, min_n=min_n)
        except ValueError as exc:
            raise query_error("group_by", str(exc).split(": ", 1)[-1]) from exc
        out.groups = [
            NpsGroupOut(key=key, **NpsOut.of(summary).model_dump()) for key, summary in rows
        ]
    return out
