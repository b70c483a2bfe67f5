"""Query-parameter handling shared by every statistics and export route: the same filters,
parsed the same way, the same 422 naming the parameter, the same 404 for another
organisation's survey."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import HTTPException, Query, Request, status
from sqlalchemy.orm import Session

from npsloop.accounts.deps import Principal
from npsloop.accounts.service import get_organization
from npsloop.analytics.filters import FilterError, Filters, check_references, parse_filters

# Parameters every route accepts besides the filters (the UI language).
COMMON_PARAMS = ("lang",)


def query_error(field: str, message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"loc": ["query", field], "msg": message, "type": "value_error"}],
    )


@dataclass(frozen=True)
class FilterContext:
    org_id: str
    tz: str
    filters: Filters


def resolve_filters(
    request: Request,
    db: Session,
    principal: Principal,
    *,
    allowed: Sequence[str] = (),
    strict: bool = True,
) -> FilterContext:
    """The caller's filters in the organisation's time zone, checked against the database."""
    org = get_organization(db, principal.org_id)
    tz = org.timezone if org else "UTC"
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    try:
        filters = parse_filters(params, tz, allowed_extra=[*allowed, *COMMON_PARAMS],
                                strict=strict)
        check_references(db, principal.org_id, filters)
    except FilterError as exc:
        raise query_error(exc.field, exc.message) from exc
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc).strip("'\"")) from exc
    return FilterContext(principal.org_id, tz, filters)


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise query_error(name, f"'{raw}' is not a whole number") from exc
    if not low <= value <= high:
        raise query_error(name, f"must be between {low} and {high}")
    return value


def documented_filters(
    survey_id: str | None = None,
    date_from: Annotated[str | None, Query(
        alias="from", description="first local day (YYYY-MM-DD) or ISO datetime")] = None,
    date_to: Annotated[str | None, Query(
        alias="to", description="last local day (inclusive) or ISO datetime")] = None,
    nps_type: Annotated[str | None, Query(
        description="strategic | relationship | touchpoint")] = None,
    channel: str | None = None,
    language: str | None = None,
    touchpoint: str | None = None,
    journey_stage: str | None = None,
    status_: Annotated[str | None, Query(alias="status",
                                         description="partial | complete")] = None,
    lifecycle_stage: Annotated[str | None, Query(
        description="acquisition | retention | conversion | referral")] = None,
    tag: Annotated[list[str] | None, Query(
        description="repeatable; the contact must carry every tag")] = None,
    segment: Annotated[str | None, Query(description="a contacts segment id")] = None,
) -> None:
    """Declares the shared filters for the API docs; `attr.<name>=<value>` filters by a
    contact attribute. Parsing happens in resolve_filters (it also reads attr.*)."""
