"""Sign-in and sign-out pages (they set the session cookie) and the organisation's settings page."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from npsloop.accounts import org_settings, service, throttle
from npsloop.accounts.deps import SESSION_COOKIE, Principal, require
from npsloop.core.config import Settings
from npsloop.core.deps import SessionDep, SettingsDep, request_language
from npsloop.core.i18n import translate
from npsloop.core.security import constant_time_equals
from npsloop.web.templating import render

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect after login is a phishing aid.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def _login_page(request: Request, context: dict, status_code: int = 200) -> HTMLResponse:
    return render(request, "login.html", context, status_code=status_code)


def _cross_site(request: Request) -> bool:
    """A sign-in posted by another site's page (login CSRF: signing the victim into the
    attacker's account). There is no session yet to hold a token, so the browser's Origin
    header (sent with every cross-site form post) is checked against this host."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin == "null"
    return urlsplit(origin).netloc != request.headers.get("host", request.url.netloc)


def _lockout(settings: Settings) -> list[throttle.RateLimit]:
    if settings.login_lockout_failures <= 0:
        return []
    return [throttle.RateLimit(settings.login_lockout_failures,
                               settings.login_lockout_minutes * 60.0)]


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return _login_page(request, {"next": _safe_next(next), "error": None})


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
):
    if _cross_site(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            detail="sign-in posted from another site; use the sign-in page")
    context = {"next": _safe_next(next), "email": email}
    limited = throttle.hit(db, "login:addr", throttle.client_address(request),
                           throttle.per_minute(settings.login_attempts_per_minute))
    # The lockout counts failures of one account from one address: a guesser is stopped
    # without letting anyone lock the real user out from elsewhere.
    account = f"{email.strip().lower()}|{throttle.client_address(request)}"
    limited = limited or throttle.peek(db, "login:fail", account, _lockout(settings))
    if limited is not None:
        minutes = max(1, round(limited.retry_after / 60))
        response = _login_page(request, {
            **context, "error": "login.locked", "error_params": {"minutes": minutes}},
            status_code=429)
        response.headers["Retry-After"] = str(limited.retry_after_seconds)
        return response
    result = service.login(db, email=email, password=password,
                           max_age_hours=settings.session_max_age_hours)
    if result is None:
        throttle.hit(db, "login:fail", account, _lockout(settings))
        return _login_page(request, {**context, "error": "login.failed"},
                           status_code=401)
    throttle.clear(db, "login:fail", account)
    user, token, _ = result
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="lax",
        secure=settings.base_url.startswith("https"),
        max_age=settings.session_max_age_hours * 3600,
    )
    if user.language:
        response.set_cookie("lang", user.language, samesite="lax")
    return response


@router.post("/logout")
async def logout(request: Request, db: SessionDep) -> RedirectResponse:
    token = request.cookies.get(SESSION_COOKIE)
    resolved = service.resolve_session(db, token) if token else None
    if resolved is not None:
        # Signing a user out is a state change too: it needs the session's CSRF token.
        form = await request.form()
        supplied = request.headers.get("x-csrf-token") or str(form.get("csrf_token") or "")
        if not constant_time_equals(supplied, resolved[1].csrf_token):
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="CSRF token missing or invalid")
        service.logout(db, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


# -- the organisation's settings page (owner) ----------------------------------------------

OrgOwner = Annotated[Principal, Depends(require("org:manage", page=True))]


def _org_page(request: Request, db: SessionDep, principal: Principal, *,
              values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
              notice: str | None = None, status_code: int = 200) -> HTMLResponse:
    request.state.principal = principal  # base.html's sidebar and the form's CSRF token
    org = service.get_organization(db, principal.org_id)
    if org is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "organisation not found")
    shown = values or {**org_settings.read(org).__dict__}
    if isinstance(shown.get("embed_origins"), list):
        shown["embed_origins"] = "\n".join(shown["embed_origins"])
    return render(request, "org_settings.html", {
        "values": shown, "errors": errors or {}, "notice": notice,
        "timezones": sorted(available_timezones()), "languages": org_settings.LANGUAGES,
    }, status_code=status_code)


@router.get("/settings/org", response_class=HTMLResponse)
def org_page(request: Request, db: SessionDep, principal: OrgOwner) -> HTMLResponse:
    return _org_page(request, db, principal, notice=request.query_params.get("done"))


@router.post("/settings/org", response_class=HTMLResponse)
async def save_org(request: Request, db: SessionDep, principal: OrgOwner) -> Response:
    form = await request.form()
    values = {name: str(form.get(name) or "") for name in org_settings.FIELDS}
    changes: dict[str, Any] = {name: values[name] for name in
                               ("name", "timezone", "default_language")}
    changes["embed_origins"] = [line.strip() for line in values["embed_origins"].splitlines()
                                if line.strip()]
    org = service.get_organization(db, principal.org_id)
    if org is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "organisation not found")
    try:
        org_settings.update(db, org, changes, actor=principal.actor)
    except org_settings.OrgSettingsError as exc:
        db.rollback()
        field = exc.field.split(".", 1)[0]
        message = translate(f"org.error.{field}", request_language(request))
        return _org_page(request, db, principal, values=values, errors={field: message},
                         status_code=422)
    return RedirectResponse("/settings/org?done=saved", status_code=303)
