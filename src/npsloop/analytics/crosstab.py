"""Cross-tabs: NPS of every combination of two dimensions, and the category distribution
(promoter / passive / detractor) by one dimension with a chi-square test of independence.

One GROUP BY (row key, column key) computes the counts in SQL; row and column totals are
sums of those counts (NPS is not additive, its counts are). Dimensions with many values
(an attribute such as a city) keep the `limit` largest values and pool the rest into
"(other)", so a table stays readable and bounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from npsloop.analytics import rollup, service
from npsloop.analytics.filters import Filters, apply_filters
from npsloop.analytics.stats import ChiSquare, NpsCounts, NpsSummary, chi_square, wilson_interval
from npsloop.analytics.trends import bucket_group, key_text
from npsloop.responses.models import Response
from npsloop.surveys.models import Survey

OTHER = "(other)"
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
CATEGORIES = ("promoter", "passive", "detractor")


class CrosstabError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def dimension_names() -> list[str]:
    return service.group_by_names()


def _expression(session: Session, name: str, field: str, tz: str) -> tuple[Any, bool]:
    if name in service.TIME_BUCKETS:
        return bucket_group(session, name, tz), False
    try:
        return service.dimension(session, name, tz)
    except ValueError as exc:
        raise CrosstabError(field, f"'{name}' is not one of {', '.join(dimension_names())}") \
            from exc


def _key_order(name: str, totals: dict[str | None, NpsCounts], limit: int) -> tuple[
    list[str | None], set[str | None]
]:
    """Keys to show, in display order, and the keys pooled into (other).

    Time buckets keep calendar order and are never pooled (the range bounds them); other
    dimensions are ordered by number of responses, largest first."""
    if name in service.TIME_BUCKETS:
        return sorted(totals, key=lambda k: (k is None, k or "")), set()
    ordered = sorted(totals, key=lambda k: (-totals[k].n, k is None, str(k)))
    return ordered[:limit], set(ordered[limit:])


def grouped_counts(
    session: Session, *, org_id: str, filters: Filters, names: list[str], tz: str
) -> list[tuple[tuple[str | None, ...], NpsCounts]]:
    """Counts per combination of the named dimensions, in one GROUP BY (over the daily
    rollup when it can answer, see analytics.rollup)."""
    for index, name in enumerate(names):
        _expression(session, name, ("rows", "cols")[min(index, 1)], tz)  # checks the name
    query = rollup.counts_query(session, org_id=org_id, filters=filters, names=names, tz=tz)
    if query is not None:
        return _rows(session.execute(query), len(names))
    keys = []
    needs_survey = False
    for index, name in enumerate(names):
        expr, joins_survey = _expression(session, name, ("rows", "cols")[min(index, 1)], tz)
        needs_survey = needs_survey or joins_survey
        keys.append(expr.label(f"k{index}"))
    query = select(*keys, *service._counts())
    if needs_survey:
        query = query.where(Survey.id == Response.survey_id)
    query = apply_filters(query, org_id, filters).group_by(*keys)
    return _rows(session.execute(query), len(names))


def _rows(result: Any, width: int) -> list[tuple[tuple[str | None, ...], NpsCounts]]:
    return [
        (
            tuple(key_text(getattr(row, f"k{i}")) for i in range(width)),
            NpsCounts(int(row.promoters or 0), int(row.passives or 0), int(row.detractors or 0)),
        )
        for row in result
    ]


@dataclass(frozen=True)
class Crosstab:
    rows: str
    cols: str
    row_keys: list[str | None]
    col_keys: list[str | None]
    cells: dict[tuple[str | None, str | None], NpsSummary]
    row_totals: dict[str | None, NpsSummary]
    col_totals: dict[str | None, NpsSummary]
    total: NpsSummary
    # Category (promoter / passive / detractor) by the row dimension.
    row_test: ChiSquare
    truncated: bool


def crosstab(
    session: Session,
    *,
    org_id: str,
    filters: Filters,
    rows: str,
    cols: str,
    tz: str,
    min_n: int = 30,
    limit: int = DEFAULT_LIMIT,
) -> Crosstab:
    if not 1 <= limit <= MAX_LIMIT:
        raise CrosstabError("limit", f"must be between 1 and {MAX_LIMIT}")
    if rows == cols:
        raise CrosstabError("cols", "must differ from rows")
    grouped = grouped_counts(session, org_id=org_id, filters=filters, names=[rows, cols], tz=tz)
    row_sums: dict[str | None, NpsCounts] = {}
    col_sums: dict[str | None, NpsCounts] = {}
    for (row_key, col_key), counts in grouped:
        row_sums[row_key] = row_sums.get(row_key, NpsCounts()) + counts
        col_sums[col_key] = col_sums.get(col_key, NpsCounts()) + counts
    row_keys, row_pooled = _key_order(rows, row_sums, limit)
    col_keys, col_pooled = _key_order(cols, col_sums, limit)
    if row_pooled:
        row_keys.append(OTHER)
    if col_pooled:
        col_keys.append(OTHER)
    cell_counts: dict[tuple[str | None, str | None], NpsCounts] = {}
    row_totals: dict[str | None, NpsCounts] = {}
    col_totals: dict[str | None, NpsCounts] = {}
    total = NpsCounts()
    for (row_key, col_key), counts in grouped:
        r = OTHER if row_key in row_pooled else row_key
        c = OTHER if col_key in col_pooled else col_key
        cell_counts[(r, c)] = cell_counts.get((r, c), NpsCounts()) + counts
        row_totals[r] = row_totals.get(r, NpsCounts()) + counts
        col_totals[c] = col_totals.get(c, NpsCounts()) + counts
        total = total + counts
    table = [[getattr(row_totals[k], f"{c}s") for c in ("promoter", "passive", "detractor")]
             for k in row_keys]
    return Crosstab(
        rows=rows,
        cols=cols,
        row_keys=row_keys,
        col_keys=col_keys,
        cells={key: counts.summary(min_n) for key, counts in cell_counts.items()},
        row_totals={k: v.summary(min_n) for k, v in row_totals.items()},
        col_totals={k: v.summary(min_n) for k, v in col_totals.items()},
        total=total.summary(min_n),
        row_test=chi_square(table),
        truncated=bool(row_pooled or col_pooled),
    )


@dataclass(frozen=True)
class DistributionGroup:
    key: str | None
    summary: NpsSummary
    # 95% Wilson intervals of each category's share.
    intervals: dict[str, tuple[float, float] | None]


@dataclass(frozen=True)
class Distribution:
    by: str
    groups: list[DistributionGroup]
    test: ChiSquare
    truncated: bool


def distribution(
    session: Session, *, org_id: str, filters: Filters, by: str, tz: str, min_n: int = 30,
    limit: int = DEFAULT_LIMIT,
) -> Distribution:
    """Promoter / passive / detractor shares per value of `by`, with a chi-square test of
    whether the mix depends on `by` at all."""
    if not 1 <= limit <= MAX_LIMIT:
        raise CrosstabError("limit", f"must be between 1 and {MAX_LIMIT}")
    try:
        grouped = grouped_counts(session, org_id=org_id, filters=filters, names=[by], tz=tz)
    except CrosstabError as exc:
        raise CrosstabError("by", exc.message) from exc
    sums = {keys[0]: counts for keys, counts in grouped}
    keys, pooled = _key_order(by, sums, limit)
    merged = {k: sums[k] for k in keys}
    if pooled:
        other = NpsCounts()
        for k in pooled:
            other = other + sums[k]
        keys.append(OTHER)
        merged[OTHER] = other
    groups = []
    for key in keys:
        counts = merged[key]
        groups.append(DistributionGroup(
            key=key,
            summary=counts.summary(min_n),
            intervals={c: wilson_interval(getattr(counts, f"{c}s"), counts.n) for c in CATEGORIES},
        ))
    table = [[merged[k].promoters, merged[k].passives, merged[k].detractors] for k in keys]
    return Distribution(by=by, groups=groups, test=chi_square(table), truncated=bool(pooled))


def _label(key: str | None) -> str:
    return "(none)" if key is None else key


def table_rows(result: Crosstab) -> list[list[Any]]:
    """The cross-tab as a wide sheet: one row per row key; per column key its NPS, n and
    margin of error; then the row total. The first row is the header."""
    header: list[Any] = [result.rows]
    for col in [*result.col_keys, "total"]:
        name = _label(col) if col != "total" else "Total"
        header += [f"{name} NPS", f"{name} n", f"{name} ±"]
    lines: list[list[Any]] = [header]
    for row in [*result.row_keys, "__total__"]:
        line: list[Any] = [_label(row) if row != "__total__" else "Total"]
        for col in [*result.col_keys, "__total__"]:
            if row == "__total__" and col == "__total__":
                summary: NpsSummary | None = result.total
            elif row == "__total__":
                summary = result.col_totals.get(col)
            elif col == "__total__":
                summary = result.row_totals.get(row)
            else:
                summary = result.cells.get((row, col))
            if summary is None or summary.n == 0:
                line += [None, 0, None]
            else:
                line += [summary.nps, summary.n, summary.margin_of_error]
        lines.append(line)
    return lines
