"""What the ticket pages show, gathered per page in a few queries (no HTTP here)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from npsloop.accounts.deps import Principal
from npsloop.accounts.models import Organization, User
from npsloop.accounts.service import role_can
from npsloop.contacts.models import Contact
from npsloop.notify.models import NotifyChannel
from npsloop.responses.models import Response
from npsloop.surveys.models import Survey
from npsloop.textmining.models import ResponseTextAnalysis, TextTopic
from npsloop.tickets import followups, rulebook, service, sla
from npsloop.tickets.models import (
    ResponseTag,
    Team,
    Ticket,
    TicketComment,
    TicketEvent,
    TicketFollowUp,
)
from npsloop.tickets.rules import parse_stored


def org_timezone(session: Session, org_id: str) -> str:
    org = session.get(Organization, org_id)
    return org.timezone if org else "Asia/Shanghai"


def zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def days_ago(tz: str, days: int) -> datetime:
    local = datetime.now(zone(tz)).replace(hour=0, minute=0, second=0, microsecond=0)
    return local - timedelta(days=days)


def fmt_hours(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 1:
        return f"{value * 60:.0f} min"
    return f"{value:.1f} h" if value < 48 else f"{value / 24:.1f} d"


def fmt_pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


UNITS = {"zh-CN": ("天", "小时", "分"), "en": ("d", "h", "m")}


def span(seconds: float, lang: str = "en") -> str:
    d, h, m = UNITS.get(lang, UNITS["en"])
    gap = "" if lang == "zh-CN" else " "
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}{d}{gap}{hours}{h}"
    return f"{hours}{h}{gap}{mins}{m}" if hours else f"{mins}{m}"


def due_info(ticket: Ticket, now: datetime, lang: str = "en") -> dict[str, Any]:
    state = sla.state(ticket, now)
    due = ticket.sla_due_at
    seconds = (due - now).total_seconds() if due is not None else None
    return {"state": state, "due": due, "seconds": seconds,
            "span": span(seconds, lang) if seconds is not None else "",
            "which": "first_response" if ticket.first_responded_at is None else "resolution"}


def user_names(session: Session, org_id: str) -> dict[str, str]:
    return {u.id: (u.name or u.email) for u in session.scalars(
        select(User).where(User.org_id == org_id))}


def workers(session: Session, org_id: str) -> list[tuple[str, str]]:
    users = session.scalars(select(User).where(User.org_id == org_id, User.is_active.is_(True))
                            .order_by(User.name, User.email))
    return [(u.id, u.name or u.email) for u in users if role_can(u.role, "ticket:work")]


def _formatter(session: Session, org_id: str):  # type: ignore[no-untyped-def]
    tz = zone(org_timezone(session, org_id))

    def fmt(value: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
        return value.astimezone(tz).strftime(pattern) if value is not None else "—"

    return fmt


def inbox_context(session: Session, principal: Principal, tickets: list[Ticket],
                  now: datetime, lang: str = "en") -> dict[str, Any]:
    org_id = principal.org_id
    teams = rulebook.list_teams(session, org_id)
    team_names = {t.id: t.name for t in teams}
    contact_ids = [t.contact_id for t in tickets if t.contact_id]
    contacts = {c.id: c for c in session.scalars(
        select(Contact).where(Contact.id.in_(contact_ids or [""])))}
    surveys = list(session.scalars(select(Survey).where(Survey.org_id == org_id)
                                   .order_by(Survey.name)))
    survey_names = {s.id: s.name for s in surveys}
    names = user_names(session, org_id)
    rows = [{
        "t": t, "owner": names.get(t.owner_id or "", ""), "team": team_names.get(
            t.team_id or "", ""),
        "customer": (contacts[t.contact_id].name or contacts[t.contact_id].external_id)
        if t.contact_id in contacts else "",
        "survey": survey_names.get(t.survey_id or "", ""), "due": due_info(t, now, lang),
    } for t in tickets]
    return {"rows": rows, "teams": teams, "workers": workers(session, org_id),
            "surveys": surveys, "fmt": _formatter(session, org_id),
            "can_manage": principal.can("rule:manage"), "csrf": principal.csrf_token,
            "priorities": ("P0", "P1", "P2", "P3")}


def _timeline(session: Session, ticket: Ticket, names: dict[str, str]) -> list[dict[str, Any]]:
    comments = {c.id: c for c in session.scalars(
        select(TicketComment).where(TicketComment.ticket_id == ticket.id))}
    events = session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
                             .order_by(TicketEvent.at, TicketEvent.id))
    items = []
    for event in events:
        item: dict[str, Any] = {"e": event, "comment": comments.get(
            str(event.detail.get("comment_id", "")))}
        for side in ("old", "new"):
            raw = getattr(event, f"{side}_value")
            item[side] = names.get(raw, raw) if event.kind == "owner" else raw
        items.append(item)
    return list(reversed(items))  # newest first


def _analysis(session: Session, response: Response, lang: str) -> dict[str, Any] | None:
    row = session.get(ResponseTextAnalysis, response.id)
    if row is None:
        return None
    keys = list((row.topic_hits or {}).keys())
    topics = session.scalars(select(TextTopic).where(TextTopic.org_id == response.org_id,
                                                     TextTopic.key.in_(keys or [""])))
    label = {t.key: (t.name_zh if lang == "zh-CN" else t.name_en) for t in topics}
    return {"sentiment": row.sentiment_label, "score": row.sentiment_score,
            "topics": [(k, label.get(k, k)) for k in keys], "keywords": row.keywords[:12]}


def ticket_context(session: Session, principal: Principal, ticket: Ticket,
                   now: datetime, lang: str = "zh-CN") -> dict[str, Any]:
    org_id = principal.org_id
    names = user_names(session, org_id)
    response = session.get(Response, ticket.response_id) if ticket.response_id else None
    survey = session.get(Survey, ticket.survey_id) if ticket.survey_id else None
    contact = session.get(Contact, ticket.contact_id) if ticket.contact_id else None
    earlier: list[Response] = []
    if contact is not None:
        earlier = list(session.scalars(
            select(Response).where(Response.org_id == org_id, Response.contact_id == contact.id,
                                   Response.id != (ticket.response_id or ""))
            .order_by(Response.submitted_at.desc()).limit(10)))
    survey_names = {s.id: s.name for s in session.scalars(
        select(Survey).where(Survey.org_id == org_id))}
    channels = [c for c in session.scalars(
        select(NotifyChannel).where(NotifyChannel.org_id == org_id,
                                    NotifyChannel.enabled.is_(True)).order_by(NotifyChannel.name))
        if c.kind in followups.EMAIL_KINDS | followups.SMS_KINDS]
    reachable = [(c, followups.recipient_for(c.kind, contact)) for c in channels]
    team = session.get(Team, ticket.team_id) if ticket.team_id else None
    tags = list(session.scalars(select(ResponseTag.tag).where(
        ResponseTag.response_id == (ticket.response_id or "")))) if response else []
    return {
        "ticket": ticket, "due": due_info(ticket, now, lang), "response": response,
        "drivers": [a for a in response.answers if a.kind == "driver_rating"]
        if response else [],
        "analysis": _analysis(session, response, lang) if response else None,
        "survey": survey, "contact": contact, "earlier": earlier, "survey_names": survey_names,
        "timeline": _timeline(session, ticket, names), "names": names, "team": team,
        "teams": rulebook.list_teams(session, org_id), "workers": workers(session, org_id),
        "reply_channels": reachable, "transitions": service.TRANSITIONS[ticket.status],
        "categories": service.RESOLUTION_CATEGORIES, "response_tags": tags,
        "followups": list(session.scalars(select(TicketFollowUp).where(
            TicketFollowUp.ticket_id == ticket.id).order_by(TicketFollowUp.created_at))),
        "first_met": sla.first_response_met(ticket, now),
        "resolution_met": sla.resolution_met(ticket, now),
        "fmt": _formatter(session, org_id), "csrf": principal.csrf_token,
        "priorities": ("P0", "P1", "P2", "P3"),
    }


def rules_context(session: Session, principal: Principal) -> dict[str, Any]:
    rules = rulebook.list_rules(session, principal.org_id)
    return {"rules": [(r, parse_stored(r)) for r in rules],
            "teams": {t.id: t.name for t in rulebook.list_teams(session, principal.org_id)},
            "channels": {c.id: c.name for c in session.scalars(
                select(NotifyChannel).where(NotifyChannel.org_id == principal.org_id))},
            "can_manage": principal.can("rule:manage")}
