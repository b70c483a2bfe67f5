"""One filter model for every statistics route: parsed from query parameters the same way
everywhere, applied to SQL the same way everywhere, and turned back into a query string so
a filtered view can be shared as a URL.

Query parameters (all optional, all combined with AND):
  survey_id, from, to (YYYY-MM-DD local days or ISO datetimes; `to` is inclusive of its day),
  nps_type, channel, language, touchpoint, journey_stage, status (partial|complete),
  lifecycle_stage (the response's contact-attribute snapshot wins, else the contact's field),
  tag (repeatable: the contact must carry every tag), attr.<name>=<value> (the response's
  contact-attribute snapshot), segment (a contacts segment id; see "Segment hook" below).

Segment hook: a segment filter is resolved once per request with the database, by
`resolve_segment(session, org_id, filters)` (called by `check_references`), into a
condition on `Response.contact_id`. The resolver is the contacts domain's
`npsloop.contacts.segments.segment_contact_ids(session, org_id, segment_id)` (a SELECT of
contact ids; raises LookupError for an unknown segment); another one can be installed with
`register_segment_resolver`. A service caller that builds Filters by hand with a
`segment_id` must call `resolve_segment` before querying.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Boolean, Select, exists, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter, ColumnElement, literal

from npsloop.contacts.models import Contact
from npsloop.core.timeutil import parse_bound
from npsloop.responses.models import Response
from npsloop.surveys.models import NpsType, Survey

LIFECYCLE_STAGES = ("acquisition", "retention", "conversion", "referral")
RESPONSE_STATUSES = ("partial", "complete")
ATTRIBUTE_PREFIX = "attr."
# Attribute names go into a JSON path: letters (any script), digits, '_' and '-' only.
ATTRIBUTE_NAME = re.compile(r"^[\w\-]{1,64}$")
MAX_VALUE_LENGTH = 200
SIMPLE_PARAMS = ("survey_id", "nps_type", "channel", "language", "touchpoint",
                 "journey_stage", "status", "lifecycle_stage", "segment")
FILTER_PARAMS = frozenset({*SIMPLE_PARAMS, "from", "to", "tag"})


class FilterError(ValueError):
    """A bad filter parameter; `field` is the query parameter's name."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass
class Filters:
    survey_id: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    nps_type: str | None = None
    channel: str | None = None
    language: str | None = None
    touchpoint: str | None = None
    journey_stage: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    lifecycle_stage: str | None = None
    status: str | None = None
    tags: list[str] = field(default_factory=list)
    segment_id: str | None = None
    # The query parameters as given (normalised), to rebuild a shareable URL.
    query: list[tuple[str, str]] = field(default_factory=list)
    # Set by resolve_segment: the segment as a condition on Response.contact_id.
    segment_clause: ColumnElement[bool] | None = None

    def query_string(self) -> str:
        return urlencode(self.query)

    def as_dict(self) -> dict[str, Any]:
        """The active filters, keyed by their query parameter names."""
        out: dict[str, Any] = {}
        for key, value in self.query:
            if key == "tag":
                out.setdefault("tag", []).append(value)
            else:
                out[key] = value
        return out


# --- Segment hook ----------------------------------------------------------------------

# (session, org_id, segment_id) -> SELECT of contact ids; LookupError when unknown.
SegmentResolver = Callable[[Session, str, str], Select[Any]]
_segment_resolver: SegmentResolver | None = None


def register_segment_resolver(resolver: SegmentResolver | None) -> None:
    global _segment_resolver
    _segment_resolver = resolver


def segment_resolver() -> SegmentResolver | None:
    if _segment_resolver is not None:
        return _segment_resolver
    try:
        module = importlib.import_module("npsloop.contacts.segments")
    except ImportError:
        return None
    return getattr(module, "segment_contact_ids", None)


def resolve_segment(session: Session, org_id: str, filters: Filters) -> None:
    """Turns `filters.segment_id` into a SQL condition; LookupError for an unknown one."""
    if not filters.segment_id:
        return
    resolver = segment_resolver()
    if resolver is None:
        raise FilterError("segment", "segments are not available in this installation")
    contact_ids = resolver(session, org_id, filters.segment_id)
    filters.segment_clause = Response.contact_id.in_(contact_ids)


# --- SQL pieces ------------------------------------------------------------------------


class JsonArrayContains(ColumnElement[bool]):
    """`value` is an element of the JSON array in `column` (contacts.tags), per dialect."""

    inherit_cache = True
    type = Boolean()

    def __init__(self, column: ColumnElement[Any], value: str) -> None:
        self.column = column
        self.value: BindParameter[str] = literal(value)


@compiles(JsonArrayContains)
def _contains_sqlite(element: JsonArrayContains, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    value = compiler.process(element.value, **kw)
    return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.value = {value})"


@compiles(JsonArrayContains, "postgresql")
def _contains_pg(element: JsonArrayContains, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    value = compiler.process(element.value, **kw)
    return f"(CAST({column} AS JSONB) @> jsonb_build_array(CAST({value} AS TEXT)))"


def attribute_expr(name: str) -> ColumnElement[Any]:
    """A contact attribute as text, from the snapshot taken when the response was given."""
    return Response.contact_attributes[name].as_string()


def lifecycle_expr() -> ColumnElement[Any]:
    """The lifecycle stage at answer time if the snapshot holds one, else the contact's."""
    contact_stage = (
        select(Contact.lifecycle_stage).where(Contact.id == Response.contact_id)
        .correlate(Response).scalar_subquery()
    )
    return func.coalesce(attribute_expr("lifecycle_stage"), contact_stage)


def apply_filters(query: Select[Any], org_id: str, filters: Filters) -> Select[Any]:
    """Adds the organisation and every active filter to a query over Response."""
    query = query.where(Response.org_id == org_id)
    if filters.nps_type or filters.touchpoint or filters.journey_stage:
        query = query.where(Survey.id == Response.survey_id)
        if filters.nps_type:
            query = query.where(Survey.nps_type == filters.nps_type)
        if filters.touchpoint:
            query = query.where(Survey.touchpoint == filters.touchpoint)
        if filters.journey_stage:
            query = query.where(Survey.journey_stage == filters.journey_stage)
    for column, value in ((Response.survey_id, filters.survey_id),
                          (Response.channel, filters.channel),
                          (Response.language, filters.language),
                          (Response.status, filters.status)):
        if value:
            query = query.where(column == value)
    if filters.date_from:
        query = query.where(Response.submitted_at >= filters.date_from)
    if filters.date_to:
        query = query.where(Response.submitted_at < filters.date_to)
    for name, value in filters.attributes.items():
        query = query.where(attribute_expr(name) == value)
    if filters.lifecycle_stage:
        query = query.where(lifecycle_expr() == filters.lifecycle_stage)
    for tag in filters.tags:
        query = query.where(
            exists().where(Contact.id == Response.contact_id,
                           JsonArrayContains(Contact.tags, tag)).correlate(Response)
        )
    if filters.segment_id:
        if filters.segment_clause is None:
            raise FilterError("segment", "not resolved: call resolve_segment() first")
        query = query.where(filters.segment_clause)
    return query


# --- Parsing ---------------------------------------------------------------------------


def _single(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = [v.strip() for v in params.get(name, []) if v.strip()]
    if len(values) > 1:
        raise FilterError(name, "give it at most once")
    if values and len(values[0]) > MAX_VALUE_LENGTH:
        raise FilterError(name, f"longer than {MAX_VALUE_LENGTH} characters")
    return values[0] if values else None


def parse_filters(
    params: Mapping[str, Sequence[str]],
    tz: str,
    *,
    allowed_extra: Sequence[str] = (),
    strict: bool = True,
) -> Filters:
    """Query parameters (name -> list of values) to Filters; FilterError names a bad one.

    With `strict`, a parameter that is neither a filter nor in `allowed_extra` is refused,
    so a typo such as `chanel=` is reported instead of silently showing unfiltered numbers.
    """
    if strict:
        for name in params:
            if name in FILTER_PARAMS or name in allowed_extra or name.startswith(
                ATTRIBUTE_PREFIX
            ):
                continue
            known = ", ".join(sorted({*FILTER_PARAMS, *allowed_extra}))
            raise FilterError(name, f"unknown parameter; known: {known}, attr.<name>")
    filters = Filters()
    query: list[tuple[str, str]] = []
    for name in SIMPLE_PARAMS:
        value = _single(params, name)
        if value is None:
            continue
        query.append((name, value))
        setattr(filters, "segment_id" if name == "segment" else name, value)
    if filters.nps_type and filters.nps_type not in {t.value for t in NpsType}:
        raise FilterError("nps_type", f"must be one of {', '.join(t.value for t in NpsType)}")
    if filters.status and filters.status not in RESPONSE_STATUSES:
        raise FilterError("status", f"must be one of {', '.join(RESPONSE_STATUSES)}")
    if filters.lifecycle_stage and filters.lifecycle_stage not in LIFECYCLE_STAGES:
        raise FilterError("lifecycle_stage", f"must be one of {', '.join(LIFECYCLE_STAGES)}")
    raw_from, raw_to = _single(params, "from"), _single(params, "to")
    try:
        filters.date_from = parse_bound(raw_from, tz, end=False, field="from")
        filters.date_to = parse_bound(raw_to, tz, end=True, field="to")
    except ValueError as exc:
        name, _, message = str(exc).partition(": ")
        raise FilterError(name, message) from exc
    if filters.date_from and filters.date_to and filters.date_from >= filters.date_to:
        raise FilterError("to", "must not be before 'from'")
    query += [(k, v) for k, v in (("from", raw_from), ("to", raw_to)) if v]
    for tag in params.get("tag", []):
        tag = tag.strip()
        if not tag:
            continue
        if len(tag) > MAX_VALUE_LENGTH:
            raise FilterError("tag", f"longer than {MAX_VALUE_LENGTH} characters")
        if tag not in filters.tags:
            filters.tags.append(tag)
            query.append(("tag", tag))
    for name in sorted(params):
        if not name.startswith(ATTRIBUTE_PREFIX):
            continue
        attribute = name[len(ATTRIBUTE_PREFIX):]
        if not ATTRIBUTE_NAME.match(attribute):
            raise FilterError(name, "attribute names are letters, digits, '_' or '-' (max 64)")
        value = _single(params, name)
        if value is not None:
            filters.attributes[attribute] = value
            query.append((name, value))
    filters.query = query
    return filters


def check_references(session: Session, org_id: str, filters: Filters) -> None:
    """Existence checks that need the database: a survey or segment of another organisation
    (or none) raises LookupError, which the API turns into a 404."""
    from npsloop.surveys import service as surveys

    if filters.survey_id and surveys.get_survey(
        session, org_id=org_id, survey_id=filters.survey_id
    ) is None:
        raise LookupError(f"survey '{filters.survey_id}' not found")
    try:
        resolve_segment(session, org_id, filters)
    except LookupError as exc:
        raise LookupError(f"segment '{filters.segment_id}' not found") from exc
