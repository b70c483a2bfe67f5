"""Conditions on an event's properties ("order_amount > 100"), checked when a trigger fires.

A condition is {"property": name, "op": op, "value": v}; a trigger fires only when all hold.
Numbers compare as numbers (a property "120" sent as text still counts as 120), everything
else as text; a missing property fails every operator except `not_exists`.
"""

from __future__ import annotations

from typing import Any

OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "contains", "in", "exists", "not_exists")
NUMERIC = ("gt", "gte", "lt", "lte")
MAX_CONDITIONS = 20


class ConditionError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def validate(conditions: Any, field: str = "conditions") -> list[dict[str, Any]]:
    """The conditions in canonical form; ConditionError names the first bad one."""
    if conditions is None:
        return []
    if not isinstance(conditions, list):
        raise ConditionError(field, "must be a list of {property, op, value}")
    if len(conditions) > MAX_CONDITIONS:
        raise ConditionError(field, f"at most {MAX_CONDITIONS} conditions")
    clean = []
    for index, item in enumerate(conditions):
        where = f"{field}.{index}"
        if not isinstance(item, dict):
            raise ConditionError(where, "must be an object {property, op, value}")
        name = str(item.get("property") or "").strip()
        if not name or len(name) > 100:
            raise ConditionError(f"{where}.property", "must be 1-100 characters")
        op = item.get("op")
        if op not in OPERATORS:
            raise ConditionError(f"{where}.op", f"must be one of {', '.join(OPERATORS)}")
        value = item.get("value")
        if op in NUMERIC and _number(value) is None:
            raise ConditionError(f"{where}.value", f"must be a number for '{op}'")
        if op == "in" and not (isinstance(value, list) and value):
            raise ConditionError(f"{where}.value", "must be a non-empty list for 'in'")
        if op in ("eq", "ne", "contains") and (value is None or isinstance(value, dict | list)):
            raise ConditionError(f"{where}.value", f"must be a text, number or boolean for '{op}'")
        clean.append({"property": name, "op": op}
                     | ({} if op in ("exists", "not_exists") else {"value": value}))
    return clean


def _same(left: Any, right: Any) -> bool:
    a, b = _number(left), _number(right)
    if a is not None and b is not None:
        return a == b
    if isinstance(left, bool) or isinstance(right, bool):
        return str(left).lower() == str(right).lower()
    return str(left) == str(right)


def holds(condition: dict[str, Any], properties: dict[str, Any]) -> bool:
    op, present = condition["op"], condition["property"] in properties
    if op == "exists":
        return present and properties[condition["property"]] is not None
    if op == "not_exists":
        return not present or properties[condition["property"]] is None
    if not present:
        return False
    actual, wanted = properties[condition["property"]], condition.get("value")
    if op in NUMERIC:
        a, b = _number(actual), _number(wanted)
        if a is None or b is None:
            return False
        return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[op]
    if op == "eq":
        return _same(actual, wanted)
    if op == "ne":
        return not _same(actual, wanted)
    if op == "contains":
        return str(wanted) in (actual if isinstance(actual, list) else str(actual))
    return any(_same(actual, w) for w in wanted)  # "in"


def failing(conditions: list[dict[str, Any]], properties: dict[str, Any] | None) -> list[
        dict[str, Any]]:
    """The conditions that do not hold for these properties ([] = all hold)."""
    props = properties or {}
    return [c for c in conditions if not holds(c, props)]


def describe(condition: dict[str, Any]) -> str:
    symbols = {"eq": "=", "ne": "≠", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤"}
    op = condition["op"]
    if op in symbols:
        return f"{condition['property']} {symbols[op]} {condition['value']}"
    if op == "in":
        return f"{condition['property']} ∈ [{', '.join(map(str, condition['value']))}]"
    if op == "contains":
        return f"{condition['property']} ∋ {condition['value']}"
    return f"{condition['property']} {op}"
