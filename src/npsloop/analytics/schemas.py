"""Response shapes of the statistics API. Every NPS comes with its n and margin of error."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from npsloop.analytics.stats import ChiSquare, NpsDifference, NpsSummary


class NpsOut(BaseModel):
    n: int
    nps: float | None
    promoters: int
    passives: int
    detractors: int
    promoter_share: float | None
    passive_share: float | None
    detractor_share: float | None
    margin_of_error: float | None
    too_few: bool

    @classmethod
    def of(cls, summary: NpsSummary) -> NpsOut:
        data = summary.as_dict()
        data.pop("variance")
        return cls(**data)


class NpsGroupOut(NpsOut):
    key: str | None


class NpsStatsOut(NpsOut):
    group_by: str | None = None
    groups: list[NpsGroupOut] = []


class ChangeOut(BaseModel):
    difference: float | None
    z: float | None
    p_value: float | None
    significant: bool

    @classmethod
    def of(cls, diff: NpsDifference) -> ChangeOut:
        return cls(difference=diff.difference, z=diff.z, p_value=diff.p_value,
                   significant=diff.significant)


class CellOut(BaseModel):
    """A compact NPS: the figures a chart or a table cell needs."""

    n: int
    nps: float | None
    margin: float | None
    too_few: bool

    @classmethod
    def of(cls, summary: NpsSummary | None) -> CellOut:
        if summary is None:
            return cls(n=0, nps=None, margin=None, too_few=True)
        return cls(n=summary.n, nps=summary.nps, margin=summary.margin_of_error,
                   too_few=summary.too_few)


class TrendBucketOut(CellOut):
    key: str
    promoters: int
    passives: int
    detractors: int
    change: ChangeOut | None
    rolling: CellOut | None


class PeriodOut(BaseModel):
    current: CellOut
    previous: CellOut
    previous_from: datetime
    previous_to: datetime
    change: ChangeOut


class TrendOut(BaseModel):
    bucket: str
    rolling: int | None
    time_zone: str
    filters: dict[str, Any]
    share_query: str
    buckets: list[TrendBucketOut]
    period: PeriodOut | None


class ChiSquareOut(BaseModel):
    statistic: float | None
    dof: int
    p_value: float | None
    significant: bool
    cramers_v: float | None
    low_expected_share: float
    reliable: bool

    @classmethod
    def of(cls, test: ChiSquare) -> ChiSquareOut:
        return cls(**test.as_dict())


class CrosstabCellOut(CellOut):
    row: str | None
    col: str | None


class CrosstabOut(BaseModel):
    rows: str
    cols: str
    row_keys: list[str | None]
    col_keys: list[str | None]
    cells: list[CrosstabCellOut]
    row_totals: list[CrosstabCellOut]
    col_totals: list[CrosstabCellOut]
    total: CellOut
    row_test: ChiSquareOut
    truncated: bool
    filters: dict[str, Any]
    share_query: str


class ShareOut(BaseModel):
    share: float | None
    ci_low: float | None
    ci_high: float | None


class DistributionGroupOut(BaseModel):
    key: str | None
    n: int
    nps: float | None
    margin: float | None
    promoters: int
    passives: int
    detractors: int
    promoter: ShareOut
    passive: ShareOut
    detractor: ShareOut


class DistributionOut(BaseModel):
    by: str
    groups: list[DistributionGroupOut]
    test: ChiSquareOut
    truncated: bool
    filters: dict[str, Any]
    share_query: str


class DriverOut(BaseModel):
    key: str
    label: str
    weight: float | None
    share: float | None
    ci_low: float | None
    ci_high: float | None
    mean: float | None
    answered: int
    quadrant: str | None


class DriversOut(BaseModel):
    method: str
    missing: str
    r2: float | None
    n: int
    n_responses: int
    sampled: bool
    sample_size: int
    resamples: int
    seed: int
    too_few: bool
    mean_importance: float | None
    mean_performance: float | None
    drivers: list[DriverOut]
    excluded: list[dict[str, Any]]
    filters: dict[str, Any]
    share_query: str
