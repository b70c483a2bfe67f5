"""Storing rules and teams: create, update, order, and checks that every id a rule or team
refers to (team, user, channel, survey, webhook endpoint) belongs to the same organisation.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from npsloop.accounts.models import User
from npsloop.core.db import utcnow
from npsloop.notify import service as notify_service
from npsloop.notify.webhooks import get_endpoint
from npsloop.surveys.models import Survey
from npsloop.tickets import routing
from npsloop.tickets.models import Rule, Team, Ticket
from npsloop.tickets.rules import RuleBody
from npsloop.tickets.service import TicketError

KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _channels(session: Session, org_id: str, ids: list[str], field: str) -> None:
    for index, channel_id in enumerate(ids):
        if notify_service.get_channel(session, org_id, channel_id) is None:
            raise TicketError(f"{field}.{index}", f"no such channel: {channel_id}")


def _survey(session: Session, org_id: str, survey_id: str, field: str) -> None:
    survey = session.get(Survey, survey_id)
    if survey is None or survey.org_id != org_id:
        raise TicketError(field, f"no such survey: {survey_id}")


def _team(session: Session, org_id: str, team_id: str | None, field: str) -> None:
    if team_id and routing.get_team(session, org_id, team_id) is None:
        raise TicketError(field, f"no such team: {team_id}")


def _conditions(session: Session, org_id: str, conditions: list[Any], path: str) -> None:
    for index, condition in enumerate(conditions):
        where = f"{path}.{index}"
        if condition.field == "survey":
            for value in condition.values:
                _survey(session, org_id, value, f"{where}.values")
        elif condition.field == "group":
            _conditions(session, org_id, condition.conditions, f"{where}.conditions")


def check_references(session: Session, org_id: str, body: RuleBody) -> None:
    _conditions(session, org_id, body.conditions, "conditions")
    actions = body.actions
    _channels(session, org_id, actions.notify_channel_ids, "actions.notify_channel_ids")
    for index, endpoint_id in enumerate(actions.webhook_endpoint_ids):
        if get_endpoint(session, org_id, endpoint_id) is None:
            raise TicketError(f"actions.webhook_endpoint_ids.{index}",
                              f"no such webhook endpoint: {endpoint_id}")
    ticket = actions.ticket
    if ticket is None:
        return
    where = "actions.ticket.routing"
    _team(session, org_id, ticket.routing.team_id, f"{where}.team_id")
    _team(session, org_id, ticket.routing.default_team_id, f"{where}.default_team_id")
    for value, team_id in ticket.routing.map.items():
        _team(session, org_id, team_id, f"{where}.map.{value}")
    if ticket.routing.owner_id and not routing.workers(session, org_id,
                                                       [ticket.routing.owner_id]):
        raise TicketError(f"{where}.owner_id", "must be an active user who can work tickets")
    if ticket.followup_survey_id:
        _survey(session, org_id, ticket.followup_survey_id, "actions.ticket.followup_survey_id")
    if ticket.followup_channel_id:
        _channels(session, org_id, [ticket.followup_channel_id],
                  "actions.ticket.followup_channel_id")


def _stored(body: RuleBody) -> dict[str, Any]:
    return body.model_dump(mode="json", exclude_none=True)


def list_rules(session: Session, org_id: str) -> list[Rule]:
    return list(session.scalars(select(Rule).where(Rule.org_id == org_id)
                                .order_by(Rule.position, Rule.created_at, Rule.id)))


def get_rule(session: Session, org_id: str, rule_id: str) -> Rule | None:
    rule = session.get(Rule, rule_id)
    return rule if rule is not None and rule.org_id == org_id else None


def create_rule(session: Session, org_id: str, body: RuleBody, actor: str,
                position: int | None = None) -> Rule:
    check_references(session, org_id, body)
    last = session.scalar(select(func.max(Rule.position)).where(Rule.org_id == org_id))
    data = _stored(body)
    rule = Rule(org_id=org_id, name=body.name.strip(), description=body.description,
                enabled=body.enabled, match=body.match, conditions=data["conditions"],
                actions=data["actions"], stop_processing=body.stop_processing,
                position=position if position is not None else (last or 0) + 10,
                created_by=actor)
    session.add(rule)
    session.flush()
    return rule


def update_rule(session: Session, rule: Rule, body: RuleBody) -> Rule:
    check_references(session, rule.org_id, body)
    data = _stored(body)
    rule.name = body.name.strip()
    rule.description = body.description
    rule.enabled = body.enabled
    rule.match = body.match
    rule.conditions = data["conditions"]
    rule.actions = data["actions"]
    rule.stop_processing = body.stop_processing
    rule.updated_at = utcnow()
    session.flush()
    return rule


def reorder(session: Session, org_id: str, rule_ids: list[str]) -> list[Rule]:
    """Puts the rules in the given order; every rule of the organisation must be listed."""
    rules = {r.id: r for r in list_rules(session, org_id)}
    if sorted(rule_ids) != sorted(rules) or len(set(rule_ids)) != len(rule_ids):
        raise TicketError("rule_ids", "list every rule of the organisation exactly once")
    for index, rule_id in enumerate(rule_ids):
        rules[rule_id].position = (index + 1) * 10
    session.flush()
    return [rules[i] for i in rule_ids]


# -- teams -------------------------------------------------------------------------------

def list_teams(session: Session, org_id: str) -> list[Team]:
    return list(session.scalars(select(Team).where(Team.org_id == org_id).order_by(Team.name)))


def _members(session: Session, org_id: str, member_ids: list[str]) -> list[str]:
    for index, user_id in enumerate(member_ids):
        user = session.get(User, user_id)
        if user is None or user.org_id != org_id:
            raise TicketError(f"member_ids.{index}", f"no such user: {user_id}")
    return list(dict.fromkeys(member_ids))


def save_team(session: Session, org_id: str, data: dict[str, Any],
              team: Team | None = None) -> Team:
    """Creates (team None) or updates a team from the given fields."""
    if team is None:
        key = str(data.get("key") or "").strip().lower()
        if not KEY.match(key):
            raise TicketError("key", "must be 1-64 lowercase letters, digits, '-' or '_'")
        if session.scalar(select(Team.id).where(Team.org_id == org_id, Team.key == key)):
            raise TicketError("key", "another team already has this key")
        team = Team(org_id=org_id, key=key, name="", member_ids=[], notify_channel_ids=[],
                    escalation_channel_ids=[], rr_counter=0)
        session.add(team)
    if "name" in data:
        name = " ".join(str(data["name"] or "").split())
        if not name:
            raise TicketError("name", "must not be empty")
        team.name = name[:120]
    elif not team.name:
        raise TicketError("name", "is required")
    if data.get("member_ids") is not None:
        team.member_ids = _members(session, org_id, list(data["member_ids"]))
    for name in ("notify_channel_ids", "escalation_channel_ids"):
        if data.get(name) is not None:
            _channels(session, org_id, list(data[name]), name)
            setattr(team, name, list(dict.fromkeys(data[name])))
    if "escalation_user_id" in data:
        user_id = data["escalation_user_id"]
        if user_id is not None:
            user = session.get(User, user_id)
            if user is None or user.org_id != org_id:
                raise TicketError("escalation_user_id", f"no such user: {user_id}")
        team.escalation_user_id = user_id
    team.updated_at = utcnow()
    session.flush()
    return team


def delete_team(session: Session, team: Team) -> None:
    for ticket in session.scalars(select(Ticket).where(Ticket.team_id == team.id)):
        ticket.team_id = None
    session.delete(team)
    session.flush()
