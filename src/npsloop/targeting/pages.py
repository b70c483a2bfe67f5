"""Targeting pages: the trigger list and editor, and the fatigue settings with per-survey
overrides (the decision log is in pages_log.py).

Reading needs `survey:read`; changing triggers `survey:write`; the fatigue policy is an
organisation setting (`rule:manage`). Forms post with the CSRF token and redirect (303).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from starlette.datastructures import FormData

from npsloop.accounts.deps import Principal, require
from npsloop.accounts.service import audit
from npsloop.contacts.events import event_names
from npsloop.contacts.segments import list_segments
from npsloop.core.db import utcnow
from npsloop.core.deps import SessionDep, request_language
from npsloop.surveys.models import Survey
from npsloop.targeting import policy, triggers
from npsloop.targeting.conditions import OPERATORS
from npsloop.targeting.decide import decide
from npsloop.targeting.models import DecisionLog, Trigger
from npsloop.targeting.pages_common import delay_parts, local_time, page, surveys_of, tr
from npsloop.targeting.pages_log import router as log_router
from npsloop.web.templating import render

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require("survey:read", page=True))]
Writer = Annotated[Principal, Depends(require("survey:write", page=True))]
PolicyWriter = Annotated[Principal, Depends(require("rule:manage", page=True))]
UNITS = {"minutes": 60, "hours": 3600, "days": 86400}
CONDITION_ROWS = 5


async def posted_form(request: Request) -> FormData:
    return await request.form()


FormDep = Annotated[FormData, Depends(posted_form)]


@router.get("/targeting")
def targeting_home() -> Response:
    return RedirectResponse("/targeting/triggers", status_code=303)


# -- triggers ----------------------------------------------------------------------------


def _week_counts(db: SessionDep, org_id: str) -> dict[str, dict[str, int]]:
    """Decisions of the last 7 days per trigger: invited / not invited."""
    since = utcnow() - timedelta(days=7)
    counts: dict[str, dict[str, int]] = {}
    for trigger_id, eligible, n in db.execute(
            select(DecisionLog.trigger_id, DecisionLog.eligible, func.count())
            .where(DecisionLog.org_id == org_id, DecisionLog.created_at >= since,
                   DecisionLog.trigger_id.is_not(None))
            .group_by(DecisionLog.trigger_id, DecisionLog.eligible)):
        counts.setdefault(trigger_id, {"invited": 0, "refused": 0})[
            "invited" if eligible else "refused"] += int(n)
    return counts


def _try(request: Request, db: SessionDep, org_id: str, values: dict[str, str]
         ) -> dict[str, Any] | None:
    """A dry-run decision for the "try it" form: what would happen, nothing written."""
    if not values["contact"]:
        return None
    try:
        properties = json.loads(values["properties"]) if values["properties"] else {}
        if not isinstance(properties, dict):
            raise ValueError
    except ValueError:
        return {"error": tr(request, "targeting.try.bad_json")}
    channel = values["channel"] if values["channel"] in triggers.CHANNELS else "api"
    decision = decide(db, org_id=org_id, contact_external_id=values["contact"],
                      event=values["event"] or None, properties=properties, channel=channel,
                      language=request_language(request), dry_run=True)
    db.rollback()
    send_at = decision.extras.get("send_at")
    return {"decision": decision, "channel": channel,
            "send_at": local_time(send_at, policy.org_timezone(db, org_id))  # type: ignore[arg-type]
            if send_at else ""}


@router.get("/targeting/triggers", response_class=HTMLResponse)
def triggers_page(
    request: Request, db: SessionDep, principal: Reader,
    saved: Annotated[str, Query(max_length=8)] = "",
    try_contact: Annotated[str, Query(max_length=200)] = "",
    try_event: Annotated[str, Query(max_length=100)] = "",
    try_channel: Annotated[str, Query(max_length=16)] = "api",
    try_properties: Annotated[str, Query(max_length=4000)] = "",
) -> HTMLResponse:
    tried = {"contact": try_contact.strip(), "event": try_event.strip(),
             "channel": try_channel, "properties": try_properties.strip()}
    result = _try(request, db, principal.org_id, tried)
    rows = triggers.list_triggers(db, org_id=principal.org_id)
    return page(request, principal, "targeting/triggers.html", {
        "triggers": rows, "surveys": surveys_of(db, principal.org_id),
        "segments": {s.id: s.name for s in list_segments(db, org_id=principal.org_id)},
        "counts": _week_counts(db, principal.org_id), "saved": saved,
        "delay_parts": delay_parts, "tried": tried, "result": result,
        "channels": triggers.CHANNELS})


def _editor(request: Request, db: SessionDep, principal: Principal, trigger: Trigger | None,
            values: dict[str, Any], errors: dict[str, str], status_code: int = 200
            ) -> HTMLResponse:
    conditions = list(values.get("conditions") or [])
    conditions += [{"property": "", "op": "gt", "value": ""}] * (CONDITION_ROWS -
                                                                   len(conditions))
    return page(request, principal, "targeting/trigger_edit.html", {
        "trigger": trigger, "values": values, "errors": errors, "conditions": conditions,
        "operators": OPERATORS, "units": list(UNITS),
        "surveys": surveys_of(db, principal.org_id),
        "segments": list_segments(db, org_id=principal.org_id),
        "events": event_names(db, org_id=principal.org_id, limit=100),
        "channels": triggers.CHANNELS}, status_code=status_code)


def _values_of(trigger: Trigger) -> dict[str, Any]:
    amount, unit = delay_parts(trigger.delay_seconds)
    return {"name": trigger.name, "event_name": trigger.event_name,
            "survey_id": trigger.survey_id, "segment_id": trigger.segment_id or "",
            "channel": trigger.channel, "delay_amount": amount, "delay_unit": unit,
            "active": trigger.active,
            "conditions": [c | {"value": ", ".join(map(str, c["value"]))
                                if isinstance(c.get("value"), list) else c.get("value", "")}
                           for c in trigger.conditions or []]}


@router.get("/targeting/triggers/new", response_class=HTMLResponse)
def new_trigger_page(request: Request, db: SessionDep, principal: Writer) -> HTMLResponse:
    return _editor(request, db, principal, None, {
        "channel": "email", "delay_amount": 1, "delay_unit": "hours", "active": True}, {})


@router.get("/targeting/triggers/{trigger_id}", response_class=HTMLResponse)
def edit_trigger_page(trigger_id: str, request: Request, db: SessionDep,
                      principal: Writer) -> Response:
    trigger = triggers.get_trigger(db, org_id=principal.org_id, trigger_id=trigger_id)
    if trigger is None:
        return render(request, "targeting/not_found.html", {}, status_code=404)
    return _editor(request, db, principal, trigger, _values_of(trigger), {})


def _condition_value(op: str, raw: str) -> Any:
    raw = raw.strip()
    if op == "in":
        return [part.strip() for part in raw.split(",") if part.strip()]
    if op in ("exists", "not_exists"):
        return None
    try:
        return int(raw) if raw.lstrip("-").isdigit() else float(raw) if op in (
            "gt", "gte", "lt", "lte") else raw
    except ValueError:
        return raw


def _form_values(form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {
        key: str(form.get(key) or "").strip()
        for key in ("name", "event_name", "survey_id", "segment_id", "channel",
                    "delay_amount", "delay_unit")}
    values["active"] = form.get("active") == "on"
    conditions = []
    for index in range(CONDITION_ROWS):
        prop = str(form.get(f"cond_property_{index}") or "").strip()
        if prop:
            op = str(form.get(f"cond_op_{index}") or "eq")
            conditions.append({"property": prop, "op": op,
                               "value": str(form.get(f"cond_value_{index}") or "")})
    values["conditions"] = conditions
    try:
        amount = float(values["delay_amount"] or 0)
        if amount < 0:
            raise ValueError
        values["delay_seconds"] = int(amount * UNITS.get(values["delay_unit"], 60))
    except ValueError:
        errors["delay_seconds"] = "delay"
    return values, errors


def _save_trigger(request: Request, db: SessionDep, principal: Principal,
                  trigger: Trigger | None, form: FormData) -> Response:
    values, errors = _form_values(form)
    if errors:
        return _editor(request, db, principal, trigger, values,
                       {"delay_seconds": tr(request, "targeting.edit.delay_invalid")}, 422)
    data = triggers.TriggerData(
        name=values["name"], event_name=values["event_name"], survey_id=values["survey_id"],
        channel=values["channel"], delay_seconds=values["delay_seconds"],
        segment_id=values["segment_id"] or None, active=values["active"],
        conditions=[{"property": c["property"], "op": c["op"],
                     "value": _condition_value(c["op"], c["value"])}
                    for c in values["conditions"]])
    try:
        if trigger is None:
            trigger = triggers.create_trigger(db, org_id=principal.org_id, data=data,
                                              actor=principal.actor)
            action = "trigger.create"
        else:
            triggers.update_trigger(db, trigger=trigger, data=data)
            action = "trigger.update"
    except triggers.TriggerError as exc:
        db.rollback()
        return _editor(request, db, principal, trigger, values,
                       {exc.field.split(".")[0]: exc.message}, 422)
    audit(db, org_id=principal.org_id, actor=principal.actor, action=action,
          target=("trigger", trigger.id), detail={"name": trigger.name})
    db.commit()
    return RedirectResponse("/targeting/triggers?saved=1", status_code=303)


@router.post("/targeting/triggers/new", response_class=HTMLResponse)
def create_trigger_form(request: Request, db: SessionDep, principal: Writer,
                        form: FormDep) -> Response:
    return _save_trigger(request, db, principal, None, form)


@router.post("/targeting/triggers/{trigger_id}", response_class=HTMLResponse)
def update_trigger_form(trigger_id: str, request: Request, db: SessionDep, principal: Writer,
                        form: FormDep) -> Response:
    trigger = triggers.get_trigger(db, org_id=principal.org_id, trigger_id=trigger_id)
    if trigger is None:
        return render(request, "targeting/not_found.html", {}, status_code=404)
    if form.get("action") == "delete":
        triggers.delete_trigger(db, trigger=trigger)
        audit(db, org_id=principal.org_id, actor=principal.actor, action="trigger.delete",
              target=("trigger", trigger_id), detail={"name": trigger.name})
        db.commit()
        return RedirectResponse("/targeting/triggers?saved=deleted", status_code=303)
    if form.get("action") == "toggle":
        trigger.active = not trigger.active
        audit(db, org_id=principal.org_id, actor=principal.actor, action="trigger.update",
              target=("trigger", trigger_id), detail={"active": trigger.active})
        db.commit()
        return RedirectResponse("/targeting/triggers", status_code=303)
    return _save_trigger(request, db, principal, trigger, form)


# -- fatigue -----------------------------------------------------------------------------


def _fatigue_page(request: Request, db: SessionDep, principal: Principal,
                  values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                  saved: str = "", status_code: int = 200) -> HTMLResponse:
    rules = policy.effective_policy(db, org_id=principal.org_id, survey_id=None)
    overrides = policy.list_overrides(db, org_id=principal.org_id)
    return page(request, principal, "targeting/fatigue.html", {
        "values": values or {
            "recontact_days": rules.recontact_days,
            "sampling_percent": f"{rules.sampling_percent:g}",
            "quiet_start": rules.quiet_start or "", "quiet_end": rules.quiet_end or "",
            "cap_count": rules.cap_count or "", "cap_days": rules.cap_days or ""},
        "timezone": rules.timezone, "errors": errors or {}, "saved": saved,
        "overrides": overrides, "surveys": surveys_of(db, principal.org_id),
        "can_manage": principal.can("rule:manage")}, status_code=status_code)


@router.get("/targeting/fatigue", response_class=HTMLResponse)
def fatigue_page(request: Request, db: SessionDep, principal: Reader,
                 saved: Annotated[str, Query(max_length=8)] = "") -> HTMLResponse:
    return _fatigue_page(request, db, principal, saved=saved)


def _int_or_none(raw: str) -> int | None | str:
    raw = raw.strip()
    if not raw:
        return None
    return int(raw) if raw.lstrip("-").isdigit() else raw


@router.post("/targeting/fatigue", response_class=HTMLResponse)
def save_fatigue(request: Request, db: SessionDep, principal: PolicyWriter,
                 form: FormDep) -> Response:
    values = {key: str(form.get(key) or "").strip() for key in (
        "recontact_days", "sampling_percent", "quiet_start", "quiet_end", "cap_count",
        "cap_days")}
    try:
        sampling: Any = float(values["sampling_percent"] or 100)
    except ValueError:
        sampling = values["sampling_percent"]
    try:
        policy.save_policy(
            db, org_id=principal.org_id, actor=principal.actor,
            recontact_days=_int_or_none(values["recontact_days"]),  # type: ignore[arg-type]
            sampling_percent=sampling, quiet_start=values["quiet_start"],
            quiet_end=values["quiet_end"],
            cap_count=_int_or_none(values["cap_count"]),  # type: ignore[arg-type]
            cap_days=_int_or_none(values["cap_days"]))  # type: ignore[arg-type]
    except policy.PolicyError as exc:
        db.rollback()
        return _fatigue_page(request, db, principal, values, {exc.field: exc.message},
                             status_code=422)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="fatigue.update",
          target=("fatigue_policy", principal.org_id), detail=values)
    db.commit()
    return RedirectResponse("/targeting/fatigue?saved=1", status_code=303)


@router.post("/targeting/fatigue/overrides", response_class=HTMLResponse)
def save_override_form(request: Request, db: SessionDep, principal: PolicyWriter,
                       form: FormDep) -> Response:
    survey_id = str(form.get("survey_id") or "")
    survey = db.get(Survey, survey_id) if survey_id else None
    if survey is None or survey.org_id != principal.org_id:
        return _fatigue_page(request, db, principal, errors={
            "override": tr(request, "targeting.fatigue.override_survey_missing")},
            status_code=422)
    remove = form.get("action") == "remove"
    days = None if remove else _int_or_none(str(form.get("recontact_days") or ""))
    raw_sampling = "" if remove else str(form.get("sampling_percent") or "").strip()
    try:
        sampling: Any = float(raw_sampling) if raw_sampling else None
    except ValueError:
        sampling = raw_sampling
    try:
        policy.save_override(db, org_id=principal.org_id, survey_id=survey_id,
                             recontact_days=days, sampling_percent=sampling)  # type: ignore[arg-type]
    except policy.PolicyError as exc:
        db.rollback()
        return _fatigue_page(request, db, principal,
                             errors={"override": f"{exc.field}: {exc.message}"},
                             status_code=422)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="fatigue.override",
          target=("survey", survey_id), detail={"recontact_days": days,
                                                "sampling_percent": sampling})
    db.commit()
    return RedirectResponse("/targeting/fatigue?saved=override", status_code=303)


router.include_router(log_router)
