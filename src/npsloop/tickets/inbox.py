"""The inbox query: my tickets / my team / all, filters, and the sort by SLA risk.

Sorting by risk puts active tickets first, ordered by the deadline that applies now
(`sla_due_at`, so the most overdue comes first), then tickets waiting on the customer, then
done ones. The SLA state filter reads the same columns, so both run in SQL on SQLite and
PostgreSQL alike and page correctly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from npsloop.contacts.models import Contact
from npsloop.tickets.models import Team, Ticket, TicketStatus
from npsloop.tickets.service import TicketError
from npsloop.tickets.sla import DONE, SLA_STATES

SCOPES = ("mine", "team", "all")
SORTS = ("sla", "created", "updated", "priority")
ACTIVE_STATUSES = (TicketStatus.open.value, TicketStatus.in_progress.value,
                   TicketStatus.waiting_on_customer.value)


@dataclass
class InboxFilter:
    scope: str = "all"
    statuses: list[str] = field(default_factory=list)
    priorities: list[str] = field(default_factory=list)
    team_id: str | None = None
    owner_id: str | None = None  # "none": unassigned
    survey_id: str | None = None
    category: str | None = None
    sla: str | None = None
    q: str = ""
    sort: str = "sla"


def user_team_ids(session: Session, org_id: str, user_id: str) -> list[str]:
    teams = session.scalars(select(Team).where(Team.org_id == org_id))
    return [t.id for t in teams if user_id in (t.member_ids or [])]


def _sla_clause(state: str, now: datetime):  # type: ignore[no-untyped-def]
    if state == "breached":
        return Ticket.sla_due_at < now
    if state == "at_risk":
        return and_(Ticket.sla_warn_at <= now, Ticket.sla_due_at >= now)
    if state == "on_track":
        return Ticket.sla_warn_at > now
    if state == "paused":
        return Ticket.status == TicketStatus.waiting_on_customer.value
    return Ticket.status.in_(DONE)


def validate(f: InboxFilter) -> None:
    statuses = {s.value for s in TicketStatus}
    if f.scope not in SCOPES:
        raise TicketError("scope", f"must be one of {', '.join(SCOPES)}")
    if f.sort not in SORTS:
        raise TicketError("sort", f"must be one of {', '.join(SORTS)}")
    bad = [s for s in f.statuses if s not in statuses]
    if bad:
        raise TicketError("status", f"unknown status {bad[0]!r}; one of {', '.join(statuses)}")
    bad = [p for p in f.priorities if p not in ("P0", "P1", "P2", "P3")]
    if bad:
        raise TicketError("priority", f"unknown priority {bad[0]!r}; one of P0, P1, P2, P3")
    if f.sla and f.sla not in SLA_STATES:
        raise TicketError("sla", f"must be one of {', '.join(SLA_STATES)}")
    if f.category and f.category not in ("promoter", "passive", "detractor"):
        raise TicketError("category", "must be promoter, passive or detractor")


def query(session: Session, org_id: str, f: InboxFilter, *, user_id: str | None,
          now: datetime) -> Select[tuple[Ticket]]:
    validate(f)
    stmt = select(Ticket).where(Ticket.org_id == org_id)
    if f.scope == "mine":
        if not user_id:
            raise TicketError("scope", "'mine' needs a signed-in user, not an API key")
        stmt = stmt.where(Ticket.owner_id == user_id)
    elif f.scope == "team":
        if not user_id:
            raise TicketError("scope", "'team' needs a signed-in user, not an API key")
        stmt = stmt.where(Ticket.team_id.in_(user_team_ids(session, org_id, user_id) or [""]))
    if f.statuses:
        stmt = stmt.where(Ticket.status.in_(f.statuses))
    if f.priorities:
        stmt = stmt.where(Ticket.priority.in_(f.priorities))
    if f.team_id:
        stmt = stmt.where(Ticket.team_id == f.team_id)
    if f.owner_id == "none":
        stmt = stmt.where(Ticket.owner_id.is_(None))
    elif f.owner_id:
        stmt = stmt.where(Ticket.owner_id == f.owner_id)
    if f.survey_id:
        stmt = stmt.where(Ticket.survey_id == f.survey_id)
    if f.category:
        stmt = stmt.where(Ticket.original_category == f.category)
    if f.sla:
        stmt = stmt.where(_sla_clause(f.sla, now))
    text = f.q.strip()
    if text:
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions = [Ticket.subject.ilike(like, escape="\\"),
                      Ticket.contact_id.in_(select(Contact.id).where(
                          Contact.org_id == org_id,
                          or_(Contact.name.ilike(like, escape="\\"),
                              Contact.external_id.ilike(like, escape="\\"))))]
        if text.lstrip("#").isdigit():
            conditions.append(Ticket.number == int(text.lstrip("#")))
        stmt = stmt.where(or_(*conditions))
    return _ordered(stmt, f.sort)


def _ordered(stmt: Select[tuple[Ticket]], sort: str) -> Select[tuple[Ticket]]:
    if sort == "created":
        return stmt.order_by(Ticket.created_at.desc(), Ticket.id)
    if sort == "updated":
        return stmt.order_by(Ticket.updated_at.desc(), Ticket.id)
    if sort == "priority":
        return stmt.order_by(Ticket.priority, Ticket.sla_due_at.is_(None), Ticket.sla_due_at,
                             Ticket.created_at)
    phase = case((Ticket.status.in_(DONE), 2),
                 (Ticket.status == TicketStatus.waiting_on_customer.value, 1), else_=0)
    return stmt.order_by(phase, Ticket.sla_due_at.is_(None), Ticket.sla_due_at, Ticket.priority,
                         Ticket.updated_at.desc(), Ticket.id)


def list_tickets(session: Session, org_id: str, f: InboxFilter, *, user_id: str | None,
                 now: datetime, limit: int = 50, offset: int = 0) -> tuple[list[Ticket], int]:
    stmt = query(session, org_id, f, user_id=user_id, now=now)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    return list(session.scalars(stmt.limit(limit).offset(offset))), int(total or 0)


def counts_by_scope(session: Session, org_id: str, user_id: str | None,
                    statuses: list[str]) -> dict[str, int]:
    """Open-ticket counts for the inbox tabs."""
    base = select(func.count(Ticket.id)).where(Ticket.org_id == org_id)
    if statuses:
        base = base.where(Ticket.status.in_(statuses))
    out = {"all": int(session.scalar(base) or 0), "mine": 0, "team": 0}
    if user_id:
        out["mine"] = int(session.scalar(base.where(Ticket.owner_id == user_id)) or 0)
        teams = user_team_ids(session, org_id, user_id)
        out["team"] = int(session.scalar(base.where(Ticket.team_id.in_(teams or [""]))) or 0)
    return out
