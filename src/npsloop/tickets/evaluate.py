"""Runs an organisation's rules on a completed response, and replays one rule (dry run).

Rules run in their order; a matching rule with `stop_processing` ends the run. Before any
action, a `rule_matches` row is written inside a SAVEPOINT: its unique (rule, response) key
makes every action at-most-once per rule and response, even when the outbox retries the
event or two workers race on it. All actions (ticket, tags, notifications, webhooks) are
written in the caller's transaction: they commit together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from npsloop.contacts.models import Contact
from npsloop.core.db import utcnow
from npsloop.notify import service as notify_service
from npsloop.notify.service import WebhookEvent
from npsloop.notify.webhooks import get_endpoint
from npsloop.responses.models import Response, ResponseStatus
from npsloop.tickets import announce, routing, service
from npsloop.tickets.facts import facts_for, facts_for_many
from npsloop.tickets.models import ResponseTag, Rule, RuleMatch, Ticket
from npsloop.tickets.rules import CompiledRule, Facts, parse_stored

DRY_RUN_WINDOW = 1000
DRY_RUN_ITEMS = 100


@dataclass
class Outcome:
    rule_id: str
    ticket_id: str | None = None
    duplicate: bool = False  # this rule already acted on this response
    messages: int = 0


def enabled_rules(session: Session, org_id: str) -> list[CompiledRule]:
    rows = session.scalars(
        select(Rule).where(Rule.org_id == org_id, Rule.enabled.is_(True))
        .order_by(Rule.position, Rule.created_at, Rule.id))
    return [parse_stored(row) for row in rows]


def _ensure_analysis(session: Session, response: Response) -> None:
    """Text conditions need the comment's analysis; the text-mining handler normally ran
    first on the same event, and analyse_response is a no-op when it is current."""
    if (response.comment or "").strip():
        from npsloop.textmining import service as text_service

        text_service.analyse_response(session, response)


def _claim(session: Session, rule: CompiledRule, response: Response) -> RuleMatch | None:
    if session.scalar(select(RuleMatch.id).where(RuleMatch.rule_id == rule.id,
                                                 RuleMatch.response_id == response.id)):
        return None
    match = RuleMatch(org_id=response.org_id, rule_id=rule.id, response_id=response.id,
                      matched_at=utcnow())
    try:
        with session.begin_nested():
            session.add(match)
    except IntegrityError:  # a concurrent evaluation claimed it first
        return None
    return match


def _tag(session: Session, rule: CompiledRule, response: Response) -> None:
    actions = rule.actions
    for tag in dict.fromkeys(actions.tags):
        if session.get(ResponseTag, (response.id, tag)) is None:
            session.add(ResponseTag(response_id=response.id, tag=tag, org_id=response.org_id,
                                    rule_id=rule.id))
    if actions.contact_tags and response.contact_id:
        contact = session.get(Contact, response.contact_id)
        if contact is not None:
            merged = list(dict.fromkeys([*(contact.tags or []), *actions.contact_tags]))
            if merged != list(contact.tags or []):
                contact.tags = merged


def _alert_without_ticket(session: Session, rule: CompiledRule, response: Response,
                          channel_ids: list[str]) -> int:
    count = 0
    for channel_id in dict.fromkeys(channel_ids):
        if notify_service.get_channel(session, response.org_id, channel_id) is None:
            continue
        count += len(notify_service.notify(
            session, org_id=response.org_id, channel_ids=[channel_id],
            template="response.alert", params={"score": response.score},
            quote=response.comment or "",
            dedupe_key=f"rule:{rule.id}:response:{response.id}",
        ))
    return count


def _webhooks(session: Session, rule: CompiledRule, response: Response,
              ticket: Ticket | None) -> int:
    from npsloop.notify.handlers import response_payload

    data: dict[str, Any] = {"rule_id": rule.id, "rule_name": rule.name,
                            "ticket_id": ticket.id if ticket else None,
                            "response": response_payload(response)}
    count = 0
    for endpoint_id in dict.fromkeys(rule.actions.webhook_endpoint_ids):
        endpoint = get_endpoint(session, response.org_id, endpoint_id)
        if endpoint is None or not endpoint.enabled:
            continue
        notify_service.enqueue(session, org_id=response.org_id, endpoint_id=endpoint.id,
                               message=WebhookEvent("rule.matched", data),
                               dedupe_key=f"rule:{rule.id}:response:{response.id}",
                               ordering_key=f"ticket:{ticket.id}" if ticket else None)
        count += 1
    return count


def apply(session: Session, rule: CompiledRule, response: Response, facts: Facts,
          now: datetime) -> Outcome:
    match = _claim(session, rule, response)
    if match is None:
        return Outcome(rule.id, duplicate=True)
    outcome = Outcome(rule.id)
    actions = rule.actions
    ticket = None
    if actions.ticket is not None:
        ticket = service.open_ticket(session, org_id=response.org_id, action=actions.ticket,
                                     response=response, facts=facts, rule_id=rule.id, now=now)
        match.ticket_id = outcome.ticket_id = ticket.id
    _tag(session, rule, response)
    if ticket is not None:
        team = routing.get_team(session, ticket.org_id, ticket.team_id)
        channels = [*actions.notify_channel_ids, *(team.notify_channel_ids if team else [])]
        outcome.messages = len(announce.announce(
            session, ticket, template="ticket.created", channel_ids=channels,
            quote=response.comment or "", dedupe_key=f"rule:{rule.id}:response:{response.id}"))
    elif actions.notify_channel_ids:
        outcome.messages = _alert_without_ticket(session, rule, response,
                                                 actions.notify_channel_ids)
    outcome.messages += _webhooks(session, rule, response, ticket)
    session.flush()
    return outcome


def evaluate_response(session: Session, response: Response,
                      now: datetime | None = None) -> list[Outcome]:
    """Applies the organisation's enabled rules, in order, to one completed response."""
    if response.status != ResponseStatus.complete.value:
        return []
    rules = enabled_rules(session, response.org_id)
    if not rules:
        return []
    if any(rule.needs_text for rule in rules):
        _ensure_analysis(session, response)
    facts = facts_for(session, response)
    now = now or utcnow()
    outcomes = []
    for rule in rules:
        if not rule.matches(facts):
            continue
        outcomes.append(apply(session, rule, response, facts, now))
        if rule.stop_processing:
            break
    return outcomes


# -- dry run -----------------------------------------------------------------------------

@dataclass
class DryRun:
    scanned: int = 0
    matched: int = 0
    without_analysis: int = 0  # responses with a comment that was never analysed
    items: list[dict[str, Any]] = field(default_factory=list)


def dry_run(session: Session, org_id: str, rule: CompiledRule,
            window: int = DRY_RUN_WINDOW, max_items: int = DRY_RUN_ITEMS) -> DryRun:
    """Which of the last `window` completed responses `rule` would have matched (read-only:
    nothing is written, no routing turn is taken)."""
    responses = list(session.scalars(
        select(Response)
        .where(Response.org_id == org_id, Response.status == ResponseStatus.complete.value)
        .order_by(Response.submitted_at.desc(), Response.id.desc()).limit(window)))
    result = DryRun(scanned=len(responses))
    for response, facts in zip(responses, facts_for_many(session, responses), strict=True):
        if response.comment.strip() and not facts.analysed:
            result.without_analysis += 1
        if not rule.matches(facts):
            continue
        result.matched += 1
        if len(result.items) < max_items:
            result.items.append({
                "response_id": response.id, "survey_id": response.survey_id,
                "score": response.score, "category": response.category,
                "comment": response.comment[:300], "language": response.language,
                "submitted_at": response.submitted_at,
                "topics": sorted(facts.topics), "sentiment": facts.sentiment_label,
            })
    return result
