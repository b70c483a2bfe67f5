"""SLA clocks and the periodic job that escalates breaches and sends follow-up surveys.

Every function takes `now` so tests (and `npsloop tickets tick --now ...`) drive the clock.
A ticket has two deadlines: first response and resolution. The resolution clock stops while
the ticket waits on the customer (the pause is added to the deadline on resume). Each
deadline escalates once: the priority goes up one step and the escalation contact hears of
it. `refresh` keeps `sla_due_at`/`sla_warn_at` (the deadline that applies now and when it
turns "at risk") in step so the inbox filters and sorts in SQL.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from npsloop.accounts.models import User
from npsloop.core.db import is_postgres
from npsloop.tickets import announce, followups, history
from npsloop.tickets.models import Priority, Team, Ticket, TicketSettings, TicketStatus

log = logging.getLogger(__name__)
AT_RISK_FRACTION = 0.25  # the last quarter of an SLA window counts as "at risk"
ACTIVE = (TicketStatus.open.value, TicketStatus.in_progress.value)
DONE = (TicketStatus.resolved.value, TicketStatus.closed.value)
SLA_STATES = ("on_track", "at_risk", "breached", "paused", "done")
PRIORITIES = [p.value for p in Priority]


def refresh(ticket: Ticket) -> None:
    if ticket.status in DONE or ticket.status == TicketStatus.waiting_on_customer.value:
        ticket.sla_due_at = ticket.sla_warn_at = None
        return
    if ticket.first_responded_at is None:
        due, hours = ticket.first_response_due_at, ticket.sla_first_response_hours
    else:
        due, hours = ticket.resolution_due_at, ticket.sla_resolution_hours
    ticket.sla_due_at = due
    ticket.sla_warn_at = due - timedelta(hours=hours * AT_RISK_FRACTION)


def start(ticket: Ticket, opened_at: datetime) -> None:
    ticket.first_response_due_at = opened_at + timedelta(hours=ticket.sla_first_response_hours)
    ticket.resolution_due_at = opened_at + timedelta(hours=ticket.sla_resolution_hours)
    refresh(ticket)


def pause(ticket: Ticket, now: datetime) -> None:
    if ticket.sla_paused_at is None:
        ticket.sla_paused_at = now


def resume(ticket: Ticket, now: datetime) -> None:
    if ticket.sla_paused_at is not None:
        ticket.resolution_due_at += max(now - ticket.sla_paused_at, timedelta(0))
        ticket.sla_paused_at = None


def state(ticket: Ticket, now: datetime) -> str:
    if ticket.status in DONE:
        return "done"
    if ticket.status == TicketStatus.waiting_on_customer.value:
        return "paused"
    if ticket.sla_due_at is None or ticket.sla_warn_at is None:
        return "on_track"
    if ticket.sla_due_at < now:
        return "breached"
    return "at_risk" if ticket.sla_warn_at <= now else "on_track"


def first_response_met(ticket: Ticket, now: datetime) -> bool | None:
    """True/False once decided, None while the deadline is still ahead."""
    if ticket.first_responded_at is not None:
        return ticket.first_responded_at <= ticket.first_response_due_at
    return False if ticket.first_response_due_at < now else None


def resolution_met(ticket: Ticket, now: datetime) -> bool | None:
    if ticket.resolved_at is not None:
        return ticket.resolved_at <= ticket.resolution_due_at
    if ticket.status == TicketStatus.waiting_on_customer.value:
        return None
    return False if ticket.resolution_due_at < now else None


def raised(priority: str) -> str:
    index = PRIORITIES.index(priority) if priority in PRIORITIES else len(PRIORITIES) - 1
    return PRIORITIES[max(index - 1, 0)]


# -- the periodic job --------------------------------------------------------------------

@dataclass
class TickReport:
    escalated: list[tuple[str, str]] = field(default_factory=list)  # (ticket id, which SLA)
    followups_invited: int = 0


def _escalation_targets(session: Session, ticket: Ticket) -> tuple[list[str], list[str]]:
    team = session.get(Team, ticket.team_id) if ticket.team_id else None
    channels = list(team.escalation_channel_ids or []) if team else []
    if not channels:
        settings = session.get(TicketSettings, ticket.org_id)
        channels = list(settings.escalation_channel_ids or []) if settings else []
    recipients = []
    if team is not None and team.escalation_user_id:
        user = session.get(User, team.escalation_user_id)
        if user is not None and user.is_active:
            recipients.append(user.email)
    return channels, recipients


def escalate(session: Session, ticket: Ticket, which: str, now: datetime) -> None:
    old = ticket.priority
    ticket.priority = raised(old)
    ticket.escalation_level += 1
    if which == "first_response":
        ticket.first_response_escalated_at = now
    else:
        ticket.resolution_escalated_at = now
    ticket.updated_at = now
    channels, recipients = _escalation_targets(session, ticket)
    history.record(session, ticket, history.SYSTEM, "escalated", old, ticket.priority,
                   {"sla": which, "notified_channels": channels, "recipients": recipients},
                   at=now)
    announce.announce(
        session, ticket, template="ticket.escalated", channel_ids=channels,
        recipients=recipients, dedupe_key=f"escalated:{ticket.id}:{which}",
        translate_extra={"sla": f"tickets.sla.{which}"},
    )
    history.emit_updated(session, ticket, {"priority": [old, ticket.priority],
                                           "escalated": which})


def _due(session: Session, now: datetime, limit: int) -> list[Ticket]:
    query = (
        select(Ticket)
        .where(Ticket.status.in_(ACTIVE))
        .where(or_(
            (Ticket.first_responded_at.is_(None)) & (Ticket.first_response_due_at < now)
            & (Ticket.first_response_escalated_at.is_(None)),
            (Ticket.resolution_due_at < now) & (Ticket.resolution_escalated_at.is_(None)),
        ))
        .order_by(Ticket.sla_due_at)
        .limit(limit)
    )
    if is_postgres(session):
        # Two job runners never escalate one ticket twice: the second skips locked rows.
        query = query.with_for_update(skip_locked=True, of=Ticket)
    return list(session.scalars(query))


def run_escalations(session: Session, now: datetime, limit: int = 500) -> list[tuple[str, str]]:
    done: list[tuple[str, str]] = []
    for ticket in _due(session, now, limit):
        if (ticket.first_responded_at is None and ticket.first_response_due_at < now
                and ticket.first_response_escalated_at is None):
            escalate(session, ticket, "first_response", now)
            done.append((ticket.id, "first_response"))
        if ticket.resolution_due_at < now and ticket.resolution_escalated_at is None:
            escalate(session, ticket, "resolution", now)
            done.append((ticket.id, "resolution"))
        refresh(ticket)
    session.flush()
    return done


def tick(session: Session, now: datetime) -> TickReport:
    """One run of the periodic job (the caller commits)."""
    report = TickReport()
    report.escalated = run_escalations(session, now)
    report.followups_invited = followups.invite_due(session, now)
    return report
