"""HTML pages: the inbox, a ticket, the closed-loop metrics and the rule list.

Working tickets needs `ticket:work`; the metrics page needs `stats:read`. Forms post back here
with the CSRF token; the logic lives in service/inbox/metrics, these handlers stay thin.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from npsloop.accounts.deps import Principal, require
from npsloop.core.db import utcnow
from npsloop.core.deps import SessionDep, request_language
from npsloop.core.timeutil import parse_bound
from npsloop.tickets import bulk, inbox, metrics, rulebook, service, view
from npsloop.tickets.history import Actor
from npsloop.tickets.pages_rules import router as rule_pages
from npsloop.tickets.service import TicketError
from npsloop.web.templating import render

router = APIRouter(include_in_schema=False)
router.include_router(rule_pages)
Worker = Annotated[Principal, Depends(require("ticket:work", page=True))]
Reader = Annotated[Principal, Depends(require("stats:read", page=True))]
PAGE_SIZE = 50


async def posted_form(request: Request) -> FormData:
    return await request.form()


FormDep = Annotated[FormData, Depends(posted_form)]


def _actor(principal: Principal) -> Actor:
    return Actor(principal.actor, principal.user_id)


def _filter_from(request: Request, principal: Principal) -> inbox.InboxFilter:
    q = request.query_params
    scope = q.get("scope") or ("mine" if principal.user_id else "all")
    chosen = [s for s in q.getlist("status") if s]
    statuses = chosen or ([] if q.get("done") else list(inbox.ACTIVE_STATUSES))
    return inbox.InboxFilter(
        scope=scope, statuses=statuses, priorities=[
            p for p in q.getlist("priority") if p],
        team_id=q.get("team_id") or None, owner_id=q.get("owner_id") or None,
        survey_id=q.get("survey_id") or None, category=q.get("category") or None,
        sla=q.get("sla") or None, q=q.get("q", ""), sort=q.get("sort") or "sla")


@router.get("/tickets", response_class=HTMLResponse)
def inbox_page(request: Request, db: SessionDep, principal: Worker) -> HTMLResponse:
    request.state.principal = principal
    f = _filter_from(request, principal)
    page = max(int(request.query_params.get("page", "1") or 1), 1) if request.query_params.get(
        "page", "1").isdigit() else 1
    now = utcnow()
    error = None
    try:
        rows, total = inbox.list_tickets(db, principal.org_id, f, user_id=principal.user_id,
                                         now=now, limit=PAGE_SIZE,
                                         offset=(page - 1) * PAGE_SIZE)
    except TicketError as exc:
        rows, total, error = [], 0, exc
    context = view.inbox_context(db, principal, rows, now, request_language(request))
    context.update({
        "f": f, "total": total, "page": page, "pages": max((total - 1) // PAGE_SIZE + 1, 1),
        "error": error, "tab_counts": inbox.counts_by_scope(
            db, principal.org_id, principal.user_id, list(inbox.ACTIVE_STATUSES)),
        "query": dict(request.query_params), "sla_states": inbox.SLA_STATES,
        "notice": request.query_params.get("notice", ""),
    })
    return render(request, "tickets/inbox.html", context,
                  status_code=422 if error else 200)


@router.post("/tickets/bulk")
def bulk_page(request: Request, db: SessionDep, principal: Worker,
              form: FormDep) -> RedirectResponse:
    ids = [str(v) for v in form.getlist("ticket_ids")]
    action = str(form.get("action") or "")
    back = str(form.get("back") or "/tickets")
    if not back.startswith("/tickets"):
        back = "/tickets"
    if not ids or action not in ("assign", "close"):
        return RedirectResponse(_with(back, "notice", "bulk_none"), status_code=303)
    try:
        result = bulk.run(db, principal.org_id, ids, action, _actor(principal), now=utcnow(),
                          owner_id=str(form.get("owner_id") or "") or None,
                          resolution_category="no_action" if action == "close" else None)
    except TicketError:
        return RedirectResponse(_with(back, "notice", "bulk_owner"), status_code=303)
    db.commit()
    return RedirectResponse(_with(back, "notice", f"bulk_done:{result.changed}"),
                            status_code=303)


def _with(url: str, key: str, value: str) -> str:
    from urllib.parse import parse_qsl, urlencode, urlsplit

    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != key] + [(key, value)]
    return f"{parts.path}?{urlencode(query)}"


@router.get("/tickets/metrics", response_class=HTMLResponse)
def metrics_page(request: Request, db: SessionDep, principal: Reader) -> HTMLResponse:
    request.state.principal = principal
    q = request.query_params
    tz = view.org_timezone(db, principal.org_id)
    error = None
    try:
        start = parse_bound(q.get("from") or None, tz, end=False, field="from")
        end = parse_bound(q.get("to") or None, tz, end=True, field="to")
    except ValueError as exc:
        start = end = None
        error = str(exc)
    if start is None and end is None and not error and not q.get("all"):
        start = view.days_ago(tz, 90)
    figures = metrics.compute(db, principal.org_id, start=start, end=end, now=utcnow(),
                              team_id=q.get("team_id") or None)
    return render(request, "tickets/metrics.html", {
        "figures": figures, "error": error, "query": dict(q),
        "teams": rulebook.list_teams(db, principal.org_id),
        "range_from": q.get("from") or (start.astimezone(view.zone(tz)).date().isoformat()
                                         if start else ""),
        "range_to": q.get("to") or "", "can_work": principal.can("ticket:work"),
        "fmt_hours": view.fmt_hours, "fmt_pct": view.fmt_pct,
    }, status_code=422 if error else 200)


@router.get("/tickets/rules", response_class=HTMLResponse)
def rules_page(request: Request, db: SessionDep, principal: Worker) -> HTMLResponse:
    request.state.principal = principal
    return render(request, "tickets/rules.html", view.rules_context(db, principal))


def _load(db: SessionDep, principal: Principal, ticket_id: str) -> Any:
    ticket = service.get_ticket(db, principal.org_id, ticket_id)
    if ticket is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"ticket '{ticket_id}' not found")
    return ticket


def _ticket_page(request: Request, db: SessionDep, principal: Principal, ticket: Any,
                 error: TicketError | None = None, notice: str = "") -> HTMLResponse:
    request.state.principal = principal
    context = view.ticket_context(db, principal, ticket, utcnow(), request_language(request))
    context.update({"error": error, "notice": notice or request.query_params.get("notice", "")})
    return render(request, "tickets/ticket.html", context, status_code=422 if error else 200)


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
def ticket_page(ticket_id: str, request: Request, db: SessionDep,
                principal: Worker) -> HTMLResponse:
    return _ticket_page(request, db, principal, _load(db, principal, ticket_id))


@router.post("/tickets/{ticket_id}", response_model=None)
def ticket_action(ticket_id: str, request: Request, db: SessionDep, principal: Worker,
                  form: FormDep) -> HTMLResponse | RedirectResponse:
    ticket = _load(db, principal, ticket_id)
    actor = _actor(principal)
    action = str(form.get("action") or "")
    value = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    try:
        if action == "status":
            service.change_status(db, ticket, value.get("status", ""), actor,
                                  resolution_category=value.get("resolution_category") or None,
                                  resolution_note=value.get("resolution_note") or None)
        elif action == "assign":
            service.set_priority(db, ticket, actor, value.get("priority") or ticket.priority)
            service.assign(db, ticket, actor, owner_id=value.get("owner_id") or None,
                           team_id=value.get("team_id") or None)
        elif action in ("comment", "note"):
            service.add_comment(db, ticket, actor, value.get("body", ""), action)
        elif action == "reply":
            service.reply(db, ticket, actor, channel_id=value.get("channel_id", ""),
                          body=value.get("body", ""))
        else:
            raise TicketError("action", "unknown action")
    except TicketError as exc:
        db.rollback()
        return _ticket_page(request, db, principal, _load(db, principal, ticket_id), exc)
    db.commit()
    return RedirectResponse(f"/tickets/{ticket.id}?notice=saved", status_code=303)
