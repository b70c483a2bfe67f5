"""Demo rules for the FreshGo workspace: three teams, a P0 rule for very unhappy customers
who mention a refund or a complaint, and a P1 rule that sends delivery complaints from
detractors to logistics. Idempotent: teams are found by key and rules by name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from npsloop.accounts.models import User
from npsloop.accounts.service import role_can
from npsloop.tickets import rulebook
from npsloop.tickets.models import Rule, Team
from npsloop.tickets.rules import RuleBody

TEAMS = (
    ("logistics", "物流配送 Logistics"),
    ("customer_service", "客户服务 Customer service"),
    ("product", "商品与产品 Product"),
)
P0_RULE = "P0 · 极度不满 + 退款/投诉 Very unhappy, refund or complaint"
P1_RULE = "P1 · 配送投诉 Delivery complaint"


def _team(session: Session, org_id: str, key: str, name: str, members: list[str]) -> Team:
    team = session.scalar(select(Team).where(Team.org_id == org_id, Team.key == key))
    if team is None:
        team = rulebook.save_team(session, org_id, {"key": key, "name": name,
                                                    "member_ids": members})
    return team


def seed_demo_rules(session: Session, org_id: str,
                    notify_channel_ids: Sequence[str] = ()) -> dict[str, Any]:
    """Creates the demo teams and rules once (the caller commits). Channels, if given, are
    where both rules announce their tickets (e.g. a DingTalk group robot)."""
    users = [u for u in session.scalars(
        select(User).where(User.org_id == org_id, User.is_active.is_(True))
        .order_by(User.created_at)) if role_can(u.role, "ticket:work")]
    # Agents take turns first; owners and admins stand in.
    workers = [u.id for u in sorted(users, key=lambda u: u.role != "agent")]
    teams = {key: _team(session, org_id, key, name, workers) for key, name in TEAMS}
    existing = {r.name for r in session.scalars(select(Rule).where(Rule.org_id == org_id))}
    channels = list(notify_channel_ids)
    specs = [
        (P0_RULE, {
            "conditions": [
                {"field": "score", "min": 0, "max": 2},
                {"field": "group", "match": "any", "conditions": [
                    {"field": "topic", "values": ["refund", "customer_service"]},
                    {"field": "keyword", "values": ["投诉", "退款", "complaint", "refund"]},
                ]},
            ],
            "actions": {"ticket": {"priority": "P0", "routing": {
                "mode": "round_robin", "team_id": teams["customer_service"].id},
                "followup_days": 7}, "notify_channel_ids": channels,
                "tags": ["refund-or-complaint"]},
            "stop_processing": True,
        }),
        (P1_RULE, {
            "conditions": [
                {"field": "category", "values": ["detractor"]},
                {"field": "topic", "values": ["delivery"]},
            ],
            "actions": {"ticket": {"priority": "P1", "routing": {
                "mode": "round_robin", "team_id": teams["logistics"].id},
                "followup_days": 7}, "notify_channel_ids": channels,
                "tags": ["delivery-complaint"]},
            "stop_processing": True,
        }),
    ]
    created = []
    for name, spec in specs:
        if name in existing:
            continue
        rule = rulebook.create_rule(session, org_id, RuleBody.model_validate(
            {"name": name, **spec}), actor="demo")
        created.append(rule.id)
    session.flush()
    return {"teams": {k: t.id for k, t in teams.items()}, "rules_created": created}
