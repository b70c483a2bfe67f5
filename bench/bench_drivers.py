"""Benchmark: key driver analysis at 1M (or 10M) responses on PostgreSQL, first and
repeated request, against the previous implementation run in the same process.

Baseline ("previous"): the implementation before the cache, reproduced here: a count,
then the sample pivot with the id bound on `responses` only (every answer of the
organisation goes into a hash join), then the bootstrap drawing multinomial case weights.
Both sides compute the same statistics (weights equal; intervals from the same resample
count, different random draws of the same resampling distribution).

  first request:    the new path with an empty cache (data version, pivot, analysis)
  repeated request: the new path with the entry cached (data version + lookup)
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from bench.bench_dashboard import generate_bulk
from bench.common import Result, create_database, drop_database
from npsloop.analytics import drivers as kda
from npsloop.analytics.drivers_cache import AnalysisCache
from npsloop.analytics.filters import Filters, apply_filters
from npsloop.core.db import make_engine
from npsloop.core.migrate import upgrade
from npsloop.responses.models import Response, ResponseAnswer


def _previous_pivot(session: Session, org_id: str, keys: list[str], sample_size: int
                    ) -> tuple[np.ndarray, int, bool]:
    filters = Filters()
    matching = session.scalar(
        apply_filters(select(func.count()).select_from(Response), org_id, filters)) or 0
    columns = [func.max(case((ResponseAnswer.question_key == key,
                              ResponseAnswer.number_value))) for key in keys]
    query = (select(Response.id, Response.score, *columns).select_from(Response)
             .join(ResponseAnswer, ResponseAnswer.response_id == Response.id)
             .where(ResponseAnswer.org_id == org_id, ResponseAnswer.question_key.in_(keys),
                    ResponseAnswer.number_value.is_not(None)))
    sampled = matching > sample_size
    if sampled:
        fraction = min(1.0, kda.SAMPLE_HEADROOM * sample_size / matching)
        query = query.where(Response.id < format(int(fraction * 16**8), "08x"))
    query = apply_filters(query, org_id, filters)
    rows = session.execute(query.group_by(Response.id, Response.score)
                           .order_by(Response.id).limit(sample_size)).all()
    data = np.array([[np.nan if v is None else float(v) for v in row[2:]] + [float(row[1])]
                     for row in rows], dtype=float).reshape(len(rows), len(keys) + 1)
    return data, int(matching), sampled


def _previous_bootstrap(data: np.ndarray, resamples: int, seed: int, chunk: int = 50
                        ) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = data.shape[0]
    out = []
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(float)
        corr = kda.weighted_correlations(data, counts)
        bad = ~np.isfinite(corr).all(axis=(1, 2))
        corr[bad] = np.eye(corr.shape[-1])
        weights, _ = kda.relative_weights(corr)
        weights[bad] = np.nan
        out.append(weights)
    return np.concatenate(out, axis=0)


def previous_key_drivers(session: Session, org_id: str) -> kda.DriverAnalysis:
    keys = kda.driver_keys(session, org_id=org_id, filters=Filters(), lang="en")
    data, total, sampled = _previous_pivot(session, org_id, [k.key for k in keys],
                                           kda.DEFAULT_SAMPLE_SIZE)
    current = kda.bootstrap_weights
    kda.bootstrap_weights = _previous_bootstrap  # type: ignore[assignment]
    try:
        return kda.analyse(keys, data, total=total, sample_size=kda.DEFAULT_SAMPLE_SIZE,
                           sampled=sampled)
    finally:
        kda.bootstrap_weights = current


def _median_ms(function: Callable[[], Any], repeat: int,
               before: Callable[[], Any] = lambda: None) -> float:
    times = []
    for _ in range(repeat):
        before()
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(session: Session, org_id: str, rows: int, repeat: int, target_ms: float
            ) -> list[Result]:
    cache = AnalysisCache()
    new = kda.key_drivers(session, org_id=org_id, filters=Filters(), cache=cache)
    old = previous_key_drivers(session, org_id)
    # Same statistics: identical point weights on the same sample.
    assert [(d.key, d.weight) for d in new.drivers] == [(d.key, d.weight) for d in old.drivers]
    baseline = _median_ms(lambda: previous_key_drivers(session, org_id), repeat)
    first = _median_ms(lambda: kda.key_drivers(session, org_id=org_id, filters=Filters(),
                                               cache=cache), repeat, before=cache.clear)
    kda.key_drivers(session, org_id=org_id, filters=Filters(), cache=cache)
    repeated = _median_ms(lambda: kda.key_drivers(session, org_id=org_id, filters=Filters(),
                                                  cache=cache), repeat)
    size = f"{rows / 1e6:g}M"
    results = [
        Result("drivers", f"key drivers first request, {size} responses, postgresql", first,
               "ms", baseline, "previous implementation", f"< {target_ms:g} ms",
               first < target_ms),
        Result("drivers", f"key drivers repeated request, {size} responses, postgresql",
               repeated, "ms", baseline, "previous implementation", f"< {target_ms:g} ms",
               repeated < target_ms, "served from the cache after a data-version read"),
    ]
    for result in results:
        print(result.line())
    return results


def run_postgresql(rows: int, repeat: int, target_ms: float) -> list[Result]:
    name, url = create_database()
    engine = make_engine(url)
    try:
        upgrade(url, engine)
        with Session(engine) as session:
            start = time.perf_counter()
            org_id = generate_bulk(session, rows)
            print(f"generated {rows:,} responses on PostgreSQL in "
                  f"{time.perf_counter() - start:.0f} s")
            return measure(session, org_id, rows, repeat, target_ms)
    finally:
        engine.dispose()
        drop_database(name)


def run(full: bool, repeat: int = 5) -> list[Result]:
    results = run_postgresql(1_000_000, repeat, 300)
    if full:
        results += run_postgresql(10_000_000, max(1, repeat - 2), 1000)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="also 10M responses")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    run(args.full, args.repeat)


if __name__ == "__main__":
    main()
