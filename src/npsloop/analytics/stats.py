"""NPS statistics as pure functions: no database, no HTTP, unit-tested at the boundaries.

NPS = %promoters - %detractors on -100..100. Treating each answer as +1 / 0 / -1, the
variance of the mean is (p + d - (p - d)^2) / n, so the 95% margin of error in NPS points
is 1.96 * sqrt(var) * 100. Two independent NPS values differ significantly when
|z| = |nps1 - nps2| / sqrt(var1 + var2) exceeds the normal critical value.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

Z_95 = 1.959963984540054


def category_of(score: int) -> str:
    if not 0 <= score <= 10:
        raise ValueError(f"score must be 0-10, got {score}")
    if score >= 9:
        return "promoter"
    if score >= 7:
        return "passive"
    return "detractor"


@dataclass(frozen=True)
class NpsSummary:
    n: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None
    promoter_share: float | None
    passive_share: float | None
    detractor_share: float | None
    variance: float | None
    margin_of_error: float | None
    too_few: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(promoters: int, passives: int, detractors: int, min_n: int = 30) -> NpsSummary:
    n = promoters + passives + detractors
    if n == 0:
        return NpsSummary(0, 0, 0, 0, None, None, None, None, None, None, True)
    p, d = promoters / n, detractors / n
    variance = (p + d - (p - d) ** 2) / n
    return NpsSummary(
        n=n,
        promoters=promoters,
        passives=passives,
        detractors=detractors,
        nps=round((p - d) * 100, 2),
        promoter_share=round(p, 4),
        passive_share=round(passives / n, 4),
        detractor_share=round(d, 4),
        variance=variance,
        margin_of_error=round(Z_95 * math.sqrt(variance) * 100, 2),
        too_few=n < min_n,
    )


def summarize_scores(scores: list[int], min_n: int = 30) -> NpsSummary:
    cats = [category_of(s) for s in scores]
    return summarize(cats.count("promoter"), cats.count("passive"), cats.count("detractor"), min_n)


@dataclass(frozen=True)
class NpsDifference:
    difference: float | None
    z: float | None
    p_value: float | None
    significant: bool


def compare(a: NpsSummary, b: NpsSummary, alpha: float = 0.05) -> NpsDifference:
    """Two-sided z-test of b - a for independent samples."""
    if a.nps is None or b.nps is None or a.variance is None or b.variance is None:
        return NpsDifference(None, None, None, False)
    diff = b.nps - a.nps
    se = math.sqrt(a.variance + b.variance) * 100
    if se == 0:
        return NpsDifference(round(diff, 2), None, None, diff != 0)
    z = diff / se
    p_value = math.erfc(abs(z) / math.sqrt(2))
    return NpsDifference(round(diff, 2), round(z, 4), p_value, p_value < alpha)


# --- Counts that can be added up (rolling windows, row and column totals) ---------------


@dataclass(frozen=True)
class NpsCounts:
    """Promoter / passive / detractor counts: the sufficient statistics of an NPS."""

    promoters: int = 0
    passives: int = 0
    detractors: int = 0

    @property
    def n(self) -> int:
        return self.promoters + self.passives + self.detractors

    def __add__(self, other: NpsCounts) -> NpsCounts:
        return NpsCounts(self.promoters + other.promoters, self.passives + other.passives,
                         self.detractors + other.detractors)

    def summary(self, min_n: int = 30) -> NpsSummary:
        return summarize(self.promoters, self.passives, self.detractors, min_n)


def rolling_sums(counts: list[NpsCounts], window: int) -> list[NpsCounts]:
    """Per position, the sum of the last `window` counts (fewer at the start).

    A rolling NPS is computed from pooled counts, never by averaging NPS values: a week with
    3 answers must not weigh as much as a week with 300.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    sums: list[NpsCounts] = []
    running = NpsCounts()
    for index, item in enumerate(counts):
        running = running + item
        if index >= window:
            old = counts[index - window]
            running = NpsCounts(running.promoters - old.promoters,
                                running.passives - old.passives,
                                running.detractors - old.detractors)
        sums.append(running)
    return sums


# --- Proportions -----------------------------------------------------------------------


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float] | None:
    """Wilson score interval of a proportion: stays inside [0, 1] and behaves at 0 and n,
    unlike the normal approximation, which is why shares are shown with it."""
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be within 0..{n}, got {successes}")
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class ProportionDifference:
    """Share in a group versus the share in its comparison group, with a two-sided z-test."""

    share_a: float | None
    share_b: float | None
    lift: float | None  # share_a / share_b
    z: float | None
    p_value: float | None
    significant: bool


def compare_proportions(
    successes_a: int, n_a: int, successes_b: int, n_b: int, alpha: float = 0.05
) -> ProportionDifference:
    """Pooled two-proportion z-test (e.g. share of detractors vs promoters holding a tag)."""
    if n_a <= 0 or n_b <= 0:
        return ProportionDifference(None, None, None, None, None, False)
    share_a, share_b = successes_a / n_a, successes_b / n_b
    lift = share_a / share_b if share_b > 0 else None
    pooled = (successes_a + successes_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return ProportionDifference(share_a, share_b, lift, None, None, False)
    z = (share_a - share_b) / se
    p_value = math.erfc(abs(z) / math.sqrt(2))
    return ProportionDifference(share_a, share_b, lift, round(z, 4), p_value, p_value < alpha)


# --- Contingency tables ----------------------------------------------------------------


@dataclass(frozen=True)
class ChiSquare:
    statistic: float | None
    dof: int
    p_value: float | None
    significant: bool
    cramers_v: float | None
    # Share of cells whose expected count is below 5: above 20% the p-value is unreliable.
    low_expected_share: float
    reliable: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def chi_square(table: list[list[int]], alpha: float = 0.05) -> ChiSquare:
    """Pearson chi-square test of independence on a rows x columns table of counts.

    Rows or columns that are all zero are dropped first (they carry no information and
    would make expected counts zero). No continuity correction, so a 2x2 table gives the
    same statistic as the other shapes.
    """
    from scipy.stats import chi2_contingency  # scipy is heavy: imported on first use

    rows = [list(map(int, row)) for row in table if any(row)]
    if not rows:
        return ChiSquare(None, 0, None, False, None, 0.0, False)
    keep = [j for j in range(len(rows[0])) if any(row[j] for row in rows)]
    rows = [[row[j] for j in keep] for row in rows]
    if len(rows) < 2 or len(keep) < 2:
        return ChiSquare(None, 0, None, False, None, 0.0, False)
    result = chi2_contingency(rows, correction=False)
    statistic, p_value, dof = float(result.statistic), float(result.pvalue), int(result.dof)
    expected = result.expected_freq
    cells = expected.size
    low_share = float((expected < 5).sum()) / cells
    total = sum(sum(row) for row in rows)
    cramers_v = math.sqrt(statistic / (total * (min(len(rows), len(keep)) - 1)))
    return ChiSquare(
        statistic=round(statistic, 4),
        dof=dof,
        p_value=p_value,
        significant=p_value < alpha,
        cramers_v=round(cramers_v, 4),
        low_expected_share=round(low_share, 4),
        reliable=low_share <= 0.2,
    )
