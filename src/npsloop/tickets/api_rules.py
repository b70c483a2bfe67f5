"""JSON routes for rules (/api/v1/rules) and teams (/api/v1/teams).

Managing them needs `rule:manage` (owners and admins); reading them needs `ticket:work` so
agents can see why a ticket was opened. Another organisation's id is a 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Response, status
from pydantic import ValidationError

from npsloop.accounts.deps import Principal, require
from npsloop.accounts.service import audit
from npsloop.core.deps import SessionDep
from npsloop.tickets import evaluate, rulebook
from npsloop.tickets.models import Rule, Team
from npsloop.tickets.rules import RuleBody, compile_rule, parse_stored
from npsloop.tickets.schemas import DryRunOut, RuleOrder, RuleOut, RulePatch, TeamIn, TeamOut
from npsloop.tickets.service import TicketError

router = APIRouter(tags=["rules"])
Manager = Annotated[Principal, Depends(require("rule:manage"))]
Worker = Annotated[Principal, Depends(require("ticket:work"))]


def unprocessable(exc: TicketError, where: str = "body") -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[
        {"loc": [where, *exc.field.split(".")], "msg": exc.message, "type": "value_error"}])


def invalid(exc: ValidationError) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[
        {"loc": ["body", *err.get("loc", ())], "msg": err.get("msg", ""),
         "type": err.get("type", "value_error")} for err in exc.errors()])


def _rule(db: SessionDep, principal: Principal, rule_id: str) -> Rule:
    rule = rulebook.get_rule(db, principal.org_id, rule_id)
    if rule is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"rule '{rule_id}' not found")
    return rule


def _team(db: SessionDep, principal: Principal, team_id: str) -> Team:
    team = db.get(Team, team_id)
    if team is None or team.org_id != principal.org_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"team '{team_id}' not found")
    return team


# -- rules -------------------------------------------------------------------------------

@router.get("/api/v1/rules", response_model=list[RuleOut])
def list_rules(db: SessionDep, principal: Worker) -> list[Rule]:
    return rulebook.list_rules(db, principal.org_id)


@router.post("/api/v1/rules", response_model=RuleOut, status_code=201)
def create_rule(body: RuleBody, db: SessionDep, principal: Manager) -> Rule:
    try:
        rule = rulebook.create_rule(db, principal.org_id, body, principal.actor)
    except TicketError as exc:
        raise unprocessable(exc) from exc
    audit(db, org_id=principal.org_id, actor=principal.actor, action="rule.create",
          target=("rule", rule.id))
    db.commit()
    return rule


@router.post("/api/v1/rules/order", response_model=list[RuleOut])
def order_rules(body: RuleOrder, db: SessionDep, principal: Manager) -> list[Rule]:
    try:
        rules = rulebook.reorder(db, principal.org_id, body.rule_ids)
    except TicketError as exc:
        raise unprocessable(exc) from exc
    db.commit()
    return rules


@router.post("/api/v1/rules/dry-run", response_model=DryRunOut)
def dry_run_unsaved(body: RuleBody, db: SessionDep, principal: Manager) -> dict[str, Any]:
    """Which of the last 1,000 completed responses this (unsaved) rule would match."""
    return evaluate.dry_run(db, principal.org_id, compile_rule("unsaved", body)).__dict__


@router.get("/api/v1/rules/{rule_id}", response_model=RuleOut)
def get_rule(rule_id: str, db: SessionDep, principal: Worker) -> Rule:
    return _rule(db, principal, rule_id)


@router.patch("/api/v1/rules/{rule_id}", response_model=RuleOut)
def update_rule(rule_id: str, body: RulePatch, db: SessionDep, principal: Manager) -> Rule:
    rule = _rule(db, principal, rule_id)
    merged = {"name": rule.name, "description": rule.description, "enabled": rule.enabled,
              "match": rule.match, "conditions": rule.conditions, "actions": rule.actions,
              "stop_processing": rule.stop_processing}
    merged.update(body.model_dump(exclude_unset=True))
    try:
        parsed = RuleBody.model_validate(merged)
        rulebook.update_rule(db, rule, parsed)
    except ValidationError as exc:
        raise invalid(exc) from exc
    except TicketError as exc:
        raise unprocessable(exc) from exc
    audit(db, org_id=principal.org_id, actor=principal.actor, action="rule.update",
          target=("rule", rule.id))
    db.commit()
    return rule


@router.delete("/api/v1/rules/{rule_id}", status_code=204)
def delete_rule(rule_id: str, db: SessionDep, principal: Manager) -> Response:
    rule = _rule(db, principal, rule_id)
    db.delete(rule)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="rule.delete",
          target=("rule", rule_id))
    db.commit()
    return Response(status_code=204)


@router.post("/api/v1/rules/{rule_id}/dry-run", response_model=DryRunOut)
def dry_run_saved(rule_id: str, db: SessionDep, principal: Manager) -> dict[str, Any]:
    rule = _rule(db, principal, rule_id)
    return evaluate.dry_run(db, principal.org_id, parse_stored(rule)).__dict__


# -- teams -------------------------------------------------------------------------------

@router.get("/api/v1/teams", response_model=list[TeamOut], tags=["teams"])
def list_teams(db: SessionDep, principal: Worker) -> list[Team]:
    return rulebook.list_teams(db, principal.org_id)


@router.post("/api/v1/teams", response_model=TeamOut, status_code=201, tags=["teams"])
def create_team(body: TeamIn, db: SessionDep, principal: Manager) -> Team:
    try:
        team = rulebook.save_team(db, principal.org_id, body.model_dump(exclude_unset=True))
    except TicketError as exc:
        raise unprocessable(exc) from exc
    db.commit()
    return team


@router.get("/api/v1/teams/{team_id}", response_model=TeamOut, tags=["teams"])
def get_team(team_id: str, db: SessionDep, principal: Worker) -> Team:
    return _team(db, principal, team_id)


@router.patch("/api/v1/teams/{team_id}", response_model=TeamOut, tags=["teams"])
def update_team(team_id: str, body: TeamIn, db: SessionDep, principal: Manager) -> Team:
    team = _team(db, principal, team_id)
    data = body.model_dump(exclude_unset=True)
    if "key" in data:
        raise unprocessable(TicketError("key", "a team's key cannot change"))
    try:
        rulebook.save_team(db, principal.org_id, data, team)
    except TicketError as exc:
        raise unprocessable(exc) from exc
    db.commit()
    return team


@router.delete("/api/v1/teams/{team_id}", status_code=204, tags=["teams"])
def delete_team(team_id: str, db: SessionDep, principal: Manager) -> Response:
    rulebook.delete_team(db, _team(db, principal, team_id))
    db.commit()
    return Response(status_code=204)
