"""The plan form of the HTML pages: form fields <-> PlanIn / PlanUpdate, errors per field.

The link is one <select name="link"> whose values are "kind:value" (grouped by kind), so a
user picks the target in one step. New plans may list tasks one per line; on an existing plan
tasks are edited one by one on its page.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from npsloop.plans.models import ActionPlan
from npsloop.plans.schemas import MAX_TASKS, PlanIn, PlanUpdate

FIELDS = ("title", "description", "owner", "status", "start_date", "end_date", "target_nps",
          "window_before_days", "window_after_days")


def values_of(plan: ActionPlan | None) -> dict[str, Any]:
    if plan is None:
        return {"status": "planned", "window_before_days": 90, "window_after_days": 90}
    values = {name: getattr(plan, name) for name in FIELDS}
    values["link"] = f"{plan.link_kind}:{plan.link_value}"
    for name in ("start_date", "end_date"):
        values[name] = values[name].isoformat() if values[name] else ""
    if values["target_nps"] is None:
        values["target_nps"] = ""
    return values


def _data(form: FormData, *, with_tasks: bool) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in FIELDS:
        raw = form.get(name)
        if raw is None:
            continue
        text = str(raw).strip()
        if name in ("end_date", "target_nps"):
            data[name] = text or None
        elif name in ("window_before_days", "window_after_days") and not text:
            continue
        else:
            data[name] = text
    kind, _, value = str(form.get("link") or "").partition(":")
    data["link_kind"], data["link_value"] = kind, value
    if with_tasks:
        lines = [line.strip() for line in str(form.get("tasks") or "").splitlines()]
        data["tasks"] = [{"title": line[:300]} for line in lines if line][:MAX_TASKS]
    return data


def _errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        field = loc[0] if loc else ""
        if field in ("link_kind", "link_value"):
            field = "link"
        errors.setdefault(field, err.get("msg", "invalid"))
    return errors


def parse_create(form: FormData) -> tuple[PlanIn | None, dict[str, Any], dict[str, str]]:
    data = _data(form, with_tasks=True)
    values = {**{k: str(form.get(k) or "") for k in (*FIELDS, "link", "tasks")}}
    try:
        return PlanIn.model_validate(data), values, {}
    except ValidationError as exc:
        return None, values, _errors(exc)


def parse_update(form: FormData) -> tuple[PlanUpdate | None, dict[str, Any], dict[str, str]]:
    data = _data(form, with_tasks=False)
    values = {**{k: str(form.get(k) or "") for k in (*FIELDS, "link")}}
    try:
        return PlanUpdate.model_validate(data), values, {}
    except ValidationError as exc:
        return None, values, _errors(exc)
