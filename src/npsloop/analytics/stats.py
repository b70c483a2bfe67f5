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
