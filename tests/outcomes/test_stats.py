"""Outcome statistics against scipy and published values: Wilson intervals, Newcombe's
interval for a difference of proportions, and the pooled two-proportion z-test."""

from __future__ import annotations

import math

import pytest
from scipy.stats import binomtest, chi2_contingency

from npsloop.outcomes import stats


@pytest.mark.parametrize(("events", "n"), [(0, 10), (1, 10), (81, 263), (15, 148), (50, 50),
                                           (3850, 5000)])
def test_wilson_matches_scipy(events: int, n: int) -> None:
    expected = binomtest(events, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = stats.wilson(events, n)
    assert low == pytest.approx(expected.low, abs=1e-9)
    assert high == pytest.approx(expected.high, abs=1e-9)


def test_wilson_published_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:857, table I: 81/263 -> 0.2553 to 0.3662.
    low, high = stats.wilson(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)


def test_wilson_edges_and_bad_input() -> None:
    assert stats.wilson(0, 0) is None
    assert stats.rate(0, 0).rate is None
    assert stats.wilson(0, 20)[0] == 0.0 and stats.wilson(20, 20)[1] == 1.0
    for events, n in ((-1, 5), (6, 5), (1, -1)):
        with pytest.raises(ValueError):
            stats.wilson(events, n)


def test_newcombe_difference_published_example() -> None:
    # Newcombe (1998), table II example (a): 56/70 - 48/80, method 10: 0.0524 to 0.3339.
    diff = stats.difference(stats.rate(56, 70), stats.rate(48, 80))
    assert diff.difference == pytest.approx(0.2)
    assert (round(diff.low, 4), round(diff.high, 4)) == (0.0524, 0.3339)
    assert diff.significant


@pytest.mark.parametrize(("x1", "n1", "x2", "n2"), [(56, 70, 48, 80), (30, 200, 22, 180),
                                                   (5, 40, 9, 41), (700, 1000, 640, 1000)])
def test_two_proportion_test_matches_chi_square(x1: int, n1: int, x2: int, n2: int) -> None:
    chi2, p_value, _, _ = chi2_contingency([[x1, n1 - x1], [x2, n2 - x2]], correction=False)
    z, p = stats.two_proportion_test(x1, n1, x2, n2)
    assert z * z == pytest.approx(chi2, rel=1e-9)
    assert p == pytest.approx(p_value, rel=1e-9)
    assert math.copysign(1, z) == math.copysign(1, x1 / n1 - x2 / n2)


def test_no_difference_and_undefined_cases() -> None:
    same = stats.difference(stats.rate(30, 100), stats.rate(30, 100))
    assert same.difference == 0 and same.p_value == pytest.approx(1.0) and not same.significant
    assert same.low < 0 < same.high
    assert stats.difference(stats.rate(0, 0), stats.rate(3, 10)) == stats.NO_DIFFERENCE
    # Everyone had the outcome in both groups: nothing to test, but the interval exists.
    everyone = stats.difference(stats.rate(10, 10), stats.rate(12, 12))
    assert everyone.p_value is None and not everyone.significant
    assert stats.two_proportion_test(1, 0, 1, 5) == (None, None)


def test_minimum_detectable_difference_by_hand() -> None:
    # p = 0.5, 100 vs 100: (1.95996 + 0.84162) * sqrt(0.25 * 0.02) = 0.19810.
    assert stats.minimum_detectable_difference(0.5, 100, 100) == pytest.approx(0.19810, abs=1e-5)
    # Four times the people halve it.
    assert stats.minimum_detectable_difference(0.5, 400, 400) == pytest.approx(0.09905, abs=1e-5)
    assert stats.minimum_detectable_difference(None, 10, 10) is None
    assert stats.minimum_detectable_difference(0.3, 0, 10) is None
