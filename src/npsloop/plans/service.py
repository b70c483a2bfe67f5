"""Action-plan logic without HTTP: create, update, delete, tasks, and what a link points to.

Every function takes the organisation explicitly; a plan of another organisation is simply
not found. Problems are raised as PlanError(field, message) and become 422s naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from npsloop.contacts.models import Segment
from npsloop.core.errors import InputError
from npsloop.plans.models import ActionPlan, LinkKind, PlanTask
from npsloop.plans.schemas import PlanIn, PlanUpdate, TaskIn, TaskUpdate
from npsloop.surveys.defaults import DRIVER_LABELS
from npsloop.surveys.models import Question, QuestionKind, Survey


class PlanError(InputError):
    """Bad input naming its field (see npsloop.core.errors.InputError)."""


# -- what a plan can be linked to --------------------------------------------------------


def _topic_model() -> Any | None:
    """The text-mining topic table, if that domain is installed (it is optional here)."""
    try:
        from npsloop.textmining.models import TextTopic
    except ImportError:  # pragma: no cover - textmining ships with npsloop today
        return None
    return TextTopic


def driver_keys(session: Session, org_id: str) -> list[str]:
    query = (select(Question.key).join(Survey, Survey.id == Question.survey_id)
             .where(Survey.org_id == org_id, Question.kind == QuestionKind.driver_rating.value)
             .distinct().order_by(Question.key))
    return list(session.scalars(query))


def touchpoints(session: Session, org_id: str) -> list[str]:
    query = (select(Survey.touchpoint).where(Survey.org_id == org_id, Survey.touchpoint != "")
             .distinct().order_by(Survey.touchpoint))
    return list(session.scalars(query))


@dataclass(frozen=True)
class LinkOption:
    kind: str
    value: str
    label: str


def driver_label(key: str, lang: str) -> str:
    labels = DRIVER_LABELS.get(key)
    return labels.get(lang, key) if labels else key.replace("_", " ").title()


def link_options(session: Session, org_id: str, lang: str) -> dict[str, list[LinkOption]]:
    """Everything a plan of this organisation can be linked to, per kind (for the form)."""
    options: dict[str, list[LinkOption]] = {kind.value: [] for kind in LinkKind}
    for key in driver_keys(session, org_id):
        options["driver"].append(LinkOption("driver", key, driver_label(key, lang)))
    for value in touchpoints(session, org_id):
        options["touchpoint"].append(LinkOption("touchpoint", value, value))
    for survey_id, name in session.execute(
            select(Survey.id, Survey.name).where(Survey.org_id == org_id).order_by(Survey.name)):
        options["survey"].append(LinkOption("survey", survey_id, name))
    for segment_id, name in session.execute(
            select(Segment.id, Segment.name).where(Segment.org_id == org_id)
            .order_by(Segment.name)):
        options["segment"].append(LinkOption("segment", segment_id, name))
    topic = _topic_model()
    if topic is not None:
        rows = session.execute(select(topic.id, topic.name_zh, topic.name_en).where(
            topic.org_id == org_id, topic.active.is_(True)).order_by(topic.key))
        for topic_id, name_zh, name_en in rows:
            label = name_zh if lang == "zh-CN" else name_en
            options["topic"].append(LinkOption("topic", topic_id, label))
    return options


def link_label(session: Session, org_id: str, kind: str, value: str, lang: str) -> str | None:
    """A human name of the link target; None when it no longer exists."""
    if kind == LinkKind.driver.value:
        return driver_label(value, lang) if value in driver_keys(session, org_id) else None
    if kind == LinkKind.touchpoint.value:
        return value if value in touchpoints(session, org_id) else None
    if kind == LinkKind.survey.value:
        return session.scalar(select(Survey.name).where(Survey.org_id == org_id,
                                                        Survey.id == value))
    if kind == LinkKind.segment.value:
        return session.scalar(select(Segment.name).where(Segment.org_id == org_id,
                                                         Segment.id == value))
    if kind == LinkKind.topic.value:
        topic = _topic_model()
        if topic is None:
            return None
        row = session.execute(select(topic.name_zh, topic.name_en).where(
            topic.org_id == org_id, topic.id == value)).first()
        if row is None:
            return None
        return row.name_zh if lang == "zh-CN" else row.name_en
    return None


def check_link(session: Session, org_id: str, kind: str, value: str) -> None:
    if link_label(session, org_id, kind, value, "en") is not None:
        return
    hints = {
        "driver": "no survey of this organisation rates a driver with this key",
        "touchpoint": "no survey of this organisation has this touchpoint",
        "survey": "no survey with this id in this organisation",
        "segment": "no segment with this id in this organisation",
        "topic": "no text topic with this id in this organisation",
    }
    raise PlanError("link_value", hints.get(kind, "unknown link"))


# -- plans -------------------------------------------------------------------------------


def _check_dates(plan: ActionPlan) -> None:
    if plan.end_date is not None and plan.end_date < plan.start_date:
        raise PlanError("end_date", "must not be before start_date")


def _tasks(org_id: str, items: list[TaskIn]) -> list[PlanTask]:
    return [PlanTask(org_id=org_id, position=index, title=item.title, done=item.done,
                     due_date=item.due_date) for index, item in enumerate(items)]


def create_plan(session: Session, *, org_id: str, data: PlanIn, actor: str) -> ActionPlan:
    check_link(session, org_id, data.link_kind.value, data.link_value)
    plan = ActionPlan(
        org_id=org_id, title=data.title, description=data.description, owner=data.owner,
        status=data.status.value, start_date=data.start_date, end_date=data.end_date,
        target_nps=data.target_nps, link_kind=data.link_kind.value, link_value=data.link_value,
        window_before_days=data.window_before_days, window_after_days=data.window_after_days,
        created_by=actor, tasks=_tasks(org_id, data.tasks),
    )
    _check_dates(plan)
    session.add(plan)
    session.flush()
    return plan


def update_plan(session: Session, *, plan: ActionPlan, data: PlanUpdate) -> ActionPlan:
    given = data.model_dump(exclude_unset=True)
    for name in ("title", "owner", "description"):
        if given.get(name) is not None:
            setattr(plan, name, given[name])
    for name in ("status", "link_kind"):
        if given.get(name) is not None:
            setattr(plan, name, getattr(data, name).value)
    for name in ("start_date", "link_value", "window_before_days", "window_after_days"):
        if name in given:
            if given[name] is None:
                raise PlanError(name, "must not be null")
            setattr(plan, name, given[name])
    # These may be cleared with an explicit null.
    for name in ("end_date", "target_nps"):
        if name in given:
            setattr(plan, name, given[name])
    if "link_kind" in given or "link_value" in given:
        check_link(session, plan.org_id, plan.link_kind, plan.link_value)
    _check_dates(plan)
    if data.tasks is not None:
        plan.tasks.clear()
        session.flush()
        plan.tasks.extend(_tasks(plan.org_id, data.tasks))
    session.flush()
    return plan


def get_plan(session: Session, *, org_id: str, plan_id: str) -> ActionPlan | None:
    if not plan_id or len(plan_id) > 64:
        return None
    return session.scalar(select(ActionPlan).where(ActionPlan.org_id == org_id,
                                                   ActionPlan.id == plan_id))


def list_plans(session: Session, *, org_id: str, status: str | None = None,
               link_kind: str | None = None) -> list[ActionPlan]:
    query = select(ActionPlan).where(ActionPlan.org_id == org_id)
    if status:
        query = query.where(ActionPlan.status == status)
    if link_kind:
        query = query.where(ActionPlan.link_kind == link_kind)
    return list(session.scalars(query.order_by(ActionPlan.start_date.desc(), ActionPlan.id)))


def delete_plan(session: Session, *, plan: ActionPlan) -> None:
    session.delete(plan)
    session.flush()


# -- tasks -------------------------------------------------------------------------------


def add_task(session: Session, *, plan: ActionPlan, data: TaskIn) -> PlanTask:
    if len(plan.tasks) >= 100:
        raise PlanError("tasks", "a plan has at most 100 tasks")
    position = max((t.position for t in plan.tasks), default=-1) + 1
    task = PlanTask(org_id=plan.org_id, position=position, title=data.title, done=data.done,
                    due_date=data.due_date)
    plan.tasks.append(task)
    session.flush()
    return task


def get_task(plan: ActionPlan, task_id: str) -> PlanTask | None:
    return next((t for t in plan.tasks if t.id == task_id), None)


def update_task(session: Session, *, task: PlanTask, data: TaskUpdate) -> PlanTask:
    given = data.model_dump(exclude_unset=True)
    if "title" in given:
        if given["title"] is None:
            raise PlanError("title", "must not be null")
        task.title = given["title"]
    if "done" in given:
        if given["done"] is None:
            raise PlanError("done", "must not be null")
        task.done = given["done"]
    if "due_date" in given:
        task.due_date = given["due_date"]
    session.flush()
    return task


def delete_task(session: Session, *, plan: ActionPlan, task: PlanTask) -> None:
    plan.tasks.remove(task)
    session.flush()
