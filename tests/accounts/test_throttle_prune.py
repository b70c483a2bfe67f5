"""Pruning the shared rate-limit buckets: idle ones go, live ones (and their counts) stay,
and the job that does it hourly is declared."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from npsloop.accounts import jobs, throttle
from npsloop.core.config import Settings
from npsloop.core.db import utcnow
from npsloop.core.jobs import domain_jobs
from npsloop.notify.models import RateBucket

LIMITS = [throttle.RateLimit(2, 60.0)]


def _keys(db) -> set[str]:
    return set(db.scalars(select(RateBucket.key).where(RateBucket.key.like("prune-test:%"))))


def test_idle_buckets_are_pruned_and_live_ones_keep_their_count(db):
    throttle.hit(db, "prune-test", "old-address", LIMITS)
    throttle.hit(db, "prune-test", "live-address", LIMITS)
    throttle.hit(db, "prune-test", "live-address", LIMITS)
    old = throttle.bucket_key("prune-test", "old-address")
    db.execute(update(RateBucket).where(RateBucket.key == old)
               .values(updated_at=utcnow() - timedelta(days=2)))
    db.commit()
    assert throttle.prune(db, idle_seconds=jobs.DAY) == 1
    db.commit()
    assert _keys(db) == {throttle.bucket_key("prune-test", "live-address")}
    # The live bucket still holds its two calls: the third is refused.
    assert throttle.hit(db, "prune-test", "live-address", LIMITS) is not None
    # A pruned address starts afresh, as its expired calls allowed anyway.
    assert throttle.hit(db, "prune-test", "old-address", LIMITS) is None


def test_the_job_runs_hourly_and_waits_longer_than_every_window(db_factory):
    assert "rate-bucket-prune" in {job.name for job in domain_jobs()}
    assert jobs.PRUNE_EVERY == 3600.0
    assert jobs.idle_horizon(Settings(login_lockout_minutes=15)) == jobs.DAY
    assert jobs.idle_horizon(Settings(login_lockout_minutes=3 * 24 * 60)) == 3 * jobs.DAY
    with db_factory() as session:
        throttle.hit(session, "prune-test", "stale", LIMITS)
        session.execute(update(RateBucket).values(updated_at=utcnow() - timedelta(days=3)))
        session.commit()
    jobs.prune_rate_buckets(db_factory)
    with db_factory() as session:
        assert _keys(session) == set()
