"""Who gets a new ticket: a fixed owner/team, the next team member in turn, or a team looked
up from a contact attribute (city -> team).

Round-robin takes its turn with one atomic `UPDATE ... SET rr_counter = rr_counter + 1
RETURNING rr_counter`: PostgreSQL's row lock and SQLite's single writer both serialise it,
so two evaluations running at once always get different turns (on SQLite the loser of the
write race fails and its outbox event is retried; it never reuses a turn).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from npsloop.accounts.models import User
from npsloop.accounts.service import role_can
from npsloop.tickets.models import Team
from npsloop.tickets.rules import Facts, Routing


@dataclass(frozen=True)
class Assignment:
    team_id: str | None = None
    owner_id: str | None = None
    detail: str = ""  # how it was decided, for the ticket's history


def get_team(session: Session, org_id: str, team_id: str | None) -> Team | None:
    if not team_id:
        return None
    team = session.get(Team, team_id)
    return team if team is not None and team.org_id == org_id else None


def workers(session: Session, org_id: str, user_ids: list[str]) -> list[str]:
    """The given users that can take tickets now (active, this org, a working role), in the
    given order."""
    if not user_ids:
        return []
    users = {u.id: u for u in session.scalars(
        select(User).where(User.id.in_(user_ids), User.org_id == org_id))}
    return [uid for uid in dict.fromkeys(user_ids)
            if uid in users and users[uid].is_active and role_can(users[uid].role, "ticket:work")]


def take_turn(session: Session, team: Team) -> str | None:
    """The next member of the team in round-robin order (None if it has nobody)."""
    members = workers(session, team.org_id, list(team.member_ids or []))
    if not members:
        return None
    counter = session.execute(
        update(Team.__table__).where(Team.__table__.c.id == team.id)
        .values(rr_counter=Team.__table__.c.rr_counter + 1)
        .returning(Team.__table__.c.rr_counter)
    ).scalar_one()
    team.rr_counter = counter  # keep the loaded object in step without a refresh
    return members[(counter - 1) % len(members)]


def _lookup(routing: Routing, facts: Facts) -> str | None:
    value = facts.attributes.get(routing.attribute or "")
    if value in (None, ""):
        return routing.default_team_id
    wanted = str(value).strip().casefold()
    for key, team_id in routing.map.items():
        if key.strip().casefold() == wanted:
            return team_id
    return routing.default_team_id


def route(session: Session, org_id: str, routing: Routing, facts: Facts) -> Assignment:
    if routing.mode == "fixed":
        team = get_team(session, org_id, routing.team_id)
        owner = workers(session, org_id, [routing.owner_id]) if routing.owner_id else []
        return Assignment(team.id if team else None, owner[0] if owner else None, "fixed")
    if routing.mode == "round_robin":
        team = get_team(session, org_id, routing.team_id)
        if team is None:
            return Assignment(detail="round_robin: team not found")
        return Assignment(team.id, take_turn(session, team), "round_robin")
    team = get_team(session, org_id, _lookup(routing, facts))
    if team is None:
        return Assignment(detail=f"attribute {routing.attribute}: no team")
    owner = take_turn(session, team) if routing.assign == "round_robin" else None
    return Assignment(team.id, owner, f"attribute {routing.attribute}")
