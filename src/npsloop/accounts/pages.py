"""Sign-in and sign-out pages; sets the session cookie."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from npsloop.accounts import service
from npsloop.accounts.deps import SESSION_COOKIE
from npsloop.core.deps import SessionDep, SettingsDep
from npsloop.web.templating import render

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect after login is a phishing aid.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
):
    result = service.login(db, email=email, password=password,
                           max_age_hours=settings.session_max_age_hours)
    if result is None:
        return render(request, "login.html",
                      {"next": _safe_next(next), "error": "login.failed", "email": email},
                      status_code=401)
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
def logout(request: Request, db: SessionDep) -> RedirectResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        service.logout(db, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
