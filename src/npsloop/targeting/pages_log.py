"""The decision log page: who was (not) invited, when and why, with filters (contact, survey,
rule, result, source, dates) and the count of decisions per rule."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from npsloop.accounts.deps import Principal, require
from npsloop.contacts import service as contacts
from npsloop.core.deps import SessionDep, request_language
from npsloop.core.timeutil import parse_bound
from npsloop.targeting import decision_log, policy
from npsloop.targeting.pages_common import local_time, page, surveys_of
from npsloop.targeting.triggers import get_trigger

router = APIRouter(include_in_schema=False)
# The log names contacts: the same right as reading responses.
LogReader = Annotated[Principal, Depends(require("response:read", page=True))]
PAGE_SIZE = 50
RULES = ("recontact_window", "invitation_cap", "sampling", "quiet_hours", "unsubscribed",
         "no_address", "survey_inactive", "not_in_segment", "conditions_not_met", "no_trigger",
         "stale_event", "unknown_contact", "unknown_survey")
SOURCES = ("trigger", "api", "widget", "campaign")
Text = Annotated[str, Query(max_length=200)]


@router.get("/targeting/log", response_class=HTMLResponse)
def log_page(
    request: Request, db: SessionDep, principal: LogReader,
    date_from: Annotated[str, Query(alias="from", max_length=10)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=10)] = "",
    contact: Text = "", survey_id: Text = "", rule: Text = "", result: Text = "",
    source: Text = "", trigger_id: Text = "",
    page_no: Annotated[int, Query(alias="page", ge=1, le=2000)] = 1,
) -> HTMLResponse:
    org_id = principal.org_id
    tz = policy.org_timezone(db, org_id)
    errors: dict[str, str] = {}
    try:
        lo = parse_bound(date_from or None, tz, end=False, field="from")
    except ValueError:
        lo, errors["from"] = None, date_from
    try:
        hi = parse_bound(date_to or None, tz, end=True, field="to")
    except ValueError:
        hi, errors["to"] = None, date_to
    if lo is None and hi is not None:
        lo = hi - timedelta(days=decision_log.DEFAULT_DAYS)
    contact_id = None
    if contact.strip():
        found = contacts.get_by_external_id(db, org_id=org_id, external_id=contact.strip())
        contact_id = found.id if found else "-"
    spec = decision_log.LogFilter(
        date_from=lo, date_to=hi, contact_id=contact_id, survey_id=survey_id or None,
        rule=rule or None, eligible={"yes": True, "no": False}.get(result),
        source=source or None, trigger_id=trigger_id or None)
    log = decision_log.read_log(db, org_id=org_id, spec=spec, limit=PAGE_SIZE,
                                offset=(page_no - 1) * PAGE_SIZE)
    filters = {"from": date_from, "to": date_to, "contact": contact, "survey_id": survey_id,
               "rule": rule, "result": result, "source": source, "trigger_id": trigger_id}
    kept = {k: v for k, v in filters.items() if v}

    def link(**changes: object) -> str:
        query = {**kept, **{k: v for k, v in changes.items() if v not in (None, "")}}
        for key, value in changes.items():
            if value in (None, ""):
                query.pop(key, None)
        return "/targeting/log" + (f"?{urlencode(query)}" if query else "")

    lang = request_language(request)
    trigger = get_trigger(db, org_id=org_id, trigger_id=trigger_id) if trigger_id else None
    return page(request, principal, "targeting/log.html", {
        "log": log, "filters": filters, "errors": errors, "tz": tz, "link": link,
        "rules": RULES, "sources": SOURCES, "surveys": surveys_of(db, org_id),
        "page_no": page_no, "pages": max(1, -(-log.total // PAGE_SIZE)),
        "explain": lambda row: decision_log.explain(row, lang),
        "local": lambda moment: local_time(moment, tz, "%m-%d %H:%M:%S"),
        "range_text": (local_time(log.date_from, tz), local_time(log.date_to, tz)),
        "max_count": max(log.counts.values(), default=0),
        "trigger_name": trigger.name if trigger else ("?" if trigger_id else "")})
