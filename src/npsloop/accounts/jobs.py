"""Background jobs of the accounts domain (run by `npsloop worker` and in-process serve)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from npsloop.accounts import throttle
from npsloop.core.config import Settings, get_settings
from npsloop.core.jobs import PeriodicJob

# Every address, account, survey link and widget key that was ever limited leaves a row in
# notify_rate_buckets; without pruning the table only grows. A day is longer than every
# window in use (a minute, an hour for survey ballots, the robots' minute) unless the login
# lockout is configured longer, which then sets the horizon.
DAY = 24 * 3600.0
PRUNE_EVERY = 3600.0


def idle_horizon(settings: Settings) -> float:
    """Seconds a bucket must be idle before pruning: at least the longest window in use."""
    return max(DAY, settings.login_lockout_minutes * 60.0)


def prune_rate_buckets(factory: sessionmaker[Session]) -> None:
    with factory() as session:
        throttle.prune(session, idle_seconds=idle_horizon(get_settings()))
        session.commit()


JOBS = [PeriodicJob("rate-bucket-prune", PRUNE_EVERY, prune_rate_buckets)]
