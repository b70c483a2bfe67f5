"""Journey map route: stages in order, their touchpoints with NPS, n, margin, a colour tone,
a sparkline and top pain points. Mounted by analytics.api."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from npsloop.accounts.deps import Principal, require
from npsloop.analytics import journey
from npsloop.analytics.params import documented_filters, query_error, resolve_filters
from npsloop.analytics.trends import BUCKETS
from npsloop.core.deps import LangDep, SessionDep, SettingsDep

router = APIRouter(prefix="/api/v1/stats", tags=["stats"],
                   dependencies=[Depends(documented_filters)])
Reader = Annotated[Principal, Depends(require("stats:read"))]
MAX_STAGES = 50


@router.get("/journey")
def journey_stats(
    request: Request, db: SessionDep, settings: SettingsDep, principal: Reader, lang: LangDep,
    bucket: str = "month", order: str | None = None,
) -> dict[str, Any]:
    """`order` lists stage names, comma-separated, to put first in that order."""
    context = resolve_filters(request, db, principal, allowed=("bucket", "order"))
    if bucket not in BUCKETS:
        raise query_error("bucket", f"must be one of {', '.join(BUCKETS)}")
    stages = [s.strip() for s in (order or "").split(",") if s.strip()]
    if len(stages) > MAX_STAGES:
        raise query_error("order", f"at most {MAX_STAGES} stages")
    result = journey.journey_map(db, org_id=context.org_id, filters=context.filters,
                                 tz=context.tz, bucket=bucket, order=stages, lang=lang)
    return {**journey.as_dict(result, settings.min_responses_for_stats),
            "filters": context.filters.as_dict(), "share_query": context.filters.query_string()}
