"""Widget pages: site keys (create, allowed origins, revoke, the snippet to paste) for owners
and admins, and the test page that embeds the snippet like a customer's site would.

The test page is served in development and test, or to a signed-in owner/admin in
production. It carries its own Content-Security-Policy: the snippet is an inline script (as a
customer pastes it), allowed by a per-response nonce, and the widget host is allowed for
script and connect.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from npsloop.accounts.deps import Principal, optional_principal, require
from npsloop.accounts.service import audit
from npsloop.core.deps import SessionDep, SettingsDep
from npsloop.core.i18n import normalize_language
from npsloop.core.security import new_token
from npsloop.web.templating import render
from npsloop.widget import sitekeys
from npsloop.widget.models import SiteKey

router = APIRouter(include_in_schema=False)
Manager = Annotated[Principal, Depends(require("apikey:manage", page=True))]


async def posted_form(request: Request) -> FormData:
    return await request.form()


FormDep = Annotated[FormData, Depends(posted_form)]


def _origins(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def _list_page(request: Request, db: SessionDep, settings: SettingsDep, principal: Principal,
               errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
               created: str = "", status_code: int = 200) -> HTMLResponse:
    request.state.principal = principal
    keys = sitekeys.list_site_keys(db, org_id=principal.org_id)
    rows = [{"key": k, "snippet": sitekeys.snippet(settings.base_url, k)} for k in keys]
    return render(request, "widget/site_keys.html", {
        "rows": rows, "errors": errors or {}, "values": values or {}, "created": created,
        "base_url": settings.base_url.rstrip("/")}, status_code=status_code)


@router.get("/widget", response_class=HTMLResponse)
def site_keys_page(request: Request, db: SessionDep, settings: SettingsDep,
                   principal: Manager, created: str = "") -> HTMLResponse:
    return _list_page(request, db, settings, principal, created=created[:32])


@router.post("/widget/site-keys", response_class=HTMLResponse)
def create_key(request: Request, db: SessionDep, settings: SettingsDep, principal: Manager,
               form: FormDep) -> Response:
    name = str(form.get("name") or "")
    origins = str(form.get("allowed_origins") or "")
    try:
        created = sitekeys.create_site_key(db, org_id=principal.org_id, name=name,
                                           allowed_origins=_origins(origins),
                                           created_by=principal.actor,
                                           verify_identity=form.get("verify_identity") == "on")
    except sitekeys.SiteKeyError as exc:
        db.rollback()
        return _list_page(request, db, settings, principal, errors={exc.field: exc.message},
                          values={"name": name, "allowed_origins": origins}, status_code=422)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="widget.site_key.create",
          target=("widget_site_key", created.id), detail={"origins": created.allowed_origins})
    db.commit()
    return RedirectResponse(f"/widget?created={created.id}", status_code=303)


def _load(db: SessionDep, principal: Principal, site_key_id: str) -> SiteKey:
    found = sitekeys.get_site_key(db, org_id=principal.org_id, key_id=site_key_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"site key '{site_key_id}' not found")
    return found


@router.post("/widget/site-keys/{site_key_id}/origins", response_class=HTMLResponse)
def update_origins(site_key_id: str, request: Request, db: SessionDep, settings: SettingsDep,
                   principal: Manager, form: FormDep) -> Response:
    found = _load(db, principal, site_key_id)
    text = str(form.get("allowed_origins") or "")
    try:
        sitekeys.update_site_key(db, site_key=found, allowed_origins=_origins(text))
    except sitekeys.SiteKeyError as exc:
        db.rollback()
        return _list_page(request, db, settings, principal,
                          errors={f"{site_key_id}.{exc.field}": exc.message}, status_code=422)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="widget.site_key.update",
          target=("widget_site_key", found.id), detail={"origins": found.allowed_origins})
    db.commit()
    return RedirectResponse("/widget", status_code=303)


@router.post("/widget/site-keys/{site_key_id}/identity")
def switch_identity(site_key_id: str, db: SessionDep, principal: Manager,
                    form: FormDep) -> Response:
    found = _load(db, principal, site_key_id)
    turn_on = form.get("verify_identity") == "on"
    sitekeys.update_site_key(db, site_key=found, verify_identity=turn_on)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="widget.site_key.update",
          target=("widget_site_key", found.id), detail={"verify_identity": turn_on})
    db.commit()
    return RedirectResponse("/widget", status_code=303)


@router.post("/widget/site-keys/{site_key_id}/revoke")
def revoke_key(site_key_id: str, db: SessionDep, principal: Manager) -> Response:
    found = _load(db, principal, site_key_id)
    sitekeys.revoke_site_key(db, site_key=found)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="widget.site_key.revoke",
          target=("widget_site_key", found.id))
    db.commit()
    return RedirectResponse("/widget", status_code=303)


def _test_page_allowed(settings: SettingsDep, principal: Principal | None) -> bool:
    if settings.env in ("development", "test"):
        return True
    return principal is not None and principal.can("apikey:manage")


@router.get("/widget/test", response_class=HTMLResponse)
def test_page(request: Request, db: SessionDep, settings: SettingsDep,
              principal: Annotated[Principal | None, Depends(optional_principal)],
              key: str = "", host: str = "", user: str = "", event: str = "",
              lang: str = "") -> HTMLResponse:
    if not _test_page_allowed(settings, principal):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="Not Found")
    if not key and principal is not None:  # a signed-in admin: their newest active key
        active = [k for k in sitekeys.list_site_keys(db, org_id=principal.org_id)
                  if k.revoked_at is None]
        key = active[0].key if active else ""
    try:
        widget_host = sitekeys.normalize_origin(host) if host else str(
            request.base_url).rstrip("/")
    except sitekeys.SiteKeyError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[
            {"loc": ["query", "host"], "msg": exc.message, "type": "value_error"}]) from exc
    nonce = new_token(16)
    options: dict[str, Any] = {"host": widget_host, "key": key[:64]}
    page_lang = normalize_language(lang)
    if page_lang:
        options["lang"] = page_lang
    response = render(request, "widget/test_page.html", {
        "nonce": nonce, "options_json": json.dumps(options), "widget_host": widget_host,
        "key": key[:64], "user": user[:200], "event": event[:100] or "order_paid",
        "page_lang": page_lang or ""})
    # The referral share ping goes to the configured base URL, which may differ in development.
    parts = urlsplit(settings.base_url)
    base = f"{parts.scheme}://{parts.netloc}"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' 'nonce-{nonce}' {widget_host}; "
        f"connect-src 'self' {widget_host} {base}; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: {widget_host} {base}; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'")
    response.headers["Cache-Control"] = "no-store"
    return response
