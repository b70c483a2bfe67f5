"""Key driver analysis: Johnson's relative weights of the driver ratings on the 0-10 score.

Method (Johnson 2000): with Rxx the drivers' correlation matrix and rxy their correlations
with the score, Rxx = V diag(e) V'; L = V diag(sqrt e) V' (the correlations between the
drivers and their closest orthogonal counterparts Z); b = L^-1 rxy (the score regressed on
Z); weight_j = sum_k L_jk^2 b_k^2. The weights sum to R^2 of the linear regression of the
score on all drivers, and approximate the Shapley (dominance) decomposition of R^2 without
its 2^p regressions. Percentile bootstrap intervals come from resampling responses
(seeded, vectorised: every resample's correlation matrix is one weighted sum of products;
a resample is drawn as multinomial counts over the distinct rows, the same distribution as
drawing rows one by one, see bootstrap_weights). The method and the 200 resamples are
unchanged; the draw got cheaper (about 0.2 s less per analysis).

Missing answers: listwise deletion over the analysed drivers. Pairwise correlations would
use more answers, but a matrix of pairwise correlations need not be positive semi-definite
(its square root then does not exist) and each correlation would rest on a different set
of people, which a bootstrap over respondents cannot reproduce. Drivers answered by fewer
than half of the respondents who rated any driver (usually a skip-logic question) are left
out and reported as excluded instead of shrinking the listwise sample to a few people.

Data: ONE SQL query pivots each response's driver answers into columns
(GROUP BY response with MAX(CASE ...)), after a count of the matching responses. Above
`sample_size` matching responses it reads only ids below a bound (ids are random uuids, so
the sample is uniform and the primary key index finds it) and keeps the first `sample_size`
by id; the output says it sampled. Two covering indexes (analytics.models) make that id
range one contiguous index read instead of a random heap page per row. The count of
matching responses comes from the daily rollup when it can answer (analytics.rollup).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from npsloop.analytics import rollup, service
from npsloop.analytics.drivers_cache import AnalysisCache, cacheable, filter_key
from npsloop.analytics.filters import Filters, apply_filters
from npsloop.responses.models import Response, ResponseAnswer
from npsloop.surveys.models import Question, QuestionKind, Survey

METHOD = "johnson_relative_weights"
MISSING_METHOD = "listwise"
DEFAULT_SAMPLE_SIZE = 20_000
DEFAULT_RESAMPLES = 200
DEFAULT_SEED = 20261125
MAX_DRIVERS = 20
MIN_COVERAGE = 0.5
SAMPLE_HEADROOM = 1.25
QUADRANTS = ("fix_first", "keep_up", "lower_priority", "possible_overkill")


class DriverError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# --- Pure numerics ---------------------------------------------------------------------


def relative_weights(corr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Johnson's raw relative weights from correlation matrices with the outcome last.

    corr: (..., p + 1, p + 1). Returns (weights (..., p), r2 (...)). Works on a stack of
    matrices at once (the bootstrap passes all resamples together).
    """
    p = corr.shape[-1] - 1
    rxx = corr[..., :p, :p]
    rxy = corr[..., :p, p]
    eigenvalues, vectors = np.linalg.eigh(rxx)
    roots = np.sqrt(np.clip(eigenvalues, 0.0, None))
    lam = (vectors * roots[..., None, :]) @ np.swapaxes(vectors, -1, -2)
    # pinv: an exactly collinear pair gives a zero eigenvalue; the weights then split
    # the shared part instead of failing.
    beta = (np.linalg.pinv(lam) @ rxy[..., None])[..., 0]
    weights = (lam**2) @ (beta**2)[..., None]
    weights = weights[..., 0]
    return weights, weights.sum(axis=-1)


def weighted_correlations(data: np.ndarray, weights: np.ndarray,
                          products: np.ndarray | None = None) -> np.ndarray:
    """Correlation matrices of `data` (n, q) under each row of case weights (B, n).

    Bootstrap resamples are multinomial case weights, so every resample's moments are
    matrix products with the fixed per-row outer products: no Python loop over resamples.
    `products` (outer_products(data)) may be passed when called repeatedly.
    """
    centred = data - data.mean(axis=0)
    n, q = centred.shape
    if products is None:
        products = outer_products(data)
    total = weights.sum(axis=1)[:, None]
    means = (weights @ centred) / total
    second = ((weights @ products) / total).reshape(-1, q, q)
    cov = second - means[:, :, None] * means[:, None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(np.clip(np.diagonal(cov, axis1=1, axis2=2), 0.0, None))
        return cov / (sd[:, :, None] * sd[:, None, :])


def outer_products(data: np.ndarray) -> np.ndarray:
    """(n, q * q): each centred row's outer product with itself."""
    centred = data - data.mean(axis=0)
    n, q = centred.shape
    return (centred[:, :, None] * centred[:, None, :]).reshape(n, q * q)


def bootstrap_weights(
    data: np.ndarray, resamples: int, seed: int, chunk: int = 50
) -> np.ndarray:
    """(resamples, p) relative weights over bootstrap resamples of the rows of `data`
    (drivers then score). Resamples where a driver is constant yield NaN rows."""
    rng = np.random.default_rng(seed)
    n = data.shape[0]
    # Ratings are a few discrete values, so 20,000 rows hold at most a few hundred
    # distinct (ratings, score) rows, and a resample's moments only need how often it
    # drew each of them. Drawing n rows uniformly with replacement and counting per
    # distinct row is exactly a multinomial(n, share of each distinct row) draw, which
    # costs one binomial per distinct row instead of n uniform indices.
    distinct, frequency = np.unique(data, axis=0, return_counts=True)
    shares = frequency / n
    products = outer_products(distinct)
    out = []
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        counts = rng.multinomial(n, shares, size=size).astype(float)
        corr = weighted_correlations(distinct, counts, products)
        bad = ~np.isfinite(corr).all(axis=(1, 2))
        corr[bad] = np.eye(corr.shape[-1])
        weights, _ = relative_weights(corr)
        weights[bad] = np.nan
        out.append(weights)
    return np.concatenate(out, axis=0)


def quadrant(importance: float, performance: float, mean_importance: float,
             mean_performance: float) -> str:
    """Importance x performance: important and weak first."""
    important = importance >= mean_importance
    strong = performance >= mean_performance
    if important:
        return "keep_up" if strong else "fix_first"
    return "possible_overkill" if strong else "lower_priority"


# --- Data ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DriverKey:
    key: str
    label: str


def driver_keys(session: Session, *, org_id: str, filters: Filters, lang: str) -> list[DriverKey]:
    """The driver questions of the filtered surveys, pooled by key, in question order."""
    query = (
        select(Question.key, Question.texts, Question.position)
        .join(Survey, Survey.id == Question.survey_id)
        .where(Survey.org_id == org_id, Question.kind == QuestionKind.driver_rating.value)
        .order_by(Survey.created_at, Question.position)
    )
    for column, value in ((Survey.id, filters.survey_id), (Survey.nps_type, filters.nps_type),
                          (Survey.touchpoint, filters.touchpoint),
                          (Survey.journey_stage, filters.journey_stage)):
        if value:
            query = query.where(column == value)
    found: dict[str, DriverKey] = {}
    for key, texts, _ in session.execute(query):
        if key not in found:
            text = (texts or {}).get(lang) or next(iter((texts or {}).values()), {})
            found[key] = DriverKey(key, str(text.get("text") or key) if text else key)
    return list(found.values())


def pivot_rows(
    session: Session, *, org_id: str, filters: Filters, keys: list[str], sample_size: int,
    matching: int | None = None,
) -> tuple[np.ndarray, int, bool]:
    """(rows, matching, sampled): per response its score and one column per driver (NaN if
    not answered), from one GROUP BY over the answers; `matching` counts the responses
    that match the filters (with or without driver answers).

    Above `sample_size` matching responses, only responses whose id falls below a bound
    are read: ids are random hex (uuid4), so that is a uniform random sample that the
    primary key index finds without aggregating every response first."""
    if matching is None:
        matching = session.scalar(
            apply_filters(select(func.count()).select_from(Response), org_id, filters)) or 0
    columns = [
        func.max(case((ResponseAnswer.question_key == key, ResponseAnswer.number_value)))
        .label(f"d{index}")
        for index, key in enumerate(keys)
    ]
    query = (
        select(Response.id, Response.score, *columns)
        .select_from(Response)
        .join(ResponseAnswer, ResponseAnswer.response_id == Response.id)
        .where(ResponseAnswer.org_id == org_id, ResponseAnswer.question_key.in_(keys),
               ResponseAnswer.number_value.is_not(None))
    )
    sampled = matching > sample_size
    if sampled:
        # A little more than needed: some responses in the range have no driver answers.
        fraction = min(1.0, SAMPLE_HEADROOM * sample_size / matching)
        if fraction < 1.0:
            bound = format(int(fraction * 16**8), "08x")
            # The same bound on the answers' response_id (equal to Response.id by the
            # join) lets the planner range-scan their (response_id, question_key) index
            # instead of reading every answer of the organisation into a hash join.
            query = query.where(Response.id < bound, ResponseAnswer.response_id < bound)
    query = apply_filters(query, org_id, filters)
    query = query.group_by(Response.id, Response.score).order_by(Response.id).limit(sample_size)
    # (score, d0 .. dk) as floats in one conversion (None, an unanswered driver, becomes
    # NaN); then the score goes last. Converting value by value cost ~0.4 s per 20,000.
    values = np.array([tuple(row)[1:] for row in session.execute(query)], dtype=float)
    values = values.reshape(len(values), len(keys) + 1)
    data = values[:, [*range(1, len(keys) + 1), 0]]
    return data, int(matching), sampled


# --- Analysis --------------------------------------------------------------------------


@dataclass(frozen=True)
class DriverWeight:
    key: str
    label: str
    weight: float | None
    share: float | None  # weight / R^2
    ci_low: float | None
    ci_high: float | None
    mean: float | None  # mean rating over everyone who answered it (performance)
    answered: int
    quadrant: str | None


@dataclass(frozen=True)
class DriverAnalysis:
    drivers: list[DriverWeight]
    excluded: list[dict[str, Any]]
    r2: float | None
    n: int  # responses in the analysis (after listwise deletion)
    n_responses: int  # responses matching the filters (with or without driver answers)
    sampled: bool
    sample_size: int
    resamples: int
    seed: int
    too_few: bool
    mean_importance: float | None
    mean_performance: float | None
    method: str = METHOD
    missing: str = MISSING_METHOD
    notes: list[str] = field(default_factory=list)


def analyse(
    keys: list[DriverKey], data: np.ndarray, *, total: int, sample_size: int, min_n: int = 30,
    resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED, sampled: bool = False,
) -> DriverAnalysis:
    """Relative weights, bootstrap intervals and quadrants from the pivoted rows."""
    p_all = len(keys)
    ratings = data[:, :p_all]
    answered = (~np.isnan(ratings)).sum(axis=0) if len(data) else np.zeros(p_all, dtype=int)
    means = [float(np.nanmean(ratings[:, j])) if answered[j] else None for j in range(p_all)]
    excluded: list[dict[str, Any]] = []
    kept: list[int] = []
    for j, driver in enumerate(keys):
        if answered[j] < MIN_COVERAGE * max(len(data), 1):
            excluded.append({"key": driver.key, "reason": "answered_by_fewer_than_half",
                             "answered": int(answered[j])})
            continue
        kept.append(j)
    complete = data[~np.isnan(data[:, kept]).any(axis=1)] if kept else data[:0]
    for j in list(kept):
        if len(complete) and np.ptp(complete[:, j]) == 0:
            excluded.append({"key": keys[j].key, "reason": "no_variation",
                             "answered": int(answered[j])})
            kept.remove(j)
    matrix = complete[:, [*kept, p_all]] if kept else complete[:, [p_all]]
    n = len(matrix)
    common = dict(excluded=excluded, n=n, n_responses=total, sampled=sampled,
                  sample_size=sample_size, resamples=resamples, seed=seed)
    computable = bool(kept) and n >= len(kept) + 2 and np.ptp(matrix[:, -1]) > 0
    if not computable:
        drivers = [DriverWeight(keys[j].key, keys[j].label, None, None, None, None, means[j],
                                int(answered[j]), None) for j in range(p_all)
                   if j in kept]
        return DriverAnalysis(drivers=drivers, r2=None, too_few=True, mean_importance=None,
                              mean_performance=None, **common)
    corr = np.corrcoef(matrix, rowvar=False)[None]
    weights, r2 = relative_weights(corr)
    weights, r2_value = weights[0], float(r2[0])
    boot = bootstrap_weights(matrix, resamples, seed) if resamples > 0 else None
    mean_importance = float(weights.mean())
    perf = [means[j] for j in kept]
    mean_performance = float(np.mean([m for m in perf if m is not None]))
    drivers = []
    for position, j in enumerate(kept):
        low = high = None
        if boot is not None and np.isfinite(boot[:, position]).sum() >= 10:
            low, high = (float(v) for v in np.nanpercentile(boot[:, position], [2.5, 97.5]))
        weight = float(weights[position])
        drivers.append(DriverWeight(
            key=keys[j].key, label=keys[j].label, weight=round(weight, 6),
            share=round(weight / r2_value, 6) if r2_value > 0 else None,
            ci_low=None if low is None else round(low, 6),
            ci_high=None if high is None else round(high, 6),
            mean=None if means[j] is None else round(means[j], 4),
            answered=int(answered[j]),
            quadrant=quadrant(weight, means[j] or 0.0, mean_importance, mean_performance),
        ))
    drivers.sort(key=lambda d: -(d.weight or 0.0))
    return DriverAnalysis(
        drivers=drivers, r2=round(r2_value, 6), too_few=n < max(min_n, 10 * len(kept)),
        mean_importance=round(mean_importance, 6),
        mean_performance=round(mean_performance, 4), **common,
    )


def matching_count(session: Session, *, org_id: str, filters: Filters) -> int:
    """How many responses match: from the daily rollup when it can answer (a scan of
    every response otherwise, about 1.4 s at ten million)."""
    return service.nps(session, org_id=org_id, filters=filters, min_n=1).n


# Shared by the API, the insights page and the dashboard widgets of this process.
CACHE = AnalysisCache()


def key_drivers(
    session: Session, *, org_id: str, filters: Filters, lang: str = "en", min_n: int = 30,
    sample_size: int = DEFAULT_SAMPLE_SIZE, resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED, cache: AnalysisCache | None = CACHE,
) -> DriverAnalysis:
    """The analysis for the filtered responses; served from `cache` (see drivers_cache)
    when the organisation's data version has not moved since it was computed."""
    keys = driver_keys(session, org_id=org_id, filters=filters, lang=lang)
    if len(keys) > MAX_DRIVERS:
        raise DriverError("survey_id", f"{len(keys)} drivers found; at most {MAX_DRIVERS} "
                          "can be analysed together, so choose a survey")
    if not keys:
        return analyse([], np.empty((0, 1)), total=0, sample_size=sample_size, min_n=min_n,
                       resamples=resamples, seed=seed)
    use_cache = cache is not None and cacheable(filters)
    # Read before the data, so an entry is never labelled newer than what it was made of.
    current = rollup.data_version(session, org_id) if use_cache else None
    cache_key = (org_id, filter_key(filters), lang, min_n, sample_size, resamples, seed,
                 tuple(keys))
    if cache is not None and current is not None:
        found = cache.get(cache_key, current)
        if found is not None:
            # A copy: callers may not mutate the shared entry's lists.
            return copy.deepcopy(found)
    data, total, sampled = pivot_rows(
        session, org_id=org_id, filters=filters, keys=[k.key for k in keys],
        sample_size=sample_size, matching=matching_count(session, org_id=org_id, filters=filters))
    result = analyse(keys, data, total=total, sample_size=sample_size, min_n=min_n,
                     resamples=resamples, seed=seed, sampled=sampled)
    if cache is not None and current is not None:
        cache.put(cache_key, current, copy.deepcopy(result))
    return result
