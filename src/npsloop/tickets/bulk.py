"""Bulk assign and bulk close from the inbox: each ticket changes on its own terms (its own
history row and event); a ticket that cannot change is reported, the others still do."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from npsloop.tickets import service
from npsloop.tickets.history import Actor
from npsloop.tickets.models import TicketStatus
from npsloop.tickets.service import TicketError


@dataclass
class BulkResult:
    changed: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


def run(session: Session, org_id: str, ticket_ids: list[str], action: str, actor: Actor, *,
        now: datetime, owner_id: str | None = None, team_id: str | None = None,
        resolution_category: str | None = None) -> BulkResult:
    result = BulkResult()
    if action == "assign" and owner_id is None and team_id is None:
        raise TicketError("owner_id", "give owner_id and/or team_id to assign")
    for ticket_id in dict.fromkeys(ticket_ids):
        ticket = service.get_ticket(session, org_id, ticket_id)
        if ticket is None:
            result.errors.append({"ticket_id": ticket_id, "error": "not found"})
            continue
        try:
            with session.begin_nested():
                if action == "assign":
                    changed = service.assign(
                        session, ticket, actor, now=now,
                        owner_id=owner_id if owner_id is not None else service.UNSET,
                        team_id=team_id if team_id is not None else service.UNSET)
                else:
                    changed = service.change_status(
                        session, ticket, TicketStatus.closed.value, actor, now=now,
                        resolution_category=resolution_category)
        except TicketError as exc:
            result.errors.append({"ticket_id": ticket_id, "field": exc.field,
                                  "error": exc.message})
            continue
        if changed:
            result.changed += 1
        else:
            result.unchanged += 1
    return result
