"""NPS math at the category boundaries, on no responses, and the margin of error by hand."""

import math

import pytest

from npsloop.analytics.stats import category_of, compare, summarize, summarize_scores


@pytest.mark.parametrize(
    ("score", "category"),
    [(0, "detractor"), (6, "detractor"), (7, "passive"), (8, "passive"), (9, "promoter"),
     (10, "promoter")],
)
def test_category_boundaries(score: int, category: str) -> None:
    assert category_of(score) == category


@pytest.mark.parametrize("score", [-1, 11])
def test_category_rejects_out_of_range(score: int) -> None:
    with pytest.raises(ValueError):
        category_of(score)


def test_boundary_scores_nps() -> None:
    # 0 and 6 detractors, 7 and 8 passives, 9 and 10 promoters: NPS 0 on 6 answers.
    summary = summarize_scores([0, 6, 7, 8, 9, 10])
    assert (summary.promoters, summary.passives, summary.detractors) == (2, 2, 2)
    assert summary.nps == 0.0
    assert summary.n == 6


def test_all_promoters_and_all_detractors() -> None:
    assert summarize_scores([9, 10, 10]).nps == 100.0
    assert summarize_scores([0, 3, 6]).nps == -100.0
    # Unanimity has zero variance: the margin is 0, not undefined.
    assert summarize_scores([10] * 5).margin_of_error == 0.0


def test_no_responses() -> None:
    summary = summarize(0, 0, 0)
    assert summary.n == 0
    assert summary.nps is None
    assert summary.margin_of_error is None
    assert summary.too_few is True


def test_margin_of_error_by_hand() -> None:
    # 50 promoters, 30 passives, 20 detractors of 100:
    # p = .5, d = .2, NPS = 30; var = (.5 + .2 - .3^2) / 100 = .0061
    # MoE = 1.96 * sqrt(.0061) * 100 = 1.96 * 0.0781025 * 100 = 15.308 points.
    summary = summarize(50, 30, 20)
    assert summary.nps == 30.0
    assert summary.variance == pytest.approx(0.0061)
    assert summary.margin_of_error == pytest.approx(15.31, abs=0.01)
    assert summary.too_few is False


def test_too_few_flag_threshold() -> None:
    assert summarize(10, 10, 9, min_n=30).too_few is True
    assert summarize(10, 10, 10, min_n=30).too_few is False


def test_compare_significant_and_not() -> None:
    before = summarize(300, 400, 300)  # NPS 0, n = 1000
    after = summarize(400, 400, 200)  # NPS 20, n = 1000
    diff = compare(before, after)
    assert diff.difference == 20.0
    se = math.sqrt(before.variance + after.variance) * 100
    assert diff.z == pytest.approx(20 / se, rel=1e-3)
    assert diff.significant is True
    small = compare(summarize(5, 5, 5), summarize(6, 5, 4))
    assert small.significant is False
    assert compare(summarize(0, 0, 0), after).difference is None
