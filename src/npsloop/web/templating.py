"""Jinja2 environment shared by every domain's pages; templates are found per domain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader

from npsloop import __version__
from npsloop.core.deps import request_language
from npsloop.core.i18n import LANGUAGES, Translator

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def _loader() -> ChoiceLoader:
    # web/templates holds the layout; each domain's templates/ folder holds its pages.
    folders = [PACKAGE_ROOT / "web" / "templates"]
    folders += sorted(p for p in PACKAGE_ROOT.glob("*/templates") if p.parent.name != "web")
    return ChoiceLoader([FileSystemLoader(str(f)) for f in folders])


templates = Jinja2Templates(directory=str(PACKAGE_ROOT / "web" / "templates"))
templates.env.loader = _loader()
templates.env.globals["version"] = __version__
templates.env.globals["languages"] = LANGUAGES


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    lang = request_language(request)
    base = {
        "request": request,
        "lang": lang,
        "t": Translator(lang),
        "principal": getattr(request.state, "principal", None),
    }
    base.update(context or {})
    response = templates.TemplateResponse(request, name, base, status_code=status_code)
    if request.query_params.get("lang"):
        # Remember an explicit language choice for the next pages.
        response.set_cookie("lang", lang, max_age=3600 * 24 * 365, samesite="lax")
    return response
