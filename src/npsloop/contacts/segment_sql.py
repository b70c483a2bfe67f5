"""Compiles a validated segment rule into one SQL boolean over `contacts`.

Nothing is evaluated in Python: the expression goes into a WHERE clause, to count or list
contacts in bulk or to test one contact. Two shapes for "did event E at least N times":
in bulk a grouped `IN (SELECT contact_id ... GROUP BY ... HAVING count >= N)` (one pass over
the event index), for one contact a correlated count on (contact_id, name, occurred_at).
Responses likewise: `IN (SELECT contact_id ...)` in bulk, a correlated EXISTS for one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, not_, or_, select, true

from npsloop.contacts import jsonsql
from npsloop.contacts.models import AttributeType, Contact, Event
from npsloop.responses.models import Response

NEGATIVE = {"not_equals", "not_in", "not_contains", "ne"}


@dataclass(frozen=True)
class SqlContext:
    dialect: str
    org_id: str
    now: datetime  # aware UTC: rolling windows ("last D days") start at now - D days
    today: date  # the organisation's calendar day: date attributes compare to it
    zone: ZoneInfo  # the organisation's time zone: where its days start
    attribute_types: dict[str, str]
    single: bool = False  # compiling for one contact (correlated subqueries)


def compile_rules(rules: dict[str, Any], ctx: SqlContext) -> ColumnElement[bool]:
    return _group(rules, ctx)


def _group(node: dict[str, Any], ctx: SqlContext) -> ColumnElement[bool]:
    parts = [_group(c, ctx) if "conditions" in c and "field" not in c else _condition(c, ctx)
             for c in node.get("conditions", [])]
    if not parts:
        return true()
    return and_(*parts) if node.get("match", "all") == "all" else or_(*parts)


def _condition(node: dict[str, Any], ctx: SqlContext) -> ColumnElement[bool]:
    kind = node["field"]
    op = node["operator"]
    value = node.get("value")
    if kind == "attribute":
        return _attribute(node["key"], op, value, ctx)
    if kind == "tags":
        return tags_clause(ctx.dialect, op, value)
    if kind in ("lifecycle_stage", "language"):
        return _column_choice(getattr(Contact, kind), op, value)
    if kind in ("email", "phone"):
        column = getattr(Contact, kind)
        present = and_(column.is_not(None), column != "")
        return present if op == "is_set" else not_(present)
    if kind == "created_at":
        # Days start at midnight in the organisation's time zone; comparing instants keeps
        # the (org_id, created_at) index usable.
        return _date_compare(Contact.created_at, op, value, ctx, instants=True)
    if kind == "channel":
        return _responses(op == "in", ctx, node.get("days"), Response.channel.in_(value))
    if kind == "event":
        return _event(node, ctx)
    if kind == "survey_response":
        extra: list[ColumnElement[bool]] = []
        if node.get("survey_id"):
            # `|| ''` keeps the (survey_id, submitted_at) index out of the one-contact query.
            survey = Response.survey_id + "" if ctx.single else Response.survey_id
            extra.append(survey == node["survey_id"])
        if node.get("categories"):
            extra.append(Response.category.in_(node["categories"]))
        return _responses(op == "responded", ctx, node.get("days"), *extra)
    raise ValueError(f"unknown field {kind}")  # validated before: not reachable


def _attribute(key: str, op: str, value: Any, ctx: SqlContext) -> ColumnElement[bool]:
    kind = ctx.attribute_types[key]
    d = ctx.dialect
    if op == "is_set":
        return jsonsql.is_set(d, key)
    if op == "is_not_set":
        return not_(jsonsql.is_set(d, key))
    if kind == AttributeType.boolean:
        return jsonsql.boolean_is(d, key, op == "is_true")
    if kind == AttributeType.number:
        number = jsonsql.number_value(d, key)
        clause = _compare(number, op, value)
        return or_(number.is_(None), clause) if op in NEGATIVE else clause
    text = jsonsql.string_value(d, key)
    if kind == AttributeType.date:
        return _date_compare(text, op, value, ctx, instants=False)
    if op in ("equals", "not_equals"):
        clause = text == value
    elif op in ("contains", "not_contains"):
        clause = text.icontains(value, autoescape=True)
    else:
        clause = text.in_(value)
    if op in NEGATIVE:
        return or_(text.is_(None), not_(clause))
    return clause


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "between":
        return column.between(value[0], value[1])
    return {
        "eq": lambda: column == value, "ne": lambda: column != value,
        "lt": lambda: column < value, "lte": lambda: column <= value,
        "gt": lambda: column > value, "gte": lambda: column >= value,
    }[op]()


def _date_compare(
    column: Any, op: str, value: Any, ctx: SqlContext, *, instants: bool
) -> ColumnElement[bool]:
    """Date attributes are 'YYYY-MM-DD' text; created_at is an instant. Both are compared
    against day boundaries: [start of day, start of next day)."""

    def bound(day: date) -> Any:
        if instants:
            return datetime(day.year, day.month, day.day, tzinfo=ctx.zone)
        return day.isoformat()

    def day_of(text: str) -> date:
        return date.fromisoformat(text)

    one = timedelta(days=1)
    today = ctx.today
    if op == "before":
        return column < bound(day_of(value))
    if op == "after":
        return column >= bound(day_of(value) + one)
    if op == "on":
        return and_(column >= bound(day_of(value)), column < bound(day_of(value) + one))
    if op == "between":
        return and_(column >= bound(day_of(value[0])), column < bound(day_of(value[1]) + one))
    if op == "within_last_days":
        return and_(column >= bound(today - timedelta(days=value)), column < bound(today + one))
    if op == "more_than_days_ago":
        return column < bound(today - timedelta(days=value))
    if op == "within_next_days":
        return and_(column >= bound(today), column < bound(today + timedelta(days=value) + one))
    raise ValueError(f"unknown date operator {op}")


def _column_choice(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "is_set":
        return column.is_not(None)
    if op == "is_not_set":
        return column.is_(None)
    if op == "equals":
        return column == value
    if op == "in":
        return column.in_(value)
    clause = column == value if op == "not_equals" else column.in_(value)
    return or_(column.is_(None), not_(clause))


def tags_clause(dialect: str, op: str, tags: list[str]) -> ColumnElement[bool]:
    """Tags are a JSON array on the contact; the array is expanded per row in SQL."""
    if dialect == "postgresql":
        element = func.json_array_elements_text(Contact.tags).table_valued("value").render_derived(
            name="tag")
    else:  # SQLite's json_each has a `value` column and takes no column alias list
        element = func.json_each(Contact.tags).table_valued("value").alias("tag")
    matching = select(element.c.value).where(element.c.value.in_(tags))
    if op == "has_any":
        return matching.exists()
    if op == "has_none":
        return not_(matching.exists())
    distinct = select(func.count(func.distinct(element.c.value))).where(
        element.c.value.in_(tags)).scalar_subquery()
    return distinct == len(tags)


def _since(ctx: SqlContext, days: int | None) -> datetime | None:
    return ctx.now - timedelta(days=days) if days else None


def _responses(
    wanted: bool, ctx: SqlContext, days: int | None, *extra: ColumnElement[bool]
) -> ColumnElement[bool]:
    since = _since(ctx, days)
    window = [Response.submitted_at >= since] if since is not None else []
    if ctx.single:
        # One contact: walk its own responses (index on contact_id). The organisation follows
        # from the contact, so it is not repeated here, where it would tempt SQLite's planner
        # into the (org_id, submitted_at) index and a scan of everyone's responses.
        exists = select(Response.id).where(Response.contact_id == Contact.id, *extra,
                                           *window).exists()
        return exists if wanted else not_(exists)
    ids = select(Response.contact_id).where(
        Response.org_id == ctx.org_id, Response.contact_id.is_not(None), *extra, *window)
    return Contact.id.in_(ids) if wanted else Contact.id.not_in(ids)


def _event(node: dict[str, Any], ctx: SqlContext) -> ColumnElement[bool]:
    count = int(node.get("count") or 1)
    since = _since(ctx, node.get("days"))
    at_least = node["operator"] == "at_least"
    window = [Event.occurred_at >= since] if since is not None else []
    if ctx.single:
        # One contact: (contact_id, name, occurred_at) index; no org filter (see _responses).
        mine = [Event.contact_id == Contact.id, Event.name == node["name"], *window]
        if count == 1:
            exists = select(Event.id).where(*mine).exists()
            return exists if at_least else not_(exists)
        counted = select(func.count()).select_from(Event).where(*mine).scalar_subquery()
        return counted >= count if at_least else counted < count
    grouped = (select(Event.contact_id)
               .where(Event.org_id == ctx.org_id, Event.name == node["name"], *window)
               .group_by(Event.contact_id).having(func.count() >= count))
    return Contact.id.in_(grouped) if at_least else Contact.id.not_in(grouped)
