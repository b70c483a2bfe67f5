"""Ticket workflow without HTTP: open, move through the states, assign, comment, reply.

States: open -> in_progress -> waiting_on_customer -> resolved -> closed, and reopen (a
resolved or closed ticket goes back to in_progress with a fresh resolution deadline). Every
change writes a history row and a `ticket.updated` outbox event in the caller's transaction;
nothing here commits. The first status change, comment or reply by a person is the ticket's
first response (internal notes and reassignments are not: the customer sees nothing).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from npsloop.contacts.models import Contact
from npsloop.core.db import utcnow
from npsloop.core.i18n import translate
from npsloop.notify import service as notify_service
from npsloop.notify.service import NotifyError
from npsloop.responses.models import Response
from npsloop.surveys.models import Survey
from npsloop.tickets import announce, followups, history, routing, sla
from npsloop.tickets.history import Actor
from npsloop.tickets.models import (
    Priority,
    Ticket,
    TicketComment,
    TicketSettings,
    TicketStatus,
)
from npsloop.tickets.rules import Facts, TicketAction

S = TicketStatus
TRANSITIONS: dict[str, tuple[str, ...]] = {
    S.open: (S.in_progress, S.waiting_on_customer, S.resolved, S.closed),
    S.in_progress: (S.waiting_on_customer, S.resolved, S.closed),
    S.waiting_on_customer: (S.in_progress, S.resolved, S.closed),
    S.resolved: (S.in_progress, S.closed),  # in_progress = reopen
    S.closed: (S.in_progress,),  # reopen
}
RESOLUTION_CATEGORIES = ("delivery", "product_quality", "price", "service", "refund_billing",
                         "app_website", "expectation", "no_action", "other")
COMMENT_KINDS = ("comment", "note")
MAX_BODY = 5000
UNSET: Any = object()


class TicketError(ValueError):
    """Bad input or an illegal move; the API answers 422 naming `field`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def ensure_settings(session: Session, org_id: str) -> TicketSettings:
    settings = session.get(TicketSettings, org_id)
    if settings is not None:
        return settings
    try:
        with session.begin_nested():
            session.add(TicketSettings(org_id=org_id, last_number=0, escalation_channel_ids=[]))
    except IntegrityError:  # created by a concurrent transaction
        pass
    return session.get(TicketSettings, org_id)  # type: ignore[return-value]


def next_number(session: Session, org_id: str) -> int:
    """Per-organisation ticket numbers (#1, #2, ...) from one atomic UPDATE ... RETURNING."""
    ensure_settings(session, org_id)
    table = TicketSettings.__table__
    return session.execute(
        update(table).where(table.c.org_id == org_id)
        .values(last_number=table.c.last_number + 1).returning(table.c.last_number)
    ).scalar_one()


def default_subject(response: Response | None, survey: Survey | None, lang: str) -> str:
    comment = " ".join((response.comment or "").split()) if response is not None else ""
    if comment:
        return comment if len(comment) <= 80 else comment[:79] + "…"
    return translate("tickets.subject.auto", lang,
                     score=response.score if response is not None else "—",
                     survey=survey.name if survey is not None else "")


def open_ticket(
    session: Session,
    *,
    org_id: str,
    action: TicketAction,
    response: Response | None,
    facts: Facts | None = None,
    rule_id: str | None = None,
    actor: Actor = history.SYSTEM,
    subject: str | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Creates a ticket with its routing, SLA deadlines, history row and outbox event."""
    now = now or utcnow()
    survey = session.get(Survey, response.survey_id) if response is not None else None
    if facts is not None:
        assignment = routing.route(session, org_id, action.routing, facts)
    else:
        assignment = routing.route(session, org_id, action.routing.model_copy(
            update={"mode": "fixed"} if action.routing.mode == "attribute" else {}),
            Facts(score=0, category="", language="", survey_id=""))
    first_hours, resolution_hours = action.sla_hours()
    lang = notify_service.org_language(session, org_id)
    ticket = Ticket(
        org_id=org_id, number=next_number(session, org_id),
        subject=(subject or default_subject(response, survey, lang))[:300],
        status=S.open.value, priority=action.priority.value,
        response_id=response.id if response is not None else None,
        contact_id=response.contact_id if response is not None else None,
        survey_id=response.survey_id if response is not None else None,
        rule_id=rule_id, team_id=assignment.team_id, owner_id=assignment.owner_id,
        created_by=actor.name,
        original_score=response.score if response is not None else None,
        original_category=response.category if response is not None else None,
        sla_first_response_hours=first_hours, sla_resolution_hours=resolution_hours,
        followup_days=action.followup_days, followup_survey_id=action.followup_survey_id,
        followup_channel_id=action.followup_channel_id,
        escalation_level=0, reopen_count=0, resolution_note="",
        created_at=now, updated_at=now,
    )
    sla.start(ticket, now)
    session.add(ticket)
    session.flush()
    history.record(session, ticket, actor, "created", None, ticket.status, {
        "priority": ticket.priority, "team_id": ticket.team_id, "owner_id": ticket.owner_id,
        "rule_id": rule_id, "routing": assignment.detail,
    }, at=now)
    history.emit_created(session, ticket)
    return ticket


def get_ticket(session: Session, org_id: str, ticket_id: str) -> Ticket | None:
    ticket = session.get(Ticket, ticket_id)
    return ticket if ticket is not None and ticket.org_id == org_id else None


def _first_response(ticket: Ticket, actor: Actor, now: datetime) -> None:
    if ticket.first_responded_at is None and actor != history.SYSTEM:
        ticket.first_responded_at = now


def change_status(
    session: Session,
    ticket: Ticket,
    new_status: str,
    actor: Actor,
    *,
    now: datetime | None = None,
    resolution_category: str | None = None,
    resolution_note: str | None = None,
) -> bool:
    """Moves the ticket; returns False when it already has that status."""
    now = now or utcnow()
    old = ticket.status
    if new_status not in TRANSITIONS:
        raise TicketError("status", f"unknown status '{new_status}'; one of "
                          f"{', '.join(TRANSITIONS)}")
    if new_status == old:
        return False
    if new_status not in TRANSITIONS[old]:
        raise TicketError("status", f"a ticket cannot move from '{old}' to '{new_status}'; "
                          f"allowed: {', '.join(TRANSITIONS[old])}")
    if resolution_category is not None and resolution_category not in RESOLUTION_CATEGORIES:
        raise TicketError("resolution_category", "must be one of "
                          f"{', '.join(RESOLUTION_CATEGORIES)}")
    if new_status == S.resolved and not (resolution_category or ticket.resolution_category):
        raise TicketError("resolution_category", "is required to resolve a ticket (the root "
                          f"cause: one of {', '.join(RESOLUTION_CATEGORIES)})")
    changes: dict[str, Any] = {"status": [old, new_status]}
    if resolution_category is not None and resolution_category != ticket.resolution_category:
        history.record(session, ticket, actor, "resolution", ticket.resolution_category,
                       resolution_category, at=now)
        changes["resolution_category"] = [ticket.resolution_category, resolution_category]
        ticket.resolution_category = resolution_category
    if resolution_note is not None:
        ticket.resolution_note = resolution_note.strip()[:MAX_BODY]
    if old == S.waiting_on_customer:
        sla.resume(ticket, now)
    if new_status == S.waiting_on_customer:
        sla.pause(ticket, now)
    reopened = old in sla.DONE and new_status not in sla.DONE
    if reopened:
        ticket.reopen_count += 1
        ticket.resolved_at = ticket.closed_at = None
        ticket.resolution_due_at = now + timedelta(hours=ticket.sla_resolution_hours)
        ticket.resolution_escalated_at = None
        followups.cancel_pending(session, ticket)
    if new_status == S.resolved:
        ticket.resolved_at = now
    if new_status == S.closed:
        ticket.closed_at = now
        ticket.resolved_at = ticket.resolved_at or now
    _first_response(ticket, actor, now)
    ticket.status = new_status
    ticket.updated_at = now
    sla.refresh(ticket)
    history.record(session, ticket, actor, "status", old, new_status,
                   {"reopened": True} if reopened else {}, at=now)
    if new_status == S.resolved:
        followups.schedule(session, ticket, now)
    history.emit_updated(session, ticket, changes)
    session.flush()
    return True


def assign(
    session: Session,
    ticket: Ticket,
    actor: Actor,
    *,
    owner_id: str | None = UNSET,
    team_id: str | None = UNSET,
    now: datetime | None = None,
) -> bool:
    """Reassigns; `None` clears, UNSET leaves as is. Tells the new owner's team channels."""
    now = now or utcnow()
    changes: dict[str, Any] = {}
    if team_id is not UNSET and team_id != ticket.team_id:
        if team_id is not None and routing.get_team(session, ticket.org_id, team_id) is None:
            raise TicketError("team_id", "no such team in this organisation")
        history.record(session, ticket, actor, "team", ticket.team_id, team_id, at=now)
        changes["team_id"] = [ticket.team_id, team_id]
        ticket.team_id = team_id
    if owner_id is not UNSET and owner_id != ticket.owner_id:
        if owner_id is not None and not routing.workers(session, ticket.org_id, [owner_id]):
            raise TicketError("owner_id", "must be an active user of this organisation who "
                              "can work tickets (owner, admin or agent)")
        history.record(session, ticket, actor, "owner", ticket.owner_id, owner_id, at=now)
        changes["owner_id"] = [ticket.owner_id, owner_id]
        ticket.owner_id = owner_id
    if not changes:
        return False
    ticket.updated_at = now
    history.emit_updated(session, ticket, changes)
    team = routing.get_team(session, ticket.org_id, ticket.team_id)
    if team is not None and "owner_id" in changes and ticket.owner_id:
        announce.announce(session, ticket, template="ticket.assigned",
                          channel_ids=team.notify_channel_ids or [],
                          dedupe_key=f"assigned:{ticket.id}:{ticket.owner_id}:{now.isoformat()}")
    session.flush()
    return True


def set_priority(session: Session, ticket: Ticket, actor: Actor, priority: str,
                 *, now: datetime | None = None) -> bool:
    now = now or utcnow()
    if priority not in {p.value for p in Priority}:
        raise TicketError("priority", "must be one of P0, P1, P2, P3")
    if priority == ticket.priority:
        return False
    history.record(session, ticket, actor, "priority", ticket.priority, priority, at=now)
    history.emit_updated(session, ticket, {"priority": [ticket.priority, priority]})
    ticket.priority = priority
    ticket.updated_at = now
    session.flush()
    return True


def set_subject(session: Session, ticket: Ticket, actor: Actor, subject: str,
                *, now: datetime | None = None) -> bool:
    subject = " ".join(subject.split())
    if not subject:
        raise TicketError("subject", "must not be empty")
    if subject == ticket.subject:
        return False
    history.record(session, ticket, actor, "subject", ticket.subject, subject, at=now)
    ticket.subject = subject[:300]
    ticket.updated_at = now or utcnow()
    history.emit_updated(session, ticket, {"subject": ticket.subject})
    return True


def _body(body: str) -> str:
    body = body.strip()
    if not body:
        raise TicketError("body", "must not be empty")
    if len(body) > MAX_BODY:
        raise TicketError("body", f"must be at most {MAX_BODY} characters")
    return body


def add_comment(session: Session, ticket: Ticket, actor: Actor, body: str, kind: str = "comment",
                *, now: datetime | None = None) -> TicketComment:
    """A comment (shared with integrations through `ticket.updated`) or an internal note."""
    now = now or utcnow()
    if kind not in COMMENT_KINDS:
        raise TicketError("kind", f"must be one of {', '.join(COMMENT_KINDS)}")
    comment = TicketComment(org_id=ticket.org_id, ticket_id=ticket.id, kind=kind,
                            author=actor.name, author_user_id=actor.user_id, body=_body(body),
                            created_at=now)
    session.add(comment)
    session.flush()
    history.record(session, ticket, actor, kind, None, None, {"comment_id": comment.id}, at=now)
    if kind == "comment":
        _first_response(ticket, actor, now)
        sla.refresh(ticket)
        history.emit_updated(session, ticket, {"comment": {"id": comment.id, "body": comment.body,
                                                           "author": comment.author}})
    ticket.updated_at = now
    return comment


def reply(session: Session, ticket: Ticket, actor: Actor, *, channel_id: str, body: str,
          subject: str | None = None, now: datetime | None = None) -> TicketComment:
    """Sends `body` to the customer by email or SMS (through notify) and records it."""
    now = now or utcnow()
    text = _body(body)
    channel = notify_service.get_channel(session, ticket.org_id, channel_id)
    if channel is None:
        raise TicketError("channel_id", "no such channel in this organisation")
    if channel.kind not in followups.EMAIL_KINDS | followups.SMS_KINDS:
        raise TicketError("channel_id", "replies go by email or SMS: pick an email or SMS "
                          "channel")
    if not channel.enabled:
        raise TicketError("channel_id", "the channel is disabled")
    contact = session.get(Contact, ticket.contact_id) if ticket.contact_id else None
    address = followups.recipient_for(channel.kind, contact)
    if address is None:
        what = "email address" if channel.kind in followups.EMAIL_KINDS else "phone number"
        raise TicketError("channel_id", f"the customer has no {what}")
    comment = TicketComment(org_id=ticket.org_id, ticket_id=ticket.id, kind="reply",
                            author=actor.name, author_user_id=actor.user_id, body=text,
                            channel_id=channel.id, recipient=address, created_at=now)
    session.add(comment)
    session.flush()
    try:
        messages = notify_service.notify(
            session, org_id=ticket.org_id, channel_ids=[channel.id], template="ticket.reply",
            params={"subject": (subject or f"#{ticket.number} {ticket.subject}")[:200],
                    "body": text},
            recipients=[address], ordering_key=f"ticket:{ticket.id}",
            dedupe_key=f"reply:{comment.id}")
    except NotifyError as exc:
        raise TicketError(exc.field, exc.message) from exc
    comment.message_id = messages[0].id if messages else None
    history.record(session, ticket, actor, "reply", None, channel.kind,
                   {"comment_id": comment.id, "message_id": comment.message_id}, at=now)
    _first_response(ticket, actor, now)
    sla.refresh(ticket)
    ticket.updated_at = now
    history.emit_updated(session, ticket, {"reply": {"id": comment.id, "channel": channel.kind}})
    session.flush()
    return comment
