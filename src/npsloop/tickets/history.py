"""The ticket's history (who, when, what changed) and its outbox events.

`ticket.created` and `ticket.updated` carry the ticket as their payload; the notify domain
turns them into signed webhooks, in order per ticket.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from npsloop.core.db import utcnow
from npsloop.core.outbox import emit
from npsloop.tickets.models import Ticket, TicketEvent


@dataclass(frozen=True)
class Actor:
    """Who acts: a signed-in user, an API key, or the system (rules, SLA job)."""

    name: str
    user_id: str | None = None


SYSTEM = Actor("system")
_stamp_lock = threading.Lock()
_last_stamp: datetime | None = None


def _stamp(at: datetime) -> datetime:
    """Several rows written for one change share a time; nudge each by a microsecond so the
    timeline keeps the order they were written in (ids are random)."""
    global _last_stamp
    with _stamp_lock:
        if _last_stamp is not None and _last_stamp - timedelta(seconds=1) < at <= _last_stamp:
            at = _last_stamp + timedelta(microseconds=1)
        _last_stamp = at
        return at


def record(
    session: Session,
    ticket: Ticket,
    actor: Actor,
    kind: str,
    old: Any = None,
    new: Any = None,
    detail: dict[str, Any] | None = None,
    *,
    at: datetime | None = None,
) -> TicketEvent:
    event = TicketEvent(
        org_id=ticket.org_id, ticket_id=ticket.id, at=_stamp(at or utcnow()), actor=actor.name,
        actor_user_id=actor.user_id, kind=kind,
        old_value=None if old is None else str(old)[:300],
        new_value=None if new is None else str(new)[:300],
        detail=detail or {},
    )
    session.add(event)
    return event


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def payload(ticket: Ticket) -> dict[str, Any]:
    """The ticket as webhook receivers get it under `data`."""
    return {
        "ticket_id": ticket.id,
        "number": ticket.number,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "team_id": ticket.team_id,
        "owner_id": ticket.owner_id,
        "response_id": ticket.response_id,
        "contact_id": ticket.contact_id,
        "survey_id": ticket.survey_id,
        "rule_id": ticket.rule_id,
        "original_score": ticket.original_score,
        "resolution_category": ticket.resolution_category,
        "first_response_due_at": _iso(ticket.first_response_due_at),
        "resolution_due_at": _iso(ticket.resolution_due_at),
        "first_responded_at": _iso(ticket.first_responded_at),
        "resolved_at": _iso(ticket.resolved_at),
        "closed_at": _iso(ticket.closed_at),
        "escalation_level": ticket.escalation_level,
        "followup_score": ticket.followup_score,
        "recovered": ticket.recovered,
        "created_at": _iso(ticket.created_at),
    }


def emit_created(session: Session, ticket: Ticket) -> None:
    emit(session, org_id=ticket.org_id, topic="ticket.created", payload=payload(ticket))


def emit_updated(session: Session, ticket: Ticket, changes: dict[str, Any]) -> None:
    emit(session, org_id=ticket.org_id, topic="ticket.updated",
         payload={**payload(ticket), "changes": changes})
