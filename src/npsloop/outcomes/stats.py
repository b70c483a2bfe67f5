"""Proportion statistics for outcome rates and campaign effects: pure functions.

- Wilson score interval for one proportion (good coverage at small n and near 0 or 1,
  where the textbook Wald interval fails).
- The difference of two independent proportions with Newcombe's hybrid score interval
  (method 10 in Newcombe 1998, built from the two Wilson intervals), and the pooled
  two-proportion z-test (identical to Pearson's chi-square test without continuity
  correction on the 2x2 table).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from scipy.stats import norm

Z_95 = 1.959963984540054


@dataclass(frozen=True)
class Rate:
    n: int
    events: int
    rate: float | None
    low: float | None
    high: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def wilson(events: int, n: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval of events/n; None when n is 0."""
    if n < 0 or events < 0 or events > n:
        raise ValueError(f"need 0 <= events <= n, got {events}/{n}")
    if n == 0:
        return None
    p = events / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(events: int, n: int) -> Rate:
    interval = wilson(events, n)
    if interval is None:
        return Rate(0, 0, None, None, None)
    return Rate(n, events, events / n, interval[0], interval[1])


@dataclass(frozen=True)
class Difference:
    """a.rate - b.rate with its 95% interval and the two-sided p-value of "no difference"."""

    difference: float | None
    low: float | None
    high: float | None
    z: float | None
    p_value: float | None
    significant: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


NO_DIFFERENCE = Difference(None, None, None, None, None, False)


def difference(a: Rate, b: Rate, alpha: float = 0.05) -> Difference:
    """Newcombe's hybrid score interval and the pooled z-test for a.rate - b.rate."""
    if not a.n or not b.n or a.rate is None or b.rate is None:
        return NO_DIFFERENCE
    assert a.low is not None and a.high is not None and b.low is not None and b.high is not None
    diff = a.rate - b.rate
    low = diff - math.sqrt((a.rate - a.low) ** 2 + (b.high - b.rate) ** 2)
    high = diff + math.sqrt((a.high - a.rate) ** 2 + (b.rate - b.low) ** 2)
    z, p_value = two_proportion_test(a.events, a.n, b.events, b.n)
    return Difference(diff, low, high, z, p_value,
                      p_value is not None and p_value < alpha)


def two_proportion_test(x1: int, n1: int, x2: int, n2: int) -> tuple[float | None, float | None]:
    """Pooled z statistic and two-sided p-value; (None, None) when undefined (an empty group,
    or every or no one with the outcome in both groups: nothing to compare)."""
    if n1 == 0 or n2 == 0:
        return None, None
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance <= 0:
        return None, None
    z = (x1 / n1 - x2 / n2) / math.sqrt(variance)
    return z, float(2 * norm.sf(abs(z)))


Z_80 = 0.8416212335729143  # one-sided normal quantile for 80% power


def minimum_detectable_difference(base_rate: float | None, n1: int, n2: int,
                                  z_alpha: float = Z_95, z_power: float = Z_80
                                  ) -> float | None:
    """The smallest true difference two groups of n1 and n2 would detect with 80% power at
    the 5% level (normal approximation around `base_rate`): a "not significant" effect
    smaller than this says little, one larger than it was unlikely to be missed."""
    if base_rate is None or n1 == 0 or n2 == 0:
        return None
    spread = base_rate * (1 - base_rate) * (1 / n1 + 1 / n2)
    return (z_alpha + z_power) * math.sqrt(spread)
