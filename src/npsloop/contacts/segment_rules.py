"""The segment rule language and its validation.

A rule is a group: {"match": "all" | "any", "conditions": [condition or group, ...]}.
Conditions (one "field" each):

  attribute        {"key": "plan", "operator": "equals", "value": "pro"}
                   operators by the attribute's type:
                     string  equals, not_equals, contains, not_contains, in, not_in
                     number  eq, ne, lt, lte, gt, gte (or =, !=, <, <=, >, >=), between [lo, hi]
                     date    before, after, on, between [from, to] (YYYY-MM-DD),
                             within_last_days, more_than_days_ago, within_next_days (N days)
                     boolean is_true, is_false
                   and for every type: is_set, is_not_set
  tags             has_any | has_all | has_none, "value": ["vip", ...]
  lifecycle_stage  equals, not_equals, in, not_in, is_set, is_not_set
  language         equals, not_equals, in, not_in, is_set, is_not_set
  email, phone     is_set, is_not_set
  created_at       the contact's creation date, with the date operators
  channel          in | not_in, "value": ["email", "sms"], optional "days": D
                   (has / has no response through one of these channels, in the last D days)
  event            at_least | fewer_than, "name": "order_paid", "count": N, optional "days": D
  survey_response  responded | not_responded, optional "survey_id", "days", "categories"

Negative operators (not_equals, not_in, not_contains, ne, has_none, fewer_than, not_...)
also match contacts that lack the value. An empty group matches everyone.
Validation returns the rule in canonical form (operator aliases resolved) or raises
RuleError listing every problem with its path.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from npsloop.contacts import values
from npsloop.contacts.models import AttributeType, LifecycleStage
from npsloop.core.i18n import LANGUAGES

MAX_DEPTH = 5
MAX_CONDITIONS = 100
MAX_LIST = 1000
MAX_DAYS = 3650
CATEGORIES = ("promoter", "passive", "detractor")
CHANNEL_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
EVENT_NAME_RE = re.compile(r"^[\w.:-]{1,100}$")

PRESENCE = ("is_set", "is_not_set")
DATE_OPERATORS = ("before", "after", "on", "between", "within_last_days",
                  "more_than_days_ago", "within_next_days", *PRESENCE)
ATTRIBUTE_OPERATORS: dict[str, tuple[str, ...]] = {
    AttributeType.string: ("equals", "not_equals", "contains", "not_contains", "in", "not_in",
                           *PRESENCE),
    AttributeType.number: ("eq", "ne", "lt", "lte", "gt", "gte", "between", *PRESENCE),
    AttributeType.date: DATE_OPERATORS,
    AttributeType.boolean: ("is_true", "is_false", *PRESENCE),
}
ALIASES = {"=": "eq", "==": "eq", "!=": "ne", "<>": "ne", "<": "lt", "<=": "lte", ">": "gt",
           ">=": "gte", "not_equal": "not_equals", "equal": "equals"}
CHOICE_OPERATORS = ("equals", "not_equals", "in", "not_in", *PRESENCE)
FIELD_OPERATORS: dict[str, tuple[str, ...]] = {
    "tags": ("has_any", "has_all", "has_none"),
    "lifecycle_stage": CHOICE_OPERATORS,
    "language": CHOICE_OPERATORS,
    "email": PRESENCE,
    "phone": PRESENCE,
    "created_at": tuple(op for op in DATE_OPERATORS if op not in PRESENCE),
    "channel": ("in", "not_in"),
    "event": ("at_least", "fewer_than"),
    "survey_response": ("responded", "not_responded"),
}
FIELDS = ("attribute", *FIELD_OPERATORS)


class RuleError(ValueError):
    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{path}: {msg}" for path, msg in problems))
        self.problems = problems


class _Checker:
    def __init__(self, attribute_types: dict[str, str], survey_ids: set[str] | None) -> None:
        self.attribute_types = attribute_types
        self.survey_ids = survey_ids
        self.problems: list[tuple[str, str]] = []
        self.count = 0

    def fail(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def group(self, node: Any, path: str, depth: int) -> dict[str, Any]:
        if not isinstance(node, dict):
            self.fail(path, "must be an object")
            return {}
        if depth > MAX_DEPTH:
            self.fail(path, f"groups nest at most {MAX_DEPTH} deep")
            return {}
        match = node.get("match", "all")
        if match not in ("all", "any"):
            self.fail(f"{path}.match", "must be 'all' (AND) or 'any' (OR)")
        conditions = node.get("conditions", [])
        if not isinstance(conditions, list):
            self.fail(f"{path}.conditions", "must be a list")
            conditions = []
        out = []
        for index, child in enumerate(conditions):
            child_path = f"{path}.conditions.{index}"
            if isinstance(child, dict) and "conditions" in child and "field" not in child:
                out.append(self.group(child, child_path, depth + 1))
            else:
                out.append(self.condition(child, child_path))
        return {"match": match, "conditions": out}

    def condition(self, node: Any, path: str) -> dict[str, Any]:
        self.count += 1
        if self.count == MAX_CONDITIONS + 1:
            self.fail(path, f"a segment has at most {MAX_CONDITIONS} conditions")
        if not isinstance(node, dict):
            self.fail(path, "must be an object")
            return {}
        kind = node.get("field")
        if kind not in FIELDS:
            self.fail(f"{path}.field", f"unknown field '{kind}'; one of: {', '.join(FIELDS)}")
            return {}
        operator = ALIASES.get(str(node.get("operator")), node.get("operator"))
        if kind == "attribute":
            return self.attribute(node, path, operator)
        allowed = FIELD_OPERATORS[kind]
        if operator not in allowed:
            self.fail(f"{path}.operator",
                      f"'{node.get('operator')}' does not apply to {kind}; one of: "
                      f"{', '.join(allowed)}")
            return {}
        out: dict[str, Any] = {"field": kind, "operator": operator}
        if kind == "tags":
            out["value"] = self.text_list(node.get("value"), f"{path}.value")
        elif kind in ("lifecycle_stage", "language"):
            choices = [s.value for s in LifecycleStage] if kind == "lifecycle_stage" else list(
                LANGUAGES)
            if operator in ("equals", "not_equals"):
                out["value"] = self.choice(node.get("value"), choices, f"{path}.value")
            elif operator in ("in", "not_in"):
                out["value"] = [self.choice(v, choices, f"{path}.value")
                                for v in self.text_list(node.get("value"), f"{path}.value")]
        elif kind == "created_at":
            out["value"] = self.date_value(operator, node.get("value"), f"{path}.value")
        elif kind == "channel":
            out["value"] = self.text_list(node.get("value"), f"{path}.value", CHANNEL_RE,
                                          "channels are lower-case words such as 'email'")
            out["days"] = self.days(node.get("days"), f"{path}.days", optional=True)
        elif kind == "event":
            name = node.get("name")
            if not isinstance(name, str) or not EVENT_NAME_RE.match(name):
                self.fail(f"{path}.name", "must be an event name (letters, digits, _ . : -)")
            out["name"] = name
            out["count"] = self.whole(node.get("count", 1), f"{path}.count", 1, 1_000_000)
            out["days"] = self.days(node.get("days"), f"{path}.days", optional=True)
        elif kind == "survey_response":
            out.update(self.survey_response(node, path))
        return out

    def survey_response(self, node: dict[str, Any], path: str) -> dict[str, Any]:
        survey_id = node.get("survey_id")
        if survey_id is not None and (
                not isinstance(survey_id, str)
                or (self.survey_ids is not None and survey_id not in self.survey_ids)):
            self.fail(f"{path}.survey_id", f"unknown survey '{survey_id}'")
        categories = node.get("categories")
        if categories is not None:
            categories = [self.choice(c, list(CATEGORIES), f"{path}.categories")
                          for c in self.text_list(categories, f"{path}.categories")]
        return {"survey_id": survey_id, "categories": categories,
                "days": self.days(node.get("days"), f"{path}.days", optional=True)}

    def attribute(self, node: dict[str, Any], path: str, operator: Any) -> dict[str, Any]:
        key = node.get("key")
        kind = self.attribute_types.get(key) if isinstance(key, str) else None
        if kind is None:
            known = ", ".join(sorted(self.attribute_types)) or "none yet"
            self.fail(f"{path}.key", f"unknown attribute '{key}'; defined: {known}")
            return {}
        allowed = ATTRIBUTE_OPERATORS[kind]
        if operator not in allowed:
            self.fail(f"{path}.operator",
                      f"'{node.get('operator')}' does not apply to {kind} attribute '{key}'; "
                      f"one of: {', '.join(allowed)}")
            return {}
        out: dict[str, Any] = {"field": "attribute", "key": key, "operator": operator}
        raw = node.get("value")
        where = f"{path}.value"
        if operator in (*PRESENCE, "is_true", "is_false"):
            return out
        if kind == AttributeType.string:
            if operator in ("in", "not_in"):
                out["value"] = self.text_list(raw, where)
            elif not isinstance(raw, str) or raw == "":
                self.fail(where, "must be a non-empty string")
            else:
                out["value"] = raw
        elif kind == AttributeType.number:
            if operator == "between":
                pair = self.pair(raw, where, self.number)
                out["value"] = pair
            else:
                out["value"] = self.number(raw, where)
        elif kind == AttributeType.date:
            out["value"] = self.date_value(operator, raw, where)
        return out

    # --- values ---------------------------------------------------------------------

    def number(self, raw: Any, path: str) -> float | int | None:
        try:
            return values.strict_value(AttributeType.number, raw)
        except ValueError:
            self.fail(path, f"must be a number, got {raw!r}"[:120])
            return None

    def date(self, raw: Any, path: str) -> str | None:
        if not isinstance(raw, str):
            self.fail(path, "must be a date YYYY-MM-DD")
            return None
        try:
            return date.fromisoformat(raw.strip()).isoformat()
        except ValueError:
            self.fail(path, f"'{raw[:30]}' is not a date (YYYY-MM-DD)")
            return None

    def date_value(self, operator: str, raw: Any, path: str) -> Any:
        if operator in ("within_last_days", "more_than_days_ago", "within_next_days"):
            return self.days(raw, path, optional=False)
        if operator == "between":
            return self.pair(raw, path, self.date)
        if operator in PRESENCE:
            return None
        return self.date(raw, path)

    def pair(self, raw: Any, path: str, parse: Any) -> list[Any] | None:
        if not isinstance(raw, list) or len(raw) != 2:
            self.fail(path, "must be a list of two values [from, to]")
            return None
        low, high = parse(raw[0], f"{path}.0"), parse(raw[1], f"{path}.1")
        if low is not None and high is not None and low > high:
            self.fail(path, "the first value must not be greater than the second")
        return [low, high]

    def days(self, raw: Any, path: str, *, optional: bool) -> int | None:
        if raw is None and optional:
            return None
        return self.whole(raw, path, 1, MAX_DAYS)

    def whole(self, raw: Any, path: str, low: int, high: int) -> int | None:
        if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
            self.fail(path, f"must be a whole number from {low} to {high}")
            return None
        return raw

    def choice(self, raw: Any, choices: list[str], path: str) -> str | None:
        if raw not in choices:
            self.fail(path, f"'{raw}' is not one of: {', '.join(choices)}")
            return None
        return raw

    def text_list(self, raw: Any, path: str, pattern: re.Pattern[str] | None = None,
                  hint: str = "") -> list[str]:
        if not isinstance(raw, list) or not raw:
            self.fail(path, "must be a non-empty list")
            return []
        if len(raw) > MAX_LIST:
            self.fail(path, f"at most {MAX_LIST} values")
        if not all(isinstance(v, str) and v for v in raw):
            self.fail(path, "must hold non-empty strings")
            return []
        if pattern is not None and not all(pattern.match(v) for v in raw):
            self.fail(path, hint)
        return list(dict.fromkeys(raw))


def validate_rules(
    rules: Any, *, attribute_types: dict[str, str], survey_ids: set[str] | None = None
) -> dict[str, Any]:
    """The rule in canonical form; RuleError with every problem (path, reason)."""
    checker = _Checker(attribute_types, survey_ids)
    out = checker.group(rules if rules is not None else {}, "rules", 1)
    if checker.problems:
        raise RuleError(checker.problems)
    return out


def referenced_survey_ids(rules: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for node in rules.get("conditions", []) if isinstance(rules, dict) else []:
        if isinstance(node, dict) and "conditions" in node and "field" not in node:
            found |= referenced_survey_ids(node)
        elif (isinstance(node, dict) and node.get("field") == "survey_response"
              and isinstance(node.get("survey_id"), str)):
            found.add(node["survey_id"])
    return found
