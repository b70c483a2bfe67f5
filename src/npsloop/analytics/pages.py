"""Dashboard page (the helper building the dashboard replaces this stub)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from npsloop.accounts.deps import Principal, require
from npsloop.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def dashboard(
    request: Request, principal: Annotated[Principal, Depends(require("stats:read", page=True))]
) -> HTMLResponse:
    request.state.principal = principal
    return render(request, "dashboard.html", {})
