"""JSON routes for surveys (thin: validation in schemas, logic in service)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status

from npsloop.accounts.deps import Principal, require
from npsloop.accounts.service import audit
from npsloop.core.deps import SessionDep, SettingsDep
from npsloop.surveys import service
from npsloop.surveys.models import Survey, SurveyStatus
from npsloop.surveys.schemas import SurveyCreate, SurveyList, SurveyOut, SurveyUpdate

router = APIRouter(prefix="/api/v1/surveys", tags=["surveys"])
Reader = Annotated[Principal, Depends(require("survey:read"))]
Writer = Annotated[Principal, Depends(require("survey:write"))]


def to_out(survey: Survey, base_url: str) -> SurveyOut:
    out = SurveyOut.model_validate(survey)
    out.public_url = f"{base_url.rstrip('/')}/s/{survey.public_token}"
    return out


def load_survey(db: SessionDep, principal: Principal, survey_id: str) -> Survey:
    survey = service.get_survey(db, org_id=principal.org_id, survey_id=survey_id)
    if survey is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"survey '{survey_id}' not found")
    return survey


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SurveyOut)
def create_survey(
    body: SurveyCreate, db: SessionDep, settings: SettingsDep, principal: Writer
) -> SurveyOut:
    survey = service.create_survey(db, org_id=principal.org_id, data=body)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="survey.create",
          target=("survey", survey.id))
    db.commit()
    return to_out(survey, settings.base_url)


@router.get("", response_model=SurveyList)
def list_surveys(
    db: SessionDep,
    settings: SettingsDep,
    principal: Reader,
    status_filter: Annotated[SurveyStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> SurveyList:
    rows, total = service.list_surveys(
        db, org_id=principal.org_id, status=status_filter.value if status_filter else None,
        limit=limit, offset=offset,
    )
    return SurveyList(items=[to_out(s, settings.base_url) for s in rows], total=total)


@router.get("/{survey_id}", response_model=SurveyOut)
def get_survey(survey_id: str, db: SessionDep, settings: SettingsDep, principal: Reader):
    return to_out(load_survey(db, principal, survey_id), settings.base_url)


@router.patch("/{survey_id}", response_model=SurveyOut)
def update_survey(
    survey_id: str, body: SurveyUpdate, db: SessionDep, settings: SettingsDep, principal: Writer
) -> SurveyOut:
    survey = load_survey(db, principal, survey_id)
    try:
        service.update_survey(db, survey=survey, data=body)
    except service.SurveyError as exc:
        db.rollback()
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[{"loc": ["body", exc.field], "msg": exc.message, "type": "value_error"}],
        ) from exc
    audit(db, org_id=principal.org_id, actor=principal.actor, action="survey.update",
          target=("survey", survey.id), detail=body.model_dump(exclude_unset=True, mode="json"))
    db.commit()
    db.refresh(survey)
    return to_out(survey, settings.base_url)
