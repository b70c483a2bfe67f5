"""JSON routes for tickets under /api/v1/tickets, plus rules and teams (api_rules.py).

Working tickets needs `ticket:work` (owners, admins, agents); the closed-loop metrics need
`stats:read`. Every lookup is scoped to the caller's organisation: another organisation's
ticket is a 404. The router's lifespan runs the SLA/follow-up job every minute next to the
outbox worker when the in-process worker is on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, status
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from npsloop.accounts.deps import Principal, require
from npsloop.accounts.service import get_organization
from npsloop.core.db import utcnow
from npsloop.core.deps import SessionDep
from npsloop.core.timeutil import parse_bound
from npsloop.responses.models import Response
from npsloop.tickets import bulk, history, inbox, metrics, service, sla
from npsloop.tickets.api_rules import router as rules_router
from npsloop.tickets.api_rules import unprocessable
from npsloop.tickets.facts import facts_for
from npsloop.tickets.history import Actor
from npsloop.tickets.models import Ticket, TicketComment, TicketEvent
from npsloop.tickets.schemas import (
    BulkIn,
    BulkOut,
    CommentIn,
    CommentOut,
    ReplyIn,
    TicketCreate,
    TicketDetail,
    TicketList,
    TicketOut,
    TicketPatch,
)

log = logging.getLogger(__name__)
JOB_INTERVAL_S = 60.0


class SlaJob(threading.Thread):
    """Runs `sla.tick` once a minute in `npsloop serve` (see `npsloop tickets tick` for
    cron or a separate process)."""

    def __init__(self, factory: sessionmaker[Session], interval: float = JOB_INTERVAL_S):
        super().__init__(name="npsloop-sla", daemon=True)
        self.factory = factory
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                with self.factory() as session:
                    sla.tick(session, utcnow())
                    session.commit()
            except Exception:  # noqa: BLE001 - the loop must survive a DB hiccup
                log.exception("SLA job failed")

    def stop(self) -> None:
        self.stopping.set()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    run = getattr(app.state, "run_worker", app.state.settings.inprocess_worker)
    job = SlaJob(app.state.session_factory) if run else None
    if job is not None:
        job.start()
    yield
    if job is not None:
        job.stop()


router = APIRouter(lifespan=lifespan)
api = APIRouter(prefix="/api/v1/tickets", tags=["tickets"])
Worker = Annotated[Principal, Depends(require("ticket:work"))]
Reader = Annotated[Principal, Depends(require("stats:read"))]


def actor_of(principal: Principal) -> Actor:
    return Actor(principal.actor, principal.user_id)


def load(db: Session, principal: Principal, ticket_id: str) -> Ticket:
    ticket = service.get_ticket(db, principal.org_id, ticket_id)
    if ticket is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"ticket '{ticket_id}' not found")
    return ticket


def ticket_out(ticket: Ticket, now: Any = None) -> TicketOut:
    out = TicketOut.model_validate(ticket)
    out.sla_state = sla.state(ticket, now or utcnow())
    return out


def detail_out(db: Session, ticket: Ticket) -> TicketDetail:
    events = db.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
                        .order_by(TicketEvent.at, TicketEvent.id))
    comments = db.scalars(select(TicketComment).where(TicketComment.ticket_id == ticket.id)
                          .order_by(TicketComment.created_at, TicketComment.id))
    return TicketDetail(**ticket_out(ticket).model_dump(),
                        events=[e for e in events], comments=[c for c in comments])


def _csv(values: list[str] | None) -> list[str]:
    return [v.strip() for raw in values or [] for v in raw.split(",") if v.strip()]


@api.get("", response_model=TicketList)
def list_tickets(
    db: SessionDep,
    principal: Worker,
    scope: str = "all",
    status_filter: Annotated[list[str] | None, Query(alias="status")] = None,
    priority: Annotated[list[str] | None, Query()] = None,
    team_id: str | None = None,
    owner_id: str | None = None,
    survey_id: str | None = None,
    category: str | None = None,
    sla_state: Annotated[str | None, Query(alias="sla")] = None,
    q: str = "",
    sort: str = "sla",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> TicketList:
    f = inbox.InboxFilter(scope=scope, statuses=_csv(status_filter), priorities=_csv(priority),
                          team_id=team_id, owner_id=owner_id, survey_id=survey_id,
                          category=category, sla=sla_state, q=q, sort=sort)
    now = utcnow()
    try:
        rows, total = inbox.list_tickets(db, principal.org_id, f, user_id=principal.user_id,
                                         now=now, limit=limit, offset=offset)
    except service.TicketError as exc:
        raise unprocessable(exc, "query") from exc
    return TicketList(items=[ticket_out(t, now) for t in rows], total=total, limit=limit,
                      offset=offset)


@api.get("/metrics")
def ticket_metrics(
    db: SessionDep,
    principal: Reader,
    date_from: Annotated[str | None, Query(alias="from")] = None,
    date_to: Annotated[str | None, Query(alias="to")] = None,
    team_id: str | None = None,
    owner_id: str | None = None,
    survey_id: str | None = None,
) -> dict[str, Any]:
    """Time to first response, time to close, SLA compliance and detractor recovery rate
    for tickets opened in [from, to), overall, by team and by owner."""
    org = get_organization(db, principal.org_id)
    tz = org.timezone if org else "Asia/Shanghai"
    try:
        start = parse_bound(date_from, tz, end=False, field="from")
        end = parse_bound(date_to, tz, end=True, field="to")
    except ValueError as exc:
        field, _, message = str(exc).partition(": ")
        raise unprocessable(service.TicketError(field, message), "query") from exc
    result = metrics.compute(db, principal.org_id, start=start, end=end, now=utcnow(),
                             team_id=team_id, owner_id=owner_id, survey_id=survey_id)
    result["from"] = start.isoformat() if start else None
    result["to"] = end.isoformat() if end else None
    return result


@api.post("", response_model=TicketDetail, status_code=201)
def create_ticket(body: TicketCreate, db: SessionDep, principal: Worker) -> TicketDetail:
    response = db.get(Response, body.response_id)
    if response is None or response.org_id != principal.org_id:
        raise unprocessable(service.TicketError("response_id", "no such response"))
    ticket = service.open_ticket(db, org_id=principal.org_id, action=body.ticket,
                                 response=response, facts=facts_for(db, response),
                                 actor=actor_of(principal), subject=body.subject)
    db.commit()
    return detail_out(db, ticket)


@api.post("/bulk", response_model=BulkOut)
def bulk_change(body: BulkIn, db: SessionDep, principal: Worker) -> dict[str, Any]:
    try:
        result = bulk.run(db, principal.org_id, body.ticket_ids, body.action,
                          actor_of(principal), now=utcnow(), owner_id=body.owner_id,
                          team_id=body.team_id, resolution_category=body.resolution_category)
    except service.TicketError as exc:
        raise unprocessable(exc) from exc
    db.commit()
    return result.__dict__


@api.get("/{ticket_id}", response_model=TicketDetail)
def get_ticket(ticket_id: str, db: SessionDep, principal: Worker) -> TicketDetail:
    return detail_out(db, load(db, principal, ticket_id))


@api.patch("/{ticket_id}", response_model=TicketDetail)
def update_ticket(ticket_id: str, body: TicketPatch, db: SessionDep,
                  principal: Worker) -> TicketDetail:
    ticket = load(db, principal, ticket_id)
    actor = actor_of(principal)
    now = utcnow()
    try:
        if body.subject is not None:
            service.set_subject(db, ticket, actor, body.subject, now=now)
        if body.priority is not None:
            service.set_priority(db, ticket, actor, body.priority, now=now)
        owner = None if body.unassign_owner else (body.owner_id or service.UNSET)
        team = body.team_id if body.team_id is not None else service.UNSET
        if owner is not service.UNSET or team is not service.UNSET:
            service.assign(db, ticket, actor, owner_id=owner, team_id=team, now=now)
        if body.status is not None:
            service.change_status(db, ticket, body.status, actor, now=now,
                                  resolution_category=body.resolution_category,
                                  resolution_note=body.resolution_note)
        elif body.resolution_category is not None or body.resolution_note is not None:
            _set_resolution(db, ticket, actor, body, now)
    except service.TicketError as exc:
        db.rollback()
        raise unprocessable(exc) from exc
    db.commit()
    return detail_out(db, ticket)


def _set_resolution(db: Session, ticket: Ticket, actor: Actor, body: TicketPatch,
                    now: Any) -> None:
    category = body.resolution_category
    if category is not None and category not in service.RESOLUTION_CATEGORIES:
        raise service.TicketError("resolution_category", "must be one of "
                                  f"{', '.join(service.RESOLUTION_CATEGORIES)}")
    if category is not None and category != ticket.resolution_category:
        history.record(db, ticket, actor, "resolution", ticket.resolution_category, category,
                       at=now)
        ticket.resolution_category = category
    if body.resolution_note is not None:
        ticket.resolution_note = body.resolution_note.strip()
    ticket.updated_at = now


@api.post("/{ticket_id}/comments", response_model=CommentOut, status_code=201)
def add_comment(ticket_id: str, body: CommentIn, db: SessionDep,
                principal: Worker) -> TicketComment:
    ticket = load(db, principal, ticket_id)
    try:
        comment = service.add_comment(db, ticket, actor_of(principal), body.body,
                                      "note" if body.internal else "comment")
    except service.TicketError as exc:
        raise unprocessable(exc) from exc
    db.commit()
    return comment


@api.post("/{ticket_id}/replies", response_model=CommentOut, status_code=201)
def reply(ticket_id: str, body: ReplyIn, db: SessionDep, principal: Worker) -> TicketComment:
    """Sends a reply to the customer by email or SMS (queued through notify)."""
    ticket = load(db, principal, ticket_id)
    try:
        comment = service.reply(db, ticket, actor_of(principal), channel_id=body.channel_id,
                                body=body.body, subject=body.subject)
    except service.TicketError as exc:
        db.rollback()
        raise unprocessable(exc) from exc
    db.commit()
    return comment


router.include_router(api)
router.include_router(rules_router)
