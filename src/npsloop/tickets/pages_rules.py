"""The rule editor page: conditions and actions built in the browser (static/js/rule_editor.js)
and saved, tested (dry run) and deleted through the JSON API, which validates every field.

The page hands the script what the organisation has to choose from: surveys and their
drivers, text topics, teams, users, notification channels and webhooks, contact attributes.
Needs `rule:manage` (owner, admin).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from npsloop.accounts.deps import Principal, require
from npsloop.accounts.models import User
from npsloop.contacts.models import AttributeDefinition
from npsloop.core.deps import SessionDep, request_language
from npsloop.core.i18n import catalogs
from npsloop.notify.models import NotifyChannel, WebhookEndpoint
from npsloop.surveys.models import Question, Survey
from npsloop.textmining.models import TextTopic
from npsloop.tickets import rulebook
from npsloop.tickets.rules import CONDITION_FIELDS, DEFAULT_SLA_HOURS
from npsloop.web.templating import render

router = APIRouter(include_in_schema=False)
Manager = Annotated[Principal, Depends(require("rule:manage", page=True))]
STRING_PREFIXES = ("tickets.editor.", "tickets.rules.", "tickets.priority.")


def _choices(session: Session, org_id: str, lang: str) -> dict[str, Any]:
    surveys = list(session.scalars(select(Survey).where(Survey.org_id == org_id)
                                   .order_by(Survey.name)))
    drivers = sorted(set(session.scalars(
        select(Question.key).join(Survey, Survey.id == Question.survey_id)
        .where(Survey.org_id == org_id, Question.kind == "driver_rating"))))
    topics = session.scalars(select(TextTopic).where(TextTopic.org_id == org_id,
                                                     TextTopic.active.is_(True))
                             .order_by(TextTopic.key))
    users = session.scalars(select(User).where(User.org_id == org_id, User.is_active.is_(True))
                            .order_by(User.email))
    channels = session.scalars(select(NotifyChannel).where(NotifyChannel.org_id == org_id)
                               .order_by(NotifyChannel.name))
    hooks = session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.org_id == org_id))
    attributes = session.scalars(select(AttributeDefinition.key)
                                 .where(AttributeDefinition.org_id == org_id)
                                 .order_by(AttributeDefinition.key))
    return {
        "surveys": [{"id": s.id, "name": s.name, "touchpoint": s.touchpoint} for s in surveys],
        "touchpoints": sorted({s.touchpoint for s in surveys if s.touchpoint}),
        "drivers": drivers,
        "topics": [{"key": t.key, "name": t.name_zh if lang == "zh-CN" else t.name_en}
                   for t in topics],
        "teams": [{"id": t.id, "name": t.name} for t in rulebook.list_teams(session, org_id)],
        "users": [{"id": u.id, "name": u.name or u.email} for u in users],
        "channels": [{"id": c.id, "name": c.name, "kind": c.kind} for c in channels],
        "webhooks": [{"id": h.id, "name": h.url} for h in hooks],
        "attributes": list(attributes),
    }


def _editor(request: Request, db: Session, principal: Principal, rule: Any) -> HTMLResponse:
    request.state.principal = principal
    lang = request_language(request)
    strings = {key: value for key, value in catalogs()[lang].items()
               if key.startswith(STRING_PREFIXES)}
    stored = None
    if rule is not None:
        stored = {"id": rule.id, "name": rule.name, "description": rule.description,
                  "enabled": rule.enabled, "match": rule.match, "conditions": rule.conditions,
                  "actions": rule.actions, "stop_processing": rule.stop_processing}
    editor = {"rule": stored, "csrf": principal.csrf_token or "", "strings": strings,
              "fields": [f for f in CONDITION_FIELDS],
              "sla_defaults": DEFAULT_SLA_HOURS, **_choices(db, principal.org_id, lang)}
    return render(request, "tickets/rule_editor.html", {"rule": rule, "editor": editor})


@router.get("/tickets/rules/new", response_class=HTMLResponse)
def new_rule(request: Request, db: SessionDep, principal: Manager) -> HTMLResponse:
    return _editor(request, db, principal, None)


@router.get("/tickets/rules/{rule_id}/edit", response_class=HTMLResponse)
def edit_rule(rule_id: str, request: Request, db: SessionDep, principal: Manager
              ) -> HTMLResponse:
    rule = rulebook.get_rule(db, principal.org_id, rule_id)
    if rule is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"rule '{rule_id}' not found")
    return _editor(request, db, principal, rule)
