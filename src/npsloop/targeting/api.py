"""JSON routes: the decision endpoint `POST /api/v1/triggers`, trigger definitions under
`/api/v1/trigger-rules`, the fatigue policy `GET/PUT /api/v1/fatigue` (with per-survey
overrides) and the decision log `GET /api/v1/decisions`.

Deciding records the event, like `POST /api/v1/events`, and needs `response:write`;
trigger definitions need `survey:write` to change; the fatigue policy is an organisation
setting (`rule:manage`); the log names contacts, so reading it needs `response:read`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from sqlalchemy import select

from npsloop.accounts.deps import Principal, require
from npsloop.accounts.service import audit, get_organization
from npsloop.contacts import events
from npsloop.contacts import service as contacts
from npsloop.contacts.attributes import AttributeRegistry
from npsloop.core.deps import LangDep, SessionDep, SettingsDep
from npsloop.core.timeutil import parse_bound
from npsloop.distribution.service import personal_link
from npsloop.surveys.models import Survey
from npsloop.targeting import decision_log, policy, triggers
from npsloop.targeting.decide import EVENT_SOURCE, decide, decide_for_contact
from npsloop.targeting.schemas import (
    DecisionList,
    DecisionOut,
    FatigueIn,
    FatigueOut,
    InvitationOut,
    OverrideIn,
    OverrideOut,
    TriggerDecisionOut,
    TriggerRequest,
    TriggerRuleIn,
    TriggerRuleOut,
)

router = APIRouter(prefix="/api/v1", tags=["targeting"])
Decider = Annotated[Principal, Depends(require("response:write"))]
Reader = Annotated[Principal, Depends(require("survey:read"))]
Writer = Annotated[Principal, Depends(require("survey:write"))]
PolicyReader = Annotated[Principal, Depends(require("stats:read"))]
PolicyWriter = Annotated[Principal, Depends(require("rule:manage"))]
LogReader = Annotated[Principal, Depends(require("response:read"))]


def unprocessable(field: str, message: str, where: str = "body") -> HTTPException:
    loc = [where, *(int(p) if p.isdigit() else p for p in field.split("."))]
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                         detail=[{"loc": loc, "msg": message, "type": "value_error"}])


def not_found(what: str, ident: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"{what} '{ident}' not found")


# -- the decision ------------------------------------------------------------------------


@router.post("/triggers", response_model=TriggerDecisionOut)
def decide_trigger(body: TriggerRequest, db: SessionDep, principal: Decider, lang: LangDep,
                   settings: SettingsDep) -> Any:
    """Records the event for the contact (created or updated from `contact`), then decides
    whether to invite: the answer says which survey, every rule that said no, and the
    invitation (with its personal link) when eligible. Every decision is logged."""
    org_id = principal.org_id
    if body.survey_id is not None:
        survey = db.get(Survey, body.survey_id)
        if survey is None or survey.org_id != org_id:
            raise unprocessable("survey_id", f"unknown survey '{body.survey_id}'")
    if body.dry_run:
        return _dry_run(body, db, org_id, lang)
    org = get_organization(db, org_id)
    registry = AttributeRegistry(db, org_id)
    try:
        change = contacts.check_change(
            registry, body.contact.model_dump(exclude_unset=True),
            phone_country=contacts.country_code(org.timezone if org else None))
    except contacts.ContactError as exc:
        raise unprocessable(f"contact.{exc.errors[0].field}", exc.errors[0].message) from exc
    contact = contacts.apply_changes(db, org_id=org_id, changes=[change],
                                     registry=registry)[0][0]
    try:
        events.record_events(db, org_id=org_id, source=EVENT_SOURCE, error_prefix="", items=[
            events.EventInput(contact_external_id=contact.external_id, name=body.event.name,
                              properties=body.event.properties,
                              timestamp=body.event.timestamp, event_id=body.event.id)])
    except contacts.ContactError as exc:
        db.rollback()
        raise unprocessable(f"event.{exc.errors[0].field}", exc.errors[0].message) from exc
    decision = decide_for_contact(
        db, org_id=org_id, contact=contact, event=body.event.name,
        properties=body.event.properties, channel=body.channel, survey_id=body.survey_id,
        language=lang, source="api", occurred_at=body.event.timestamp)
    db.commit()
    invitation = decision.invitation
    return TriggerDecisionOut(
        eligible=decision.eligible, survey_id=decision.survey_id,
        reasons=[r.as_dict() for r in decision.refusals],  # type: ignore[misc]
        invitation=InvitationOut(
            id=invitation.id, url=personal_link(invitation, base_url=settings.base_url),
            channel=invitation.channel, send_at=invitation.send_at,
            expires_at=invitation.expires_at) if invitation else None,
        trigger_id=decision.trigger_id, delay_seconds=decision.delay_seconds,
        send_at=invitation.send_at if invitation else None)


def _dry_run(body: TriggerRequest, db: SessionDep, org_id: str, lang: str) -> Any:
    decision = decide(db, org_id=org_id, contact_external_id=body.contact.external_id,
                      event=body.event.name, properties=body.event.properties,
                      channel=body.channel, survey_id=body.survey_id, language=lang,
                      source="api", occurred_at=body.event.timestamp, dry_run=True)
    db.rollback()
    return TriggerDecisionOut(
        eligible=decision.eligible, survey_id=decision.survey_id,
        reasons=[r.as_dict() for r in decision.refusals],  # type: ignore[misc]
        invitation=None, trigger_id=decision.trigger_id,
        delay_seconds=decision.delay_seconds, dry_run=True,
        send_at=decision.extras.get("send_at"))  # type: ignore[arg-type]


# -- trigger definitions -----------------------------------------------------------------


def _trigger_data(body: TriggerRuleIn) -> triggers.TriggerData:
    return triggers.TriggerData(
        name=body.name, event_name=body.event_name, survey_id=body.survey_id,
        channel=body.channel, delay_seconds=body.delay_seconds, segment_id=body.segment_id,
        conditions=[c.model_dump(exclude_none=c.op in ("exists", "not_exists"))
                    for c in body.conditions], active=body.active)


def _load_trigger(db: SessionDep, org_id: str, trigger_id: str) -> Any:
    trigger = triggers.get_trigger(db, org_id=org_id, trigger_id=trigger_id)
    if trigger is None:
        raise not_found("trigger rule", trigger_id)
    return trigger


@router.get("/trigger-rules", response_model=list[TriggerRuleOut])
def list_trigger_rules(db: SessionDep, principal: Reader) -> Any:
    return triggers.list_triggers(db, org_id=principal.org_id)


@router.post("/trigger-rules", response_model=TriggerRuleOut,
             status_code=status.HTTP_201_CREATED)
def create_trigger_rule(body: TriggerRuleIn, db: SessionDep, principal: Writer) -> Any:
    try:
        trigger = triggers.create_trigger(db, org_id=principal.org_id,
                                          data=_trigger_data(body), actor=principal.actor)
    except triggers.TriggerError as exc:
        db.rollback()
        raise unprocessable(exc.field, exc.message) from exc
    audit(db, org_id=principal.org_id, actor=principal.actor, action="trigger.create",
          target=("trigger", trigger.id), detail={"name": trigger.name})
    db.commit()
    return trigger


@router.get("/trigger-rules/{trigger_id}", response_model=TriggerRuleOut)
def get_trigger_rule(trigger_id: str, db: SessionDep, principal: Reader) -> Any:
    return _load_trigger(db, principal.org_id, trigger_id)


@router.put("/trigger-rules/{trigger_id}", response_model=TriggerRuleOut)
def update_trigger_rule(trigger_id: str, body: TriggerRuleIn, db: SessionDep,
                        principal: Writer) -> Any:
    trigger = _load_trigger(db, principal.org_id, trigger_id)
    try:
        triggers.update_trigger(db, trigger=trigger, data=_trigger_data(body))
    except triggers.TriggerError as exc:
        db.rollback()
        raise unprocessable(exc.field, exc.message) from exc
    audit(db, org_id=principal.org_id, actor=principal.actor, action="trigger.update",
          target=("trigger", trigger.id), detail={"active": trigger.active})
    db.commit()
    return trigger


@router.delete("/trigger-rules/{trigger_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_trigger_rule(trigger_id: str, db: SessionDep, principal: Writer) -> Response:
    trigger = _load_trigger(db, principal.org_id, trigger_id)
    triggers.delete_trigger(db, trigger=trigger)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="trigger.delete",
          target=("trigger", trigger_id), detail={"name": trigger.name})
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- fatigue policy ----------------------------------------------------------------------


def fatigue_view(db: SessionDep, org_id: str) -> FatigueOut:
    saved = policy.get_policy(db, org_id=org_id)
    rules = policy.effective_policy(db, org_id=org_id, survey_id=None)
    overrides = policy.list_overrides(db, org_id=org_id)
    names = dict(db.execute(select(Survey.id, Survey.name).where(
        Survey.org_id == org_id)).all()) if overrides else {}
    return FatigueOut(
        recontact_days=rules.recontact_days, sampling_percent=rules.sampling_percent,
        quiet_start=rules.quiet_start, quiet_end=rules.quiet_end, cap_count=rules.cap_count,
        cap_days=rules.cap_days, timezone=rules.timezone, saved=saved is not None,
        overrides=[OverrideOut(survey_id=o.survey_id, survey_name=names.get(o.survey_id, ""),
                               recontact_days=o.recontact_days,
                               sampling_percent=o.sampling_percent)
                   for o in sorted(overrides, key=lambda o: names.get(o.survey_id, ""))])


@router.get("/fatigue", response_model=FatigueOut)
def get_fatigue(db: SessionDep, principal: PolicyReader) -> FatigueOut:
    return fatigue_view(db, principal.org_id)


@router.put("/fatigue", response_model=FatigueOut)
def put_fatigue(body: FatigueIn, db: SessionDep, principal: PolicyWriter) -> FatigueOut:
    try:
        policy.save_policy(db, org_id=principal.org_id, actor=principal.actor,
                           **body.model_dump())
    except policy.PolicyError as exc:
        db.rollback()
        raise unprocessable(exc.field, exc.message) from exc
    audit(db, org_id=principal.org_id, actor=principal.actor, action="fatigue.update",
          target=("fatigue_policy", principal.org_id), detail=body.model_dump())
    db.commit()
    return fatigue_view(db, principal.org_id)


@router.put("/fatigue/surveys/{survey_id}", response_model=FatigueOut)
def put_override(survey_id: str, body: OverrideIn, db: SessionDep,
                 principal: PolicyWriter) -> FatigueOut:
    """A survey's own recontact window and/or sampling share; both null removes it."""
    survey = db.get(Survey, survey_id)
    if survey is None or survey.org_id != principal.org_id:
        raise not_found("survey", survey_id)
    try:
        policy.save_override(db, org_id=principal.org_id, survey_id=survey_id,
                             **body.model_dump())
    except policy.PolicyError as exc:
        db.rollback()
        raise unprocessable(exc.field, exc.message) from exc
    audit(db, org_id=principal.org_id, actor=principal.actor, action="fatigue.override",
          target=("survey", survey_id), detail=body.model_dump())
    db.commit()
    return fatigue_view(db, principal.org_id)


@router.delete("/fatigue/surveys/{survey_id}", response_model=FatigueOut)
def delete_override(survey_id: str, db: SessionDep, principal: PolicyWriter) -> FatigueOut:
    return put_override(survey_id, OverrideIn(), db, principal)


# -- the decision log --------------------------------------------------------------------


def log_filter(db: SessionDep, org_id: str, *, date_from: str | None, date_to: str | None,
               contact: str | None, survey_id: str | None, rule: str | None,
               eligible: bool | None, source: str | None,
               trigger_id: str | None = None) -> decision_log.LogFilter:
    """The log filters from query parameters; a contact is named by its external id."""
    tz = policy.org_timezone(db, org_id)
    try:
        lo = parse_bound(date_from, tz, end=False, field="from")
        hi = parse_bound(date_to, tz, end=True, field="to")
    except ValueError as exc:
        raise unprocessable(str(exc).split(":", 1)[0], str(exc).split(": ", 1)[-1],
                            "query") from exc
    contact_id = None
    if contact:
        found = contacts.get_by_external_id(db, org_id=org_id, external_id=contact)
        contact_id = found.id if found else "-"  # unknown: matches nothing
    return decision_log.LogFilter(date_from=lo, date_to=hi, contact_id=contact_id,
                                  survey_id=survey_id or None, rule=rule or None,
                                  eligible=eligible, source=source or None,
                                  trigger_id=trigger_id or None)


@router.get("/decisions", response_model=DecisionList)
def list_decisions(
    db: SessionDep, principal: LogReader, lang: LangDep,
    date_from: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    date_to: Annotated[str | None, Query(alias="to", max_length=40)] = None,
    contact: Annotated[str | None, Query(max_length=200,
                                         description="contact external id")] = None,
    survey_id: Annotated[str | None, Query(max_length=32)] = None,
    rule: Annotated[str | None, Query(max_length=40)] = None,
    eligible: bool | None = None,
    source: Annotated[str | None, Query(max_length=16)] = None,
    trigger_id: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> DecisionList:
    """The decision log, newest first (default: the last 7 days), with counts per rule."""
    spec = log_filter(db, principal.org_id, date_from=date_from, date_to=date_to,
                      contact=contact, survey_id=survey_id, rule=rule, eligible=eligible,
                      source=source, trigger_id=trigger_id)
    page = decision_log.read_log(db, org_id=principal.org_id, spec=spec, limit=limit,
                                 offset=offset)
    return DecisionList(
        total=page.total, counts=page.counts, date_from=page.date_from, date_to=page.date_to,
        items=[DecisionOut(
            id=r.id, created_at=r.created_at, contact_id=r.contact_id,
            contact_external_id=page.contacts[r.contact_id].external_id
            if r.contact_id in page.contacts else None,
            survey_id=r.survey_id, channel=r.channel, source=r.source, eligible=r.eligible,
            rule=r.rule, reasons=decision_log.explain(r, lang),  # type: ignore[arg-type]
            invitation_id=r.invitation_id, trigger_id=r.trigger_id) for r in page.rows])
