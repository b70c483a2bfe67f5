"""JSON routes for action plans: CRUD, tasks and the measured effect.

Reading needs `stats:read` (every role, viewers included); writing needs `survey:write`
(owner, admin, analyst), the same people who build surveys and analyses.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status

from npsloop.accounts.deps import Principal, require
from npsloop.accounts.service import audit, get_organization
from npsloop.core.deps import LangDep, SessionDep, SettingsDep
from npsloop.plans import effect as effects
from npsloop.plans import service
from npsloop.plans.models import ActionPlan, LinkKind, PlanStatus
from npsloop.plans.schemas import PlanIn, PlanList, PlanOut, PlanUpdate, TaskIn, TaskOut, TaskUpdate

router = APIRouter(prefix="/api/v1/plans", tags=["plans"])
Reader = Annotated[Principal, Depends(require("stats:read"))]
Writer = Annotated[Principal, Depends(require("survey:write"))]
WindowDays = Query(ge=effects.MIN_WINDOW_DAYS, le=effects.MAX_WINDOW_DAYS)


def unprocessable(field: str, message: str, where: str = "body") -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                         detail=[{"loc": [where, field], "msg": message, "type": "value_error"}])


def load_plan(db: SessionDep, principal: Principal, plan_id: str) -> ActionPlan:
    plan = service.get_plan(db, org_id=principal.org_id, plan_id=plan_id)
    if plan is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"plan '{plan_id}' not found")
    return plan


def org_timezone(db: SessionDep, org_id: str) -> str:
    org = get_organization(db, org_id)
    return org.timezone if org else "Asia/Shanghai"


def to_out(db: SessionDep, plan: ActionPlan, lang: str,
           effect: dict[str, Any] | None = None) -> PlanOut:
    out = PlanOut.model_validate(plan)
    out.link_label = service.link_label(db, plan.org_id, plan.link_kind, plan.link_value,
                                        lang) or ""
    out.tasks_done = sum(1 for t in plan.tasks if t.done)
    out.effect = effect
    return out


@router.get("", response_model=PlanList)
def list_plans(
    db: SessionDep, settings: SettingsDep, principal: Reader, lang: LangDep,
    status_filter: Annotated[PlanStatus | None, Query(alias="status")] = None,
    link_kind: LinkKind | None = None,
    with_effect: bool = False,
) -> PlanList:
    plans = service.list_plans(db, org_id=principal.org_id,
                               status=status_filter.value if status_filter else None,
                               link_kind=link_kind.value if link_kind else None)
    tz = org_timezone(db, principal.org_id)
    items = []
    for plan in plans:
        effect = (effects.plan_effect(db, plan, tz=tz, min_n=settings.min_responses_for_stats,
                                      detail=False) if with_effect else None)
        items.append(to_out(db, plan, lang, effect))
    return PlanList(items=items, total=len(items))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PlanOut)
def create_plan(body: PlanIn, db: SessionDep, principal: Writer, lang: LangDep) -> PlanOut:
    try:
        plan = service.create_plan(db, org_id=principal.org_id, data=body, actor=principal.actor)
    except service.PlanError as exc:
        db.rollback()
        raise unprocessable(exc.field, exc.message) from exc
    audit(db, org_id=principal.org_id, actor=principal.actor, action="plan.create",
          target=("plan", plan.id))
    db.commit()
    return to_out(db, plan, lang)


@router.get("/{plan_id}", response_model=PlanOut)
def get_plan(plan_id: str, db: SessionDep, principal: Reader, lang: LangDep) -> PlanOut:
    return to_out(db, load_plan(db, principal, plan_id), lang)


@router.patch("/{plan_id}", response_model=PlanOut)
def update_plan(plan_id: str, body: PlanUpdate, db: SessionDep, principal: Writer,
                lang: LangDep) -> PlanOut:
    plan = load_plan(db, principal, plan_id)
    try:
        service.update_plan(db, plan=plan, data=body)
    except service.PlanError as exc:
        db.rollback()
        raise unprocessable(exc.field, exc.message) from exc
    audit(db, org_id=principal.org_id, actor=principal.actor, action="plan.update",
          target=("plan", plan.id),
          detail={"fields": sorted(body.model_dump(exclude_unset=True))})
    db.commit()
    return to_out(db, plan, lang)


@router.delete("/{plan_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_plan(plan_id: str, db: SessionDep, principal: Writer) -> Response:
    plan = load_plan(db, principal, plan_id)
    service.delete_plan(db, plan=plan)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="plan.delete",
          target=("plan", plan_id), detail={"title": plan.title})
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{plan_id}/effect")
def plan_effect(
    plan_id: str, db: SessionDep, settings: SettingsDep, principal: Reader,
    before_days: Annotated[int | None, WindowDays] = None,
    after_days: Annotated[int | None, WindowDays] = None,
) -> dict[str, Any]:
    """NPS of the plan's scope before vs after its start, the z-test of the difference, the
    weekly trend and (for a driver) the driver's mean rating with Welch's t-test."""
    plan = load_plan(db, principal, plan_id)
    try:
        return effects.plan_effect(db, plan, tz=org_timezone(db, principal.org_id),
                                   min_n=settings.min_responses_for_stats,
                                   before_days=before_days, after_days=after_days)
    except effects.EffectError as exc:
        raise unprocessable(exc.field, exc.message, "query") from exc


@router.post("/{plan_id}/tasks", status_code=status.HTTP_201_CREATED, response_model=TaskOut)
def add_task(plan_id: str, body: TaskIn, db: SessionDep, principal: Writer) -> TaskOut:
    plan = load_plan(db, principal, plan_id)
    try:
        task = service.add_task(db, plan=plan, data=body)
    except service.PlanError as exc:
        db.rollback()
        raise unprocessable(exc.field, exc.message) from exc
    db.commit()
    return TaskOut.model_validate(task)


def load_task(plan: ActionPlan, task_id: str):
    task = service.get_task(plan, task_id)
    if task is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"task '{task_id}' not found")
    return task


@router.patch("/{plan_id}/tasks/{task_id}", response_model=TaskOut)
def update_task(plan_id: str, task_id: str, body: TaskUpdate, db: SessionDep,
                principal: Writer) -> TaskOut:
    task = load_task(load_plan(db, principal, plan_id), task_id)
    try:
        service.update_task(db, task=task, data=body)
    except service.PlanError as exc:
        db.rollback()
        raise unprocessable(exc.field, exc.message) from exc
    db.commit()
    return TaskOut.model_validate(task)


@router.delete("/{plan_id}/tasks/{task_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_task(plan_id: str, task_id: str, db: SessionDep, principal: Writer) -> Response:
    plan = load_plan(db, principal, plan_id)
    service.delete_task(db, plan=plan, task=load_task(plan, task_id))
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
