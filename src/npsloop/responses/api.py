"""JSON routes for responses."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status

from npsloop.accounts.deps import Principal, require
from npsloop.accounts.service import get_organization
from npsloop.core.deps import SessionDep
from npsloop.core.timeutil import parse_bound
from npsloop.responses import service
from npsloop.responses.schemas import ResponseCreate, ResponseList, ResponseOut
from npsloop.surveys.api import load_survey

router = APIRouter(prefix="/api/v1/surveys", tags=["responses"])


def unprocessable(field: str, message: str, where: str = "body") -> HTTPException:
    loc = [where, *field.split(".")]
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"loc": loc, "msg": message, "type": "value_error"}],
    )


@router.post(
    "/{survey_id}/responses",
    status_code=status.HTTP_201_CREATED,
    response_model=ResponseOut,
    responses={200: {"description": "idempotent replay: the response already existed"}},
)
def create_response(
    survey_id: str,
    body: ResponseCreate,
    db: SessionDep,
    http_response: Response,
    principal: Annotated[Principal, Depends(require("response:write"))],
) -> ResponseOut:
    survey = service.survey_for_ingest(db, org_id=principal.org_id, survey_id=survey_id)
    if survey is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"survey '{survey_id}' not found")
    try:
        result = service.ingest(
            db, survey=survey, data=body, allow_backdate=principal.via == "api_key"
        )
    except service.IngestError as exc:
        raise unprocessable(exc.field, exc.message) from exc
    if not result.created:
        http_response.status_code = status.HTTP_200_OK
        http_response.headers["Idempotent-Replay"] = "true"
    return ResponseOut.model_validate(result.response)


@router.get("/{survey_id}/responses", response_model=ResponseList)
def list_responses(
    survey_id: str,
    db: SessionDep,
    principal: Annotated[Principal, Depends(require("response:read"))],
    category: Literal["promoter", "passive", "detractor"] | None = None,
    channel: str | None = None,
    language: str | None = None,
    response_status: Annotated[
        Literal["partial", "complete"] | None, Query(alias="status")
    ] = None,
    date_from: Annotated[str | None, Query(alias="from")] = None,
    date_to: Annotated[str | None, Query(alias="to")] = None,
    has_comment: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> ResponseList:
    survey = load_survey(db, principal, survey_id)
    org = get_organization(db, principal.org_id)
    tz = org.timezone if org else "UTC"
    try:
        start = parse_bound(date_from, tz, end=False, field="from")
        end = parse_bound(date_to, tz, end=True, field="to")
    except ValueError as exc:
        name = str(exc).split(":")[0]
        raise unprocessable(name, str(exc), where="query") from exc
    filters = service.ResponseFilter(
        survey_id=survey.id, category=category, channel=channel, language=language,
        status=response_status, date_from=start, date_to=end, has_comment=has_comment,
    )
    rows, total = service.list_responses(
        db, org_id=principal.org_id, filters=filters, limit=limit, offset=offset
    )
    return ResponseList(
        items=[ResponseOut.model_validate(r) for r in rows], total=total, limit=limit, offset=offset
    )
