"""Public referral routes, no login: the personal link, its QR image and the share ping.

GET /r/{code}: records the visit (keyed hash of the IP address and the user agent) and
redirects (302) to the organisation's landing URL with the code as a query parameter; with no
landing URL configured, a small "you were invited" page shows the code instead. Unknown codes
get one uniform 404 page.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from npsloop.accounts.models import Organization
from npsloop.core.deps import SessionDep
from npsloop.core.i18n import Translator
from npsloop.referrals import codes, invite, service
from npsloop.responses.public_view import page_language
from npsloop.responses.service import get_survey_response
from npsloop.surveys.service import get_by_public_token, qr_png
from npsloop.web.templating import render

router = APIRouter(include_in_schema=False)
NO_STORE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}
MAX_PING_BYTES = 1024


def _lang(request: Request, org: Organization | None) -> str:
    fallback = org.default_language if org else "zh-CN"
    return page_language(None, request.query_params.get("lang"),
                         request.headers.get("accept-language"), fallback)


def _page(request: Request, name: str, lang: str, context: dict[str, Any],
          status_code: int = 200) -> HTMLResponse:
    response = render(request, name, {"lang": lang, "t": Translator(lang), **context},
                      status_code=status_code)
    response.headers.update(NO_STORE)
    return response


def _not_found(request: Request) -> HTMLResponse:
    lang = _lang(request, None)
    return _page(request, "referrals/landing.html", lang,
                 {"kind": "not_found", "org_name": "", "language_links": []}, 404)


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/r/{code}", response_class=HTMLResponse)
def visit(code: str, request: Request, db: SessionDep) -> Response:
    found = service.find_code(db, code) if len(code) <= 32 else None
    if found is None:
        return _not_found(request)
    settings = request.app.state.settings
    service.record_visit(db, found, ip=_client_ip(request),
                         user_agent=request.headers.get("user-agent", ""),
                         secret_key=settings.secret_key)
    db.commit()
    target = service.landing_redirect(service.get_settings(db, found.org_id), found.code)
    if target:
        return RedirectResponse(target, status_code=302, headers=NO_STORE)
    org = db.get(Organization, found.org_id)
    lang = _lang(request, org)
    return _page(request, "referrals/landing.html", lang, {
        "kind": "invited", "org_name": org.name if org else "", "language_links": [],
        "code_display": codes.display(found.code)})


@router.get("/referral-invite/{token}/{response_id}")
def invite_json(token: str, response_id: str, request: Request, db: SessionDep) -> Response:
    """The thank-you invitation as JSON, for a survey shown elsewhere (an embedded widget):
    the same code, link, QR and texts as the web thank-you page. Anyone else than a promoter
    of a live survey gets {"invite": null}. Readable cross-origin: it holds nothing but the
    promoter's own invitation, and the response id is an unguessable key."""
    headers = {**NO_STORE, "Access-Control-Allow-Origin": "*"}
    survey = get_by_public_token(db, token) if len(token) <= 64 else None
    if survey is None or survey.status == "draft":
        return JSONResponse({"detail": "survey not found"}, 404, headers=headers)
    saved = get_survey_response(db, survey=survey, response_id=response_id)
    lang = page_language(survey, request.query_params.get("lang"),
                         request.headers.get("accept-language"))
    context = invite.thanks_context(request, db, survey, saved, lang)
    body = context.get("referral_invite")
    if body is not None:
        base = request.app.state.settings.base_url.rstrip("/")
        body = {**body, "qr_url": base + body["qr_url"],
                "share_endpoint": base + body["share_endpoint"], "language": lang}
    return JSONResponse({"invite": body}, headers=headers)


@router.get("/r/{code}/qr.png")
def qr_image(code: str, request: Request, db: SessionDep) -> Response:
    found = service.find_code(db, code) if len(code) <= 32 else None
    if found is None:
        return Response(status_code=404, headers=NO_STORE)
    base_url = request.app.state.settings.base_url.rstrip("/")
    png = qr_png(f"{base_url}/r/{found.code}", scale=8, border=3)
    return Response(png, media_type="image/png",
                    headers={"Cache-Control": "public, max-age=86400",
                             "X-Robots-Tag": "noindex"})


def _ping(db: Session, code: str, body: bytes) -> Response:
    found = service.find_code(db, code) if len(code) <= 32 else None
    if found is None:
        return JSONResponse({"detail": "referral code not found"}, 404, headers=NO_STORE)
    try:
        data = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        data = None
    method = data.get("method") if isinstance(data, dict) else None
    if not isinstance(method, str):
        return JSONResponse({"detail": [{"loc": ["body", "method"], "msg": "is required",
                                         "type": "missing"}]}, 422, headers=NO_STORE)
    try:
        service.record_share(db, found, method)
    except service.ReferralError as exc:
        return JSONResponse({"detail": [{"loc": ["body", exc.field], "msg": exc.message,
                                         "type": "value_error"}]}, 422, headers=NO_STORE)
    db.commit()
    return Response(status_code=204, headers=NO_STORE)


@router.post("/r/{code}/shared")
async def shared(code: str, request: Request, db: SessionDep) -> Response:
    """The promoter copied the link, saved the QR image or used the share sheet."""
    body = await request.body()
    if len(body) > MAX_PING_BYTES:
        return JSONResponse({"detail": "request body too large"}, 413, headers=NO_STORE)
    return await run_in_threadpool(_ping, db, code, body)
