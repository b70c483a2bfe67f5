"""The public survey page customers answer: /s/{public_token}, no login.

The score is saved as a partial response the moment it is tapped (survey.js posts JSON with
an idempotency key kept in sessionStorage); the final submit completes the same response.
Without JavaScript the page is a plain form that posts once and redirects (303) to the
thank-you page. Unknown and draft surveys get one uniform 404 page, so a token cannot be
probed for existence; paused and closed surveys say so (410) and show no form.
A personal link (`?inv=<signed token>`, see distribution.links) ties the answer to the
invited contact: one response per token, the contact's attributes snapshotted on it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from npsloop.accounts.service import get_organization
from npsloop.core.deps import SessionDep
from npsloop.core.headers import allow_framing
from npsloop.core.i18n import Translator, normalize_language
from npsloop.distribution import links
from npsloop.distribution.models import Invitation
from npsloop.responses import ballot, public_input, service
from npsloop.responses.public_input import FieldError, PublicAnswer
from npsloop.responses.public_view import (
    COMMENT_MAX,
    page_channel,
    page_language,
    question_blocks,
    score_buttons,
)
from npsloop.surveys.models import Survey, SurveyStatus
from npsloop.surveys.service import get_by_public_token
from npsloop.web.templating import render

router = APIRouter(include_in_schema=False)
NO_STORE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}
MAX_BODY_BYTES = 64 * 1024  # a 5,000-character comment in UTF-8 plus answers fits easily
CLOSED_STATES = (SurveyStatus.paused.value, SurveyStatus.closed.value)
# Other domains add to the thank-you page's context (the referral invitation for promoters)
# by appending a hook (request, db, survey, response or None, lang) -> dict at start-up.
THANKS_CONTEXT_HOOKS: list[Callable[[Request, Session, Survey, Any, str], dict[str, Any]]] = []


def _find(db: Session, token: str) -> tuple[Survey | None, str]:
    """(survey, state) with state "missing" (unknown or draft), "closed" or "live"."""
    survey = get_by_public_token(db, token) if len(token) <= 64 else None
    if survey is None or survey.status == SurveyStatus.draft.value:
        return None, "missing"
    if survey.status in CLOSED_STATES:
        return survey, "closed"
    return survey, "live"


def _page(
    request: Request, name: str, lang: str, context: dict[str, Any], status_code: int = 200,
    embed_origins: list[str] | None = None,
) -> HTMLResponse:
    context = {"lang": lang, "t": Translator(lang), **context}
    response = render(request, name, context, status_code=status_code)
    response.headers.update(NO_STORE)
    if embed_origins:
        # The organisation lets these sites show its survey in an iframe (org settings).
        allow_framing(response, embed_origins)
    return response


def _embed_origins(db: Session, survey: Survey | None) -> list[str]:
    org = get_organization(db, survey.org_id) if survey else None
    return list(org.embed_origins or []) if org else []


def _org_name(db: Session, survey: Survey | None) -> str:
    org = get_organization(db, survey.org_id) if survey else None
    return org.name if org else ""


def _language_links(request: Request, survey: Survey, lang: str) -> list[dict[str, Any]]:
    if len(survey.languages) < 2:
        return []
    links = []
    for code in survey.languages:
        query = {k: v for k, v in request.query_params.items() if k != "lang"}
        query["lang"] = code
        links.append({"code": code, "href": f"?{urlencode(query)}", "active": code == lang})
    return links


INVITE_STATUS = {"invite_invalid": 404, "invite_expired": 410, "answered": 409}


def _message_page(
    request: Request, db: Session, survey: Survey | None, state: str, lang: str
) -> HTMLResponse:
    if state in INVITE_STATUS:
        return _page(request, "respond/message.html", lang,
                     {"kind": state, "org_name": _org_name(db, survey)},
                     status_code=INVITE_STATUS[state],
                     embed_origins=_embed_origins(db, survey))
    if state == "missing":
        return _page(request, "respond/message.html", lang,
                     {"kind": "not_found", "org_name": ""}, status_code=404)
    return _page(request, "respond/message.html", lang,
                 {"kind": "closed", "org_name": _org_name(db, survey)}, status_code=410,
                 embed_origins=_embed_origins(db, survey))


def _thanks_url(token: str, lang: str, response_id: str) -> str:
    return f"/s/{token}/thanks?{urlencode({'lang': lang, 'r': response_id})}"


def _form_page(
    request: Request,
    db: Session,
    survey: Survey,
    *,
    lang: str,
    channel: str,
    values: dict[str, Any] | None = None,
    error: FieldError | None = None,
    invite: str = "",
) -> HTMLResponse:
    values = values or {}
    submit_url = f"/s/{survey.public_token}/responses"
    if invite:
        submit_url += f"?{urlencode({'inv': invite})}"
    # The no-JS form posts this key; survey.js replaces it with the one in sessionStorage.
    key = values.get("idempotency_key") or uuid.uuid4().hex
    config = {
        "endpoint": submit_url,
        "storageKey": f"npsloop.survey.{survey.public_token}",
        "lang": lang,
        "channel": channel,
        "commentMax": COMMENT_MAX,
        "messages": {
            "scoreRequired": Translator(lang)("public.error.score"),
            "network": Translator(lang)("public.error.network"),
            "submitting": Translator(lang)("public.submitting"),
        },
    }
    context = {
        "survey": survey,
        "token": survey.public_token,
        "submit_url": submit_url,
        "org_name": _org_name(db, survey),
        "channel": channel,
        "idempotency_key": key,
        "scores": score_buttons(),
        "comment_max": COMMENT_MAX,
        "values": values,
        "error": error,
        "error_message": error.message(lang) if error else "",
        "language_links": _language_links(request, survey, lang),
        "config": config,
        **question_blocks(survey, lang),
    }
    return _page(request, "respond/survey.html", lang, context,
                 status_code=422 if error else 200, embed_origins=_embed_origins(db, survey))


@router.get("/s/{token}", response_class=HTMLResponse)
def survey_page(token: str, request: Request, db: SessionDep) -> HTMLResponse:
    survey, state = _find(db, token)
    lang = page_language(survey, request.query_params.get("lang"),
                         request.headers.get("accept-language"))
    if survey is None or state != "live":
        return _message_page(request, db, survey, state, lang)
    channel = page_channel(request.query_params.get("ch"))
    invite = request.query_params.get("inv", "")
    if invite:
        invitation, problem = links.resolve(db, survey, invite)
        if invitation is None or problem:
            return _message_page(request, db, survey, problem, lang)
        links.mark_opened(db, invitation)
        channel = page_channel(invitation.channel)
        # A personal link takes one answer by itself: no ballot cookie needed.
        return _form_page(request, db, survey, lang=lang, channel=channel, invite=invite)
    response = _form_page(request, db, survey, lang=lang, channel=channel)
    ballot.give_cookie(request, response, request.app.state.settings, token,
                       embedded=bool(_embed_origins(db, survey)))
    return response


def _answer_language(survey: Survey, answer: PublicAnswer) -> str:
    if answer.language is None:
        return survey.default_language
    lang = normalize_language(answer.language)
    if lang not in survey.languages:
        raise FieldError("language", f"must be one of {', '.join(survey.languages)}")
    return lang


def _invitation(db: Session, survey: Survey, invite: str) -> Invitation | None:
    """The personal link's invitation, or FieldError("invitation") saying why it is not
    usable (an answered invitation is "already_answered": one response per token)."""
    if not invite:
        return None
    invitation, problem = links.resolve(db, survey, invite)
    if invitation is not None and not problem and links.already_complete(db, survey, invitation):
        problem = "answered"
    if invitation is None or problem:
        kind = {"answered": "already_answered", "invite_expired": "invite_expired"}.get(
            problem, "invite_invalid")
        raise FieldError("invitation", f"personal link not usable: {kind}", kind)
    return invitation


def _save(db: Session, survey: Survey, raw: object,
          invite: str = "") -> tuple[service.IngestResult, str]:
    """Validates and ingests; raises FieldError. Returns the result and the language used."""
    invitation = _invitation(db, survey, invite)
    answer = public_input.parse(raw)
    lang = _answer_language(survey, answer)
    answer = public_input.apply_survey_rules(survey, answer)
    data = public_input.to_create(answer, language=lang, channel=page_channel(answer.channel))
    if invitation is not None:
        data = links.personalise(db, invitation, data)
    try:
        result = service.ingest(db, survey=survey, data=data, allow_backdate=False,
                                channel=data.channel)
    except service.IngestError as exc:
        kind = "unknown" if exc.message.startswith("unknown") else "value_error"
        raise FieldError(exc.field, exc.message, kind) from exc
    if invitation is not None:
        links.record(db, invitation, result.response)
    return result, lang


def _json_error(error: FieldError, lang: str, status_code: int = 422) -> JSONResponse:
    body = {"detail": error.detail(), "field": error.field, "message": error.message(lang)}
    return JSONResponse(body, status_code=status_code, headers=NO_STORE)


def _invite_error(error: FieldError, lang: str) -> JSONResponse:
    """A personal link that cannot take this answer: shown as a page-level message."""
    state = {"already_answered": "answered"}.get(error.kind, error.kind)
    body = {"detail": error.detail(), "field": "", "reason": error.kind,
            "message": Translator(lang)(f"public.{state}.body")}
    return JSONResponse(body, status_code=INVITE_STATUS[state], headers=NO_STORE)


def _limited(request: Request, db: Session, survey: Survey | None, lang: str,
             retry_after: int, as_json: bool) -> Response:
    headers = {**NO_STORE, "Retry-After": str(retry_after)}
    if as_json:
        body = {"detail": "too many responses to this survey from this address",
                "message": Translator(lang)("public.limited.body")}
        return JSONResponse(body, status_code=429, headers=headers)
    response = _page(request, "respond/message.html", lang,
                     {"kind": "limited", "org_name": _org_name(db, survey)}, status_code=429)
    response.headers.update(headers)
    return response


def _ballot(request: Request, db: Session, survey: Survey, raw: object,
            invite: str) -> ballot.BallotCheck:
    """Open links are pinned to the browser's ballot; a personal link is its own guard
    (one response per invitation), so it skips the cookie and the per-address cap."""
    return ballot.BallotCheck() if invite else ballot.check(request, db, survey, raw)


def _submit_json(request: Request, db: Session, token: str, raw: object,
                 lang_hint: str | None, invite: str = "") -> Response:
    survey, state = _find(db, token)
    lang = page_language(survey, lang_hint, None)
    if survey is None:
        return JSONResponse({"detail": "survey not found"}, status_code=404, headers=NO_STORE)
    if state == "closed":
        body = {"detail": "survey is closed",
                "message": Translator(lang)("public.closed.title")}
        return JSONResponse(body, status_code=410, headers=NO_STORE)
    checked = _ballot(request, db, survey, raw, invite)
    if checked.limited:
        return _limited(request, db, survey, lang, checked.limited.retry_after_seconds, True)
    try:
        result, lang = _save(db, survey, raw, invite)
    except FieldError as error:
        if error.field == "invitation":
            return _invite_error(error, lang)
        return _json_error(error, lang)
    saved = result.response
    body = {
        "id": saved.id,
        "status": saved.status,
        "score": saved.score,
        "category": saved.category,
        "created": result.created,
        "thanks_url": _thanks_url(token, lang, saved.id),
        # This browser had answered already: its first answer stands, nothing is counted twice.
        "already_answered": checked.already_answered,
    }
    if checked.already_answered:
        body["message"] = Translator(lang)("public.already_answered")
    return JSONResponse(body, status_code=201 if result.created else 200, headers=NO_STORE)


def _submit_form(request: Request, db: Session, token: str, raw: dict[str, Any],
                 invite: str = "") -> Response:
    survey, state = _find(db, token)
    lang = page_language(survey, raw.get("language"), request.headers.get("accept-language"))
    if survey is None or state != "live":
        return _message_page(request, db, survey, state, lang)
    channel = page_channel(raw.get("channel"))
    checked = _ballot(request, db, survey, raw, invite)
    if checked.limited:
        return _limited(request, db, survey, lang, checked.limited.retry_after_seconds, False)
    try:
        result, lang = _save(db, survey, raw, invite)
    except FieldError as error:
        db.rollback()
        if error.field == "invitation":
            state = {"already_answered": "answered"}.get(error.kind, error.kind)
            return _message_page(request, db, survey, state, lang)
        return _form_page(request, db, survey, lang=lang, channel=channel, values=raw,
                          error=error, invite=invite)
    return RedirectResponse(_thanks_url(token, lang, result.response.id), status_code=303,
                            headers=NO_STORE)


@router.post("/s/{token}/responses")
async def submit(token: str, request: Request, db: SessionDep) -> Response:
    """JSON from survey.js (partial on tap, complete on submit) or the no-JS form post."""
    is_json = request.headers.get("content-type", "").split(";")[0].strip() == "application/json"
    invite = request.query_params.get("inv", "")[:120]
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        error = FieldError("", f"request body over {MAX_BODY_BYTES} bytes", "too_large")
        return JSONResponse({"detail": error.detail()}, status_code=413, headers=NO_STORE)
    await run_in_threadpool(ballot.limit_requests, request, db, token)
    if is_json:
        try:
            raw: object = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            error = FieldError("", "body is not valid JSON", "json_invalid")
            return _json_error(error, page_language(None, None, None))
        hint = raw.get("language") if isinstance(raw, dict) else None
        hint = hint if isinstance(hint, str) else None
        # The DB work is synchronous; run it off the event loop like FastAPI's sync routes.
        return await run_in_threadpool(_submit_json, request, db, token, raw, hint, invite)
    form = await request.form()
    return await run_in_threadpool(_submit_form, request, db, token,
                                   public_input.form_to_dict(form), invite)


@router.get("/s/{token}/thanks", response_class=HTMLResponse)
def thanks_page(token: str, request: Request, db: SessionDep) -> HTMLResponse:
    survey, state = _find(db, token)
    lang = page_language(survey, request.query_params.get("lang"),
                         request.headers.get("accept-language"))
    if survey is None:
        return _message_page(request, db, survey, state, lang)
    response_id = request.query_params.get("r", "")
    saved = service.get_survey_response(db, survey=survey, response_id=response_id)
    context = {
        "survey": survey,
        "token": token,
        "org_name": _org_name(db, survey),
        "category": saved.category if saved else None,
        "response": saved,
        "language_links": _language_links(request, survey, lang),
    }
    for hook in THANKS_CONTEXT_HOOKS:
        context.update(hook(request, db, survey, saved, lang))
    return _page(request, "respond/thanks.html", lang, context,
                 embed_origins=_embed_origins(db, survey))
