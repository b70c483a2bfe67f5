"""The key driver cache: a hit returns the same analysis, any write that changes the
matching responses (ingest, completing a partial response, erasure, deletion) is seen at
once, one tenant's entry never answers another, and the map stays bounded."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import delete

from npsloop.analytics import drivers as kda
from npsloop.analytics.drivers_cache import AnalysisCache
from npsloop.analytics.filters import Filters
from npsloop.responses.models import Response
from tests.analytics.helpers import add_response


def _seed(db, org_id: str, survey_id: str, n: int = 80, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(n):
        price, delivery = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        score = int(np.clip(round(1.5 * price + 0.5 * delivery - 1 + rng.normal()), 0, 10))
        add_response(db, org_id, survey_id, score,
                     drivers={"price": price, "delivery": delivery})
    db.commit()


def _run(db, org_id: str, cache: AnalysisCache, **filters: str):
    return kda.key_drivers(db, org_id=org_id, filters=Filters(**filters), resamples=30,
                           cache=cache)


def _ingest(client, org, survey_id: str, **body) -> dict:
    response = client.post(f"/api/v1/surveys/{survey_id}/responses", headers=org.headers,
                           json={"score": 9, "drivers": {"price": 5, "delivery": 4}, **body})
    assert response.status_code in (200, 201), response.text
    return response.json()


def test_hit_returns_the_same_analysis_and_ingest_invalidates(client, db, org, survey):
    _seed(db, org.org_id, survey["id"])
    cache = AnalysisCache()
    first = _run(db, org.org_id, cache, survey_id=survey["id"])
    again = _run(db, org.org_id, cache, survey_id=survey["id"])
    assert (cache.misses, cache.hits) == (1, 1)
    assert again == first and again is not first  # equal, and a copy of the entry
    assert again == kda.key_drivers(db, org_id=org.org_id, resamples=30, cache=None,
                                    filters=Filters(survey_id=survey["id"]))
    _ingest(client, org, survey["id"])
    db.expire_all()
    fresh = _run(db, org.org_id, cache, survey_id=survey["id"])
    assert cache.misses == 2
    assert fresh.n_responses == first.n_responses + 1 and fresh.n == first.n + 1
    # Deleting a response is seen too.
    db.execute(delete(Response).where(Response.id == db.query(Response.id).filter(
        Response.org_id == org.org_id).limit(1).scalar_subquery()))
    db.commit()
    assert _run(db, org.org_id, cache, survey_id=survey["id"]).n_responses \
        == first.n_responses
    assert cache.misses == 3


def test_partial_response_completed_or_extended_invalidates(client, db, org, survey):
    _seed(db, org.org_id, survey["id"])
    _ingest(client, org, survey["id"], score=2, drivers={}, status="partial",
            idempotency_key="visit-1")
    cache = AnalysisCache()
    before = _run(db, org.org_id, cache, survey_id=survey["id"])
    # Same score, still partial, but a driver answer more: only the answer table changes.
    _ingest(client, org, survey["id"], score=2, drivers={"price": 1}, status="partial",
            idempotency_key="visit-1")
    db.expire_all()
    extended = _run(db, org.org_id, cache, survey_id=survey["id"])
    assert cache.misses == 2 and cache.hits == 0
    assert extended.drivers[0].answered + extended.drivers[1].answered \
        == sum(d.answered for d in before.drivers) + 1
    _ingest(client, org, survey["id"], score=2, drivers={"price": 1, "delivery": 1},
            idempotency_key="visit-1")
    db.expire_all()
    completed = _run(db, org.org_id, cache, survey_id=survey["id"])
    assert cache.misses == 3 and completed.n == before.n + 1


def test_erasure_invalidates_and_contact_filters_are_never_cached(client, db, org, survey):
    _seed(db, org.org_id, survey["id"])
    _ingest(client, org, survey["id"], contact={"external_id": "cust-9"})
    db.expire_all()
    cache = AnalysisCache()
    _run(db, org.org_id, cache, survey_id=survey["id"])
    _run(db, org.org_id, cache, survey_id=survey["id"])
    assert (cache.misses, cache.hits) == (1, 1)
    erased = client.post("/api/v1/contacts/cust-9/erase", headers=org.headers)
    assert erased.status_code == 200, erased.text
    db.expire_all()
    after = _run(db, org.org_id, cache, survey_id=survey["id"])
    assert (cache.misses, cache.hits) == (2, 1)
    # Erasure keeps scores and ratings: the recomputed weights are the same numbers.
    assert after.n_responses == 81
    # A tag or lifecycle filter reads contacts, which the data version does not cover.
    for extra in ({"tags": ["vip"]}, {"lifecycle_stage": "retention"}):
        kda.key_drivers(db, org_id=org.org_id, resamples=30, cache=cache,
                        filters=Filters(survey_id=survey["id"], **extra))
    assert len(cache) == 1 and (cache.misses, cache.hits) == (2, 1)


def test_one_tenant_never_answers_another(client, db, make_org):
    tenants = []
    for name, seed in (("A", 1), ("B", 2)):
        ctx = make_org(name)
        created = client.post("/api/v1/surveys", headers=ctx.headers, json={
            "name": "Same survey", "status": "live", "drivers": ["price", "delivery"]})
        assert created.status_code == 201, created.text
        _seed(db, ctx.org_id, created.json()["id"], n=60 + 20 * seed, seed=seed)
        tenants.append(ctx)
    cache = AnalysisCache()
    a = _run(db, tenants[0].org_id, cache)
    b = _run(db, tenants[1].org_id, cache)  # identical filters (none) and driver keys
    assert cache.hits == 0 and cache.misses == 2 and len(cache) == 2
    assert (a.n_responses, b.n_responses) == (80, 100)
    assert b == kda.key_drivers(db, org_id=tenants[1].org_id, filters=Filters(),
                                resamples=30, cache=None)
    assert _run(db, tenants[0].org_id, cache) == a and cache.hits == 1


def test_api_serves_repeats_from_the_process_cache(client, db, org, survey):
    _seed(db, org.org_id, survey["id"])
    params = {"survey_id": survey["id"], "resamples": 20}
    hits = kda.CACHE.hits
    first = client.get("/api/v1/stats/drivers", headers=org.headers, params=params)
    second = client.get("/api/v1/stats/drivers", headers=org.headers, params=params)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() and kda.CACHE.hits == hits + 1
    _ingest(client, org, survey["id"])
    third = client.get("/api/v1/stats/drivers", headers=org.headers, params=params).json()
    assert third["n_responses"] == first.json()["n_responses"] + 1


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_lru_bound_and_ttl(backend):
    now = [0.0]
    cache = AnalysisCache(max_entries=2, ttl_seconds=60, clock=lambda: now[0])
    version = 1
    cache.put("a", version, 1)
    cache.put("b", version, 2)
    assert cache.get("a", version) == 1  # "a" is now the most recent
    cache.put("c", version, 3)
    assert cache.get("b", version) is None and len(cache) == 2
    assert cache.get("a", 2) is None  # data changed
    now[0] = 61.0
    assert cache.get("c", version) is None and len(cache) == 0
