"""Survey list, editor and share panel for signed-in users (HTML; the logic is in service)."""

from __future__ import annotations

import copy
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from npsloop.accounts.deps import Principal, require
from npsloop.accounts.service import audit, get_organization
from npsloop.core.config import Settings
from npsloop.core.deps import SessionDep, SettingsDep, request_language
from npsloop.core.i18n import translate
from npsloop.surveys import defaults, service
from npsloop.surveys import editor_checks as ec
from npsloop.surveys import editor_form as ef
from npsloop.surveys.models import Survey
from npsloop.surveys.schemas import SurveyCreate, SurveyUpdate
from npsloop.web.templating import render

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require("survey:read", page=True))]
Writer = Annotated[Principal, Depends(require("survey:write", page=True))]
LIST_LIMIT = 500
NPS_GOOD, NPS_FAIR = 30.0, 0.0  # the dashboard's colour bands, so a number looks the same


def nps_tone(value: float | None) -> str:
    if value is None:
        return "none"
    if value >= NPS_GOOD:
        return "good"
    return "fair" if value >= NPS_FAIR else "poor"


async def posted_form(request: Request) -> FormData:
    # Read once here (the CSRF check may have read it already: Starlette caches it), so the
    # handlers below stay synchronous and their database work runs off the event loop.
    return await request.form()


FormDep = Annotated[FormData, Depends(posted_form)]


def public_url(settings: Settings, survey: Survey) -> str:
    return f"{settings.base_url.rstrip('/')}/s/{survey.public_token}"


def _load(db: SessionDep, principal: Principal, survey_id: str) -> Survey:
    survey = service.get_survey(db, org_id=principal.org_id, survey_id=survey_id)
    if survey is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"survey '{survey_id}' not found")
    return survey


@router.get("/surveys", response_class=HTMLResponse)
def survey_list(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    principal: Reader,
    status_filter: Annotated[str, Query(alias="status")] = "",
) -> HTMLResponse:
    request.state.principal = principal
    # An unknown status shows every survey rather than an error: it only filters a list.
    wanted = status_filter if status_filter in ef.STATUS_ORDER else ""
    surveys, total = service.list_surveys(
        db, org_id=principal.org_id, status=wanted or None, limit=LIST_LIMIT
    )
    summaries = service.response_summaries(
        db, org_id=principal.org_id, survey_ids=[s.id for s in surveys],
        min_n=settings.min_responses_for_stats,
    )
    counts = service.status_counts(db, org_id=principal.org_id)
    return render(request, "surveys/list.html", {
        "surveys": surveys,
        "total": total,
        "summaries": summaries,
        "status_counts": counts,
        "all_count": sum(counts.values()),
        "status_filter": wanted,
        "statuses": ef.STATUS_ORDER,
        "public_urls": {s.id: public_url(settings, s) for s in surveys},
        "can_write": principal.can("survey:write"),
        "tone": nps_tone,
    })


def _editor(
    request: Request,
    db: SessionDep,
    settings: Settings,
    principal: Principal,
    *,
    state: ef.EditorState,
    survey: Survey | None,
    errors: dict[str, ef.FieldError] | None = None,
    status_code: int = 200,
    notice: str = "",
) -> HTMLResponse:
    request.state.principal = principal
    lang = request_language(request)
    messages = {name: translate(key, lang, **params) for name, (key, params) in
                (errors or {}).items()}
    current = survey.status if survey else None
    allowed = sorted(service.ALLOWED_TRANSITIONS[current] if current else ef.NEW_SURVEY_STATUSES,
                     key=ef.STATUS_ORDER.index)
    summary = None
    if survey is not None:
        summary = service.response_summaries(
            db, org_id=principal.org_id, survey_ids=[survey.id],
            min_n=settings.min_responses_for_stats,
        )[survey.id]
    catalog = {key: {"labels": labels} for key, labels in defaults.DRIVER_LABELS.items()}
    used_keys = {row.key for row in state.rows}
    return render(request, "surveys/editor.html", {
        "state": state,
        "survey": survey,
        "errors": messages,
        "notice": notice,
        "can_write": principal.can("survey:write"),
        "allowed_statuses": allowed,
        "current_status": current,
        "summary": summary,
        "public_url": public_url(settings, survey) if survey else "",
        "driver_catalog": catalog,
        # Embedded in <script type="application/json">: "<" escaped so no text can close it.
        "driver_catalog_json": json.dumps(catalog, ensure_ascii=False).replace("<", "\\u003c"),
        "used_driver_keys": used_keys,
        "stage_suggestions": service.used_values(db, org_id=principal.org_id,
                                                 field="journey_stage"),
        "touchpoint_suggestions": service.used_values(db, org_id=principal.org_id,
                                                      field="touchpoint"),
        "langs": ef.LANGS,
        "categories": ef.CATEGORIES,
        "blank_rows": {kind: ef.QuestionRow(uid="__UID__", kind=kind,
                                            options=[ef.OptionRow("__OUID__")]
                                            if kind in ef.CHOICE_KINDS else [])
                       for kind in ef.EXTRA_KINDS},
        "blank_option": ef.OptionRow("__OUID__"),
        "tone": nps_tone,
    }, status_code=status_code)


@router.get("/surveys/new", response_class=HTMLResponse)
def new_survey(
    request: Request, db: SessionDep, settings: SettingsDep, principal: Writer
) -> HTMLResponse:
    org = get_organization(db, principal.org_id)
    state = ef.state_for_new(org.name if org else None,
                             org.default_language if org else "zh-CN")
    return _editor(request, db, settings, principal, state=state, survey=None)


def _keep_typed_keys(
    errors: dict[str, ef.FieldError], typed: ef.EditorState
) -> dict[str, ef.FieldError]:
    """Drops errors about keys the person left empty (made-up keys are never shown)."""
    empty = {f"q.{row.uid}.key" for row in typed.rows if not row.key}
    empty |= {f"q.{row.uid}.opt.{o.uid}.key" for row in typed.rows for o in row.options
              if not o.key}
    kept = {name: error for name, error in errors.items() if name not in empty}
    return kept or {"form": ("surveys.error.invalid", {})}


def _changed_fields(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return sorted(name for name in after if before.get(name) != after.get(name))


def _snapshot(survey: Survey) -> dict[str, Any]:
    return {
        "name": survey.name, "nps_type": survey.nps_type, "journey_stage": survey.journey_stage,
        "touchpoint": survey.touchpoint, "status": survey.status,
        "languages": list(survey.languages), "default_language": survey.default_language,
        "description": survey.description,
        "questions": [(q.kind, q.key, q.required, q.texts, q.options, q.show_if_categories)
                      for q in survey.questions],
    }


def _submit(
    request: Request,
    db: SessionDep,
    settings: Settings,
    principal: Principal,
    form: FormData,
    survey: Survey | None,
) -> Response:
    """One handler for create and edit: an editing button re-renders, "save" validates."""
    state = ef.state_from_form(form)
    action = str(form.get("action") or "save")
    if action != "save" and ef.apply_action(state, action, form):
        return _editor(request, db, settings, principal, state=state, survey=survey)
    # Keys are made up for empty ones on a copy: if the form comes back with errors, the
    # person still sees empty keys that follow their wording once it is fixed.
    typed = copy.deepcopy(state)
    ec.fill_missing_keys(state)
    allowed = tuple(service.ALLOWED_TRANSITIONS[survey.status]) if survey else \
        ef.NEW_SURVEY_STATUSES
    errors = ec.check(state, allowed_statuses=allowed)
    body, prefixes = ec.to_payload(state)
    if not errors:
        try:
            data = (SurveyUpdate if survey else SurveyCreate).model_validate(body)
        except ValidationError as exc:
            errors = ec.map_validation_error(exc, prefixes)
    if errors:
        return _editor(request, db, settings, principal, state=typed, survey=survey,
                       errors=_keep_typed_keys(errors, typed),
                       status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    if survey is None:
        created = service.create_survey(db, org_id=principal.org_id, data=data)
        audit(db, org_id=principal.org_id, actor=principal.actor, action="survey.create",
              target=("survey", created.id), detail={"via": "editor"})
        db.commit()
        return RedirectResponse(f"/surveys/{created.id}?saved=created", status_code=303)
    before = _snapshot(survey)
    try:
        service.update_survey(db, survey=survey, data=data)
    except service.SurveyError as exc:
        db.rollback()
        survey = _load(db, principal, survey.id)
        key = "surveys.error.status_transition" if exc.field == "status" else \
            "surveys.error.invalid"
        return _editor(request, db, settings, principal, state=typed, survey=survey,
                       errors={exc.field: (key, {})},
                       status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    db.flush()
    db.refresh(survey)
    after = _snapshot(survey)
    detail: dict[str, Any] = {"via": "editor", "changed": _changed_fields(before, after)}
    if before["status"] != after["status"]:
        detail["status"] = {"from": before["status"], "to": after["status"]}
    audit(db, org_id=principal.org_id, actor=principal.actor, action="survey.update",
          target=("survey", survey.id), detail=detail)
    db.commit()
    return RedirectResponse(f"/surveys/{survey.id}?saved=updated", status_code=303)


@router.post("/surveys/new", response_class=HTMLResponse)
def create_from_form(
    request: Request, db: SessionDep, settings: SettingsDep, principal: Writer, form: FormDep
) -> Response:
    return _submit(request, db, settings, principal, form, None)


@router.get("/surveys/{survey_id}", response_class=HTMLResponse)
def edit_survey(
    survey_id: str, request: Request, db: SessionDep, settings: SettingsDep, principal: Reader
) -> HTMLResponse:
    survey = _load(db, principal, survey_id)
    saved = request.query_params.get("saved")
    notice = f"surveys.notice.{saved}" if saved in ("created", "updated") else ""
    return _editor(request, db, settings, principal, state=ef.state_from_survey(survey),
                   survey=survey, notice=notice)


@router.post("/surveys/{survey_id}", response_class=HTMLResponse)
def update_from_form(
    survey_id: str,
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    principal: Writer,
    form: FormDep,
) -> Response:
    return _submit(request, db, settings, principal, form, _load(db, principal, survey_id))


@router.get("/surveys/{survey_id}/qr.png")
def survey_qr(
    survey_id: str, db: SessionDep, settings: SettingsDep, principal: Reader,
    download: bool = False,
) -> Response:
    survey = _load(db, principal, survey_id)
    headers = {"Cache-Control": "private, max-age=300"}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="survey-{survey.id[:8]}-qr.png"'
    return Response(service.qr_png(public_url(settings, survey)), media_type="image/png",
                    headers=headers)


@router.get("/surveys/{survey_id}/qr.svg")
def survey_qr_svg(
    survey_id: str, db: SessionDep, settings: SettingsDep, principal: Reader,
    download: bool = False,
) -> Response:
    """The public link's QR code as SVG (for print: scales without blurring), drawn by the
    qrcode library's path factory (one <path>, no imaging library)."""
    import io

    import qrcode
    import qrcode.image.svg

    survey = _load(db, principal, survey_id)
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4,
                         image_factory=qrcode.image.svg.SvgPathImage)
    code.add_data(public_url(settings, survey))
    buffer = io.BytesIO()
    code.make_image().save(buffer)
    headers = {"Cache-Control": "private, max-age=300"}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="survey-{survey.id[:8]}-qr.svg"'
    return Response(buffer.getvalue(), media_type="image/svg+xml", headers=headers)
