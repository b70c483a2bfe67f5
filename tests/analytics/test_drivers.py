"""Key drivers: Johnson's relative weights against an exact Shapley decomposition of R^2,
the vectorised bootstrap against explicit resampling, missing answers, and the API reading
the same numbers out of SQL."""

import itertools
import math

import numpy as np
import pytest

from npsloop.analytics.drivers import (
    DriverKey,
    analyse,
    bootstrap_weights,
    quadrant,
    relative_weights,
    weighted_correlations,
)
from tests.analytics.helpers import add_response


def _correlated_case(seed: int = 7, n: int = 3000) -> np.ndarray:
    """Four correlated drivers (a shared factor) with distinct true effects, then y."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(n, 1))
    drivers = 0.7 * shared + rng.normal(size=(n, 4))
    drivers[:, 1] += 0.5 * drivers[:, 0]  # a pair more correlated than the rest
    y = drivers @ np.array([0.9, 0.45, 0.2, 0.05]) + rng.normal(scale=1.2, size=n)
    return np.column_stack([drivers, y])


def _r2(corr: np.ndarray, subset: tuple[int, ...]) -> float:
    if not subset:
        return 0.0
    index = list(subset)
    rxy = corr[index, -1]
    return float(rxy @ np.linalg.solve(corr[np.ix_(index, index)], rxy))


def exact_shapley(corr: np.ndarray) -> np.ndarray:
    """Shapley value of each driver in R^2: its marginal R^2 gain averaged over all orders,
    from all 2^p subset regressions."""
    p = corr.shape[0] - 1
    values = np.zeros(p)
    for j in range(p):
        others = [k for k in range(p) if k != j]
        for size in range(p):
            weight = math.factorial(size) * math.factorial(p - size - 1) / math.factorial(p)
            for subset in itertools.combinations(others, size):
                values[j] += weight * (_r2(corr, (*subset, j)) - _r2(corr, subset))
    return values


def test_relative_weights_agree_with_exact_shapley_and_sum_to_r2():
    data = _correlated_case()
    corr = np.corrcoef(data, rowvar=False)
    weights, r2 = relative_weights(corr[None])
    weights, r2 = weights[0], float(r2[0])
    shapley = exact_shapley(corr)
    full_r2 = _r2(corr, (0, 1, 2, 3))
    assert r2 == pytest.approx(full_r2, rel=1e-9)
    assert weights.sum() == pytest.approx(full_r2, rel=1e-9)
    assert shapley.sum() == pytest.approx(full_r2, rel=1e-9)
    assert list(np.argsort(-weights)) == list(np.argsort(-shapley)) == [0, 1, 2, 3]
    # Relative weights approximate Shapley values: close, not equal.
    assert np.abs(weights - shapley).max() < 0.02
    assert not np.allclose(weights, shapley, atol=1e-6)


def test_uncorrelated_drivers_weights_are_squared_correlations():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5000, 2))
    x = (x - x.mean(0)) / x.std(0)
    q, _ = np.linalg.qr(x)  # exactly orthogonal columns
    y = 2 * q[:, 0] + q[:, 1] + 0.1 * rng.normal(size=5000)
    corr = np.corrcoef(np.column_stack([q, y]), rowvar=False)
    weights, _ = relative_weights(corr[None])
    assert weights[0] == pytest.approx(corr[:2, 2] ** 2, abs=1e-3)


def test_vectorised_bootstrap_equals_explicit_resampling():
    data = _correlated_case(n=300)
    ones = np.ones((1, len(data)))
    assert weighted_correlations(data, ones)[0] == pytest.approx(
        np.corrcoef(data, rowvar=False), abs=1e-10)
    rng = np.random.default_rng(11)
    index = rng.integers(0, len(data), len(data))
    counts = np.bincount(index, minlength=len(data))[None].astype(float)
    assert weighted_correlations(data, counts)[0] == pytest.approx(
        np.corrcoef(data[index], rowvar=False), abs=1e-10)
    first = bootstrap_weights(data, 40, seed=5)
    assert first.shape == (40, 4)
    assert np.array_equal(first, bootstrap_weights(data, 40, seed=5))
    assert not np.array_equal(first, bootstrap_weights(data, 40, seed=6))


@pytest.mark.parametrize(
    ("importance", "performance", "expected"),
    [(0.3, 3.0, "fix_first"), (0.3, 4.5, "keep_up"), (0.01, 3.0, "lower_priority"),
     (0.01, 4.5, "possible_overkill")],
)
def test_quadrants_split_at_the_means(importance, performance, expected):
    assert quadrant(importance, performance, 0.1, 4.0) == expected


def test_listwise_deletion_sparse_and_constant_drivers():
    rng = np.random.default_rng(1)
    n = 200
    a = rng.integers(1, 6, n).astype(float)
    b = rng.integers(1, 6, n).astype(float)
    sparse = np.where(np.arange(n) < 50, 3.0, np.nan)  # answered by a quarter
    constant = np.full(n, 4.0)
    score = np.clip(np.round(2 * a + 0.5 * b - 3 + rng.normal(size=n)), 0, 10)
    b[:20] = np.nan  # twenty skipped b: listwise drops them
    data = np.column_stack([a, b, sparse, constant, score])
    keys = [DriverKey(k, k) for k in ("a", "b", "sparse", "constant")]
    result = analyse(keys, data, total=n, sample_size=1000, resamples=50)
    assert result.n == 180 and result.missing == "listwise"
    assert {e["key"]: e["reason"] for e in result.excluded} == {
        "sparse": "answered_by_fewer_than_half", "constant": "no_variation"}
    weights = {d.key: d for d in result.drivers}
    assert set(weights) == {"a", "b"} and result.drivers[0].key == "a"
    assert weights["a"].weight + weights["b"].weight == pytest.approx(result.r2, abs=1e-5)
    assert weights["a"].ci_low < weights["a"].weight < weights["a"].ci_high
    assert weights["b"].answered == 180
    assert weights["a"].mean == pytest.approx(a.mean(), abs=1e-4)
    assert result.sampled is False


def test_too_few_responses_give_no_weights():
    keys = [DriverKey("a", "a"), DriverKey("b", "b")]
    data = np.array([[1, 2, 5], [2, 1, 6], [3, 3, 8]], dtype=float)
    result = analyse(keys, data, total=3, sample_size=1000)
    assert result.r2 is None and result.too_few is True
    assert [d.weight for d in result.drivers] == [None, None]


def _seed_driver_data(db, org, survey, n: int = 240):
    rng = np.random.default_rng(42)
    rows = []
    for i in range(n):
        price = int(rng.integers(1, 6))
        delivery = int(np.clip(price + rng.integers(-1, 2), 1, 5))
        score = int(np.clip(round(1.6 * price + 0.3 * delivery - 1 + rng.normal()), 0, 10))
        drivers = {"price": price, "delivery": delivery} if i % 10 else {"price": price}
        rows.append((price, delivery if i % 10 else np.nan, score))
        add_response(db, org.org_id, survey["id"], score, drivers=drivers)
    # A response without any driver answer is not part of the analysis.
    add_response(db, org.org_id, survey["id"], 10)
    db.commit()
    return np.array(rows, dtype=float)


def test_api_returns_the_weights_of_the_same_data(client, db, org, survey):
    data = _seed_driver_data(db, org, survey)
    response = client.get("/api/v1/stats/drivers", headers=org.headers,
                          params={"survey_id": survey["id"], "resamples": 100})
    assert response.status_code == 200, response.text
    out = response.json()
    complete = data[~np.isnan(data).any(axis=1)]
    corr = np.corrcoef(complete, rowvar=False)
    expected, r2 = relative_weights(corr[None])
    assert out["method"] == "johnson_relative_weights" and out["missing"] == "listwise"
    assert out["n"] == len(complete) == 216 and out["n_responses"] == 241
    assert out["r2"] == pytest.approx(float(r2[0]), abs=1e-5)
    by_key = {d["key"]: d for d in out["drivers"]}
    assert by_key["price"]["weight"] == pytest.approx(expected[0][0], abs=1e-5)
    assert by_key["delivery"]["weight"] == pytest.approx(expected[0][1], abs=1e-5)
    assert by_key["price"]["mean"] == pytest.approx(data[:, 0].mean(), abs=1e-3)
    assert by_key["delivery"]["answered"] == 216
    for driver in out["drivers"]:
        assert driver["ci_low"] <= driver["weight"] <= driver["ci_high"]
        assert driver["quadrant"] in ("fix_first", "keep_up", "lower_priority",
                                      "possible_overkill")
    assert by_key["price"]["quadrant"] in ("fix_first", "keep_up")
    assert out["sampled"] is False
    capped = client.get("/api/v1/stats/drivers", headers=org.headers,
                        params={"survey_id": survey["id"], "sample_size": 100,
                                "resamples": 0}).json()
    assert capped["sampled"] is True and capped["n_responses"] == 241
    assert 50 < capped["n"] <= 100 and capped["drivers"][0]["ci_low"] is None


def test_api_without_driver_answers_and_bad_parameters(client, org, survey):
    empty = client.get("/api/v1/stats/drivers", headers=org.headers,
                       params={"survey_id": survey["id"]}).json()
    assert empty["r2"] is None and empty["too_few"] is True and empty["n"] == 0
    for params, field in (({"resamples": "-1"}, "resamples"),
                          ({"sample_size": "10"}, "sample_size"), ({"seed": "x"}, "seed")):
        response = client.get("/api/v1/stats/drivers", headers=org.headers, params=params)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", field]
