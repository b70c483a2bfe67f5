"""The follow-up survey after a ticket is resolved, and "recovered".

Resolving a ticket schedules a follow-up N days later (the rule's `followup_days`). When it
is due, the periodic job records the invitation and, if the ticket has an email/SMS channel
for it and the contact can be reached there, sends the survey link. The customer's answer is
linked by contact + survey (any completed response to that survey by that contact after the
resolution); the ticket is "recovered" when the new score is higher than the original one,
and a resolved ticket is then closed: the loop is closed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from npsloop.contacts.models import Contact
from npsloop.core.config import get_settings
from npsloop.core.i18n import normalize_language, translate
from npsloop.notify import service as notify_service
from npsloop.responses.models import Response
from npsloop.surveys.models import Survey
from npsloop.tickets import history
from npsloop.tickets.models import FollowUpStatus, Ticket, TicketFollowUp, TicketStatus

EMAIL_KINDS = frozenset({"email"})
SMS_KINDS = frozenset({"aliyun_sms", "tencent_sms"})
OPEN_FOLLOWUP = (FollowUpStatus.scheduled.value, FollowUpStatus.invited.value)


def recipient_for(kind: str, contact: Contact | None) -> str | None:
    """The contact's address on a channel of this kind (None: not reachable there)."""
    if contact is None:
        return None
    if kind in EMAIL_KINDS:
        return contact.email or None
    if kind in SMS_KINDS:
        return contact.phone or None
    return None


def schedule(session: Session, ticket: Ticket, now: datetime) -> TicketFollowUp | None:
    survey_id = ticket.followup_survey_id or ticket.survey_id
    if ticket.followup_days <= 0 or not ticket.contact_id or not survey_id:
        return None
    followup = TicketFollowUp(
        org_id=ticket.org_id, ticket_id=ticket.id, contact_id=ticket.contact_id,
        survey_id=survey_id, status=FollowUpStatus.scheduled.value,
        due_at=now + timedelta(days=ticket.followup_days), created_at=now,
    )
    session.add(followup)
    history.record(session, ticket, history.SYSTEM, "followup", None, "scheduled",
                   {"due_at": followup.due_at.isoformat(), "survey_id": survey_id}, at=now)
    return followup


def cancel_pending(session: Session, ticket: Ticket) -> int:
    pending = session.scalars(select(TicketFollowUp).where(
        TicketFollowUp.ticket_id == ticket.id,
        TicketFollowUp.status == FollowUpStatus.scheduled.value))
    count = 0
    for followup in pending:
        followup.status = FollowUpStatus.cancelled.value
        count += 1
    return count


def survey_link(survey: Survey, lang: str, kind: str) -> str:
    base = get_settings().base_url.rstrip("/")
    medium = "sms" if kind in SMS_KINDS else "email"
    return f"{base}/s/{survey.public_token}?lang={lang}&ch={medium}"


def _send(session: Session, followup: TicketFollowUp, ticket: Ticket) -> None:
    if not ticket.followup_channel_id:
        return
    channel = notify_service.get_channel(session, ticket.org_id, ticket.followup_channel_id)
    contact = session.get(Contact, followup.contact_id)
    survey = session.get(Survey, followup.survey_id)
    if channel is None or not channel.enabled or survey is None:
        return
    address = recipient_for(channel.kind, contact)
    if address is None:
        return
    lang = normalize_language(contact.language if contact else None) or survey.default_language
    messages = notify_service.notify(
        session, org_id=ticket.org_id, channel_ids=[channel.id], template="ticket.reply",
        params={"subject": translate("tickets.followup.subject", lang),
                "body": translate("tickets.followup.body", lang)},
        link=survey_link(survey, lang, channel.kind), recipients=[address],
        ordering_key=f"ticket:{ticket.id}", dedupe_key=f"followup:{followup.id}",
    )
    if messages:
        followup.channel_id = channel.id
        followup.message_id = messages[0].id


def invite_due(session: Session, now: datetime, limit: int = 500) -> int:
    due = list(session.scalars(
        select(TicketFollowUp)
        .where(TicketFollowUp.status == FollowUpStatus.scheduled.value,
               TicketFollowUp.due_at <= now)
        .order_by(TicketFollowUp.due_at).limit(limit)))
    for followup in due:
        ticket = session.get(Ticket, followup.ticket_id)
        followup.status = FollowUpStatus.invited.value
        followup.invited_at = now
        if ticket is None:
            continue
        _send(session, followup, ticket)
        history.record(session, ticket, history.SYSTEM, "followup", "scheduled", "invited",
                       {"channel_id": followup.channel_id, "message_id": followup.message_id},
                       at=now)
    session.flush()
    return len(due)


def link_answer(session: Session, response: Response, now: datetime) -> Ticket | None:
    """Links a completed response to the open follow-up of its contact and survey."""
    if not response.contact_id:
        return None
    followup = session.scalar(
        select(TicketFollowUp)
        .where(TicketFollowUp.org_id == response.org_id,
               TicketFollowUp.contact_id == response.contact_id,
               TicketFollowUp.survey_id == response.survey_id,
               TicketFollowUp.status.in_(OPEN_FOLLOWUP),
               TicketFollowUp.created_at <= response.submitted_at)
        .order_by(TicketFollowUp.created_at.desc()).limit(1))
    if followup is None:
        return None
    ticket = session.get(Ticket, followup.ticket_id)
    if ticket is None or ticket.response_id == response.id:
        return None
    followup.status = FollowUpStatus.answered.value
    followup.response_id = response.id
    followup.score = response.score
    followup.answered_at = now
    ticket.followup_score = response.score
    ticket.recovered = (ticket.original_score is not None
                        and response.score > ticket.original_score)
    ticket.updated_at = now
    history.record(session, ticket, history.SYSTEM, "followup", "invited", "answered",
                   {"response_id": response.id, "score": response.score,
                    "original_score": ticket.original_score}, at=now)
    history.record(session, ticket, history.SYSTEM, "recovered", None,
                   "yes" if ticket.recovered else "no", at=now)
    changes: dict[str, object] = {"followup_score": response.score,
                                  "recovered": ticket.recovered}
    if ticket.status == TicketStatus.resolved.value:
        ticket.status = TicketStatus.closed.value
        ticket.closed_at = now
        history.record(session, ticket, history.SYSTEM, "status", "resolved", "closed",
                       {"reason": "followup_answered"}, at=now)
        changes["status"] = ["resolved", "closed"]
    history.emit_updated(session, ticket, changes)
    session.flush()
    return ticket
