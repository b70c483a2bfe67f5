"""The propensity model's validation: a known signal is found on later data (AUC well above
0.5), shuffled labels are not (AUC near 0.5), and stored coefficients reproduce the fit."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from npsloop.outcomes import model
from npsloop.outcomes.models import PropensityModel
from npsloop.outcomes.service import OutcomeError

NAMES = ["score", "orders_90d", "noise", "driver:delivery"]


def synthetic(n: int, seed: int = 7) -> tuple[list[list[float | None]], list[int],
                                               list[datetime]]:
    """Churn depends on a low score and few recent orders; `noise` carries nothing; a
    driver rating is sometimes missing."""
    rng = random.Random(seed)
    values, labels, times = [], [], []
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(n):
        score = rng.randint(0, 10)
        orders = rng.randint(0, 8)
        delivery = None if rng.random() < 0.1 else float(rng.randint(1, 5))
        logit = 1.2 - 0.45 * score - 0.35 * orders
        labels.append(int(rng.random() < 1 / (1 + math.exp(-logit))))
        values.append([float(score), float(orders), rng.gauss(0, 1), delivery])
        times.append(start + timedelta(hours=i))
    return values, labels, times


def test_known_signal_gives_high_holdout_auc() -> None:
    values, labels, times = synthetic(2000)
    result = model.validate_and_fit(NAMES, values, labels, times)
    assert result.auc > 0.8
    assert result.n_train == 1500 and result.n_holdout == 500
    assert result.split_at == times[1500]
    coefs = dict(zip(result.features, result.coefficients, strict=True))
    assert coefs["score"] < -0.5 and coefs["orders_90d"] < -0.3
    assert abs(coefs["noise"]) < 0.15
    # Calibration: deciles cover the holdout and observed risk rises with predicted risk.
    assert sum(b["n"] for b in result.calibration) == 500
    assert result.calibration[-1]["observed"] > result.calibration[0]["observed"]
    assert 0 < result.brier < 0.25


def test_shuffled_labels_give_auc_near_half() -> None:
    values, labels, times = synthetic(2000)
    shuffled = labels[:]
    random.Random(11).shuffle(shuffled)
    result = model.validate_and_fit(NAMES, values, shuffled, times)
    assert abs(result.auc - 0.5) < 0.08


def test_stored_coefficients_reproduce_the_fit() -> None:
    values, labels, times = synthetic(800, seed=3)
    result = model.validate_and_fit(NAMES, values, labels, times)
    stored = PropensityModel(features=result.features, coefficients=result.coefficients,
                             means=result.means, scales=result.scales,
                             intercept=result.intercept)
    predicted = model.predict(stored, values)
    from sklearn.linear_model import LogisticRegression

    matrix = np.array([[np.nan if v is None else v for v in row] for row in values])
    filled = np.where(np.isnan(matrix), result.means, matrix)
    reference = LogisticRegression(C=model.REGULARISATION_C, max_iter=2000).fit(
        (filled - result.means) / result.scales, labels)
    expected = reference.predict_proba((filled - result.means) / result.scales)[:, 1]
    assert np.allclose(predicted, expected, atol=1e-6)


def test_too_little_data_is_refused() -> None:
    values, labels, times = synthetic(150)
    with pytest.raises(OutcomeError) as raised:
        model.validate_and_fit(NAMES, values, labels, times)
    assert raised.value.status_code == 409
    values, _, times = synthetic(400)
    with pytest.raises(OutcomeError, match="holdout"):
        model.validate_and_fit(NAMES, values, [0, 1] * 150 + [0] * 100, times)
