"""A burst of clients larger than the connection pool is served, not stalled: requests wait
on the event loop for a slot instead of taking a thread and then waiting for a connection
held by a request that waits for a thread (which only the pool timeout used to break)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from npsloop.accounts.service import create_organization
from npsloop.app import create_app
from npsloop.core import admission
from npsloop.core.config import Settings
from npsloop.core.db import make_engine, make_session_factory
from npsloop.responses.models import Response

BURST = 64  # more than the 40 threads of the pool that runs sync routes


def test_pool_capacity_is_size_plus_overflow_minus_the_workers_reserve() -> None:
    engine = make_engine("sqlite://")  # an in-memory pool has no bound: no admission limit
    assert admission.pool_capacity(engine) is None
    bounded = make_engine("sqlite:///unused.db", pool_size=4, max_overflow=6)
    assert admission.pool_capacity(bounded) == 4 + 6 - admission.RESERVED_FOR_WORKERS
    bounded.dispose()


def test_a_burst_beyond_the_pool_is_served_without_errors(backend) -> None:
    # A tiny pool that times out fast: without admission control the burst deadlocks the
    # thread pool until this timeout and most requests fail with a 500.
    engine = make_engine(backend.url, pool_size=2, max_overflow=3, pool_timeout=3)
    factory = make_session_factory(engine)
    suffix = uuid.uuid4().hex[:8]
    with factory() as session:
        org, _, key = create_organization(session, name=f"Burst {suffix}",
                                          admin_email=f"burst-{suffix}@example.test",
                                          admin_password="password-123")
        session.commit()
        org_id = org.id
    settings = Settings(database_url=backend.url, env="test", inprocess_worker=False)
    headers = {"Authorization": f"Bearer {key}"}
    try:
        with TestClient(create_app(settings, factory, start_worker=False)) as client:
            survey = client.post("/api/v1/surveys", headers=headers,
                                 json={"name": "Burst", "status": "live"}).json()["id"]

            def post(index: int) -> int:
                return client.post(f"/api/v1/surveys/{survey}/responses", headers=headers,
                                   json={"score": index % 11,
                                         "idempotency_key": f"burst-{index}"}).status_code

            with ThreadPoolExecutor(BURST) as pool:
                statuses = list(pool.map(post, range(BURST)))
        assert statuses == [201] * BURST
        with factory() as session:
            stored = session.scalar(select(func.count()).select_from(Response)
                                    .where(Response.org_id == org_id))
        assert stored == BURST
    finally:
        engine.dispose()
