"""Churn-risk and repurchase-propensity models: fitted, validated on later data, stored.

`validate_and_fit` is pure (arrays in, numbers out): rows sorted by answer time, the
earliest 75% train an L2-regularised logistic regression on standardised features and the
latest 25% (answers after `split_at`) measure it (ROC AUC, Brier score, calibration by
decile), so the reported AUC is what the model did on answers it had not seen, later in
time, as it will be used. The stored coefficients are then refitted on all rows.
`fit_org` does this for both outcomes of one organisation and re-scores its contacts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, desc, insert, select
from sqlalchemy.orm import Session

from npsloop.core.db import utcnow
from npsloop.outcomes import features
from npsloop.outcomes.models import ContactScore, Outcome, PropensityModel
from npsloop.outcomes.service import OutcomeError, event_name_of, get_settings

TRAIN_SHARE = 0.75
REGULARISATION_C = 0.5  # inverse L2 strength on standardised features
MIN_ROWS = 200
MIN_CLASS = 20
CALIBRATION_BINS = 10


@dataclass
class Validation:
    features: list[str]
    coefficients: list[float]
    intercept: float
    means: list[float]
    scales: list[float]
    n_train: int
    n_holdout: int
    base_rate: float
    auc: float
    brier: float
    split_at: datetime | None
    calibration: list[dict[str, Any]] = field(default_factory=list)


def _prepare(values: list[list[float | None]]) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in values], dtype=float)


def _standardise(matrix: np.ndarray, means: np.ndarray, scales: np.ndarray) -> np.ndarray:
    filled = np.where(np.isnan(matrix), means, matrix)
    return (filled - means) / scales


def _moments(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(all="ignore"):
        means = np.nanmean(matrix, axis=0)
    means = np.where(np.isnan(means), 0.0, means)
    filled = np.where(np.isnan(matrix), means, matrix)
    scales = filled.std(axis=0)
    return means, np.where(scales > 1e-9, scales, 1.0)


def _logistic(matrix: np.ndarray, labels: np.ndarray) -> Any:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=REGULARISATION_C, max_iter=2000)
    model.fit(matrix, labels)
    return model


def calibration_table(probabilities: np.ndarray, labels: np.ndarray) -> list[dict[str, Any]]:
    """Mean predicted vs observed rate in each decile of predicted risk."""
    order = np.argsort(probabilities, kind="stable")
    table = []
    for chunk in np.array_split(order, min(CALIBRATION_BINS, len(order))):
        if len(chunk):
            table.append({"predicted": round(float(probabilities[chunk].mean()), 4),
                          "observed": round(float(labels[chunk].mean()), 4),
                          "n": int(len(chunk))})
    return table


def validate_and_fit(names: list[str], values: list[list[float | None]], labels: list[int],
                     times: list[datetime] | None = None) -> Validation:
    """Time-split validation, then a refit on everything. Rows must be in time order."""
    from sklearn.metrics import brier_score_loss, roc_auc_score

    matrix, target = _prepare(values), np.array(labels, dtype=int)
    n = len(target)
    if n < MIN_ROWS:
        raise OutcomeError("model", f"needs at least {MIN_ROWS} answers with a known outcome "
                                    f"(has {n})", 409)
    cut = int(n * TRAIN_SHARE)
    train, test = slice(0, cut), slice(cut, n)
    for part, name in ((target[train], "training"), (target[test], "holdout")):
        positives = int(part.sum())
        if min(positives, len(part) - positives) < MIN_CLASS:
            raise OutcomeError("model", f"the {name} period needs at least {MIN_CLASS} "
                                        f"contacts with and without the outcome", 409)
    means, scales = _moments(matrix[train])
    model = _logistic(_standardise(matrix[train], means, scales), target[train])
    predicted = model.predict_proba(_standardise(matrix[test], means, scales))[:, 1]
    auc = float(roc_auc_score(target[test], predicted))
    brier = float(brier_score_loss(target[test], predicted))
    calibration = calibration_table(predicted, target[test])
    means, scales = _moments(matrix)
    final = _logistic(_standardise(matrix, means, scales), target)
    return Validation(
        features=list(names), coefficients=[float(c) for c in final.coef_[0]],
        intercept=float(final.intercept_[0]), means=[float(m) for m in means],
        scales=[float(s) for s in scales], n_train=cut, n_holdout=n - cut,
        base_rate=float(target.mean()), auc=auc, brier=brier,
        split_at=times[cut] if times else None, calibration=calibration)


def predict(model: PropensityModel, values: list[list[float | None]]) -> np.ndarray:
    if not values:
        return np.zeros(0)
    matrix = _standardise(_prepare(values), np.array(model.means), np.array(model.scales))
    logits = matrix @ np.array(model.coefficients) + model.intercept
    return 1.0 / (1.0 + np.exp(-logits))


def latest_model(session: Session, org_id: str, outcome: Outcome) -> PropensityModel | None:
    return session.scalar(select(PropensityModel).where(
        PropensityModel.org_id == org_id, PropensityModel.outcome == outcome.value)
        .order_by(desc(PropensityModel.fitted_at), desc(PropensityModel.id)).limit(1))


def fit_org(session: Session, org_id: str, *, actor: str = "", window_days: int | None = None,
            now: datetime | None = None) -> dict[str, Any]:
    """Fits both models for the organisation, stores them and re-scores its contacts
    (flushes; the caller commits). OutcomeError(409) when there is too little data."""
    settings = get_settings(session, org_id)
    window = window_days or settings.window_days
    now = now or utcnow()
    spec = features.choose_spec(session, org_id)
    rows = features.load(session, org_id, settings, spec, training=True, window_days=window,
                         now=now)
    fitted: dict[str, PropensityModel] = {}
    for outcome in Outcome:
        result = validate_and_fit(rows.names, rows.values, rows.labels[outcome.value],
                                  rows.times)
        row = PropensityModel(
            org_id=org_id, outcome=outcome.value, window_days=window,
            event_name=event_name_of(settings, outcome), features=result.features,
            coefficients=result.coefficients, means=result.means, scales=result.scales,
            intercept=result.intercept, n_train=result.n_train, n_holdout=result.n_holdout,
            base_rate=result.base_rate, holdout_auc=result.auc, holdout_brier=result.brier,
            calibration=result.calibration, split_at=result.split_at, fitted_by=actor,
            fitted_at=now)
        session.add(row)
        fitted[outcome.value] = row
    session.flush()
    scored = score_contacts(session, org_id, fitted[Outcome.churn.value],
                            fitted[Outcome.repurchase.value], spec, now=now)
    return {"models": {k: model_card(v) for k, v in fitted.items()}, "contacts_scored": scored}


def score_contacts(session: Session, org_id: str, churn: PropensityModel,
                   repurchase: PropensityModel, spec: features.FeatureSpec, *,
                   now: datetime) -> int:
    """Replaces the organisation's contact scores (latest answer, behaviour up to now)."""
    settings = get_settings(session, org_id)
    rows = features.load(session, org_id, settings, spec, training=False,
                         window_days=churn.window_days, now=now)
    risk, propensity = predict(churn, rows.values), predict(repurchase, rows.values)
    session.execute(delete(ContactScore).where(ContactScore.org_id == org_id))
    data = [{"contact_id": contact_id, "org_id": org_id, "response_id": response_id,
             "score": score, "category": category, "churn_risk": round(float(r), 5),
             "repurchase_propensity": round(float(p), 5), "scored_at": now}
            for contact_id, response_id, score, category, r, p in zip(
                rows.contact_ids, rows.response_ids, rows.scores, rows.categories, risk,
                propensity, strict=True)]
    for start in range(0, len(data), 2000):
        session.execute(insert(ContactScore.__table__), data[start:start + 2000])
    return len(data)


def model_card(model: PropensityModel, top: int = 8) -> dict[str, Any]:
    ranked = sorted(zip(model.features, model.coefficients, strict=True),
                    key=lambda item: -abs(item[1]))
    return {
        "id": model.id, "outcome": model.outcome, "event": model.event_name,
        "window_days": model.window_days, "fitted_at": model.fitted_at.isoformat(),
        "fitted_by": model.fitted_by, "n_train": model.n_train, "n_holdout": model.n_holdout,
        "base_rate": model.base_rate, "holdout_auc": model.holdout_auc,
        "holdout_brier": model.holdout_brier, "calibration": model.calibration,
        "split_at": model.split_at.isoformat() if model.split_at else None,
        "top_coefficients": [{"feature": name, "coefficient": round(coef, 4)}
                             for name, coef in ranked[:top]],
    }
