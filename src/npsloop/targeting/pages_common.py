"""What the targeting pages share: rendering with the principal, survey names, delays in
words, and times in the organisation's zone."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from npsloop.accounts.deps import Principal
from npsloop.core.deps import request_language
from npsloop.core.i18n import translate
from npsloop.surveys.models import Survey
from npsloop.web.templating import render


def tr(request: Request, key: str, **params: object) -> str:
    return translate(key, request_language(request), **params)


def page(request: Request, principal: Principal, name: str, context: dict[str, Any],
         status_code: int = 200) -> HTMLResponse:
    request.state.principal = principal
    base = {"can_write": principal.can("survey:write"), "delay_text": delay_text}
    return render(request, name, {**base, **context}, status_code=status_code)


def surveys_of(db: Session, org_id: str) -> dict[str, Survey]:
    return {s.id: s for s in db.scalars(select(Survey).where(Survey.org_id == org_id)
                                        .order_by(Survey.name))}


def delay_parts(seconds: int) -> tuple[int | float, str]:
    """The largest whole unit: 7200 -> (2, "hours"), 90 -> (1.5, "minutes")."""
    for unit, size in (("days", 86400), ("hours", 3600)):
        if seconds and seconds % size == 0:
            return seconds // size, unit
    minutes = seconds / 60
    return (int(minutes) if minutes == int(minutes) else round(minutes, 2)), "minutes"


def delay_text(t: Any, seconds: int) -> str:
    if not seconds:
        return t("targeting.delay.immediately")
    amount, unit = delay_parts(seconds)
    return t(f"targeting.delay.{unit}", n=amount)


def local_time(moment: datetime | None, tz: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return moment.astimezone(ZoneInfo(tz)).strftime(fmt) if moment else ""
