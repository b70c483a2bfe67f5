"""Ticket notifications through the notify domain, each in its channel's language.

Everything here only enqueues, in the caller's transaction: a ticket and the message that
announces it commit or roll back together. Messages about one ticket share the ordering key
`ticket:<id>`, so they arrive in the order they were written.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from npsloop.accounts.models import Organization, User
from npsloop.contacts.models import Contact
from npsloop.core.i18n import translate
from npsloop.notify import service as notify_service
from npsloop.notify.models import NotifyMessage
from npsloop.surveys.models import Survey
from npsloop.tickets.models import Team, Ticket

log = logging.getLogger(__name__)


def ticket_link(ticket: Ticket) -> str:
    return f"/tickets/{ticket.id}"


def user_label(session: Session, user_id: str | None) -> str:
    user = session.get(User, user_id) if user_id else None
    return (user.name or user.email) if user is not None else ""


def contact_label(contact: Contact | None) -> str:
    if contact is None:
        return ""
    return contact.name or contact.external_id


def local_time(session: Session, org_id: str, value: Any) -> str:
    if value is None:
        return ""
    org = session.get(Organization, org_id)
    try:
        zone = ZoneInfo(org.timezone if org else "Asia/Shanghai")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def ticket_params(session: Session, ticket: Ticket, lang: str) -> dict[str, Any]:
    team = session.get(Team, ticket.team_id) if ticket.team_id else None
    survey = session.get(Survey, ticket.survey_id) if ticket.survey_id else None
    contact = session.get(Contact, ticket.contact_id) if ticket.contact_id else None
    return {
        "subject": f"#{ticket.number} {ticket.subject}",
        "priority": ticket.priority,
        "status": translate(f"tickets.status.{ticket.status}", lang),
        "owner": user_label(session, ticket.owner_id),
        "team": team.name if team else "",
        "due": local_time(session, ticket.org_id, ticket.sla_due_at),
        "customer": contact_label(contact),
        "score": "" if ticket.original_score is None else str(ticket.original_score),
        "survey": survey.name if survey else "",
        "touchpoint": survey.touchpoint if survey else "",
    }


def announce(
    session: Session,
    ticket: Ticket,
    *,
    template: str,
    channel_ids: Iterable[str],
    dedupe_key: str,
    recipients: Iterable[str] = (),
    quote: str = "",
    extra: dict[str, Any] | None = None,
    translate_extra: dict[str, str] | None = None,
) -> list[NotifyMessage]:
    """Enqueues `template` about `ticket` on each enabled channel that still exists.

    `translate_extra` maps a parameter to a catalog key rendered in the channel's language
    (e.g. the name of the breached SLA)."""
    default_lang = notify_service.org_language(session, ticket.org_id)
    messages: list[NotifyMessage] = []
    for channel_id in dict.fromkeys(c for c in channel_ids if c):
        channel = notify_service.get_channel(session, ticket.org_id, channel_id)
        if channel is None or not channel.enabled:
            # A deleted or paused channel must not block the ticket (or retry it forever).
            log.info("ticket %s: channel %s skipped (missing or disabled)", ticket.id,
                     channel_id)
            continue
        lang = channel.language or default_lang
        params = ticket_params(session, ticket, lang)
        params.update(extra or {})
        params.update({k: translate(v, lang) for k, v in (translate_extra or {}).items()})
        messages += notify_service.notify(
            session, org_id=ticket.org_id, channel_ids=[channel.id], template=template,
            params=params, quote=quote, link=ticket_link(ticket), recipients=recipients,
            ordering_key=f"ticket:{ticket.id}", dedupe_key=dedupe_key,
        )
    return messages
