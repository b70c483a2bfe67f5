"""The widget's public endpoints (no login; a publishable site key in the path) and the
script itself.

POST /widget/v1/{key}/identify   {user_id, attributes?, lang?}
POST /widget/v1/{key}/track      {user_id, event, properties?, event_id?, lang?}
    both answer {"show": true, "ticket", "delay_seconds", "survey": {...}} when an
    invitation is to be shown, else {"show": false, "refusals": [rule, ...]}
POST /widget/v1/{key}/shown      {ticket}          -> the invitation is "opened"
POST /widget/v1/{key}/dismissed  {ticket}          -> "dismissed" (counts for fatigue)
POST /widget/v1/{key}/answer     {ticket, score, comment?, lang?, complete?}
GET  /widget/npsloop.js          the script

Bodies are JSON whatever the Content-Type says: the script posts them as text/plain, which a
browser sends cross-origin without a preflight. Every answer carries CORS headers for an
allowed origin (so the page can read errors too); a disallowed origin gets a 403 without
them. Bad input is a 4xx naming the field; calls are bounded per key and client address.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from npsloop.accounts import throttle
from npsloop.core.deps import SessionDep
from npsloop.core.i18n import negotiate, normalize_language
from npsloop.distribution.models import Invitation
from npsloop.widget import flow, sitekeys
from npsloop.widget.models import SiteKey
from npsloop.widget.ratelimit import SlidingWindow

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).resolve().parent / "static"
SCRIPT_PATH = STATIC / "npsloop.js"
MAX_BODY_BYTES = 16_000
MAX_DEPTH = 16
NO_STORE = {"Cache-Control": "no-store"}
# Per site key and client address; a page makes a handful of calls per view.
PER_CLIENT = SlidingWindow(limit=120, per_seconds=60)
# Per site key overall: a burst from many addresses still cannot flood one organisation.
PER_KEY = SlidingWindow(limit=6000, per_seconds=60)
AttributeValue = str | int | float | bool | None
ModelT = TypeVar("ModelT", bound=BaseModel)


class IdentifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str = Field(min_length=1, max_length=200)
    attributes: dict[Annotated[str, Field(max_length=64)], AttributeValue] = Field(
        default_factory=dict, max_length=100)
    user_hash: str | None = Field(None, max_length=128)
    lang: str | None = Field(None, max_length=16)


class TrackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str = Field(min_length=1, max_length=200)
    event: str = Field(min_length=1, max_length=100)
    properties: dict[str, Any] = Field(default_factory=dict, max_length=100)
    event_id: str | None = Field(None, min_length=1, max_length=100)
    user_hash: str | None = Field(None, max_length=128)
    lang: str | None = Field(None, max_length=16)


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticket: str = Field(min_length=3, max_length=200)


class AnswerBody(TicketIn):
    score: StrictInt = Field(ge=0, le=10)
    comment: str = Field("", max_length=5000)
    lang: str | None = Field(None, max_length=16)
    complete: StrictBool = True


class Rejection(Exception):
    def __init__(self, status_code: int, detail: object, headers: dict[str, str] | None = None
                 ) -> None:
        super().__init__(str(detail))
        self.status_code = status_code
        self.detail = detail
        self.headers = headers or {}


def _field_error(field: str, message: str, kind: str = "value_error") -> list[dict[str, Any]]:
    return [{"loc": ["body", *field.split(".")] if field else ["body"], "msg": message,
             "type": kind}]


def _cors(origin: str | None) -> dict[str, str]:
    if origin is None:
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin",
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "600"}


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _limit(key: str, client: str) -> None:
    wait = max(PER_CLIENT.hit(f"{key}|{client}"), PER_KEY.hit(key))
    if wait > 0:
        raise Rejection(429, "too many widget calls; slow down",
                        {"Retry-After": str(int(wait) + 1)})


def _shared_limit(request: Request, db: Session, key: str) -> None:
    """The budget shared by every process (see ratelimit.py), for a key that exists: an
    unknown key was refused already and leaves no row behind."""
    try:
        throttle.limit_widget_decide(request, db, key)
    except HTTPException as exc:
        raise Rejection(exc.status_code, exc.detail, dict(exc.headers or {})) from exc


def _site_key(db: Session, key: str, origin: str | None) -> SiteKey:
    found = sitekeys.resolve(db, key)
    if found is None:
        raise Rejection(401, "site key unknown or revoked")
    if not sitekeys.origin_allowed(found, origin):
        raise Rejection(403, f"origin '{origin}' is not allowed for this site key")
    return found


def _no_constants(name: str) -> object:
    # NaN and Infinity are not JSON; PostgreSQL's json type refuses them on insert.
    raise ValueError(f"{name} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses as infinity
        raise ValueError(f"{text} is out of range")
    return value


def _problem_in(value: object) -> tuple[list[str], str] | None:
    """A NUL character (no database text column stores one) or nesting deeper than
    MAX_DEPTH (JSON encoders recurse) anywhere in the body: its path and what is wrong.
    Walked with a stack, not recursion, so a hostile body cannot blow the stack here."""
    stack: list[tuple[object, list[str]]] = [(value, [])]
    while stack:
        item, path = stack.pop()
        if len(path) > MAX_DEPTH:
            return path[:MAX_DEPTH + 1], f"nests deeper than {MAX_DEPTH} levels"
        if isinstance(item, str):
            if "\x00" in item:
                return path, "must not contain NUL characters"
        elif isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in key:
                    return path, "must not contain NUL characters"
                stack.append((child, [*path, key]))
        elif isinstance(item, list):
            stack.extend((child, [*path, str(i)]) for i, child in enumerate(item))
    return None


def _parse(model: type[ModelT], body: bytes) -> ModelT:
    try:
        raw = json.loads(body or b"{}", parse_constant=_no_constants, parse_float=_finite)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Rejection(422, _field_error("", "body is not valid JSON", "json_invalid")) from exc
    if not isinstance(raw, dict):
        raise Rejection(422, _field_error("", "body must be a JSON object", "type_error"))
    problem = _problem_in(raw)
    if problem is not None:
        raise Rejection(422, [{"loc": ["body", *problem[0]], "msg": problem[1],
                               "type": "value_error"}])
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        detail = [{"loc": ["body", *err.get("loc", ())], "msg": err.get("msg", ""),
                   "type": err.get("type")} for err in exc.errors()]
        raise Rejection(422, detail) from exc


def _language(request: Request, lang: str | None) -> str:
    return normalize_language(lang) or negotiate(request.headers.get("accept-language"), "en")


def _offer_body(request: Request, db: Session, site_key: SiteKey, offer: flow.Offer,
                lang: str | None) -> dict[str, Any]:
    if offer.invitation is None:
        return {"show": False, "refusals": offer.refusals}
    secret = request.app.state.settings.secret_key
    return {"show": True, "ticket": sitekeys.ticket_for(secret, site_key, offer.invitation.id),
            "delay_seconds": offer.delay_seconds,
            "survey": flow.survey_view(db, offer.invitation, lang,
                                       request.headers.get("accept-language"))}


def _ticketed(request: Request, db: Session, site_key: SiteKey, ticket: str) -> Invitation:
    invitation_id = sitekeys.invitation_of(request.app.state.settings.secret_key, site_key,
                                           ticket)
    if invitation_id is None:
        raise flow.WidgetError("ticket", "is not a ticket of this site key", 403)
    return flow.load_invitation(db, org_id=site_key.org_id, invitation_id=invitation_id)


def _verified(site_key: SiteKey, user_id: str, user_hash: str | None) -> None:
    if not sitekeys.identity_ok(site_key, user_id, user_hash):
        raise Rejection(403, [{"loc": ["body", "user_hash"], "type": "value_error", "msg": (
            "missing or wrong: identity verification is on for this site key, so user_hash "
            "must be HMAC-SHA256(identity secret, user_id) in hex, computed by your server")}])


def _identify(request: Request, db: Session, site_key: SiteKey, body: bytes) -> dict[str, Any]:
    data = _parse(IdentifyIn, body)
    _verified(site_key, data.user_id.strip(), data.user_hash)
    contact = flow.identify(db, org_id=site_key.org_id, user_id=data.user_id.strip(),
                            attributes=data.attributes)
    offer = flow.offer_for(db, org_id=site_key.org_id, contact=contact, event=None,
                           properties=None, language=_language(request, data.lang))
    return _offer_body(request, db, site_key, offer, data.lang)


def _track(request: Request, db: Session, site_key: SiteKey, body: bytes) -> dict[str, Any]:
    data = _parse(TrackIn, body)
    _verified(site_key, data.user_id.strip(), data.user_hash)
    offer = flow.track(db, org_id=site_key.org_id, user_id=data.user_id.strip(),
                       event=data.event, properties=data.properties, event_id=data.event_id,
                       language=_language(request, data.lang))
    return _offer_body(request, db, site_key, offer, data.lang)


def _marker(event: str) -> Callable[[Request, Session, SiteKey, bytes], dict[str, Any]]:
    def handle(request: Request, db: Session, site_key: SiteKey, body: bytes) -> dict[str, Any]:
        data = _parse(TicketIn, body)
        invitation = _ticketed(request, db, site_key, data.ticket)
        return {"status": flow.mark(db, invitation=invitation, event=event).status}

    return handle


def _answer(request: Request, db: Session, site_key: SiteKey, body: bytes) -> dict[str, Any]:
    data = _parse(AnswerBody, body)
    invitation = _ticketed(request, db, site_key, data.ticket)
    saved = flow.answer(db, invitation=invitation, data=flow.AnswerIn(
        score=data.score, comment=data.comment.strip(), language=data.lang,
        complete=data.complete))
    return {"response_id": saved.id, "status": saved.status, "category": saved.category,
            "language": saved.language}


ACTIONS: dict[str, Callable[[Request, Session, SiteKey, bytes], dict[str, Any]]] = {
    "identify": _identify, "track": _track, "shown": _marker("opened"),
    "dismissed": _marker("dismissed"), "answer": _answer,
}
# The calls that store events and decide: they count against the shared budget too.
DECIDING = ("identify", "track")


def _run(request: Request, db: Session, key: str, action: str, origin: str | None,
         body: bytes) -> Response:
    try:
        site_key = _site_key(db, key, origin)
    except Rejection as exc:
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=NO_STORE)
    headers = {**NO_STORE, **_cors(origin)}
    try:
        if action in DECIDING:
            _shared_limit(request, db, key)
        result = ACTIONS[action](request, db, site_key, body)
    except Rejection as exc:
        db.rollback()
        return JSONResponse({"detail": exc.detail}, exc.status_code,
                            headers={**headers, **exc.headers})
    except flow.WidgetError as exc:
        db.rollback()
        detail = (_field_error(exc.field, exc.message) if exc.status_code == 422
                  else exc.message)
        return JSONResponse({"detail": detail}, exc.status_code, headers=headers)
    return JSONResponse(result, headers=headers)


@router.post("/widget/v1/{key}/{action}")
async def widget_call(key: str, action: str, request: Request, db: SessionDep) -> Response:
    if action not in ACTIONS:
        return JSONResponse({"detail": f"unknown widget call '{action}'"}, 404,
                            headers=NO_STORE)
    try:
        _limit(key[:64], _client(request))
    except Rejection as exc:
        return JSONResponse({"detail": exc.detail}, exc.status_code,
                            headers={**NO_STORE, **exc.headers})
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return JSONResponse({"detail": f"request body over {MAX_BODY_BYTES} bytes"}, 413,
                            headers=NO_STORE)
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return JSONResponse({"detail": f"request body over {MAX_BODY_BYTES} bytes"}, 413,
                            headers=NO_STORE)
    origin = request.headers.get("origin")
    # The DB work is synchronous; run it off the event loop like FastAPI's sync routes.
    return await run_in_threadpool(_run, request, db, key, action, origin, body)


@router.options("/widget/v1/{key}/{action}")
def widget_preflight(key: str, action: str, request: Request, db: SessionDep) -> Response:
    origin = request.headers.get("origin")
    site_key = sitekeys.resolve(db, key) if action in ACTIONS else None
    if site_key is None or origin is None or not sitekeys.origin_allowed(site_key, origin):
        return Response(status_code=403, headers=NO_STORE)
    return Response(status_code=204, headers=_cors(origin))


@lru_cache(maxsize=1)
def _script(mtime: float) -> tuple[bytes, bytes, str]:
    plain = SCRIPT_PATH.read_bytes()
    # mtime=0: the same bytes every time, so the ETag only changes with the file.
    return plain, gzip.compress(plain, compresslevel=9, mtime=0), hashlib.sha256(
        plain).hexdigest()[:16]


def script_bytes() -> tuple[bytes, bytes, str]:
    """(plain, gzipped, etag) of the widget script, read once per file change."""
    return _script(SCRIPT_PATH.stat().st_mtime)


@router.get("/widget/npsloop.js")
def widget_script(request: Request) -> Response:
    plain, zipped, etag = script_bytes()
    headers = {"Cache-Control": "public, max-age=300", "ETag": f'"{etag}"',
               "Vary": "Accept-Encoding", "Cross-Origin-Resource-Policy": "cross-origin"}
    if request.headers.get("if-none-match") == f'"{etag}"':
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(zipped, media_type="text/javascript; charset=utf-8",
                        headers={**headers, "Content-Encoding": "gzip"})
    return Response(plain, media_type="text/javascript; charset=utf-8", headers=headers)


@router.get("/widget/admin.js")
def admin_script() -> Response:
    """The site-key page's own script (not part of the widget)."""
    return Response((STATIC / "admin.js").read_bytes(),
                    media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=300"})
