"""Rolling sums, Wilson intervals, the two-proportion test and chi-square, checked by hand."""

import math

import pytest

from npsloop.analytics.stats import (
    NpsCounts,
    chi_square,
    compare_proportions,
    rolling_sums,
    summarize,
    wilson_interval,
)


def test_counts_add_and_summarize_like_summarize():
    total = NpsCounts(3, 2, 1) + NpsCounts(1, 0, 4)
    assert (total.promoters, total.passives, total.detractors, total.n) == (4, 2, 5, 11)
    assert total.summary(min_n=5) == summarize(4, 2, 5, min_n=5)


def test_rolling_sums_pool_counts_not_nps_values():
    series = [NpsCounts(1, 0, 0), NpsCounts(0, 0, 0), NpsCounts(0, 0, 9), NpsCounts(5, 5, 0)]
    rolled = rolling_sums(series, 2)
    assert rolled == [NpsCounts(1, 0, 0), NpsCounts(1, 0, 0), NpsCounts(0, 0, 9),
                      NpsCounts(5, 5, 9)]
    # Window 2 at the last point: 5 promoters, 9 detractors of 19 -> NPS -21.05, not the
    # average of the two weeks' NPS ((-100 + 50) / 2 = -25).
    assert rolled[-1].summary().nps == pytest.approx(round((5 - 9) / 19 * 100, 2))
    assert rolling_sums(series, 1) == series
    with pytest.raises(ValueError):
        rolling_sums(series, 0)


def test_wilson_interval_by_hand():
    # 0 of 10: centre = (z^2/20) / (1 + z^2/10); half the same -> [0, z^2/10 / (1 + z^2/10)]
    z = 1.959963984540054
    low, high = wilson_interval(0, 10)
    assert low == 0.0
    assert high == pytest.approx((z * z / 10) / (1 + z * z / 10), rel=1e-9)
    low, high = wilson_interval(50, 100)
    assert (low, high) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_compare_proportions_pooled_z():
    result = compare_proportions(30, 100, 15, 100)
    pooled = 45 / 200
    se = math.sqrt(pooled * (1 - pooled) * (2 / 100))
    assert result.z == pytest.approx((0.30 - 0.15) / se, abs=1e-4)
    assert result.lift == pytest.approx(2.0)
    assert result.significant is True
    assert compare_proportions(3, 10, 2, 10).significant is False
    assert compare_proportions(0, 0, 1, 5).p_value is None


def test_chi_square_by_hand():
    table = [[30, 10, 10], [10, 10, 30]]
    result = chi_square(table)
    # Expected: row totals 50/50, column totals 40/20/40 of 100 -> 20,10,20 per row.
    expected = [[20, 10, 20], [20, 10, 20]]
    statistic = sum((o - e) ** 2 / e for ro, re in zip(table, expected, strict=True)
                    for o, e in zip(ro, re, strict=True))
    assert statistic == pytest.approx(20.0)
    assert result.statistic == pytest.approx(statistic)
    assert result.dof == 2
    # Chi-square with 2 dof has survival function exp(-x/2).
    assert result.p_value == pytest.approx(math.exp(-10), rel=1e-6)
    assert result.significant is True
    assert result.cramers_v == pytest.approx(math.sqrt(20 / 100), abs=1e-4)
    assert result.reliable is True


def test_chi_square_drops_empty_lines_and_flags_small_expected_counts():
    assert chi_square([[5, 0, 5], [0, 0, 0], [5, 0, 5]]).dof == 1
    single = chi_square([[5, 3, 2]])
    assert single.statistic is None and single.significant is False
    sparse = chi_square([[3, 1], [1, 3]])
    assert sparse.reliable is False and sparse.low_expected_share == 1.0
