"""Action-plan pages: the list (which plans moved NPS), a plan's effect view, the form.

Reading needs `stats:read`; creating, editing, deleting and ticking tasks need
`survey:write`. Forms post back here with the CSRF token; numbers come from plans.effect.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from npsloop.accounts.deps import Principal, require
from npsloop.accounts.service import audit, get_organization
from npsloop.core.deps import SessionDep, SettingsDep, request_language
from npsloop.core.i18n import translate
from npsloop.plans import effect as effects
from npsloop.plans import forms, service
from npsloop.plans.models import ActionPlan, LinkKind, PlanStatus
from npsloop.plans.schemas import TaskIn, TaskUpdate
from npsloop.web.templating import render

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require("stats:read", page=True))]
Writer = Annotated[Principal, Depends(require("survey:write", page=True))]
VERDICTS = ("improved", "worsened", "no_change", "too_little_data", "not_started")
NPS_GOOD, NPS_FAIR = 30.0, 0.0


async def posted_form(request: Request) -> FormData:
    return await request.form()


FormDep = Annotated[FormData, Depends(posted_form)]


def nps_tone(value: float | None) -> str:
    if value is None:
        return "none"
    return "good" if value >= NPS_GOOD else ("fair" if value >= NPS_FAIR else "poor")


def fmt(value: float | None, digits: int = 1, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def fmt_p(value: float | None) -> str:
    if value is None:
        return "p —"
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def _timezone(db: SessionDep, org_id: str) -> str:
    org = get_organization(db, org_id)
    return org.timezone if org else "Asia/Shanghai"


def _load(db: SessionDep, principal: Principal, plan_id: str) -> ActionPlan:
    plan = service.get_plan(db, org_id=principal.org_id, plan_id=plan_id)
    if plan is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"plan '{plan_id}' not found")
    return plan


def _page(request: Request, principal: Principal, name: str, context: dict[str, Any],
          status_code: int = 200) -> HTMLResponse:
    request.state.principal = principal
    base = {"nps_tone": nps_tone, "fmt": fmt, "fmt_p": fmt_p,
            "can_write": principal.can("survey:write")}
    return render(request, name, {**base, **context}, status_code=status_code)


@router.get("/plans", response_class=HTMLResponse)
def plan_list(request: Request, db: SessionDep, settings: SettingsDep, principal: Reader,
              verdict: Annotated[str, Query(max_length=20)] = "") -> HTMLResponse:
    lang = request_language(request)
    tz = _timezone(db, principal.org_id)
    rows = []
    counts = dict.fromkeys(VERDICTS, 0)
    for plan in service.list_plans(db, org_id=principal.org_id):
        effect = effects.plan_effect(db, plan, tz=tz, min_n=settings.min_responses_for_stats,
                                     detail=False)
        counts[effect["verdict"]] += 1
        label = service.link_label(db, plan.org_id, plan.link_kind, plan.link_value, lang)
        rows.append({"plan": plan, "effect": effect, "link_label": label})
    shown = [r for r in rows if not verdict or r["effect"]["verdict"] == verdict]
    return _page(request, principal, "plans/list.html", {
        "rows": shown, "total": len(rows), "counts": counts, "verdict": verdict,
        "verdicts": VERDICTS})


def _form_context(db: SessionDep, principal: Principal, lang: str, values: dict[str, Any],
                  errors: dict[str, str], plan: ActionPlan | None) -> dict[str, Any]:
    return {"values": values, "errors": errors, "plan": plan,
            "options": service.link_options(db, principal.org_id, lang),
            "kinds": [k.value for k in LinkKind], "statuses": [s.value for s in PlanStatus]}


@router.get("/plans/new", response_class=HTMLResponse)
def new_plan(request: Request, db: SessionDep, principal: Writer,
             link: Annotated[str, Query(max_length=250)] = "") -> HTMLResponse:
    values = forms.values_of(None)
    values["link"] = link
    return _page(request, principal, "plans/form.html",
                 _form_context(db, principal, request_language(request), values, {}, None))


@router.post("/plans/new", response_class=HTMLResponse)
def create_plan(request: Request, db: SessionDep, principal: Writer,
                form: FormDep) -> Response:
    data, values, errors = forms.parse_create(form)
    if data is not None:
        try:
            plan = service.create_plan(db, org_id=principal.org_id, data=data,
                                       actor=principal.actor)
        except service.PlanError as exc:
            db.rollback()
            errors = {"link" if exc.field == "link_value" else exc.field: exc.message}
        else:
            audit(db, org_id=principal.org_id, actor=principal.actor, action="plan.create",
                  target=("plan", plan.id))
            db.commit()
            return RedirectResponse(f"/plans/{plan.id}", status_code=303)
    context = _form_context(db, principal, request_language(request), values, errors, None)
    return _page(request, principal, "plans/form.html", context, status_code=422)


@router.get("/plans/{plan_id}", response_class=HTMLResponse)
def plan_detail(plan_id: str, request: Request, db: SessionDep, settings: SettingsDep,
                principal: Reader,
                before_days: Annotated[str, Query(max_length=5)] = "",
                after_days: Annotated[str, Query(max_length=5)] = "") -> HTMLResponse:
    plan = _load(db, principal, plan_id)
    lang = request_language(request)
    window_error = ""
    chosen = {"before_days": plan.window_before_days, "after_days": plan.window_after_days}
    for name, raw in (("before_days", before_days), ("after_days", after_days)):
        if raw:
            if raw.isdigit() and effects.MIN_WINDOW_DAYS <= int(raw) <= effects.MAX_WINDOW_DAYS:
                chosen[name] = int(raw)
            else:
                window_error = name
    effect = effects.plan_effect(db, plan, tz=_timezone(db, principal.org_id),
                                 min_n=settings.min_responses_for_stats, **chosen)
    label = service.link_label(db, plan.org_id, plan.link_kind, plan.link_value, lang)
    chart = {"trend": effect.get("trend", []), "start_week": effect.get("start_week"),
             "before_nps": effect["before"]["nps"], "after_nps": effect["after"]["nps"],
             "target": plan.target_nps,
             "labels": {"nps": "NPS", "n": translate("plans.chart.responses", lang),
                        "start": translate("plans.chart.start", lang),
                        "before": translate("plans.effect.before", lang),
                        "after": translate("plans.effect.after", lang),
                        "target": translate("plans.field.target_nps", lang)}}
    return _page(request, principal, "plans/detail.html", {
        "plan": plan, "effect": effect, "link_label": label, "chosen": chosen,
        "window_error": window_error, "chart": chart,
        "min_window": effects.MIN_WINDOW_DAYS, "max_window": effects.MAX_WINDOW_DAYS,
    }, status_code=422 if window_error else 200)


@router.get("/plans/{plan_id}/edit", response_class=HTMLResponse)
def edit_plan(plan_id: str, request: Request, db: SessionDep, principal: Writer) -> HTMLResponse:
    plan = _load(db, principal, plan_id)
    context = _form_context(db, principal, request_language(request), forms.values_of(plan),
                            {}, plan)
    return _page(request, principal, "plans/form.html", context)


@router.post("/plans/{plan_id}/edit", response_class=HTMLResponse)
def update_plan(plan_id: str, request: Request, db: SessionDep, principal: Writer,
                form: FormDep) -> Response:
    plan = _load(db, principal, plan_id)
    data, values, errors = forms.parse_update(form)
    if data is not None:
        try:
            service.update_plan(db, plan=plan, data=data)
        except service.PlanError as exc:
            db.rollback()
            errors = {"link" if exc.field == "link_value" else exc.field: exc.message}
        else:
            audit(db, org_id=principal.org_id, actor=principal.actor, action="plan.update",
                  target=("plan", plan.id))
            db.commit()
            return RedirectResponse(f"/plans/{plan.id}", status_code=303)
    plan = _load(db, principal, plan_id)
    context = _form_context(db, principal, request_language(request), values, errors, plan)
    return _page(request, principal, "plans/form.html", context, status_code=422)


@router.post("/plans/{plan_id}/delete")
def delete_plan(plan_id: str, db: SessionDep, principal: Writer,
                form: FormDep) -> RedirectResponse:
    plan = _load(db, principal, plan_id)
    service.delete_plan(db, plan=plan)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="plan.delete",
          target=("plan", plan_id), detail={"title": plan.title})
    db.commit()
    return RedirectResponse("/plans", status_code=303)


@router.post("/plans/{plan_id}/tasks")
def add_task(plan_id: str, db: SessionDep, principal: Writer,
             form: FormDep) -> RedirectResponse:
    plan = _load(db, principal, plan_id)
    title = str(form.get("title") or "").strip()[:300]
    due = str(form.get("due_date") or "").strip() or None
    if title:
        try:
            service.add_task(db, plan=plan, data=TaskIn(title=title, due_date=due))
            db.commit()
        except (service.PlanError, ValueError):
            db.rollback()
            return RedirectResponse(f"/plans/{plan_id}?task_error=1#tasks", status_code=303)
    return RedirectResponse(f"/plans/{plan_id}#tasks", status_code=303)


@router.post("/plans/{plan_id}/tasks/{task_id}/toggle")
def toggle_task(plan_id: str, task_id: str, db: SessionDep, principal: Writer,
                form: FormDep) -> RedirectResponse:
    plan = _load(db, principal, plan_id)
    task = service.get_task(plan, task_id)
    if task is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"task '{task_id}' not found")
    service.update_task(db, task=task, data=TaskUpdate(done=not task.done))
    db.commit()
    return RedirectResponse(f"/plans/{plan_id}#tasks", status_code=303)


@router.post("/plans/{plan_id}/tasks/{task_id}/delete")
def remove_task(plan_id: str, task_id: str, db: SessionDep, principal: Writer,
                form: FormDep) -> RedirectResponse:
    plan = _load(db, principal, plan_id)
    task = service.get_task(plan, task_id)
    if task is not None:
        service.delete_task(db, plan=plan, task=task)
        db.commit()
    return RedirectResponse(f"/plans/{plan_id}#tasks", status_code=303)
